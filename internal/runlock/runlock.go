// Package runlock keeps two runs of the same config from overlapping. It uses
// flock(2), which the kernel releases when the holder exits, so a lock left by
// a killed process never blocks the next run.
package runlock

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrHeld means another process holds the lock.
var ErrHeld = errors.New("another run holds the lock")

// Lock is a held lock file.
type Lock struct {
	f *os.File
}

// Acquire takes an exclusive, non-blocking lock on path, creating the file
// (mode 0600) when needed. It returns an error wrapping ErrHeld when another
// process has it.
func Acquire(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w (set lock_file to a writable path)", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock file %s: %w", path, ErrHeld)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	// The pid is for the operator who looks at the file; the lock itself is
	// the flock, not the content.
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	return &Lock{f: f}, nil
}

// Release unlocks and closes the file. The file stays: removing it would let
// a third run lock a new file while a second still holds the old one.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
