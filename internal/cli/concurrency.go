package cli

import "fmt"

// fdReserve is how many file descriptors a run keeps for everything but
// the probes: stdio, the lock file, the runtime's poller, the report
// source; Cachet's connections (write_concurrency) come on top.
const fdReserve = 32

// probeConcurrency is how many probes a run keeps in flight: the configured
// concurrency, capped so that every probe can open its socket under the
// open-file limit (0: unknown, no cap). A probe that cannot open one would
// say nothing about its server, so a capped run probes fewer at once
// instead. When it caps, why names the limit and what to do.
func probeConcurrency(concurrency, servers, writeConcurrency int, limit uint64) (n int, why string) {
	want := min(concurrency, servers)
	if limit == 0 {
		return concurrency, ""
	}
	slots := max(1, int(min(limit, 1<<30))-fdReserve-writeConcurrency)
	if want <= slots {
		return concurrency, ""
	}
	return slots, fmt.Sprintf("the open-file limit (%d) allows %s at once, not probe.concurrency %d: probing %d at a time, so the run may take longer; raise the limit (ulimit -n, systemd LimitNOFILE=) to probe more at once",
		limit, plural(int64(slots), "probe"), concurrency, slots)
}

// memoryLimit is the soft memory limit for a run with inFlight probes at
// once: the garbage collector works a little harder at the peak instead of
// letting the heap double (10,000 servers stay under 100 MB at the default
// 1,500; each probe in flight holds net/http's goroutines and buffers). It
// grows with the probes in flight, because a limit below what they really
// need makes the collector run without pause, and probes whose deadlines
// are running then starve and read as timeouts (docs/benchmarks.md).
func memoryLimit(inFlight int) int64 {
	return max(80<<20, 20<<20+int64(inFlight)*(40<<10))
}
