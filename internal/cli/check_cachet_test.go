package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
)

var checkModes = []struct {
	name string
	mode cachettest.Mode
}{{"2.4", cachettest.Cachet24}, {"3.x", cachettest.Cachet3}}

// check runs `check` with token against fake; body holds the config
// after cachet:, state: and reports:.
func check(t *testing.T, fake *cachettest.Server, token, body string) result {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	text := fmt.Sprintf("cachet:\n  url: %s\n  token_env: TEST_CACHET_TOKEN\n  retries: 0\nstate:\n  path: %s\nreports:\n  source:\n    type: none\n%s",
		fake.URL(), filepath.Join(dir, "state.json"), body)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	env := Env{Out: &out, Err: &errb, Now: time.Now, IsTerminal: func(io.Writer) bool { return false }, Version: "test",
		Getenv: func(k string) string {
			if k == "TEST_CACHET_TOKEN" {
				return token
			}
			return ""
		}}
	r := result{Execute([]string{"check", "--config", cfg}, env), out.String(), errb.String()}
	if strings.Contains(r.out+r.err, token) {
		t.Fatalf("the token leaked:\n%s%s", r.out, r.err)
	}
	return r
}

// servers is a servers: block of n servers mapped to components 1..n,
// each line of extra added to every server.
func servers(n int, extra string) string {
	var b strings.Builder
	b.WriteString("servers:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - name: S%d\n    url: http://127.0.0.1:1/\n    component_id: %d\n%s", i, i, extra)
	}
	return b.String()
}

// lines returns the lines of out with the given tag ("[warn]", ...) that
// contain every one of words.
func lines(out, tag string, words ...string) []string {
	var found []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, tag) {
			continue
		}
		all := true
		for _, w := range words {
			all = all && strings.Contains(l, w)
		}
		if all {
			found = append(found, l)
		}
	}
	return found
}

// TestCheckSumMetrics: Cachet folds an equal point posted within a
// metric's threshold into one with a counter, which a sum metric
// multiplies: check warns about a sum metric, not about an average one.
func TestCheckSumMetrics(t *testing.T) {
	for _, m := range checkModes {
		t.Run(m.name, func(t *testing.T) {
			fake := cachettest.New(testToken, cachettest.WithMode(m.mode))
			defer fake.Close()
			fake.Add(cachettest.Component{ID: 1, Name: "S1", Status: 1, Enabled: true})
			fake.AddMetric(cachettest.Metric{ID: 7, Name: "Reports", CalcType: 0, Threshold: 1})
			fake.AddMetric(cachettest.Metric{ID: 8, Name: "Latency", CalcType: 1, Threshold: 1})
			r := check(t, fake, testToken, servers(1, "    metric_id: 8\n    reports_metric_id: 7\n"))
			if r.code != ExitOK || len(lines(r.out, "[warn]", `reports_metric_id 7 ("Reports") is a sum metric`, "average")) != 1 || len(lines(r.out, "[warn]", "metric_id 8")) != 0 {
				t.Errorf("exit %d\n%s%s", r.code, r.out, r.err)
			}
		})
	}
}

// TestCheckMetricThreshold: within a metric's threshold Cachet 3.x keeps
// the first point and drops the later ones; check says so when the
// threshold would swallow the points of a cron every few minutes.
func TestCheckMetricThreshold(t *testing.T) {
	for _, m := range checkModes {
		t.Run(m.name, func(t *testing.T) {
			fake := cachettest.New(testToken, cachettest.WithMode(m.mode))
			defer fake.Close()
			fake.Add(cachettest.Component{ID: 1, Name: "S1", Status: 1, Enabled: true})
			fake.AddMetric(cachettest.Metric{ID: 7, Name: "Slow", CalcType: 1, Threshold: 5})
			fake.AddMetric(cachettest.Metric{ID: 8, Name: "Fine", CalcType: 1, Threshold: 1})
			r := check(t, fake, testToken, servers(1, "    metric_id: 7\n    reports_metric_id: 8\n"))
			want := 0
			if m.mode == cachettest.Cachet3 {
				want = 1
			}
			if r.code != ExitOK || len(lines(r.out, "[warn]", `metric_id 7 ("Slow")`, "threshold of 5 minutes")) != want || len(lines(r.out, "[warn]", "threshold of 1 minute")) != 0 {
				t.Errorf("exit %d\n%s%s", r.code, r.out, r.err)
			}
		})
	}
}

// TestCheckRateLimits: a run's requests to Cachet 3.x (listing pages,
// schedules, a write per server at worst, incidents, points) against the
// 3.x app skeleton's 60 and core's 300 a minute.
func TestCheckRateLimits(t *testing.T) {
	tests := []struct {
		servers int
		extra   string
		want    []string // words of the warning; nil: none
	}{
		{20, "", nil},
		{20, "    metric_id: 7\n    reports_metric_id: 7\n", []string{"up to 63 requests", "60 a minute"}},
		{400, "", []string{"up to 406 requests", "60 a minute", "300 a minute"}},
	}
	for _, tt := range tests {
		for _, m := range checkModes {
			t.Run(fmt.Sprintf("%s/%d", m.name, tt.servers), func(t *testing.T) {
				fake := cachettest.New(testToken, cachettest.WithMode(m.mode))
				defer fake.Close()
				for id := 1; id <= tt.servers; id++ {
					fake.Add(cachettest.Component{ID: id, Name: fmt.Sprintf("S%d", id), Status: 1, Enabled: true})
				}
				fake.AddMetric(cachettest.Metric{ID: 7, Name: "Latency", CalcType: 1, Threshold: 1})
				r := check(t, fake, testToken, servers(tt.servers, tt.extra))
				want := 0
				if tt.want != nil && m.mode == cachettest.Cachet3 {
					want = 1
				}
				if r.code != ExitOK || len(lines(r.out, "[warn]", append([]string{"requests"}, tt.want...)...)) != want {
					t.Errorf("exit %d, want %d warnings with %q\n%s%s", r.code, want, tt.want, r.out, r.err)
				}
			})
		}
	}
}

// TestCheckAbilities: on Cachet 3.x check proves components.manage with a
// PATCH that carries no field (validated, then guarded, then no change),
// and names the abilities it cannot prove without writing.
func TestCheckAbilities(t *testing.T) {
	const body = "incidents:\n  enabled: true\n"
	for _, m := range checkModes {
		t.Run(m.name, func(t *testing.T) {
			fake := cachettest.New(testToken, cachettest.WithMode(m.mode))
			defer fake.Close()
			fake.Add(cachettest.Component{ID: 1, Name: "S1", Status: 3, Enabled: false})
			fake.AddMetric(cachettest.Metric{ID: 7, Name: "Latency", CalcType: 1, Threshold: 1})
			fake.SetAbilities("components.manage")
			r := check(t, fake, testToken, body+servers(1, "    metric_id: 7\n"))
			if c, _ := fake.Component(1); c.Status != 3 || c.Enabled {
				t.Errorf("check changed the component: %+v", c)
			}
			if m.mode == cachettest.Cachet24 {
				if len(fake.Writes()) != 0 || strings.Contains(r.out, ".manage") || r.code != ExitOK {
					t.Errorf("2.x: %d writes, exit %d\n%s", len(fake.Writes()), r.code, r.out)
				}
				return
			}
			if r.code != ExitOK || len(lines(r.out, "[ok]", "components.manage")) != 1 ||
				len(lines(r.out, "[note]", "incidents.manage", "incident-updates.manage", "metric-points.manage", "without writing")) != 1 {
				t.Errorf("with components.manage: exit %d\n%s%s", r.code, r.out, r.err)
			}
			if w := fake.Writes(); len(w) != 1 || w[0].Method != "PATCH" || w[0].Body != "{}" {
				t.Errorf("writes: %+v", w)
			}

			fake.SetAbilities("incidents.manage", "incident-updates.manage", "metric-points.manage")
			r = check(t, fake, testToken, body+servers(1, ""))
			if r.code != ExitFailed || len(lines(r.out, "[FAIL]", "components.manage")) != 1 {
				t.Errorf("without components.manage: exit %d\n%s%s", r.code, r.out, r.err)
			}
		})
	}
}

// TestCheckMissingComponent: Cachet serves a refused token's listing as a
// guest's, without disabled components: check says so instead of calling
// a disabled component missing; with an accepted token a missing one does
// not exist.
func TestCheckMissingComponent(t *testing.T) {
	for _, m := range checkModes {
		t.Run(m.name, func(t *testing.T) {
			fake := cachettest.New(testToken, cachettest.WithMode(m.mode))
			defer fake.Close()
			fake.Add(cachettest.Component{ID: 1, Name: "Off", Status: 1, Enabled: false})
			r := check(t, fake, "wrong-token-0123456789", servers(1, ""))
			if r.code != ExitFailed || len(lines(r.out, "[FAIL]", "component 1", "guest")) != 1 || strings.Contains(r.out, "does not exist") {
				t.Errorf("refused token: exit %d\n%s%s", r.code, r.out, r.err)
			}
			r = check(t, fake, testToken, servers(2, ""))
			if r.code != ExitFailed || len(lines(r.out, "[FAIL]", "component 2 does not exist in Cachet")) != 1 || len(lines(r.out, "[FAIL]", "component 1")) != 0 {
				t.Errorf("accepted token: exit %d\n%s%s", r.code, r.out, r.err)
			}
		})
	}
}
