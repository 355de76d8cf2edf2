// Package runlock keeps two runs of the same config from overlapping. It uses
// flock(2), which the kernel releases when the holder exits, so a lock left by
// a killed process never blocks the next run.
//
// The lock needs a Unix system. The lock file must belong to the user who
// runs, be open to no one else and not be a symbolic link: anyone who can
// open it can hold it, and so keep every run from starting. The default lock
// file (DefaultPath) sits in a folder only that user can write.
package runlock

import "errors"

// ErrHeld means another process holds the lock.
var ErrHeld = errors.New("another run holds the lock")
