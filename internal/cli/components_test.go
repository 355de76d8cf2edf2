package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/config"
	"gopkg.in/yaml.v3"
)

// TestComponentsEscapesNames: names and group names come from Cachet, so
// control characters in them (a terminal title, a colour, a newline that
// would end a YAML comment) must not reach the terminal raw.
func TestComponentsEscapesNames(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	f.cachet.AddGroup(7, "Group\nservers: []")
	f.cachet.Add(cachettest.Component{ID: 9, Name: "Evil\x1b]0;owned\x07\x1b[31m", Status: 1, Enabled: true, GroupID: 7})
	f.cachet.Add(cachettest.Component{ID: 10, Name: "Büro Stream", Status: 1, Enabled: true})
	for _, output := range []string{"table", "yaml"} {
		r := f.run(context.Background(), "components", "-o", output)
		if r.code != ExitOK {
			t.Fatalf("%s: exit %d\n%s%s", output, r.code, r.out, r.err)
		}
		if strings.ContainsAny(r.out, "\x1b\x07") {
			t.Errorf("%s: a control character reached the output:\n%q", output, r.out)
		}
		if !strings.Contains(r.out, `\x1b]0;owned\a\x1b[31m`) || !strings.Contains(r.out, `Group\nservers: []`) {
			t.Errorf("%s: the names are not shown escaped:\n%s", output, r.out)
		}
		if !strings.Contains(r.out, "Büro Stream") {
			t.Errorf("%s: a printable name was mangled:\n%s", output, r.out)
		}
		if output == "yaml" {
			var doc struct {
				Servers []struct {
					Name        string `yaml:"name"`
					ComponentID int    `yaml:"component_id"`
				} `yaml:"servers"`
			}
			if err := yaml.Unmarshal([]byte(r.out), &doc); err != nil {
				t.Fatalf("the skeleton is not YAML: %v\n%s", err, r.out)
			}
			if n := len(doc.Servers); n != 6 || doc.Servers[4].Name != "Evil\x1b]0;owned\x07\x1b[31m" {
				t.Errorf("skeleton has %d servers: %+v", n, doc.Servers)
			}
			// The starter is a whole config, valid as it stands.
			cfg, err := config.Parse(filepath.Join(t.TempDir(), "starter.yaml"), []byte(r.out))
			if err != nil {
				t.Fatalf("the starter config does not load: %v\n%s", err, r.out)
			}
			if cfg.Cachet.URL != f.cachet.URL() || len(cfg.Servers) != 6 || cfg.Servers[4].ReportsKey != cfg.Servers[4].Name {
				t.Errorf("starter config: %+v", cfg)
			}
		}
	}
}
