//go:build unix

package runlock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Lock is a held lock file.
type Lock struct {
	f *os.File
}

// Acquire takes an exclusive, non-blocking lock on path, creating the file
// (mode 0600) when needed. It returns an error wrapping ErrHeld when another
// process has it. It refuses a symbolic link at path, and a file that belongs
// to another user or that other users can open.
func Acquire(path string) (*Lock, error) {
	// O_NOFOLLOW: a link planted at path must not make this run create or
	// truncate the file it points at.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, openError(path, err)
	}
	info, err := f.Stat()
	if err == nil {
		err = checkLockFile(path, info)
	}
	if err != nil {
		f.Close()
		return nil, err
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

// openError explains a failed open, naming the owner when the file is
// another user's.
func openError(path string, err error) error {
	if info, lerr := os.Lstat(path); lerr == nil {
		if info.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("lock file %s is a symbolic link: refusing it, since whoever made it chooses which file a run opens; remove it, or set lock_file to a path in a folder only this user can write", path)
		}
		if cerr := checkLockFile(path, info); cerr != nil {
			return cerr
		}
	}
	return fmt.Errorf("opening lock file %s: %w (set lock_file to a writable path)", path, err)
}

// checkLockFile refuses a lock file that someone else could hold: one that
// belongs to another user, or that others may open (flock needs only an open
// file, even read-only).
func checkLockFile(path string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("lock file %s is not a regular file (%s): remove it, or set lock_file to another path", path, info.Mode().Type())
	}
	if uid, euid := owner(info), os.Geteuid(); uid != euid {
		return fmt.Errorf("lock file %s belongs to uid %d, not to this user (uid %d): another user may have made it to keep runs from starting; find out who, remove it, or set lock_file to a path in a folder only this user can write", path, uid, euid)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("lock file %s can be opened by other users (mode %s), who could then hold the lock: chmod 600 %s", path, perm, path)
	}
	return nil
}

// owner returns the uid that owns the file info describes.
func owner(info fs.FileInfo) int {
	return int(info.Sys().(*syscall.Stat_t).Uid)
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
