package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/runlock"
)

// TestSIGTERM runs the real binary, sends it SIGTERM while a probe hangs and
// checks that it prints the summary, releases the lock, writes nothing for
// the interrupted server and exits 4.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "cachet-updater")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

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
	l, err := runlock.Acquire(lock)
	if err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	l.Release()
}
