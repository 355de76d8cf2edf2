package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const minimalYAML = "cachet:\n  url: https://status.example.org/api/v1\nservers:\n  - name: a\n    url: https://a.example.org/\n    component_id: 1\n"

func noStat(string) (os.FileInfo, error) { return nil, os.ErrNotExist }

func TestWarningsFileModes(t *testing.T) {
	dir := t.TempDir()
	tokPath := writeFile(t, dir, "token", "x")
	dsnPath := writeFile(t, dir, "dsn", "x")
	plain := writeFile(t, dir, "plain.yaml", minimalYAML)
	secretURL := strings.Replace(minimalYAML, "https://a.example.org/", "https://probe:"+secretValue+"@a.example.org/", 1)
	withPassword := writeFile(t, dir, "password.yaml", secretURL+
		"  - name: b\n    url: https://probe:"+secretValue+"@b.example.org/\n    component_id: 2\n")
	withFiles := writeFile(t, dir, "files.yaml", "cachet:\n  url: https://status.example.org/api/v1\n  token_file: token\n"+
		"reports:\n  source:\n    type: sql\n    driver: mysql\n    dsn_file: ./dsn\n    query: SELECT 1\n"+
		"servers:\n  - name: a\n    url: https://a.example.org/\n    component_id: 1\n")
	stateDSN := writeFile(t, dir, "state-dsn", "x")
	withState := writeFile(t, dir, "state.yaml", minimalYAML+"state:\n  sql:\n    driver: postgres\n    dsn_file: ./state-dsn\n")
	for _, p := range []string{tokPath, dsnPath, plain, withPassword, withFiles, stateDSN} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file string
		want []string
	}{
		{plain, nil}, // no secret in it: its mode does not matter
		{withPassword, []string{"config file " + withPassword + " holds basic-auth passwords (servers[0].url, servers[1].url) and is readable by other users (mode 0644): chmod 600 " + withPassword}},
		{withFiles, []string{
			"the token file named by cachet.token_file (line 3) holds the Cachet API token and is readable by other users (mode 0644): chmod 600 that file",
			"DSN file " + dsnPath + " holds the mysql DSN and is readable by other users (mode 0644): chmod 600 " + dsnPath,
		}},
		{withState, []string{"DSN file " + stateDSN + " holds the state postgres DSN and is readable by other users (mode 0644): chmod 600 " + stateDSN}},
	}
	for _, tt := range tests {
		cfg := mustLoad(t, tt.file)
		w := cfg.Warnings(os.Stat)
		if !reflect.DeepEqual(w, tt.want) {
			t.Errorf("%s: warnings\n%q\nwant\n%q", filepath.Base(tt.file), w, tt.want)
		}
		for _, m := range w {
			if strings.Contains(m, secretValue) {
				t.Errorf("warning holds the password: %s", m)
			}
		}
	}
	for _, p := range []string{tokPath, dsnPath, withPassword, withFiles} {
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{withPassword, withFiles} {
		if w := mustLoad(t, f).Warnings(os.Stat); len(w) != 0 {
			t.Errorf("0600 files: warnings %q", w)
		}
	}
	cfg := mustLoad(t, withPassword)
	cfg.Path = filepath.Join(dir, "gone.yaml")
	if w := cfg.Warnings(os.Stat); len(w) != 0 {
		t.Errorf("unstattable file: %q", w)
	}
}

func TestWarningsPlainHTTP(t *testing.T) {
	for _, tt := range []struct {
		url  string
		warn bool
	}{
		{"http://status.example.org/api/v1", true},
		{"http://10.0.0.5:8000/api/v1", true},
		{"https://status.example.org/api/v1", false},
		{"http://127.0.0.1:8000/api/v1", false},
		{"http://127.8.9.1/api/v1", false},
		{"http://localhost/api/v1", false},
		{"http://LOCALHOST:8000/api/v1", false},
		{"http://[::1]:8000/api/v1", false},
	} {
		c := &Config{Cachet: Cachet{URL: tt.url}}
		w := c.Warnings(noStat)
		if got := len(w) == 1; got != tt.warn || len(w) > 1 {
			t.Errorf("%s: warnings %q, want a warning: %v", tt.url, w, tt.warn)
		}
		if tt.warn && len(w) == 1 && !strings.Contains(w[0], "the Cachet token is sent unencrypted") {
			t.Errorf("%s: warning %q does not say why", tt.url, w[0])
		}
	}
}

func TestWarningsPasswordOverHTTP(t *testing.T) {
	yaml := strings.Replace(minimalYAML, "https://a.example.org/", "http://probe:"+secretValue+"@a.example.org/", 1) +
		"  - name: b\n    url: http://probe:" + secretValue + "@127.0.0.1:8080/\n    component_id: 2\n" +
		"  - name: c\n    url: http://probe@c.example.org/\n    component_id: 3\n"
	cfg, err := Parse("/etc/cu/x.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"servers[0].url http://probe:xxxxx@a.example.org/ sends a basic-auth password over plain http:// to a host that is not this machine: it can be read on the way; use https://"}
	if w := cfg.Warnings(noStat); !reflect.DeepEqual(w, want) {
		t.Errorf("warnings\n%q\nwant\n%q", w, want)
	}
}

func TestWarningsTimeouts(t *testing.T) {
	servers := func(n int, extra string) string {
		var b strings.Builder
		b.WriteString("servers:\n")
		for i := 1; i <= n; i++ {
			b.WriteString("  - {name: s" + strconv.Itoa(i) + ", url: 'https://s.example.org/', component_id: " + strconv.Itoa(i))
			if i == 2 {
				b.WriteString(extra)
			}
			b.WriteString("}\n")
		}
		return b.String()
	}
	head := "cachet:\n  url: https://status.example.org/api/v1\n"
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"defaults", head + servers(3, ""), ""},
		{"run_timeout below probe.timeout", head + "run_timeout: 8s\n" + servers(3, ""),
			`run_timeout 8s is not longer than the probe timeout 10s of server "s1" (servers[0].timeout or probe.timeout): if it hangs, the run is cut before its probe ends and nothing is written; raise run_timeout above 10s or lower that timeout`},
		{"a server's own timeout counts", head + "run_timeout: 1m\n" + servers(3, ", timeout: 2m"),
			`run_timeout 1m is not longer than the probe timeout 2m of server "s2" (servers[1].timeout or probe.timeout): if it hangs, the run is cut before its probe ends and nothing is written; raise run_timeout above 2m or lower that timeout`},
		{"enough slots", head + "run_timeout: 30s\nprobe:\n  concurrency: 2\n" + servers(6, ""), ""},
		{"too few slots", head + "run_timeout: 30s\nprobe:\n  concurrency: 2\n" + servers(7, ""),
			"probe.concurrency 2 lets at most 6 of the 7 servers hang at once within run_timeout 30s (probes of up to 10s, 3 after one another per slot): if more hang, the run cannot finish; raise probe.concurrency to 3 or more, or run_timeout above 40s"},
		{"the longest timeout decides", head + "run_timeout: 30s\nprobe:\n  concurrency: 2\n" + servers(3, ", timeout: 20s"),
			"probe.concurrency 2 lets at most 2 of the 3 servers hang at once within run_timeout 30s (probes of up to 20s, 1 after one another per slot): if more hang, the run cannot finish; raise probe.concurrency to 3 or more, or run_timeout above 40s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("/etc/cu/x.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			w := cfg.Warnings(noStat)
			if tt.want == "" && len(w) != 0 || tt.want != "" && (len(w) != 1 || w[0] != tt.want) {
				t.Errorf("warnings\n%q\nwant\n%q", w, tt.want)
			}
		})
	}
	cfg, err := parse("/etc/cu/x.yaml", []byte(head+"run_timeout: 1s\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(noStat); len(w) != 0 {
		t.Errorf("no servers: warnings %q", w)
	}
}
