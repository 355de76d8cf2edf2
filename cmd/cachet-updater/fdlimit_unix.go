//go:build unix

package main

import "syscall"

// openFileLimit returns the process's open-file limit (RLIMIT_NOFILE; Go
// raises the soft limit to the hard one at start-up), or 0 when it cannot
// be read or is unlimited (RLIM_INFINITY).
func openFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur >= 1<<62 {
		return 0
	}
	return uint64(rl.Cur) // int64 on the BSDs
}
