//go:build unix

package config

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLoadRefusesAFIFO: opening a FIFO blocks until a writer comes; a
// config path that is one must be refused at once, not hang the run.
func TestLoadRefusesAFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "config.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load(fifo); done <- err }()
	err := <-done // a hang here is the bug; go test's own timeout ends it
	if err == nil || !strings.Contains(err.Error(), "is not a regular file (a named pipe)") {
		t.Errorf("Load(FIFO) = %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "(a directory)") {
		t.Errorf("Load(dir) = %v", err)
	}
}

// TestTokenFileFIFORefused: the same for cachet.token_file.
func TestTokenFileFIFORefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "token")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cfg := &Config{Cachet: Cachet{TokenFile: fifo}}
	done := make(chan error, 1)
	go func() { _, err := cfg.Token(func(string) string { return "" }); done <- err }()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "is not a regular file (a named pipe)") {
		t.Errorf("Token(FIFO) = %v", err)
	}
}
