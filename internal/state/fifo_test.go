//go:build unix

package state

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLoadFIFORefusedWithoutBlocking(t *testing.T) {
	f := newFile(t)
	if err := syscall.Mkfifo(f.path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	type result struct {
		st  *State
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := f.Load(context.Background()) // no deadline: only the code keeps it from blocking
		done <- result{st, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
	if r.st != nil || r.err == nil || !strings.Contains(r.err.Error(), f.path+" is a named pipe (FIFO), not a regular file") {
		t.Fatalf("Load = %v, %v; want nil and an error saying it is a FIFO", r.st, r.err)
	}
	if info, err := os.Lstat(f.path); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was moved: %v", err)
	}
	if err := CheckWritable(context.Background(), f.path); err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("CheckWritable = %v, want it to refuse the FIFO", err)
	}
}

// A FIFO swapped in between Stat and open must not block open(2).
func TestReadOpensNonblocking(t *testing.T) {
	f := newFile(t)
	if err := syscall.Mkfifo(f.path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		file, err := os.OpenFile(f.path, os.O_RDONLY|openNonblock, 0)
		if err == nil {
			file.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("open blocked on a FIFO")
	}
}
