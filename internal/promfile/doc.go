// Package promfile writes a run's metrics for node_exporter's textfile
// collector: one file in the Prometheus text exposition format (0.0.4),
// replaced atomically after every run so that node_exporter never reads
// half a file.
//
// The package knows nothing about the run: the caller fills a Metrics
// value. It also reads back what an earlier run wrote (ReadPrevious), so
// that a failed run keeps the time of the last success and the request
// counters keep counting.
package promfile
