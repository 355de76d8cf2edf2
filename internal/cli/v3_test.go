package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
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

	// An incident opened in the dashboard with an impact: the page shows
	// the worse of it and the status (latest_status), beside the status.
	fake.AddIncident(cachettest.Incident{Name: "down", Message: "m", Status: 1, Visible: true, ComponentID: 1, ComponentStatus: 4})
	r = run("components")
	if r.code != ExitOK || !strings.Contains(r.out, "Mail") || !regexp.MustCompile(`(?m)^1\s+Stream 1\s+-\s+operational\s+major_outage\s+true$`).MatchString(r.out) {
		t.Errorf("components on 3.x: exit %d\n%s%s", r.code, r.out, r.err)
	}
	r = run("components", "-o", "json")
	var doc ComponentsJSON
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil || len(doc.Components) != 2 || doc.Components[0].Status != "operational" || doc.Components[0].Shown != "major_outage" {
		t.Errorf("components -o json on 3.x: %v\n%s", err, r.out)
	}
}
