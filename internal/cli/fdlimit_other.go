//go:build !unix

package cli

func openFileLimit() uint64 { return 0 } // unknown: probe.concurrency is not capped
