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

// TestCheckAndComponentsOnCachet3: check and components speak Cachet 3.x
// (found out by cachet.api: auto), and check verifies the metric ids.
func TestCheckAndComponentsOnCachet3(t *testing.T) {
	fake := cachettest.NewV3(testToken)
	defer fake.Close()
	fake.Add(cachettest.Component{ID: 1, Name: "Stream 1", Status: 1, Enabled: true})
	fake.Add(cachettest.Component{ID: 2, Name: "Mail", Status: 3, Enabled: false})
	fake.AddMetric(cachettest.Metric{ID: 7, Name: "Latency"})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	write := func(metricIDs string) {
		t.Helper()
		text := fmt.Sprintf(`cachet:
  url: %s
  token_env: TEST_CACHET_TOKEN
state:
  path: state.json
servers:
  - name: Stream 1
    url: http://127.0.0.1:1/
    component_id: 1
%s`, fake.URL(), metricIDs)
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) result {
		var out, errb bytes.Buffer
		env := Env{Out: &out, Err: &errb, Now: time.Now, IsTerminal: func(io.Writer) bool { return false }, Version: "test",
			Getenv: func(k string) string {
				if k == "TEST_CACHET_TOKEN" {
					return testToken
				}
				return ""
			}}
		code := Execute(append(args, "--config", cfg), env)
		r := result{code, out.String(), errb.String()}
		if strings.Contains(r.out+r.err, testToken) {
			t.Fatalf("the token leaked:\n%s%s", r.out, r.err)
		}
		return r
	}

	write("    metric_id: 7\n")
	r := run("check")
	if r.code != ExitOK || !strings.Contains(r.out, "Cachet API: v3") || !strings.Contains(r.out, "the metric ids of 1 server exist") {
		t.Fatalf("check on 3.x: exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, req := range fake.Requests() {
		if req.Header.Get("X-Cachet-Token") != "" {
			t.Fatalf("X-Cachet-Token sent to Cachet 3.x: %+v", req)
		}
	}

	write("    metric_id: 7\n    reports_metric_id: 9\n")
	r = run("check")
	if r.code != ExitFailed || !strings.Contains(r.out, `server "Stream 1" (line 7): reports_metric_id 9 does not exist in Cachet`) {
		t.Errorf("a missing metric: exit %d\n%s", r.code, r.out)
	}

	r = run("components")
	if r.code != ExitOK || !strings.Contains(r.out, "Mail") || !strings.Contains(r.out, "partial_outage") {
		t.Errorf("components on 3.x: exit %d\n%s%s", r.code, r.out, r.err)
	}
}
