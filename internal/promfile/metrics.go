package promfile

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Metric names. They are part of the interface: alert rules use them.
const (
	LastRunTimestamp     = "cachet_updater_last_run_timestamp_seconds"
	LastSuccessTimestamp = "cachet_updater_last_success_timestamp_seconds"
	RunDuration          = "cachet_updater_run_duration_seconds"
	RunExitCode          = "cachet_updater_run_exit_code"
	ProbeSuccess         = "cachet_updater_probe_success"
	ProbeDuration        = "cachet_updater_probe_duration_seconds"
	ProbeHTTPStatusCode  = "cachet_updater_probe_http_status_code"
	Reports              = "cachet_updater_reports"
	ComponentStatus      = "cachet_updater_component_status"
	CertExpiryTimestamp  = "cachet_updater_cert_expiry_timestamp_seconds"
	CachetRequestsTotal  = "cachet_updater_cachet_requests_total"
)

// Metrics is what one run exports.
type Metrics struct {
	RunTime     time.Time     // when the run started
	LastSuccess time.Time     // when the last run that exited 0 started: this one's RunTime, or ReadPrevious's; zero: none yet, not written
	Duration    time.Duration // how long the run took
	ExitCode    int           // the run's exit code
	// CachetRequests counts the requests sent to Cachet, by HTTP method.
	// A counter: pass totals that only grow, ReadPrevious's RequestTotals
	// plus this run's. Deleting the file starts them at 0 again, which
	// Prometheus takes for a counter reset.
	CachetRequests map[string]uint64
	Servers        []Server // one sample of each per-server metric, in this order
}

// Server is one probed server's samples, labelled server and component_id.
// A (Name, ComponentID) pair must appear only once: node_exporter rejects a
// file with a duplicate series as a whole.
type Server struct {
	Name            string
	ComponentID     int
	Success         bool          // the probe found the server healthy (the caller's rule)
	Duration        time.Duration // the probe's latency
	HTTPStatus      int           // the final HTTP status code; 0: no answer
	Reports         int           // user reports in the window
	ReportsKnown    bool          // false: the report source failed or there is none, Reports is not written
	ComponentStatus int           // the status published in Cachet, 1–4; 0: unknown, not written
	CertExpiry      time.Time     // the leaf certificate's expiry; zero (http): not written
}

// family is one metric's HELP, TYPE and samples.
type family struct {
	name, help, typ string
	samples         []sample
}

type sample struct {
	labels []label
	value  float64
}

type label struct{ name, value string }

// families lays m out as the file's metric families: the run's first, so
// that ReadPrevious finds them early, then the servers'.
func (m Metrics) families() []family {
	fams := []family{
		{LastRunTimestamp, "When the last run of cachet-updater started, in seconds since the Unix epoch.", "gauge",
			[]sample{{value: unixSeconds(m.RunTime)}}},
		{LastSuccessTimestamp, "When the last run that exited 0 started, in seconds since the Unix epoch.", "gauge",
			nil},
		{RunDuration, "How long the last run took, in seconds.", "gauge",
			[]sample{{value: m.Duration.Seconds()}}},
		{RunExitCode, "The exit code of the last run: 0 ok, 1 something failed, 2 could not run, 3 locked, 4 interrupted.", "gauge",
			[]sample{{value: float64(m.ExitCode)}}},
		{CachetRequestsTotal, "Requests sent to the Cachet API, by HTTP method.", "counter", m.requestSamples()},
	}
	if !m.LastSuccess.IsZero() {
		fams[1].samples = []sample{{value: unixSeconds(m.LastSuccess)}}
	}
	return append(fams, m.serverFamilies()...)
}

func (m Metrics) requestSamples() []sample {
	methods := make([]string, 0, len(m.CachetRequests))
	for method := range m.CachetRequests {
		methods = append(methods, method)
	}
	slices.Sort(methods)
	samples := make([]sample, len(methods))
	for i, method := range methods {
		samples[i] = sample{labels: []label{{"method", method}}, value: float64(m.CachetRequests[method])}
	}
	return samples
}

func (m Metrics) serverFamilies() []family {
	fams := []family{
		{name: ProbeSuccess, help: "Whether the last probe found the server healthy (1) or not (0).", typ: "gauge"},
		{name: ProbeDuration, help: "How long the last probe took, in seconds.", typ: "gauge"},
		{name: ProbeHTTPStatusCode, help: "The final HTTP status code of the last probe; 0 when no answer arrived.", typ: "gauge"},
		{name: Reports, help: "User reports about the server in the report window.", typ: "gauge"},
		{name: ComponentStatus, help: "The status published in Cachet: 1 operational, 2 performance issues, 3 partial outage, 4 major outage.", typ: "gauge"},
		{name: CertExpiryTimestamp, help: "When the server's TLS certificate expires, in seconds since the Unix epoch.", typ: "gauge"},
	}
	for _, s := range m.Servers {
		ls := []label{{"server", s.Name}, {"component_id", strconv.Itoa(s.ComponentID)}}
		fams[0].samples = append(fams[0].samples, sample{ls, b2f(s.Success)})
		fams[1].samples = append(fams[1].samples, sample{ls, s.Duration.Seconds()})
		fams[2].samples = append(fams[2].samples, sample{ls, float64(s.HTTPStatus)})
		if s.ReportsKnown {
			fams[3].samples = append(fams[3].samples, sample{ls, float64(s.Reports)})
		}
		if s.ComponentStatus != 0 {
			fams[4].samples = append(fams[4].samples, sample{ls, float64(s.ComponentStatus)})
		}
		if !s.CertExpiry.IsZero() {
			fams[5].samples = append(fams[5].samples, sample{ls, unixSeconds(s.CertExpiry)})
		}
	}
	return fams
}

// check refuses what node_exporter would reject as a whole file.
func (m Metrics) check() error {
	seen := make(map[label]bool, len(m.Servers))
	for _, s := range m.Servers {
		k := label{s.Name, strconv.Itoa(s.ComponentID)}
		if seen[k] {
			return fmt.Errorf("server %q with component %d is listed twice: node_exporter would reject the whole file", s.Name, s.ComponentID)
		}
		seen[k] = true
	}
	return nil
}

// render writes the families in the text exposition format. A family
// without samples gets no HELP and TYPE either, as client_golang does.
func render(w io.Writer, fams []family) error {
	var b strings.Builder
	for _, f := range fams {
		if len(f.samples) == 0 {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
		for _, s := range f.samples {
			b.WriteString(f.name)
			writeLabels(&b, s.labels)
			b.WriteByte(' ')
			b.WriteString(formatValue(s.value))
			b.WriteByte('\n')
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
		b.Reset()
	}
	return nil
}

func writeLabels(b *strings.Builder, ls []label) {
	if len(ls) == 0 {
		return
	}
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.name)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(l.value))
		b.WriteByte('"')
	}
	b.WriteByte('}')
}

// escapeLabel escapes a label value as the text format asks (backslash,
// double quote, line feed) and makes it valid UTF-8, which the format
// requires and a server name read from elsewhere may not be.
func escapeLabel(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "\n", `\n`)
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// unixSeconds is t in seconds since the epoch, with its fraction.
func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
