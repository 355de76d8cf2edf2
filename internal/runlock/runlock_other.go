//go:build !unix

package runlock

import "errors"

// Lock is a held lock file.
type Lock struct{}

// Acquire fails: the run lock uses flock(2).
func Acquire(path string) (*Lock, error) {
	return nil, errors.New("lock file " + path + ": the run lock needs a Unix system (flock)")
}

// DefaultPath fails: the run lock uses flock(2).
func DefaultPath(configPath string, getenv func(string) string, euid int) (string, error) {
	return "", errors.New("the run lock needs a Unix system (flock)")
}

// Release does nothing.
func (l *Lock) Release() error { return nil }
