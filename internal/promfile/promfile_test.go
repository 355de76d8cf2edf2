package promfile

import (
	"context"
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
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
	lastSuccess = time.Date(2026, 11, 25, 11, 57, 0, 0, time.UTC)
	certExpiry  = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
)

// parse reads path with Prometheus's own text parser, as node_exporter does.
func parse(t *testing.T, path string) map[string]*dto.MetricFamily {
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
	return fams
}

// value returns the sample of family name whose labels are exactly want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			if got[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		}
		t.Fatalf("%s has type %v", name, f.GetType())
	}
	return 0, false
}

func sampleMetrics() Metrics {
	return Metrics{
		RunTime:        runTime,
		LastSuccess:    lastSuccess,
		Duration:       1500 * time.Millisecond,
		ExitCode:       1,
		CachetRequests: map[string]uint64{"GET": 12, "PUT": 3},
		Servers: []Server{
			{Name: "Stream 14", ComponentID: 14, Success: true, Duration: 120 * time.Millisecond, HTTPStatus: 200,
				Reports: 4, ReportsKnown: true, ComponentStatus: 1, CertExpiry: certExpiry},
			{Name: "Stream 15", ComponentID: 15, Duration: 10 * time.Second, ComponentStatus: 4},
			{Name: `Odd "quoted" \ name` + "\nnext line", ComponentID: 16, Success: true, HTTPStatus: 204, ReportsKnown: true},
			{Name: "Stream 14", ComponentID: 17, HTTPStatus: 503}, // same name, another component: another series
		},
	}
}

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cachet-updater.prom")
	if err := Write(context.Background(), path, sampleMetrics()); err != nil {
		t.Fatal(err)
	}
	fams := parse(t, path)

	srv := func(name, id string) map[string]string { return map[string]string{"server": name, "component_id": id} }
	odd := srv(`Odd "quoted" \ name`+"\nnext line", "16")
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
		absent bool
	}{
		{name: LastRunTimestamp, want: 1795608000.25},
		{name: LastSuccessTimestamp, want: 1795607820},
		{name: RunDuration, want: 1.5},
		{name: RunExitCode, want: 1},
		{name: CachetRequestsTotal, labels: map[string]string{"method": "GET"}, want: 12},
		{name: CachetRequestsTotal, labels: map[string]string{"method": "PUT"}, want: 3},
		{name: ProbeSuccess, labels: srv("Stream 14", "14"), want: 1},
		{name: ProbeSuccess, labels: srv("Stream 15", "15"), want: 0},
		{name: ProbeSuccess, labels: odd, want: 1},
		{name: ProbeSuccess, labels: srv("Stream 14", "17"), want: 0},
		{name: ProbeDuration, labels: srv("Stream 14", "14"), want: 0.12},
		{name: ProbeDuration, labels: srv("Stream 15", "15"), want: 10},
		{name: ProbeHTTPStatusCode, labels: srv("Stream 14", "14"), want: 200},
		{name: ProbeHTTPStatusCode, labels: srv("Stream 15", "15"), want: 0},
		{name: ProbeHTTPStatusCode, labels: srv("Stream 14", "17"), want: 503},
		{name: Reports, labels: srv("Stream 14", "14"), want: 4},
		{name: Reports, labels: srv("Stream 15", "15"), absent: true},
		{name: Reports, labels: odd, want: 0},
		{name: ComponentStatus, labels: srv("Stream 14", "14"), want: 1},
		{name: ComponentStatus, labels: srv("Stream 15", "15"), want: 4},
		{name: ComponentStatus, labels: odd, absent: true},
		{name: CertExpiryTimestamp, labels: srv("Stream 14", "14"), want: 1795867200},
		{name: CertExpiryTimestamp, labels: srv("Stream 15", "15"), absent: true},
	}
	for _, tt := range tests {
		got, ok := value(t, fams, tt.name, tt.labels)
		switch {
		case tt.absent && ok:
			t.Errorf("%s%v = %v, want no sample", tt.name, tt.labels, got)
		case !tt.absent && !ok:
			t.Errorf("%s%v: no sample", tt.name, tt.labels)
		case !tt.absent && math.Abs(got-tt.want) > 1e-6:
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}

	// Every family has its HELP and the type alerting expects.
	wantTypes := map[string]dto.MetricType{
		LastRunTimestamp: dto.MetricType_GAUGE, LastSuccessTimestamp: dto.MetricType_GAUGE,
		RunDuration: dto.MetricType_GAUGE, RunExitCode: dto.MetricType_GAUGE,
		ProbeSuccess: dto.MetricType_GAUGE, ProbeDuration: dto.MetricType_GAUGE,
		ProbeHTTPStatusCode: dto.MetricType_GAUGE, Reports: dto.MetricType_GAUGE,
		ComponentStatus: dto.MetricType_GAUGE, CertExpiryTimestamp: dto.MetricType_GAUGE,
		CachetRequestsTotal: dto.MetricType_COUNTER,
	}
	if len(fams) != len(wantTypes) {
		t.Errorf("%d families, want %d", len(fams), len(wantTypes))
	}
	for name, typ := range wantTypes {
		f, ok := fams[name]
		if !ok {
			t.Errorf("no family %s", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("%s: TYPE %v, want %v", name, f.GetType(), typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s: no HELP", name)
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

// A run without a success yet, without servers and without requests still
// writes a file the collector reads, with no empty families.
func TestWriteMinimal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.prom")
	if err := Write(context.Background(), path, Metrics{RunTime: runTime, ExitCode: 2}); err != nil {
		t.Fatal(err)
	}
	fams := parse(t, path)
	for _, name := range []string{LastSuccessTimestamp, CachetRequestsTotal, ProbeSuccess, CertExpiryTimestamp} {
		if _, ok := fams[name]; ok {
			t.Errorf("family %s written without samples", name)
		}
	}
	if v, ok := value(t, fams, RunExitCode, nil); !ok || v != 2 {
		t.Errorf("%s = %v, %v", RunExitCode, v, ok)
	}
}

// Invalid UTF-8 in a label value would make the collector drop the file.
func TestWriteInvalidUTF8(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.prom")
	m := Metrics{RunTime: runTime, Servers: []Server{{Name: "bad \xff byte", ComponentID: 1}}}
	if err := Write(context.Background(), path, m); err != nil {
		t.Fatal(err)
	}
	fams := parse(t, path)
	if _, ok := value(t, fams, ProbeSuccess, map[string]string{"server": "bad \uFFFD byte", "component_id": "1"}); !ok {
		t.Errorf("no sample for the server with the replaced byte")
	}
}

// TestWriteReplaces asserts that a second write replaces the file whole
// and that a failing write leaves the previous file and no temporary one.
func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cachet-updater.prom")
	ctx := context.Background()
	if err := Write(ctx, path, sampleMetrics()); err != nil {
		t.Fatal(err)
	}
	m := Metrics{RunTime: runTime.Add(3 * time.Minute), ExitCode: 0, Servers: []Server{{Name: "Only", ComponentID: 1}}}
	if err := Write(ctx, path, m); err != nil {
		t.Fatal(err)
	}
	fams := parse(t, path)
	if n := len(fams[ProbeSuccess].GetMetric()); n != 1 {
		t.Errorf("%d probe_success samples after the second write, want 1", n)
	}
	before, _ := os.ReadFile(path)

	// Two series with the same labels: refused before touching the file.
	dup := Metrics{RunTime: runTime, Servers: []Server{{Name: "A", ComponentID: 1}, {Name: "A", ComponentID: 1}}}
	err := Write(ctx, path, dup)
	if err == nil || !strings.Contains(err.Error(), `server "A" with component 1 is listed twice`) {
		t.Errorf("duplicate series: err %v", err)
	}
	// A canceled context: nothing happens.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := Write(canceled, path, sampleMetrics()); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err %v", err)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(before) {
		t.Errorf("a failed write changed the file")
	}
	assertOnly(t, dir, "cachet-updater.prom")
}

// TestWriteFails covers places that cannot take the file: no temporary
// file may be left behind and the error must say where.
func TestWriteFails(t *testing.T) {
	ctx := context.Background()
	t.Run("no directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "x.prom")
		err := Write(ctx, path, sampleMetrics())
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "directory exists") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("a directory at the path", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "x.prom")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Write(ctx, path, sampleMetrics()); err == nil {
			t.Fatal("no error renaming over a directory")
		}
		assertOnly(t, dir, "x.prom")
	})
	// Only a regular file is replaced: a rename goes over a device
	// (metrics_file: /dev/null, as root), a FIFO or a socket alike.
	for name, create := range map[string]func(path string) error{
		"a named pipe at the path": func(path string) error { return syscall.Mkfifo(path, 0o600) },
		"a socket at the path": func(path string) error {
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
			err := Write(ctx, path, sampleMetrics())
			if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), "metrics_file") {
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

func TestReadPrevious(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "cachet-updater.prom")

	if _, ok := ReadLastSuccess(ctx, path); ok {
		t.Error("a missing file has a last success")
	}
	m := sampleMetrics()
	m.CachetRequests[`we"ird\method`+"\n"] = 7
	if err := Write(ctx, path, m); err != nil {
		t.Fatal(err)
	}
	got, ok := ReadLastSuccess(ctx, path)
	if !ok || !got.Equal(lastSuccess) {
		t.Errorf("ReadLastSuccess = %v, %v; want %v", got, ok, lastSuccess)
	}
	prev := ReadPrevious(ctx, path)
	want := map[string]uint64{"GET": 12, "PUT": 3, `we"ird\method` + "\n": 7}
	if len(prev.RequestTotals) != len(want) {
		t.Errorf("RequestTotals = %v, want %v", prev.RequestTotals, want)
	}
	for k, v := range want {
		if prev.RequestTotals[k] != v {
			t.Errorf("RequestTotals[%q] = %d, want %d", k, prev.RequestTotals[k], v)
		}
	}

	// A failed run carries the last success over.
	m2 := Metrics{RunTime: runTime.Add(3 * time.Minute), ExitCode: 1, LastSuccess: got}
	if err := Write(ctx, path, m2); err != nil {
		t.Fatal(err)
	}
	if got2, ok := ReadLastSuccess(ctx, path); !ok || !got2.Equal(lastSuccess) {
		t.Errorf("after a failed run: %v, %v", got2, ok)
	}
	// Sub-second precision survives the round trip (to the microsecond).
	m2.LastSuccess = runTime
	if err := Write(ctx, path, m2); err != nil {
		t.Fatal(err)
	}
	if got3, _ := ReadLastSuccess(ctx, path); got3.Sub(runTime).Abs() > time.Microsecond {
		t.Errorf("ReadLastSuccess = %v, want %v", got3, runTime)
	}
}

func TestReadPreviousForeign(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":    "",
		"garbage":  "\x00\x01 not a metrics file\n",
		"negative": LastSuccessTimestamp + " -5\n",
		"nan":      LastSuccessTimestamp + " NaN\n",
		"inf":      LastSuccessTimestamp + " +Inf\n",
		"longline": strings.Repeat("x", 2<<20) + "\n" + LastSuccessTimestamp + " 10\n",
		"labels":   CachetRequestsTotal + `{method="GET` + "\n",
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o644)
		if got, ok := ReadLastSuccess(ctx, path); ok {
			t.Errorf("%s: last success %v", name, got)
		}
		if prev := ReadPrevious(ctx, path); prev.RequestTotals == nil || len(prev.RequestTotals) != 0 {
			t.Errorf("%s: request totals %v", name, prev.RequestTotals)
		}
	}
	// A named pipe nobody writes to would block a plain open.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan bool, 1)
	go func() {
		_, ok := ReadLastSuccess(ctx, fifo)
		done <- ok
	}()
	select {
	case ok := <-done:
		if ok {
			t.Error("a FIFO has a last success")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ReadLastSuccess blocked on a FIFO")
	}
}

// TestReadPreviousDeadline asserts that ctx bounds the read.
func TestReadPreviousDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := filepath.Join(t.TempDir(), "x.prom")
	if err := Write(context.Background(), path, sampleMetrics()); err != nil {
		t.Fatal(err)
	}
	if prev := ReadPrevious(ctx, path); !prev.LastSuccess.IsZero() || prev.RequestTotals == nil {
		t.Errorf("with a canceled context: %+v", prev)
	}
}
