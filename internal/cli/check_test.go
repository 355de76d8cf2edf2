package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
)

// TestCheckNotesUnmappedComponentsOneLineEach: a Cachet with many
// components the config does not map gets one note line per component, not
// one line as long as the whole listing.
func TestCheckNotesUnmappedComponentsOneLineEach(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	for id := 100; id < 130; id++ {
		f.cachet.Add(cachettest.Component{ID: id, Name: fmt.Sprintf("Other %d", id), Status: 1, Enabled: true})
	}
	r := f.run(context.Background(), "check")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	notes := 0
	for _, line := range strings.Split(r.out, "\n") {
		if strings.HasPrefix(line, "[note]") && strings.Contains(line, "no server maps to it") {
			notes++
			if strings.Count(line, "Other") != 1 {
				t.Errorf("a note names more than one component: %s", line)
			}
		}
	}
	if notes != 30 {
		t.Errorf("%d unmapped-component notes, want 30:\n%s", notes, r.out)
	}
	if !strings.Contains(r.out, "config "+f.cfg) || !strings.Contains(r.out, ": 4 servers") {
		t.Errorf("config line:\n%s", r.out)
	}
}

// TestSummaryLineGrammar: one server is "1 server".
func TestSummaryLineGrammar(t *testing.T) {
	f := newFixture(t, defaultFleet()[:1], `{}`, "")
	r := f.run(context.Background(), "run", "--dry-run")
	if r.code != ExitOK || !strings.Contains(r.out, "1 server: 0 changed") {
		t.Errorf("exit %d\n%s", r.code, r.out)
	}
}
