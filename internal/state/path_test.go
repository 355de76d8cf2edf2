package state

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultPath(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "prod.yaml")
	if err := os.WriteFile(config, []byte("servers: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yml")
	if err := os.Symlink(config, link); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(config))
	name := "prod-" + hex.EncodeToString(sum[:4]) + ".json"
	missing := filepath.Join(dir, "gone.yaml") // not resolvable: Abs alone
	sumMissing := sha256.Sum256([]byte(missing))

	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		name    string
		config  string
		getenv  func(string) string
		uid     int
		want    string
		wantErr string
	}{
		{"root", config, env("HOME", "/root", "XDG_STATE_HOME", "/x"), 0, "/var/lib/cachet-updater/" + name, ""},
		{"XDG_STATE_HOME", config, env("HOME", "/home/u", "XDG_STATE_HOME", "/x/state"), 1000, "/x/state/cachet-updater/" + name, ""},
		{"HOME (cron: no XDG_*)", config, env("HOME", "/home/u"), 1000, "/home/u/.local/state/cachet-updater/" + name, ""},
		{"relative XDG_STATE_HOME is ignored", config, env("HOME", "/home/u", "XDG_STATE_HOME", "state"), 1000, "/home/u/.local/state/cachet-updater/" + name, ""},
		{"symlinked config shares the file", link, env("HOME", "/home/u"), 1000, "/home/u/.local/state/cachet-updater/" + name, ""},
		{"missing config: Abs", missing, env("HOME", "/home/u"), 1000, "/home/u/.local/state/cachet-updater/gone-" + hex.EncodeToString(sumMissing[:4]) + ".json", ""},
		{"neither HOME nor XDG_STATE_HOME", config, env(), 1000, "", "neither HOME nor XDG_STATE_HOME is set (to an absolute path): set state.path"},
		{"no config", "", env("HOME", "/home/u"), 1000, "", "no config path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DefaultPath(tt.config, tt.getenv, tt.uid)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DefaultPath = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("DefaultPath = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestDefaultPathRelativeConfig(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	getenv := func(string) string { return "/home/u" }
	rel, err := DefaultPath("c.yaml", getenv, 1000)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := DefaultPath(filepath.Join(dir, "c.yaml"), getenv, 1000)
	if err != nil || rel != abs {
		t.Errorf("relative config: %q, absolute: %q, %v; want the same file", rel, abs, err)
	}
}
