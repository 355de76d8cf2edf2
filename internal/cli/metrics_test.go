package cli

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
)

// readProm parses a textfile as node_exporter does.
func readProm(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("the textfile does not parse: %v", err)
	}
	return fams
}

// promValue returns the value of name's sample with exactly these labels
// (name, value pairs), or fails.
func promValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no %s in the textfile", name)
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := len(got) == len(labels)/2
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && got[labels[i]] == labels[i+1]
		}
		if !match {
			continue
		}
		if f.GetType() == dto.MetricType_COUNTER {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no %s%v in the textfile", name, labels)
	return 0
}

// TestMetricsFile: the textfile after a good, a failed and an interrupted
// run, parsed with Prometheus's own parser.
func TestMetricsFile(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	fleet := append(defaultFleet(), fleetServer{"Hang", 5, "h", 1, hang, "    timeout: 30s\n"})
	f := newFixture(t, fleet[:4], `{"s1": 3, "s2": 25}`, "metrics_file: metrics.prom")
	prom := filepath.Join(f.dir, "metrics.prom")

	r := f.run(context.Background(), "run")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	fams := readProm(t, prom)
	run := promValue(t, fams, "cachet_updater_last_run_timestamp_seconds")
	if success := promValue(t, fams, "cachet_updater_last_success_timestamp_seconds"); success != run || time.Since(time.Unix(int64(run), 0)) > time.Minute {
		t.Errorf("last success %v, last run %v", success, run)
	}
	if code := promValue(t, fams, "cachet_updater_run_exit_code"); code != 0 {
		t.Errorf("exit code %v", code)
	}
	if promValue(t, fams, "cachet_updater_run_duration_seconds") <= 0 {
		t.Error("no run duration")
	}
	s2 := []string{"server", "Stream 2", "component_id", "2"}
	s3 := []string{"server", "Stream 3", "component_id", "3"}
	if v := promValue(t, fams, "cachet_updater_reports", s2...); v != 25 {
		t.Errorf("reports of Stream 2: %v", v)
	}
	if v := promValue(t, fams, "cachet_updater_component_status", s2...); v != 3 {
		t.Errorf("published status of Stream 2: %v, want 3 (partial outage)", v)
	}
	if v := promValue(t, fams, "cachet_updater_probe_http_status_code", s3...); v != 503 {
		t.Errorf("code of Stream 3: %v", v)
	}
	if v := promValue(t, fams, "cachet_updater_probe_success", s3...); v != 0 {
		t.Errorf("success of Stream 3: %v", v)
	}
	if v := promValue(t, fams, "cachet_updater_probe_success", s2...); v != 1 {
		t.Errorf("success of Stream 2: %v", v)
	}
	if puts := promValue(t, fams, "cachet_updater_cachet_requests", "method", "PUT"); puts != 3 {
		t.Errorf("PUT requests %v, want 3", puts)
	}

	// A failed run: exit code 1, the last success kept.
	time.Sleep(1100 * time.Millisecond) // the timestamps are in seconds
	f.cachet.FailNext(cachettest.Fault500, -1, false)
	if r := f.run(context.Background(), "run"); r.code != ExitFailed {
		t.Fatalf("exit %d", r.code)
	}
	fams = readProm(t, prom)
	if code := promValue(t, fams, "cachet_updater_run_exit_code"); code != 1 {
		t.Errorf("exit code %v", code)
	}
	if success := promValue(t, fams, "cachet_updater_last_success_timestamp_seconds"); success != run {
		t.Errorf("a failed run changed the last success: %v, was %v", success, run)
	}
	if newRun := promValue(t, fams, "cachet_updater_last_run_timestamp_seconds"); newRun <= run {
		t.Errorf("the last run did not move: %v", newRun)
	}
	// The requests are the last run's: it sent no PUT, and its GETs failed.
	for _, m := range fams["cachet_updater_cachet_requests"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "PUT" {
			t.Errorf("a run without writes sent %v PUTs", m.GetGauge().GetValue())
		}
	}
	if promValue(t, fams, "cachet_updater_cachet_requests", "method", "GET") < 1 {
		t.Error("no GET in the failed run")
	}
	f.cachet.FailNext(cachettest.FaultNone, 0, false)

	// An interrupted run: exit code 4.
	g := newFixture(t, fleet[4:], `{}`, "metrics_file: metrics.prom")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	if r := g.run(ctx, "run"); r.code != ExitInterrupted {
		t.Fatalf("exit %d", r.code)
	}
	fams = readProm(t, filepath.Join(g.dir, "metrics.prom"))
	if code := promValue(t, fams, "cachet_updater_run_exit_code"); code != 4 {
		t.Errorf("exit code %v", code)
	}
	if _, ok := fams["cachet_updater_last_success_timestamp_seconds"]; ok {
		t.Error("an interrupted first run has a last success")
	}

	// A dry run writes no textfile.
	os.Remove(prom)
	if r := f.run(context.Background(), "run", "--dry-run"); r.code != ExitOK {
		t.Fatalf("dry run: exit %d", r.code)
	}
	if _, err := os.Stat(prom); !os.IsNotExist(err) {
		t.Error("a dry run wrote the textfile")
	}
}
