//go:build unix

package reports

import (
	"os"
	"syscall"
)

// openFile opens name for reading. O_NONBLOCK keeps the open itself from
// waiting for a writer when a FIFO took the file's place after the stat;
// reads of a regular file ignore the flag.
func openFile(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
