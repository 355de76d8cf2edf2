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

// These tests run the real main as a process of its own: "cachet-updater"
// on $PATH is this test binary (TestMain), which calls main().

// emulator is a Cachet emulator with the token "tok" and the components
// Stream 1..n, operational.
func emulator(t *testing.T, n int) *cachettest.Server {
	t.Helper()
	fake := cachettest.New("tok")
	t.Cleanup(fake.Close)
	for id := 1; id <= n; id++ {
		fake.Add(cachettest.Component{ID: id, Name: fmt.Sprintf("Stream %d", id), Status: 1, Enabled: true})
	}
	return fake
}

// serve serves h on loopback until the test ends, and returns its URL.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func answer(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// command is cachet-updater with args, with the emulator's token and env
// in its environment.
func command(args []string, env ...string) *exec.Cmd {
	cmd := exec.Command("cachet-updater", args...)
	cmd.Env = append(append(os.Environ(), "CACHET_API_TOKEN=tok"), env...)
	return cmd
}

// writeConfig writes a config in dir with one server, Stream 1 at url,
// after the cachet block and extra.
func writeConfig(t *testing.T, dir, cachetURL, extra, url string) string {
	t.Helper()
	cfg := filepath.Join(dir, "config.yaml")
	text := fmt.Sprintf("cachet: {url: %s, retries: 0, timeout: 60s}\nlock_file: %s\nstate: {path: state.json}\nconfirm: {worse: 1}\n%s\nservers:\n  - {name: Stream 1, url: %s/, component_id: 1}\n",
		cachetURL, filepath.Join(dir, "run.lock"), extra, url)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
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

// TestSignals: SIGTERM while a probe hangs prints the summary, releases
// the lock, writes nothing for the interrupted server and exits 4. After
// a first SIGTERM the run waits for a write in flight (one that never gets
// an answer); a second signal ends the process at once with exit 4.
func TestSignals(t *testing.T) {
	started := make(chan struct{}, 1)
	hang := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	})
	for _, second := range []bool{false, true} {
		dir := t.TempDir()
		fake := emulator(t, 1)
		url, extra := hang, "probe: {timeout: 60s}"
		if second {
			url, extra = serve(t, answer(503)), ""
			fake.FailNext(cachettest.FaultHang, -1, true)
		}
		var stdout, stderr syncBuffer
		cmd := command([]string{"run", "--config", writeConfig(t, dir, fake.URL(), extra, url)})
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		waitFor := func(what string, cond func() bool) {
			for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("timed out waiting for %s", what)
				}
			}
		}
		if second {
			waitFor("the write to reach Cachet", func() bool { return len(fake.Writes()) > 0 })
		} else {
			waitFor("the probe to reach the server", func() bool { return len(started) > 0 })
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if second { // signals of one kind coalesce until handled: wait for the first to be
			waitFor("the first signal to be handled", func() bool { return strings.Contains(stderr.String(), "SIGTERM received: ending the run") })
			cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatal("the run did not end after the signal")
		}
		if code := cmd.ProcessState.ExitCode(); code != 4 || second && !strings.Contains(stderr.String(), "SIGTERM received again: exiting at once") ||
			!second && (!strings.Contains(stdout.String(), "interrupted") || len(fake.Writes()) != 0) {
			t.Fatalf("second signal %v: exit %d, want 4, writes %v\n%s\n%s", second, code, fake.Writes(), stdout.String(), stderr.String())
		}
		l, err := state.LockFile(filepath.Join(dir, "run.lock"))
		if err != nil {
			t.Fatalf("lock not released: %v", err)
		}
		l()
	}
}

// TestRacingRuns starts several runs of one config at the same moment: the
// run lock lets one through at a time (the others exit 3 at once), so the
// state file stays whole and a change is written once.
func TestRacingRuns(t *testing.T) {
	fake := emulator(t, 1)
	slow := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select { // long enough for the runs to overlap
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		w.WriteHeader(503)
	})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fake.URL(), "", slow)
	codes := make(chan int, 4)
	var wg sync.WaitGroup
	for range cap(codes) {
		wg.Go(func() {
			cmd := command([]string{"run", "--config", cfg})
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
		ran += 1 - min(c, 1)
	}
	st, err := state.NewFile(filepath.Join(dir, "state.json"), cfg, false).Load(context.Background())
	if err != nil || ran == 0 || len(fake.Writes()) != 1 {
		t.Fatalf("%d runs got the lock, %d writes; the state file: %v", ran, len(fake.Writes()), err)
	}
	if c := st.Components[1]; c == nil || len(c.History) != ran || c.Last != 4 {
		t.Errorf("state after %d runs: %+v", ran, c)
	}
}
