package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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

func TestToken(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "token", "  "+secretValue+"\n")
	empty := writeFile(t, dir, "empty", " \n\t\n")
	missing := filepath.Join(dir, "missing")
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
		{"file missing", Cachet{TokenFile: missing}, nil, "", "reading the Cachet API token from " + missing + ": no such file or directory"},
		{"file empty", Cachet{TokenFile: empty}, nil, "", "file " + empty + " is empty: write the Cachet API token into it"},
		{"nothing configured", Cachet{}, nil, "", "no source for the Cachet API token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{Cachet: tt.cachet}
			got, err := c.Token(env(tt.env))
			checkSecret(t, got, err, tt.want, tt.wantErr)
		})
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
		{"not sql", Source{Type: "file"}, nil, "", "has type file, not sql"},
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
