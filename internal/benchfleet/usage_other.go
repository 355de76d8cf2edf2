//go:build !linux

package benchfleet

import (
	"os"
	"time"
)

// usage is measured on Linux only; the benchmark's figures are Linux's.
func usage(ps *os.ProcessState) (maxRSS int64, cpu time.Duration) {
	return 0, ps.UserTime() + ps.SystemTime()
}
