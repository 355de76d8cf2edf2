//go:build unix

package runlock

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAcquireHeldRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description, so a second open in
	// the same process conflicts just as another process would.
	if _, err := Acquire(path); !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Acquire: want ErrHeld naming %s, got %v", path, err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
	if err := l2.Release(); err != nil {
		t.Fatalf("double Release: %v", err)
	}
}

// TestMain doubles as the lock holder for TestKilledHolderDoesNotBlock.
func TestMain(m *testing.M) {
	if path := os.Getenv("RUNLOCK_TEST_HOLD"); path != "" {
		if _, err := Acquire(path); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKilledHolderDoesNotBlock kills a process that holds the lock and
// checks that the next Acquire succeeds.
func TestKilledHolderDoesNotBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RUNLOCK_TEST_HOLD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "held\n" {
		cmd.Process.Kill()
		t.Fatalf("child did not take the lock: %q, %v", line, err)
	}
	if _, err := Acquire(path); !errors.Is(err, ErrHeld) {
		t.Fatalf("while the child holds it: want ErrHeld, got %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(path)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}

func TestUnwritablePath(t *testing.T) {
	_, err := Acquire(filepath.Join(t.TempDir(), "missing-dir", "x.lock"))
	if err == nil || !strings.Contains(err.Error(), "lock_file") {
		t.Fatalf("want an error that mentions lock_file, got %v", err)
	}
}
