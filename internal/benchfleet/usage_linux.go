package benchfleet

import (
	"os"
	"syscall"
	"time"
)

// usage returns a finished process's peak RSS in bytes and its CPU time.
func usage(ps *os.ProcessState) (maxRSS int64, cpu time.Duration) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	return ru.Maxrss * 1024, time.Duration(ru.Utime.Nano() + ru.Stime.Nano()) // Maxrss is in KiB on Linux
}
