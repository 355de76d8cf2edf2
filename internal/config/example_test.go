package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var examplePath = filepath.Join("..", "..", "configs", "example.yaml")

// exampleCommentedOut are the keys configs/example.yaml shows in comments
// only: they exclude a key it sets, or have no default to show.
var exampleCommentedOut = map[string]bool{
	"cachet.token_file":               true,
	"lock_file":                       true,
	"time_zone":                       true,
	"state.path":                      true,
	"guard.canaries":                  true,
	"probe.expect_body":               true,
	"metrics_file":                    true,
	"maintenance.windows[].servers":   true,
	"maintenance.windows[].start":     true,
	"maintenance.windows[].end":       true,
	"maintenance.windows[].weekly":    true,
	"maintenance.windows[].time_zone": true,
	"reports.source.driver":           true,
	"reports.source.dsn":              true,
	"reports.source.dsn_env":          true,
	"reports.source.dsn_file":         true,
	"reports.source.query":            true,
	"state.sql.driver":                true,
	"state.sql.dsn_env":               true,
	"state.sql.dsn_file":              true,
	"state.sql.dsn":                   true,
	"state.sql.timeout":               true,
	"vantage.name":                    true,
}

// TestExampleDefaults loads configs/example.yaml and compares every default
// it shows with the code's, so the two cannot drift. The keys it marks
// "example" are the only ones allowed to differ.
func TestExampleDefaults(t *testing.T) {
	cfg := mustLoad(t, examplePath)
	root := exampleTree(t)
	marked := exampleMarked(root, "")
	if want := []string{"reports.source.path", "reports.source.type", "servers"}; !reflect.DeepEqual(marked, want) {
		t.Fatalf("keys marked example: %q, want %q (update this test with what they set)", marked, want)
	}
	want := defaults()
	src := &want.Reports.Source
	src.Type, src.Path = "file", filepath.Join(filepath.Dir(absPath(t, examplePath)), "reports.json")
	want.Cachet.URL = cfg.Cachet.URL     // required: it has no default
	want.Cachet.token = cfg.Cachet.token // where token_env was written
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"cachet", cfg.Cachet, want.Cachet},
		{"probe", cfg.Probe, want.Probe},
		{"reports", cfg.Reports, want.Reports},
		{"run_timeout", cfg.RunTimeout, want.RunTimeout},
		{"lock_file", cfg.LockFile, want.LockFile},
		{"maintenance", cfg.Maintenance, want.Maintenance},
		{"incidents", cfg.Incidents, want.Incidents},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s in the example:\n%+v\nthe code's defaults:\n%+v", c.name, c.got, c.want)
		}
	}
	if len(cfg.Servers) == 0 {
		t.Error("the example has no servers")
	}
}

// TestExampleShowsEveryKey: every key is in configs/example.yaml, set or in
// a comment, so adding a key means adding its line there.
func TestExampleShowsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	exampleKeys(exampleTree(t), "", written)
	for _, key := range allKeys(reflect.TypeFor[Config](), "") {
		if written[key] == exampleCommentedOut[key] {
			t.Errorf("%s: written in the example %v, in the list of commented-out keys %v", key, written[key], exampleCommentedOut[key])
		}
		leaf := key[strings.LastIndex(key, ".")+1:]
		if exampleCommentedOut[key] && !regexp.MustCompile(`(?m)^\s*#\s*(- )?`+leaf+`: `).Match(data) {
			t.Errorf("%s: no commented-out line \"# %s: ...\" in the example", key, leaf)
		}
	}
}

func absPath(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func exampleTree(t *testing.T) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// exampleMarked returns the keys whose line comment says "example", sorted.
func exampleMarked(n *yaml.Node, path string) []string {
	var out []string
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if strings.Contains(k.LineComment+v.LineComment, "example") {
			out = append(out, key)
			continue // everything below an example is an example
		}
		out = append(out, exampleMarked(v, key)...)
	}
	sort.Strings(out)
	return out
}

// exampleKeys collects the keys written in n; list entries are "[]".
func exampleKeys(n *yaml.Node, path string, out map[string]bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := join(path, n.Content[i].Value)
			out[key] = true
			exampleKeys(n.Content[i+1], key, out)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			exampleKeys(item, path+"[]", out)
		}
	}
}

// allKeys lists every key of t from its yaml tags; a server's probe keys
// are left out, since the probe block shows them.
func allKeys(t reflect.Type, path string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opt, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		key := join(path, name)
		switch {
		case name == "-" || !f.IsExported() || opt == "inline" && t == reflect.TypeFor[Server]():
		case opt == "inline":
			keys = append(keys, allKeys(f.Type, path)...)
		case reflect.PointerTo(f.Type).Implements(reflect.TypeFor[yaml.Unmarshaler]()):
			keys = append(keys, key)
		case f.Type.Kind() == reflect.Struct:
			keys = append(keys, allKeys(f.Type, key)...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct && !reflect.PointerTo(f.Type.Elem()).Implements(reflect.TypeFor[yaml.Unmarshaler]()):
			keys = append(keys, allKeys(f.Type.Elem(), key+"[]")...)
		default:
			keys = append(keys, key)
		}
	}
	return keys
}
