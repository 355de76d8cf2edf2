//go:build !unix

package main

func openFileLimit() uint64 { return 0 } // unknown: probe.concurrency is not capped
