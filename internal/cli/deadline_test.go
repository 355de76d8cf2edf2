package cli

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
)

// TestRunTimeoutBoundsTheWrites: Cachet takes every write and never
// answers. With a 10 s request timeout and 3 retries a write could take
// minutes; run_timeout ends the run within its own deadline plus the write
// grace, sends no retry after it, and exits 4.
func TestRunTimeoutBoundsTheWrites(t *testing.T) {
	fleet := defaultFleet()[2:3] // 503: Stream 3 changes to major_outage
	f := newFixture(t, fleet, `{}`, "run_timeout: 1s")
	cfg, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	slow := strings.Replace(string(cfg), "  timeout: 2s\n  retries: 0\n", "  timeout: 10s\n  retries: 3\n", 1)
	if slow == string(cfg) {
		t.Fatal("the fixture's cachet block changed: update this test")
	}
	if err := os.WriteFile(f.cfg, []byte(slow), 0o600); err != nil {
		t.Fatal(err)
	}
	f.cachet.FailNext(cachettest.FaultHang, -1, true)

	start := time.Now()
	r := f.run(context.Background(), "run")
	took := time.Since(start)
	if r.code != ExitInterrupted || !strings.Contains(r.out, "run_timeout 1s exceeded") {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	// 1 s of run_timeout and 3 s of grace; the bound only has to tell that
	// from the minutes of timeouts and retries it replaces.
	if took > 20*time.Second {
		t.Errorf("the run took %s after run_timeout", took)
	}
	if n := len(f.cachet.Writes()); n != 1 {
		t.Errorf("%d writes reached Cachet, want 1 (no retry after run_timeout)", n)
	}
	if !strings.Contains(r.out, "interrupted") {
		t.Errorf("the row does not say the write was interrupted:\n%s", r.out)
	}
}
