//go:build !unix

package state

import "errors"

const openNonblock = 0 // no FIFOs to block an open

func syncDir(string) error { return nil }

// Lock is a held lock file.
type Lock struct{}

// LockFile fails: the locks use flock(2).
func LockFile(path string) (*Lock, error) {
	return nil, errors.New("lock file " + path + ": the run lock needs a Unix system (flock)")
}

// Release does nothing.
func (l *Lock) Release() error { return nil }

// DefaultLockPath fails: the locks use flock(2).
func DefaultLockPath(string, func(string) string, int) (string, error) {
	return "", errors.New("the run lock needs a Unix system (flock)")
}
