package promfile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var (
	runTime     = time.Date(2026, 11, 25, 12, 0, 0, 250_000_000, time.UTC)
	lastRun     = time.Date(2026, 11, 25, 11, 57, 0, 0, time.UTC)
	certExpiry  = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	successTime = float64(runTime.UnixNano()) / 1e9
)

// read parses path with Prometheus's own text parser, as node_exporter
// does, and returns its samples by name{label="value",...} (labels sorted).
// Every family must be a gauge with a HELP.
func read(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(f)
	if err != nil {
		data, _ := os.ReadFile(path)
		t.Fatalf("parsing the written file: %v\n%s", err, data)
	}
	samples := map[string]float64{}
	for name, fam := range fams {
		if fam.GetType() != dto.MetricType_GAUGE || fam.GetHelp() == "" {
			t.Errorf("%s: type %v, help %q; want a gauge with a HELP", name, fam.GetType(), fam.GetHelp())
		}
		for _, m := range fam.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			samples[key] = m.GetGauge().GetValue()
		}
	}
	return samples
}

func sampleMetrics() Metrics {
	return Metrics{
		RunTime:  runTime,
		Duration: 1500 * time.Millisecond,
		ExitCode: 0,
		Requests: map[string]int64{"GET": 12, "PUT": 3},
		Servers: []Server{
			{Name: "Stream 14", ComponentID: 14, Success: true, Duration: 120 * time.Millisecond, HTTPStatus: 200,
				Reports: 4, ReportsKnown: true, ComponentStatus: 1, CertExpiry: certExpiry},
			{Name: "Stream 15", ComponentID: 15, Duration: 10 * time.Second, ComponentStatus: 4},
			{Name: `Odd "quoted" \ name` + "\nnext line", ComponentID: 16, Success: true, HTTPStatus: 204, ReportsKnown: true},
			{Name: "Stream 14", ComponentID: 17, HTTPStatus: 503}, // same name, another component: another series
		},
	}
}

func writeRead(t *testing.T, path string, m Metrics) map[string]float64 {
	t.Helper()
	if err := Write(context.Background(), path, m); err != nil {
		t.Fatal(err)
	}
	return read(t, path)
}

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cachet-updater.prom")
	got := writeRead(t, path, sampleMetrics())
	s14 := `{component_id="14",server="Stream 14"}`
	s15 := `{component_id="15",server="Stream 15"}`
	s17 := `{component_id="17",server="Stream 14"}`
	odd := `{component_id="16",server="Odd \"quoted\" \\ name\nnext line"}`
	want := map[string]float64{
		"cachet_updater_last_run_timestamp_seconds":          successTime,
		"cachet_updater_last_success_timestamp_seconds":      successTime,
		"cachet_updater_run_duration_seconds":                1.5,
		"cachet_updater_run_exit_code":                       0,
		`cachet_updater_cachet_requests{method="GET"}`:       12,
		`cachet_updater_cachet_requests{method="PUT"}`:       3,
		"cachet_updater_probe_success" + s14:                 1,
		"cachet_updater_probe_success" + s15:                 0,
		"cachet_updater_probe_success" + odd:                 1,
		"cachet_updater_probe_success" + s17:                 0,
		"cachet_updater_probe_duration_seconds" + s14:        0.12,
		"cachet_updater_probe_duration_seconds" + s15:        10,
		"cachet_updater_probe_duration_seconds" + odd:        0,
		"cachet_updater_probe_duration_seconds" + s17:        0,
		"cachet_updater_probe_http_status_code" + s14:        200,
		"cachet_updater_probe_http_status_code" + s15:        0,
		"cachet_updater_probe_http_status_code" + odd:        204,
		"cachet_updater_probe_http_status_code" + s17:        503,
		"cachet_updater_reports" + s14:                       4, // Stream 15's source failed: no sample
		"cachet_updater_reports" + odd:                       0,
		"cachet_updater_component_status" + s14:              1,
		"cachet_updater_component_status" + s15:              4,
		"cachet_updater_cert_expiry_timestamp_seconds" + s14: float64(certExpiry.Unix()),
	}
	if len(got) != len(want) {
		t.Errorf("%d samples, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || math.Abs(g-v) > 1e-6 {
			t.Errorf("%s = %v (present %t), want %v", k, g, ok, v)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o644 {
		t.Errorf("mode %v, want 0644: node_exporter runs as another user", perm)
	}
	assertOnly(t, filepath.Dir(path), "cachet-updater.prom")
}

// A failed first run without servers or requests still writes a file the
// collector reads, with no empty families and no last success.
func TestWriteMinimal(t *testing.T) {
	got := writeRead(t, filepath.Join(t.TempDir(), "x.prom"), Metrics{RunTime: runTime, ExitCode: 2})
	want := map[string]float64{"cachet_updater_last_run_timestamp_seconds": successTime, "cachet_updater_run_duration_seconds": 0, "cachet_updater_run_exit_code": 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("samples %v, want %v", got, want)
	}
}

// Invalid UTF-8 in a label value would make the collector drop the file.
func TestWriteInvalidUTF8(t *testing.T) {
	got := writeRead(t, filepath.Join(t.TempDir(), "x.prom"), Metrics{RunTime: runTime, Servers: []Server{{Name: "bad \xff byte", ComponentID: 1}}})
	if _, ok := got[`cachet_updater_probe_success{component_id="1",server="bad `+"\uFFFD"+` byte"}`]; !ok {
		t.Errorf("no sample for the server with the replaced byte: %v", got)
	}
}

// A second write replaces the file whole; a write given up leaves the
// previous file and no temporary one.
func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cachet-updater.prom")
	writeRead(t, path, sampleMetrics())
	got := writeRead(t, path, Metrics{RunTime: runTime, Servers: []Server{{Name: "Only", ComponentID: 1}}})
	if _, ok := got["cachet_updater_probe_success"+`{component_id="14",server="Stream 14"}`]; ok {
		t.Errorf("the second write kept the first one's servers")
	}
	before, _ := os.ReadFile(path)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Write(canceled, path, sampleMetrics()); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("a failed write changed the file")
	}
	assertOnly(t, dir, "cachet-updater.prom")
}

// A failed run carries the last success of the file it replaces over,
// to the microsecond; a missing or foreign file has none to carry.
func TestLastSuccess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cachet-updater.prom")
	failed := Metrics{RunTime: lastRun.Add(3 * time.Minute), ExitCode: 1}
	if _, ok := writeRead(t, path, failed)["cachet_updater_last_success_timestamp_seconds"]; ok {
		t.Error("a failed first run has a last success")
	}
	writeRead(t, path, sampleMetrics())
	for range 2 {
		if got := writeRead(t, path, failed)["cachet_updater_last_success_timestamp_seconds"]; math.Abs(got-successTime) > 1e-6 {
			t.Errorf("after a failed run: %v, want %v", got, successTime)
		}
	}
	for name, content := range map[string]string{
		"empty":    "",
		"garbage":  "\x00\x01 not a metrics file\n",
		"negative": "#\n" + lastSuccess + " -5\n",
		"nan":      "#\n" + lastSuccess + " NaN\n",
		"inf":      "#\n" + lastSuccess + " +Inf\n",
		"longline": strings.Repeat("x", 2<<20) + "\n" + lastSuccess + " 10\n",
	} {
		path := filepath.Join(dir, name+".prom")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, ok := writeRead(t, path, failed)["cachet_updater_last_success_timestamp_seconds"]; ok {
			t.Errorf("%s: last success %v", name, got)
		}
	}
}

// Places that cannot take the file: the error says where and what to do,
// nothing is replaced and no temporary file is left.
func TestWriteFails(t *testing.T) {
	ctx := context.Background()
	t.Run("no directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "x.prom")
		err := Write(ctx, path, sampleMetrics())
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "directory exists") {
			t.Errorf("err %v", err)
		}
	})
	// Only a regular file is replaced: a rename goes over a directory, a
	// device (metrics_file: /dev/null, as root), a FIFO or a socket alike,
	// and reading a FIFO's last success would block.
	for name, create := range map[string]func(path string) error{
		"a directory":  func(path string) error { return os.Mkdir(path, 0o755) },
		"a named pipe": func(path string) error { return syscall.Mkfifo(path, 0o600) },
		"a socket": func(path string) error {
			_, err := net.Listen("unix", path) // closed with the test process
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "x.prom")
			if err := create(path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(path)
			err := Write(ctx, path, Metrics{RunTime: runTime, ExitCode: 1})
			if err == nil || !strings.Contains(err.Error(), "is not a regular file") || !strings.Contains(err.Error(), "metrics_file") {
				t.Errorf("err %v, want one saying it is not a regular file", err)
			}
			if after, _ := os.Lstat(path); after == nil || after.Mode() != before.Mode() {
				t.Errorf("%s: replaced", name)
			}
			assertOnly(t, dir, "x.prom")
		})
	}
}

// assertOnly fails unless dir holds exactly the named entries.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v (a temporary file left behind?)", dir, got, names)
	}
}
