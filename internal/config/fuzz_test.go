package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics and returns either a config or a
// *Error, never both and never neither.
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
			return
		}
		if cfg == nil || len(cfg.Servers) == 0 {
			t.Fatalf("no error and no usable config: %+v", cfg)
		}
		for _, s := range cfg.Servers {
			if s.ComponentID < 1 || s.Probe.Timeout <= 0 || (s.Probe.Method != "GET" && s.Probe.Method != "HEAD") {
				t.Fatalf("invalid server accepted: %+v", s)
			}
		}
	})
}
