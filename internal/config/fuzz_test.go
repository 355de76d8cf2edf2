package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and returns either a config or
// errors that errors.As finds an *Error in, never both and never neither;
// that every error has a file and a key or a line; that yaml.v3 never
// refuses what the checker let through; and that what it accepts is usable.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("/etc/cachet-updater/fuzz.yaml", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *config.Error", err, err)
			}
			if cfg != nil {
				t.Fatalf("both a config and an error: %v", err)
			}
			if strings.Contains(err.Error(), "a bug in cachet-updater") {
				t.Fatalf("yaml.v3 refused what the checker accepted: %v", err)
			}
			var list Errors
			if errors.As(err, &list) {
				for _, e := range list {
					if e.File == "" || e.Key == "" && e.Line == 0 {
						t.Fatalf("error without a place: %+v in %v", e, err)
					}
				}
			}
			return
		}
		if cfg == nil || len(cfg.Servers) == 0 {
			t.Fatalf("no error and no usable config: %+v", cfg)
		}
		for _, s := range cfg.Servers {
			if s.ComponentID < 1 || s.Probe.Timeout <= 0 || (s.Probe.Method != "GET" && s.Probe.Method != "HEAD") ||
				strings.TrimSpace(s.Name) == "" || s.ReportsKey == "" || !isWebURL(s.URL) || reflect.ValueOf(s.Probe.Status).IsZero() || s.Probe.Slow < 0 {
				t.Fatalf("invalid server accepted: %+v", s)
			}
		}
	})
}
