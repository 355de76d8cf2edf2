package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const secretValue = "s3cr3t-T0ken-value"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestToken: the token comes from its variable or file, trimmed. A token
// that an HTTP header cannot carry, or that is not one word, is a clear
// error naming where it came from, not a 401 or an "invalid header"
// retried later; no error holds the token or a part of it.
func TestToken(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string { return writeFile(t, dir, name, content) }
	half1, half2 := secretValue[:8], secretValue[8:]
	good, empty, missing := file("token", "  "+secretValue+"\n"), file("empty", " \n\t\n"), filepath.Join(dir, "missing")
	bom, twoLines, space := file("bom", "\uFEFF"+secretValue+"\n"), file("two", half1+"\n"+half2+"\n"), file("space", half1+" "+half2)
	nul, crlf := file("nul", half1+"\x00"+half2), file("crlf", secretValue+"\r\n")
	huge := file("huge", strings.Repeat("x", 1<<20)) // a wrong file, such as a log or a key ring
	tests := []struct {
		name    string
		cachet  Cachet
		env     map[string]string
		want    string
		wantErr string
	}{
		{"env set", Cachet{TokenEnv: "CACHET_API_TOKEN"}, map[string]string{"CACHET_API_TOKEN": secretValue}, secretValue, ""},
		{"env trimmed", Cachet{TokenEnv: "T"}, map[string]string{"T": " " + secretValue + "\n"}, secretValue, ""},
		{"env unset", Cachet{TokenEnv: "CACHET_API_TOKEN"}, nil, "", "environment variable CACHET_API_TOKEN is empty or unset: export the Cachet API token there, or set cachet.token_file"},
		{"env empty", Cachet{TokenEnv: "CACHET_API_TOKEN"}, map[string]string{"CACHET_API_TOKEN": "  "}, "", "environment variable CACHET_API_TOKEN is empty or unset"},
		{"file", Cachet{TokenFile: good}, map[string]string{"CACHET_API_TOKEN": "ignored"}, secretValue, ""},
		{"file missing", Cachet{TokenFile: missing}, nil, "", "token file " + missing + ": no such file or directory; check cachet.token_file"},
		{"file empty", Cachet{TokenFile: empty}, nil, "", "file " + empty + " is empty: write the Cachet API token into it"},
		{"file with a BOM", Cachet{TokenFile: bom}, nil, "", "token file " + bom + " starts with a byte-order mark: save it without one"},
		{"file with two lines", Cachet{TokenFile: twoLines}, nil, "", "token file " + twoLines + ": the token holds more than one line: put only the token in it"},
		{"file with a space", Cachet{TokenFile: space}, nil, "", "token file " + space + ": the token holds a space or control character (at byte 9): put only the token in it"},
		{"file with a NUL", Cachet{TokenFile: nul}, nil, "", "the token holds a space or control character (at byte 9)"},
		{"file with CRLF", Cachet{TokenFile: crlf}, nil, secretValue, ""},
		{"file too large", Cachet{TokenFile: huge}, nil, "", "token file " + huge + " is larger than 64 KiB: it cannot hold only the token; check cachet.token_file"},
		{"env with a newline", Cachet{TokenEnv: "T"}, map[string]string{"T": half1 + "\n" + half2}, "", "environment variable T: the token holds more than one line: put only the token in it"},
		{"env with a tab", Cachet{TokenEnv: "T"}, map[string]string{"T": half1 + "\t" + half2}, "", "environment variable T: the token holds a space or control character (at byte 9)"},
		{"env not ASCII", Cachet{TokenEnv: "T"}, map[string]string{"T": half1 + "\u201d" + half2}, "", "environment variable T: the token holds a character that is not plain ASCII (at byte 9)"},
		{"env named oddly", Cachet{TokenEnv: "token", token: origin{line: 3}}, map[string]string{"token": half1 + " " + half2}, "", "the environment variable named by cachet.token_env (line 3): the token holds a space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{Cachet: tt.cachet}
			got, err := c.Token(env(tt.env))
			checkSecret(t, got, err, tt.want, tt.wantErr)
			if err != nil && (strings.Contains(err.Error(), half1) || strings.Contains(err.Error(), half2)) {
				t.Errorf("error holds part of the token: %v", err)
			}
		})
	}
	// A DSN may hold spaces (key=value DSNs), but not a byte-order mark.
	kv := file("kv", "host=db user=reports password="+secretValue+"\n")
	if got, err := (Source{Type: "sql", Driver: "postgres", DSNFile: kv}).ResolveDSN(env(nil)); err != nil || !strings.HasPrefix(got, "host=db") {
		t.Errorf("key=value DSN: %q, %v", got, err)
	}
	_, err := Source{Type: "sql", Driver: "postgres", DSNFile: bom}.ResolveDSN(env(nil))
	checkSecret(t, "", err, "", "DSN file "+bom+" starts with a byte-order mark")
	_, err = StateSQL{Driver: "postgres", DSNFile: huge}.ResolveDSN(env(nil))
	checkSecret(t, "", err, "", "DSN file "+huge+" is larger than 64 KiB: it cannot hold only the DSN; check state.sql.dsn_file")
}

func TestTokenSource(t *testing.T) {
	for _, tt := range []struct {
		c    Cachet
		want string
	}{
		{Cachet{TokenEnv: "CACHET_API_TOKEN"}, "environment variable CACHET_API_TOKEN"},
		{Cachet{TokenFile: "/etc/cu/token"}, "token file /etc/cu/token"},
		{Cachet{TokenEnv: "tok3n", token: origin{line: 4}}, "the environment variable named by cachet.token_env (line 4)"},
		{Cachet{TokenFile: "/etc/cu/tok3n", token: origin{line: 4, hidden: true}}, "the token file named by cachet.token_file (line 4)"},
	} {
		if got := tt.c.TokenSource(); got != tt.want {
			t.Errorf("%+v: TokenSource() = %q, want %q", tt.c, got, tt.want)
		}
	}
}

// TestTokenKey: a config written out names the token's source, never a
// name that may be the token pasted in its place.
func TestTokenKey(t *testing.T) {
	for _, tt := range []struct {
		c          Cachet
		key, value string
	}{
		{Cachet{TokenEnv: "CU_TOKEN"}, "token_env", "CU_TOKEN"},
		{Cachet{TokenFile: "/etc/cu/token", token: origin{line: 4}}, "token_file", "/etc/cu/token"},
		{Cachet{TokenEnv: "aB3dE5fG7hJ9kL1mN2pQ"}, "token_env", DefaultTokenEnv},
		{Cachet{TokenFile: "/etc/cu/aB3dE5fG7hJ9kL1mN2pQ", token: origin{line: 4, hidden: true}}, "token_env", DefaultTokenEnv},
	} {
		if key, value := tt.c.TokenKey(); key != tt.key || value != tt.value {
			t.Errorf("%+v: TokenKey() = %s: %s, want %s: %s", tt.c, key, value, tt.key, tt.value)
		}
	}
}

func TestResolveDSN(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "dsn", secretValue+"\n")
	empty := writeFile(t, dir, "empty", "")
	tests := []struct {
		name    string
		src     Source
		env     map[string]string
		want    string
		wantErr string
	}{
		{"env", Source{Type: "sql", Driver: "mysql", DSNEnv: "REPORTS_DSN"}, map[string]string{"REPORTS_DSN": secretValue}, secretValue, ""},
		{"env unset", Source{Type: "sql", Driver: "mysql", DSNEnv: "REPORTS_DSN"}, nil, "", "environment variable REPORTS_DSN is empty or unset: export the mysql DSN there, or set reports.source.dsn_file"},
		{"env empty", Source{Type: "sql", Driver: "postgres", DSNEnv: "REPORTS_DSN"}, map[string]string{"REPORTS_DSN": ""}, "", "REPORTS_DSN is empty or unset"},
		{"file", Source{Type: "sql", Driver: "postgres", DSNFile: good}, nil, secretValue, ""},
		{"file missing", Source{Type: "sql", Driver: "postgres", DSNFile: filepath.Join(dir, "nope")}, nil, "", "no such file or directory"},
		{"file empty", Source{Type: "sql", Driver: "postgres", DSNFile: empty}, nil, "", "is empty: write the postgres DSN into it"},
		{"inline sqlite", Source{Type: "sql", Driver: "sqlite", DSN: "/var/lib/r.db"}, nil, "/var/lib/r.db", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.src.ResolveDSN(env(tt.env))
			checkSecret(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func checkSecret(t *testing.T, got string, err error, want, wantErr string) {
	t.Helper()
	if wantErr == "" {
		if err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
		return
	}
	if err == nil || got != "" {
		t.Fatalf("got %q, %v; want error %q", got, err, wantErr)
	}
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("error %q, want it to contain %q", err, wantErr)
	}
	if strings.Contains(err.Error(), secretValue) {
		t.Errorf("error contains the secret: %v", err)
	}
}

// TestSecretNamesNotEchoed: a token pasted where the name of a variable or
// a file belongs is never printed back.
func TestSecretNamesNotEchoed(t *testing.T) {
	const pasted = "aB3dE5fG7hJ9kL1mN2pQ"
	dir := t.TempDir()
	load := func(t *testing.T, yaml string) *Config {
		t.Helper()
		return mustLoad(t, writeFile(t, dir, "c.yaml", yaml))
	}
	tests := []struct {
		name, yaml, want string
		dsn              bool
	}{
		{"token_env", "cachet:\n  url: https://status.example.org/api/v1\n  token_env: " + pasted + "\n",
			"the environment variable named by cachet.token_env (line 3) is empty or unset; token_env must hold the NAME of a variable, such as CACHET_API_TOKEN, not the token", false},
		{"token_file", "cachet:\n  url: https://status.example.org/api/v1\n  token_file: " + pasted + "\n",
			"the token file named by cachet.token_file (line 3): no such file or directory; token_file must hold the PATH of a file, such as /etc/cachet-updater/token, not the token", false},
		{"dsn_env", "cachet:\n  url: https://status.example.org/api/v1\nreports:\n  source:\n    type: sql\n    driver: mysql\n    dsn_env: " + pasted + "\n    query: SELECT 1\n",
			"the environment variable named by reports.source.dsn_env (line 7) is empty or unset; dsn_env must hold the NAME of a variable, such as REPORTS_DSN, not the DSN", true},
		{"dsn_file", "cachet:\n  url: https://status.example.org/api/v1\nreports:\n  source:\n    type: sql\n    driver: postgres\n    dsn_file: " + pasted + "\n    query: SELECT 1\n",
			"the DSN file named by reports.source.dsn_file (line 7): no such file or directory; dsn_file must hold the PATH of a file, such as /etc/cachet-updater/reports-dsn, not the DSN", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := load(t, tt.yaml+"servers:\n  - {name: a, url: 'https://a.example.org/', component_id: 1}\n")
			var err error
			if tt.dsn {
				_, err = cfg.Reports.Source.ResolveDSN(env(nil))
			} else {
				_, err = cfg.Token(env(nil))
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n  %v\nwant\n  %s", err, tt.want)
			}
			if src := cfg.Cachet.TokenSource(); strings.Contains(src, pasted) || !strings.Contains(src, "named by cachet.token_") && !tt.dsn {
				t.Errorf("TokenSource() = %q", src)
			}
		})
	}
}

// TestStateSQL: a shared state database's DSN comes from its key, the
// inline sqlite file resolves against the config's folder.
func TestStateSQL(t *testing.T) {
	base := "cachet:\n  url: https://status.example.org/api/v1\nservers:\n  - {name: a, url: \"https://a.example.org/\", component_id: 1}\n"
	cfg, err := Parse("/etc/cu/x.yaml", []byte(base+"vantage: {name: fra1}\nquorum: {probes: 2, fresh: 5m}\nstate:\n  sql: {driver: sqlite, dsn: state.db}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.State.SQL.Set() || cfg.State.SQL.DSN != "/etc/cu/state.db" || cfg.Vantage.Name != "fra1" || cfg.Quorum.Probes != 2 || cfg.Quorum.Fresh.D() != 5*time.Minute {
		t.Errorf("got %+v %+v %+v", cfg.State, cfg.Vantage, cfg.Quorum)
	}
	if dsn, err := cfg.State.SQL.ResolveDSN(func(string) string { return "" }); err != nil || dsn != "/etc/cu/state.db" {
		t.Errorf("ResolveDSN = %q, %v", dsn, err)
	}
	cfg, err = Parse("/etc/cu/x.yaml", []byte(base+"state:\n  sql: {driver: postgres, dsn_env: STATE_DSN}\n"))
	if err != nil {
		t.Fatal(err)
	}
	dsn, err := cfg.State.SQL.ResolveDSN(func(k string) string {
		if k == "STATE_DSN" {
			return "postgres://u:" + secretValue + "@db/x"
		}
		return ""
	})
	if err != nil || !strings.Contains(dsn, secretValue) {
		t.Errorf("ResolveDSN = %v", err)
	}
	if _, err := cfg.State.SQL.ResolveDSN(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "STATE_DSN is empty or unset") {
		t.Errorf("unset: %v", err)
	}
	if cfg, _ := Parse("/etc/cu/x.yaml", []byte(base)); cfg.State.SQL.Set() {
		t.Error("state.sql is set without the key")
	}
}
