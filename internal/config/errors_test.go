package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestAllErrors: a file with several mistakes reports every one, in file
// order, each with its line and key; errors.As finds the first.
func TestAllErrors(t *testing.T) {
	path := filepath.Join("testdata", "invalid-many.yaml")
	_, err := Load(path)
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("error %T %v, want config.Errors", err, err)
	}
	want := []string{
		path + `:4: cachet.timeout: 10 is a bare number, not a duration: add a unit, such as 10s, 10m or 10d`,
		path + `:6: probe.timout: unknown key "timout" (did you mean "timeout"?)`,
		path + `:9: reports.thresholds: must increase strictly: performance_issues (30) < partial_outage (20) < major_outage (50)`,
		path + `:13: servers[0].component_ids: unknown key "component_ids" (did you mean "component_id"?)`,
		path + `:14: servers[1].name: "Stream 1" is also the name of servers[0] on line 11: names must be unique`,
		path + `:15: servers[1].url: must be an absolute http or https URL such as https://s1.example.org/`,
		path + `:17: servers[2].name: is required: name the server as it should appear in logs`,
		path + `:18: servers[2].component_id: 2 is also the component of servers[1] on line 16`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(list) != len(want) || len(lines) != len(want) {
		t.Fatalf("got %d errors:\n%v\nwant %d", len(list), err, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d:\n  %s\nwant it to start with\n  %s", i, lines[i], w)
		}
	}
	var first *Error
	if !errors.As(err, &first) || first != list[0] {
		t.Errorf("errors.As(*Error) = %v, want the first error", first)
	}
}

// TestTypoSuppressesRequired: a misspelled required key is reported as the
// typo only, not also as the key it was meant to be missing.
func TestTypoSuppressesRequired(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "invalid-component-id-typo.yaml"))
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "servers[0].component_ids" {
		t.Fatalf("want the one typo error, got %v", err)
	}
	if strings.Contains(err.Error(), "required") {
		t.Errorf("the typo is also reported as a missing key:\n%v", err)
	}
	// A typo that suggests another key does not hide a missing one.
	data := "cachet:\n  url: https://status.example.org/api/v1\nservers:\n  - name: a\n    urls: https://a.example.org/\n    component_idd: 1\n"
	_, err = Parse("x.yaml", []byte(data))
	if err == nil || strings.Contains(err.Error(), "url: is required") || strings.Contains(err.Error(), "component_id: is required") {
		t.Errorf("want the two typos and no required errors, got\n%v", err)
	}
	data = "cachet:\n  url: https://status.example.org/api/v1\nservers:\n  - name: a\n    uri: https://a.example.org/\n    cid: 1\n"
	_, err = Parse("x.yaml", []byte(data))
	if err == nil || !strings.Contains(err.Error(), "component_id: is required") {
		t.Errorf("a typo too far from component_id must not hide it being required, got\n%v", err)
	}
}

func TestErrorsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("cachet:\n  url: https://status.example.org/api/v1\nservers:\n")
	for i := 1; i <= MaxListed+5; i++ {
		fmt.Fprintf(&b, "  - {name: s%d, url: 'https://s.example.org/', component_id: 0}\n", i)
	}
	_, err := Parse("x.yaml", []byte(b.String()))
	var list Errors
	if !errors.As(err, &list) || len(list) != MaxListed+5 {
		t.Fatalf("want %d errors, got %v", MaxListed+5, err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != MaxListed+1 || lines[MaxListed] != "… and 5 more" {
		t.Errorf("message has %d lines, last %q; want %d listed and \"… and 5 more\"", len(lines), lines[len(lines)-1], MaxListed)
	}
}

// TestLaterErrorsRelated: a key with a problem of its own is not blamed
// again by the checks that span fields.
func TestLaterErrorsRelated(t *testing.T) {
	for _, tt := range []struct{ name, data, want string }{
		{"bad threshold", "reports:\n  thresholds:\n    performance_issues: 30\n    partial_outage: many\n", "reports.thresholds.partial_outage: must be a whole number"},
		{"empty token_file", "  token_env: T\n  token_file: \"\"\n", "cachet.token_file: has no value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := "cachet:\n  url: https://status.example.org/api/v1\n" + tt.data +
				"servers:\n  - {name: a, url: 'https://a.example.org/', component_id: 1}\n"
			_, err := Parse("x.yaml", []byte(data))
			if err == nil || !strings.HasPrefix(err.Error(), "x.yaml:") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "increase strictly") || strings.Contains(err.Error(), "both set") {
				t.Errorf("a follow-on error is reported:\n%v", err)
			}
		})
	}
}

// TestAliasBomb: aliases that multiply the values to read (a "billion
// laughs") are refused as a whole, not read for minutes.
func TestAliasBomb(t *testing.T) {
	data := "cachet:\n  url: https://status.example.org/api/v1\nnames: &n [" + strings.Repeat("a, ", 1000) + "a]\n" +
		"window: &w {servers: *n, weekly: Mon 00:00-01:00}\nmaintenance:\n  windows: [" + strings.Repeat("*w, ", 1000) + "*w]\n"
	_, err := Parse("x.yaml", []byte(data))
	if err == nil || err.Error() != "x.yaml: the aliases (*name) in this file expand to too many values: write the values out" {
		t.Errorf("got %v", err)
	}
}
