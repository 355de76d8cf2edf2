package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/state"
)

// buildBinary builds the command into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "cachet-updater")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSIGTERM runs the real binary, sends it SIGTERM while a probe hangs and
// checks that it prints the summary, releases the lock, writes nothing for
// the interrupted server and exits 4.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)

	started := make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	defer hang.Close()
	fake := cachettest.New("tok")
	defer fake.Close()
	fake.Add(cachettest.Component{ID: 1, Name: "Hang", Status: 1, Enabled: true})

	cfg := filepath.Join(dir, "config.yaml")
	lock := filepath.Join(dir, "run.lock")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`cachet:
  url: %s
probe:
  timeout: 60s
lock_file: %s
state:
  path: state.json
servers:
  - name: Hang
    url: %s/
    component_id: 1
`, fake.URL(), lock, hang.URL)), 0o600)

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "CACHET_API_TOKEN=tok")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the probe never reached the server")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the run did not end after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 4 {
		t.Fatalf("exit %d, want 4\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "interrupted") {
		t.Errorf("no summary:\n%s", stdout.String())
	}
	if len(fake.Writes()) != 0 {
		t.Errorf("an interrupted probe was written: %+v", fake.Writes())
	}
	l, err := state.LockFile(lock)
	if err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	l.Release()
}

// TestSecondSignal: after a first SIGTERM the run waits for a write in
// flight (here one that never gets an answer); a second signal ends the
// process at once with exit 4.
func TestSecondSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer down.Close()
	fake := cachettest.New("tok")
	defer fake.Close()
	fake.Add(cachettest.Component{ID: 1, Name: "Down", Status: 1, Enabled: true})
	fake.FailNext(cachettest.FaultHang, -1, true)

	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`cachet:
  url: %s
  timeout: 60s
  retries: 0
lock_file: %s
state:
  path: state.json
confirm:
  worse: 1
servers:
  - name: Down
    url: %s/
    component_id: 1
`, fake.URL(), filepath.Join(dir, "run.lock"), down.URL)), 0o600)

	var stdout, stderr syncBuffer
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "CACHET_API_TOKEN=tok")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor(t, cmd, "the write to reach Cachet", func() bool { return len(fake.Writes()) > 0 })
	cmd.Process.Signal(syscall.SIGTERM)
	// Signals of one kind coalesce until handled: wait for the first to be.
	waitFor(t, cmd, "the first signal to be handled", func() bool {
		return strings.Contains(stderr.String(), "SIGTERM received: ending the run")
	})
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the run did not end after two signals")
	}
	if code := cmd.ProcessState.ExitCode(); code != 4 {
		t.Fatalf("exit %d, want 4\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "SIGTERM received again: exiting at once") {
		t.Errorf("stderr does not say why it exited at once:\n%s", stderr.String())
	}
}

// waitFor polls cond until it holds; it kills cmd and fails after 30 s.
func waitFor(t *testing.T, cmd *exec.Cmd, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// syncBuffer is a bytes.Buffer that a child process writes to while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRacingRuns starts several runs of one config at the same moment: the
// run lock lets one through at a time (the others exit 3 at once), so the
// state file stays whole and a change is written once.
func TestRacingRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // long enough for the runs to overlap
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		w.WriteHeader(503)
	}))
	defer slow.Close()
	fake := cachettest.New("tok")
	defer fake.Close()
	fake.Add(cachettest.Component{ID: 1, Name: "Slow", Status: 1, Enabled: true})
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`cachet:
  url: %s
lock_file: run.lock
state:
  path: state.json
confirm:
  worse: 1
servers:
  - name: Slow
    url: %s/
    component_id: 1
`, fake.URL(), slow.URL)), 0o600)

	const runs = 4
	codes := make(chan int, runs)
	var wg sync.WaitGroup
	for range runs {
		wg.Go(func() {
			cmd := exec.Command(bin, "run", "--config", cfg)
			cmd.Env = append(os.Environ(), "CACHET_API_TOKEN=tok")
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 0 && code != 3 {
				t.Errorf("exit %d, want 0 or 3:\n%s", code, out)
			}
			codes <- cmd.ProcessState.ExitCode()
		})
	}
	wg.Wait()
	close(codes)
	ran := 0
	for c := range codes {
		if c == 0 {
			ran++
		}
	}
	if ran == 0 {
		t.Fatal("no run got the lock")
	}
	if n := len(fake.Writes()); n != 1 {
		t.Errorf("%d writes, want 1: %+v", n, fake.Writes())
	}
	st, err := state.NewFile(filepath.Join(dir, "state.json"), cfg).Load(context.Background())
	if err != nil {
		t.Fatalf("the state file is not whole: %v", err)
	}
	if c := st.Components[1]; c == nil || len(c.History) != ran || c.Last != 4 {
		t.Errorf("state after %d runs: %+v", ran, c)
	}
}
