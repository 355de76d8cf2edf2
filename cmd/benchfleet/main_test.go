//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func build(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "cachet-updater")
	if out, err := exec.Command("go", "build", "-o", bin, "../cachet-updater").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestFleetSmoke runs the real binary against a fleet of 100 and checks
// what it did (exit code, statuses, Cachet's reads and writes), twice: the
// second run finds everything right and writes nothing. It checks the bare
// client's and the one-at-a-time loop's counts too. It asserts no time:
// these machines are shared.
func TestFleetSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a fleet")
	}
	dir := t.TempDir()
	bin := build(t, dir)
	f, err := startFleet(100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	m, got, wants, err := runBinary(bin, f, time.Second, dir)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(wants) || wants["PUT /api/v1/components/"] != 13 { // 10 hang, 2 fail, 1 refuses
		t.Fatalf("%v: did %v, want %v\n%s", err, got, wants, m.out)
	}
	m, got, _, err = runBinary(bin, f, time.Second, dir)
	if err != nil || got["exit code"] != 0 || got["wrong statuses"] != 0 || got["PUT /api/v1/components/"] != 0 {
		t.Fatalf("the second run: %v: did %v, want no write\n%s", err, got, m.out)
	}
	if got, want := fmt.Sprint(bare(f.urls, time.Second)), "map[answered:89 failed:1 timed out:10]"; got != want { // 503 is an answer
		t.Errorf("bare client: %s, want %s", got, want)
	}
	if err := sequential(f, time.Second); err != nil || len(f.cachet.Writes()) != 100 {
		t.Errorf("one-at-a-time loop: %v, %d PUTs, want one per server", err, len(f.cachet.Writes()))
	}
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
	wrapper := filepath.Join(dir, "limited")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nulimit -n 64 || exit 99\nexec "+build(t, dir)+" \"$@\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := startFleet(200)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	m, got, wants, err := runBinary(wrapper, f, time.Second, dir)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(wants) {
		t.Fatalf("%v: did %v, want %v\n%s", err, got, wants, m.out)
	}
	// 64 - 32 reserved - 4 write_concurrency.
	if want := "the open-file limit (64) allows 28 probes at once, not probe.concurrency 1500"; !strings.Contains(m.out, want) {
		t.Errorf("no warning %q in\n%s", want, m.out)
	}
}
