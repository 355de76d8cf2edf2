//go:build !unix

package state

// openNonblock is 0 where there are no FIFOs to block an open.
const openNonblock = 0

// syncDir does nothing: a directory cannot be opened for syncing here.
func syncDir(string) error { return nil }
