package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWarningsFileModes(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "c.yaml", "x")
	tokPath := writeFile(t, dir, "token", "x")
	dsnPath := writeFile(t, dir, "dsn", "x")
	c := &Config{
		Path:    cfgPath,
		Cachet:  Cachet{URL: "https://status.example.org/api/v1", TokenFile: tokPath},
		Reports: Reports{Source: Source{Type: "sql", DSNFile: dsnPath}},
	}
	if w := c.Warnings(os.Stat); len(w) != 0 {
		t.Errorf("0600 files: warnings %q", w)
	}
	for _, p := range []string{cfgPath, tokPath, dsnPath} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"config file " + cfgPath + " is readable by other users (mode 0644): chmod 600 " + cfgPath,
		"token file " + tokPath + " is readable by other users (mode 0644): chmod 600 " + tokPath,
		"DSN file " + dsnPath + " is readable by other users (mode 0644): chmod 600 " + dsnPath,
	}
	if w := c.Warnings(os.Stat); !reflect.DeepEqual(w, want) {
		t.Errorf("0644 files: warnings\n%q\nwant\n%q", w, want)
	}
	if err := os.Chmod(cfgPath, 0o640); err != nil {
		t.Fatal(err)
	}
	c.Cachet.TokenFile, c.Reports.Source.DSNFile = "", ""
	if w := c.Warnings(os.Stat); len(w) != 1 || w[0] != "config file "+cfgPath+" is readable by other users (mode 0640): chmod 600 "+cfgPath {
		t.Errorf("0640 config: %q", w)
	}
	c.Path = filepath.Join(dir, "gone.yaml")
	if w := c.Warnings(os.Stat); len(w) != 0 {
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
		w := c.Warnings(func(string) (os.FileInfo, error) { return nil, os.ErrNotExist })
		if got := len(w) == 1; got != tt.warn || len(w) > 1 {
			t.Errorf("%s: warnings %q, want a warning: %v", tt.url, w, tt.warn)
		}
		if tt.warn && len(w) == 1 && !strings.Contains(w[0], "the Cachet token is sent unencrypted") {
			t.Errorf("%s: warning %q does not say why", tt.url, w[0])
		}
	}
}
