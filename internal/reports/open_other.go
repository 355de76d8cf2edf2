//go:build !unix

package reports

import "os"

// openFile opens name for reading. Without Unix FIFOs there is no open that
// waits for a writer; Counts' timeout still bounds a hung network share.
func openFile(name string) (*os.File, error) {
	return os.Open(name)
}
