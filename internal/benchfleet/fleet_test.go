package benchfleet

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKindShares(t *testing.T) {
	counts := map[Kind]int{}
	for i := 0; i < 1000; i++ {
		counts[KindOf(i)]++
	}
	want := map[Kind]int{Hang: 100, Slow: 50, Failing: 20, Refuse: 10, Fast: 820}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("kind %d: %d of 1000, want %d", k, counts[k], n)
		}
	}
}

// TestFleetSmoke runs the real binary against a small fleet and checks what
// it did: the exit code, the statuses, one listing page and one write per
// changed component. It asserts no time: these machines are shared.
func TestFleetSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a fleet")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	f, err := Start(100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := Run(context.Background(), bin, f, time.Second, Tuning{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	requireCorrect(t, r)
	if r.WantWrites != 13 {
		t.Errorf("fleet of 100: %d changes, want 13 (10 hang, 2 fail, 1 refuses)", r.WantWrites)
	}

	// The second run finds everything right and writes nothing.
	r, err = Run(context.Background(), bin, f, time.Second, Tuning{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 0 || r.Writes != 0 || r.Wrong != 0 {
		t.Fatalf("second run: exit %d, writes %d, wrong %d\n%s", r.ExitCode, r.Writes, r.Wrong, r.Output)
	}

	small, err := Start(20) // 2 hang: the loop waits for each
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	seq, puts, err := Sequential(context.Background(), small, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if puts != 20 || seq <= 0 {
		t.Errorf("sequential loop: %d PUTs, want one per server", puts)
	}
}

func requireCorrect(t *testing.T, r Result) {
	t.Helper()
	if !r.Correct() {
		t.Fatalf("exit %d, reads %d (want %d), writes %d (want %d), other %d, wrong statuses %d\n%s",
			r.ExitCode, r.Reads, r.WantReads, r.Writes, r.WantWrites, r.Other, r.Wrong, r.Output)
	}
}

func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "cachet-updater")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/cachet-updater")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestFleetOpenFileLimit runs the real binary under an open-file limit of
// 64 against 200 servers with the default probe.concurrency (1,500): the
// run must probe fewer at once, say so, and still get every status right.
// Without the cap, the probes that find no file descriptor would be
// reported instead of their servers.
func TestFleetOpenFileLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a fleet")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	wrapper := filepath.Join(dir, "limited")
	script := "#!/bin/sh\nulimit -n 64 || exit 99\nexec " + bin + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := Start(200)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := Run(context.Background(), wrapper, f, time.Second, Tuning{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	requireCorrect(t, r)
	// 64 - 32 reserved - 4 write_concurrency.
	if want := "the open-file limit (64) allows 28 probes at once, not probe.concurrency 1500"; !strings.Contains(r.Output, want) {
		t.Errorf("no warning %q in\n%s", want, r.Output)
	}
}

// TestBare checks the machine-floor client's counts on a small fleet.
func TestBare(t *testing.T) {
	f, err := Start(100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := Bare(f.URLs, time.Second, 100)
	want := BareCounts{Answered: 89, TimedOut: 10, Failed: 1} // 10 hang, 1 refuses; 503 is an answer
	if got != want {
		t.Errorf("Bare = %+v, want %+v", got, want)
	}
}
