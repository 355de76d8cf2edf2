//go:build unix

package state

import (
	"os"
	"syscall"
)

// openNonblock keeps open(2) from blocking on a FIFO that replaced the file
// between Stat and open; on a regular file it changes nothing.
const openNonblock = syscall.O_NONBLOCK

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
