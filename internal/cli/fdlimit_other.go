//go:build !unix

package cli

// openFileLimit is unknown outside Unix: probe.concurrency is not capped.
func openFileLimit() uint64 { return 0 }
