//go:build unix

package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// openNonblock keeps open(2) from blocking on a FIFO put where a file was.
const openNonblock = syscall.O_NONBLOCK

// Lock is a held lock file.
type Lock struct{ f *os.File }

// LockFile takes an exclusive flock(2) on path, creating it (0600), without
// waiting: another holder is an error wrapping ErrLockBusy. The kernel drops
// the lock when its process dies. It refuses a symbolic link, and a file
// that belongs to another user or that others can open: whoever can open it
// can hold the lock and keep every run from starting.
func LockFile(path string) (*Lock, error) {
	// O_NOFOLLOW: a planted link must not make this run create or truncate
	// the file it points at.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if info, lerr := os.Lstat(path); lerr == nil && info.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("lock file %s is a symbolic link: refusing it, since whoever made it chooses which file a run opens; remove it, or set lock_file to a path in a folder only this user can write", path)
		}
		return nil, fmt.Errorf("opening lock file %s: %w (set lock_file to a writable path)", path, err)
	}
	info, err := f.Stat()
	if err == nil {
		err = regular(info)
	}
	switch {
	case err != nil:
	case owner(info) != os.Geteuid():
		err = fmt.Errorf("belongs to uid %d, not to this user (uid %d): another user may have made it to keep runs from starting; find out who, remove it, or set lock_file to a path in a folder only this user can write", owner(info), os.Geteuid())
	case info.Mode().Perm()&0o077 != 0:
		err = fmt.Errorf("can be opened by other users (mode %s), who could then hold the lock: chmod 600 %[2]s", info.Mode().Perm(), path)
	default:
		if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
			err = ErrLockBusy
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	// For the operator who looks; the lock is the flock, not the content.
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return &Lock{f}, nil
}

// Release unlocks. The file stays: removing it would let a third run lock a
// new file while a second still holds the old one.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // drops the flock
	l.f = nil
	return err
}

// DefaultLockPath returns the run lock of a config that sets no lock_file:
// cachet-updater-<config name>-<hash>.lock, named as DefaultPath names the
// state file, in a folder only this user can write: /run/cachet-updater for
// root, else $XDG_RUNTIME_DIR/cachet-updater, or, where that is unset (cron),
// the state file's folder. The folder is created 0700; one that is a link,
// another user's or writable by group or others is refused.
func DefaultLockPath(configPath string, getenv func(string) string, euid int) (string, error) {
	return defaultLockPath(configPath, getenv, euid, "/run")
}

func defaultLockPath(configPath string, getenv func(string) string, euid int, rootDir string) (string, error) {
	path, err := defaultPath(configPath, getenv, euid, rootDir, "XDG_RUNTIME_DIR", ".lock")
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the lock folder: %w (or set lock_file)", err)
	}
	info, err := os.Lstat(dir)
	switch {
	case err != nil:
	case !info.IsDir():
		err = errors.New("is a symbolic link or not a folder: make it a folder only this user can write (mkdir -m 700)")
	case owner(info) != euid:
		err = fmt.Errorf("belongs to uid %d, not to this user (uid %d): another user could hold the lock; remove it", owner(info), euid)
	case info.Mode().Perm()&0o022 != 0:
		err = fmt.Errorf("can be written by group or others (mode %s): chmod 700 %s", info.Mode().Perm(), dir)
	}
	if err != nil {
		return "", fmt.Errorf("lock folder %s: %w, or set lock_file", dir, err)
	}
	return path, nil
}

func owner(info fs.FileInfo) int { return int(info.Sys().(*syscall.Stat_t).Uid) }

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
