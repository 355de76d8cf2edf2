// Package promfile writes a run's metrics as a node_exporter textfile
// (Prometheus text format 0.0.4): gauges only, the file replaced atomically
// so that the collector never reads half of it.
package promfile

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/proxer/cachet-updater/internal/bounded"
)

// Metrics is what one run exports.
type Metrics struct {
	RunTime  time.Time     // when the run started
	Duration time.Duration // how long it took
	// ExitCode 0 makes RunTime the last success; any other carries over
	// the last success of the file it replaces.
	ExitCode int
	Requests map[string]int64 // requests this run sent to Cachet, by HTTP method
	Servers  []Server         // one per component: node_exporter rejects a file with a duplicate series
}

// Server is one server's samples, labelled server and component_id.
type Server struct {
	Name            string
	ComponentID     int
	Success         bool          // the probe found the server healthy
	Duration        time.Duration // the probe's latency
	HTTPStatus      int           // 0: no answer
	Reports         int           // user reports in the window
	ReportsKnown    bool          // false: the source failed or there is none; Reports is not written
	ComponentStatus int           // the status published in Cachet, 1–4; 0: unknown, not written
	CertExpiry      time.Time     // zero (http): not written
}

const lastSuccess = "cachet_updater_last_success_timestamp_seconds"

// Write replaces the file at path with m: a temporary file beside it (named
// path.tmp-*, which the collector's *.prom pattern skips), synced, made
// readable by all (0644: node_exporter runs as another user), renamed over
// path. Only a regular file (or none) is replaced; on any error the old file
// stays and no temporary file is left. ctx bounds the file work.
func Write(ctx context.Context, path string, m Metrics) error {
	if _, err := bounded.Do(ctx, func() (struct{}, error) { return struct{}{}, write(ctx, path, m) }); err != nil {
		return fmt.Errorf("writing textfile %s: %w", path, err)
	}
	return nil
}

func write(ctx context.Context, path string, m Metrics) error {
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		return fmt.Errorf("is not a regular file (%s): nothing was replaced; point metrics_file at a file in node_exporter's textfile directory", info.Mode())
	}
	last := unix(m.RunTime)
	if m.ExitCode != 0 {
		last = previousSuccess(path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%w; check that its directory exists and that the user running cachet-updater may write there", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	_, err = io.WriteString(tmp, render(m, last))
	// CreateTemp makes it 0600; Chmod is not subject to the umask. A caller
	// that gave up (ctx) must not find the file changed later.
	if err := cmp.Or(err, tmp.Chmod(0o644), tmp.Sync(), tmp.Close(), ctx.Err()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// previousSuccess reads the last success from the head of the file a
// former run wrote; 0 when there is none (a missing or foreign file).
func previousSuccess(path string) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	head, _ := io.ReadAll(io.LimitReader(f, 4<<10)) // render writes it first
	_, rest, _ := strings.Cut(string(head), "\n"+lastSuccess+" ")
	line, _, _ := strings.Cut(rest, "\n")
	if secs, err := strconv.ParseFloat(line, 64); err == nil && secs > 0 && secs < 1e12 {
		return secs
	}
	return 0
}

func render(m Metrics, last float64) string {
	var b strings.Builder
	gauge := func(name, help string, samples ...string) {
		if len(samples) > 0 { // no HELP and TYPE for a family without samples, as client_golang does
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
			for _, s := range samples {
				fmt.Fprintf(&b, "%s%s\n", name, s)
			}
		}
	}
	if last > 0 {
		gauge(lastSuccess, "When the last run that exited 0 started, in seconds since the Unix epoch.", sample("", last))
	}
	gauge("cachet_updater_last_run_timestamp_seconds", "When the last run of cachet-updater started, in seconds since the Unix epoch.", sample("", unix(m.RunTime)))
	gauge("cachet_updater_run_duration_seconds", "How long the last run took, in seconds.", sample("", m.Duration.Seconds()))
	gauge("cachet_updater_run_exit_code", "The exit code of the last run: 0 ok, 1 something failed, 2 could not run, 3 locked, 4 interrupted.", sample("", float64(m.ExitCode)))
	var requests []string
	for _, method := range slices.Sorted(maps.Keys(m.Requests)) {
		requests = append(requests, sample(`{method="`+escape(method)+`"}`, float64(m.Requests[method])))
	}
	gauge("cachet_updater_cachet_requests", "Requests the last run sent to the Cachet API, by HTTP method.", requests...)
	for _, f := range []struct {
		name, help string
		value      func(Server) (float64, bool) // false: no sample
	}{
		{"probe_success", "Whether the last probe found the server healthy (1) or not (0).", func(s Server) (float64, bool) { return map[bool]float64{true: 1}[s.Success], true }},
		{"probe_duration_seconds", "How long the last probe took, in seconds.", func(s Server) (float64, bool) { return s.Duration.Seconds(), true }},
		{"probe_http_status_code", "The final HTTP status code of the last probe; 0 when no answer arrived.", func(s Server) (float64, bool) { return float64(s.HTTPStatus), true }},
		{"reports", "User reports about the server in the report window.", func(s Server) (float64, bool) { return float64(s.Reports), s.ReportsKnown }},
		{"component_status", "The status published in Cachet: 1 operational, 2 performance issues, 3 partial outage, 4 major outage.", func(s Server) (float64, bool) { return float64(s.ComponentStatus), s.ComponentStatus != 0 }},
		{"cert_expiry_timestamp_seconds", "When the server's TLS certificate expires, in seconds since the Unix epoch.", func(s Server) (float64, bool) { return unix(s.CertExpiry), !s.CertExpiry.IsZero() }},
	} {
		var samples []string
		for _, s := range m.Servers {
			if v, ok := f.value(s); ok {
				samples = append(samples, sample(fmt.Sprintf(`{server="%s",component_id="%d"}`, escape(s.Name), s.ComponentID), v))
			}
		}
		gauge("cachet_updater_"+f.name, f.help, samples...)
	}
	return b.String()
}

// sample is a sample line after the metric name.
func sample(l string, v float64) string { return l + " " + strconv.FormatFloat(v, 'f', -1, 64) }

// escape makes a label value valid UTF-8 and escapes what the format asks.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(strings.ToValidUTF8(s, "\uFFFD"))
}

// unix is t in seconds since the epoch, with its fraction.
func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
