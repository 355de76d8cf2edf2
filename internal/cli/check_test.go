package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
)

var checkModes = []cachettest.Mode{cachettest.Cachet24, cachettest.Cachet3}

// check runs check against a fresh emulator in mode with components 1..n
// (S1..Sn, operational) and the metrics; body follows the config's state.
func check(t *testing.T, mode cachettest.Mode, n int, metrics []cachettest.Metric, body string) (*fixture, result) {
	t.Helper()
	f := newFixture(t, mode)
	for id := 1; id <= n; id++ {
		f.cachet.Add(cachettest.Component{ID: id, Name: fmt.Sprintf("S%d", id), Status: 1, Enabled: true})
	}
	for _, m := range metrics {
		f.cachet.AddMetric(m)
	}
	f.write("", "reports: {source: {type: none}}\n"+body)
	return f, f.run(context.Background(), "check")
}

// TestCheck: check says what it checked, one line each; a wrong token
// fails it; --output json prints the same as one document.
func TestCheck(t *testing.T) {
	f := newFleet(t, defaultFleet(), `{}`, "")
	for id := 100; id < 130; id++ {
		f.cachet.Add(cachettest.Component{ID: id, Name: fmt.Sprintf("Other %d", id), Status: 1, Enabled: true})
	}
	r := f.run(context.Background(), "check")
	if r.code != ExitOK || r.lines("[ok]", "config "+f.cfg, ": 4 servers") != 1 || r.lines("[note]", "no server maps to it") != 30 || r.lines("[note]", "Other", "Other") != 30 {
		t.Fatalf("exit %d: want the config line and one note per unmapped component\n%s%s", r.code, r.out, r.err)
	}
	doc := decode(t, f.run(context.Background(), "check", "--output", "json"))
	checks, _ := doc["checks"].([]any)
	if keys(doc) != "[checks passed version]" || doc["version"] != 1.0 || doc["passed"] != true || len(checks) < 5 || keys(checks[0]) != "[message status]" ||
		!strings.Contains(fmt.Sprint(checks[0]), "status:ok") || !strings.Contains(fmt.Sprint(checks[0]), "4 servers") {
		t.Fatalf("check -o json: %v", doc)
	}
	f.env["TEST_CACHET_TOKEN"] = "wrong-token"
	if r := f.run(context.Background(), "check", "-o", "json"); r.code != ExitFailed || decode(t, r)["passed"] != false {
		t.Errorf("wrong token: exit %d\n%s", r.code, r.out)
	}
}

// TestCheckMetrics: check warns about a sum metric (Cachet folds an equal
// point posted within a metric's threshold into one with a counter, which a
// sum multiplies) and, on 3.x, about a threshold that would drop the points
// of a cron every few minutes; it fails a metric id that does not exist.
func TestCheckMetrics(t *testing.T) {
	metrics := []cachettest.Metric{{ID: 7, Name: "Reports", CalcType: 0, Threshold: 1}, {ID: 8, Name: "Latency", CalcType: 1, Threshold: 1}, {ID: 9, Name: "Slow", CalcType: 1, Threshold: 5}}
	for _, mode := range checkModes {
		_, r := check(t, mode, 1, metrics, servers(1, "    metric_id: 9\n    reports_metric_id: 7\n"))
		threshold := map[cachettest.Mode]int{cachettest.Cachet3: 1}[mode]
		if r.code != ExitOK || r.lines("[warn]", `reports_metric_id 7 ("Reports") is a sum metric`, "average") != 1 || r.lines("[warn]", "metric_id 9", "sum") != 0 ||
			r.lines("[warn]", `metric_id 9 ("Slow")`, "threshold of 5 minutes") != threshold || r.lines("[ok]", "the metric ids of 1 server exist") != 1 {
			t.Errorf("%s: exit %d\n%s%s", mode, r.code, r.out, r.err)
		}
		_, r = check(t, mode, 1, metrics, servers(1, "    metric_id: 8\n    reports_metric_id: 10\n"))
		if r.code != ExitFailed || r.lines("[FAIL]", `server "S1" (line 7): reports_metric_id 10 does not exist in Cachet`) != 1 || r.lines("[warn]", "metric_id 8") != 0 {
			t.Errorf("%s, a missing metric: exit %d\n%s", mode, r.code, r.out)
		}
	}
}

// TestCheckRateLimits: a run's requests to Cachet 3.x (listing pages,
// schedules, a write per server at worst, incidents, points) against the
// 3.x app skeleton's 60 and core's 300 a minute.
func TestCheckRateLimits(t *testing.T) {
	for _, tt := range []struct {
		servers int
		extra   string
		want    []string // words of the warning; nil: none
	}{
		{20, "", nil},
		{20, "    metric_id: 7\n    reports_metric_id: 7\n", []string{"up to 63 requests", "60 a minute"}},
		{400, "", []string{"up to 406 requests", "60 a minute", "300 a minute"}},
	} {
		for _, mode := range checkModes {
			_, r := check(t, mode, tt.servers, []cachettest.Metric{{ID: 7, Name: "Latency", CalcType: 1, Threshold: 1}}, servers(tt.servers, tt.extra))
			want := map[bool]int{true: 1}[tt.want != nil && mode == cachettest.Cachet3]
			if r.code != ExitOK || r.lines("[warn]", append([]string{"requests"}, tt.want...)...) != want {
				t.Errorf("%s/%d: exit %d, want %d warnings with %q\n%s%s", mode, tt.servers, r.code, want, tt.want, r.out, r.err)
			}
		}
	}
}

// TestCheckAbilities: on Cachet 3.x check proves components.manage with a
// PATCH that carries no field (validated, then guarded, then no change),
// and names the abilities it cannot prove without writing.
func TestCheckAbilities(t *testing.T) {
	const body = "incidents:\n  enabled: true\n"
	metric := []cachettest.Metric{{ID: 7, Name: "Latency", CalcType: 1, Threshold: 1}}
	for _, mode := range checkModes {
		f := newFixture(t, mode)
		f.cachet.Add(cachettest.Component{ID: 1, Name: "S1", Status: 3, Enabled: false})
		f.cachet.AddMetric(metric[0])
		f.cachet.SetAbilities("components.manage")
		f.write("", "reports: {source: {type: none}}\n"+body+servers(1, "    metric_id: 7\n"))
		r := f.run(context.Background(), "check")
		if c, _ := f.cachet.Component(1); c.Status != 3 || c.Enabled {
			t.Errorf("%s: check changed the component: %+v", mode, c)
		}
		if mode == cachettest.Cachet24 {
			if len(f.cachet.Writes()) != 0 || strings.Contains(r.out, ".manage") || r.code != ExitOK {
				t.Errorf("2.x: %d writes, exit %d\n%s", len(f.cachet.Writes()), r.code, r.out)
			}
			continue
		}
		if r.code != ExitOK || r.lines("[ok]", "components.manage") != 1 || r.lines("[note]", "incidents.manage", "incident-updates.manage", "metric-points.manage", "without writing") != 1 {
			t.Errorf("with components.manage: exit %d\n%s%s", r.code, r.out, r.err)
		}
		if w := f.cachet.Writes(); len(w) != 1 || w[0].Method != "PATCH" || w[0].Body != "{}" {
			t.Errorf("writes: %+v", w)
		}
		f.cachet.SetAbilities("incidents.manage", "incident-updates.manage", "metric-points.manage")
		if r = f.run(context.Background(), "check"); r.code != ExitFailed || r.lines("[FAIL]", "components.manage") != 1 {
			t.Errorf("without components.manage: exit %d\n%s%s", r.code, r.out, r.err)
		}
	}
}

// TestCheckMissingComponent: Cachet serves a refused token's listing as a
// guest's, without disabled components: check says so instead of calling a
// disabled component missing; with an accepted token a missing one does
// not exist.
func TestCheckMissingComponent(t *testing.T) {
	for _, mode := range checkModes {
		f, _ := check(t, mode, 0, nil, servers(1, ""))
		f.cachet.Add(cachettest.Component{ID: 1, Name: "Off", Status: 1, Enabled: false})
		f.env["TEST_CACHET_TOKEN"] = "wrong-token-0123456789"
		if r := f.run(context.Background(), "check"); r.code != ExitFailed || r.lines("[FAIL]", "component 1", "guest") != 1 || strings.Contains(r.out, "does not exist") {
			t.Errorf("%s, refused token: exit %d\n%s%s", mode, r.code, r.out, r.err)
		}
		f.env["TEST_CACHET_TOKEN"] = testToken
		f.write("", "reports: {source: {type: none}}\n"+servers(2, ""))
		if r := f.run(context.Background(), "check"); r.code != ExitFailed || r.lines("[FAIL]", "component 2 does not exist in Cachet") != 1 || r.lines("[FAIL]", "component 1") != 0 {
			t.Errorf("%s, accepted token: exit %d\n%s%s", mode, r.code, r.out, r.err)
		}
	}
}

// TestCheckCachet3: check speaks Cachet 3.x (found out by cachet.api:
// auto) and never sends it X-Cachet-Token.
func TestCheckCachet3(t *testing.T) {
	f, r := check(t, cachettest.Cachet3, 1, []cachettest.Metric{{ID: 7, Name: "Latency"}}, servers(1, "    metric_id: 7\n"))
	if r.code != ExitOK || r.lines("[ok]", "Cachet API: v3") != 1 {
		t.Fatalf("check on 3.x: exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, req := range f.cachet.Requests() {
		if req.Header.Get("X-Cachet-Token") != "" {
			t.Fatalf("X-Cachet-Token sent to Cachet 3.x: %+v", req)
		}
	}
}
