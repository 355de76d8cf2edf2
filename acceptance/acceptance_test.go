// Package acceptance runs the built cachet-updater against a Cachet and a
// local fleet, and judges it by what Cachet's own API says afterwards.
//
// make acceptance (go test -tags acceptance ./acceptance) runs it against
// a live Cachet 2.x or 3.x, CU_ACCEPTANCE_CACHET_URL and
// CU_ACCEPTANCE_CACHET_TOKEN (see docs/cachet.md, "Acceptance against your
// own Cachet"); TestEmulator runs the very same suite against the project's
// emulator in every mode, in every make test.
package acceptance

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
)

// Cachet's component statuses that both APIs share.
const (
	operational   = 1
	partialOutage = 3
	majorOutage   = 4
)

// env is one run of the suite: the binary, its config and Cachet.
type env struct {
	bin, config string
	cachet      *cachetAPI
}

// runJSON is the part of run --output json the suite reads.
type runJSON struct {
	Rows []struct {
		Server string `json:"server"`
		Action string `json:"action"`
	} `json:"rows"`
}

func actions(t *testing.T, out []byte) map[string]string {
	t.Helper()
	var doc runJSON
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("run --output json: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, r := range doc.Rows {
		m[r.Server] = r.Action
	}
	return m
}

// TestEmulator runs the suite against the emulator in each mode, then
// checks it left nothing behind.
func TestEmulator(t *testing.T) {
	bin := buildBinary(t)
	for _, mode := range []cachettest.Mode{cachettest.Cachet24, cachettest.Cachet23, cachettest.Cachet3} {
		t.Run(mode.String(), func(t *testing.T) {
			token := randomHex(t, 16)
			srv := cachettest.New(token, cachettest.WithMode(mode))
			defer srv.Close()
			t.Run("suite", func(t *testing.T) { suite(t, bin, srv.URL(), token) })
			c := newCachetAPI(t, srv.URL(), token)
			groups, _ := c.paths()
			for _, path := range []string{"/components", groups, "/metrics", "/incidents"} {
				if left, _ := c.list(t, path); len(left) > 0 {
					t.Errorf("the suite left %d behind in %s: %v", len(left), path, left)
				}
			}
		})
	}
}

// suite is the acceptance suite: against the Cachet at apiURL it creates
// a group of three components and an average metric of its own, runs the
// binary through an outage, a blip, a status set by hand and a recovery,
// and reads back what Cachet holds after each step.
func suite(t *testing.T, bin, apiURL, token string) {
	c := newCachetAPI(t, apiURL, token)
	tag := "cachet-updater acceptance " + randomHex(t, 4)
	t.Logf("Cachet %s (%s); everything created is named %q", apiURL, map[bool]string{false: "2.x", true: "3.x"}[c.v3], tag)

	// What the suite creates, each removed when the test ends, pass or
	// fail (t.Cleanup runs them last first: incidents, then the metric,
	// the components, the group).
	groups, groupKey := c.paths()
	group := c.create(t, groups, map[string]any{"name": tag, "visible": 1, "collapsed": 0, "order": 0})
	c.removeLater(t, fmt.Sprintf("%s/%d", groups, group), "component group "+tag)
	names := []string{tag + " A", tag + " B", tag + " C"}
	ids := make([]int, len(names))
	for i, name := range names {
		ids[i] = c.create(t, "/components", map[string]any{"name": name, "status": operational, groupKey: group, "enabled": true})
		c.removeLater(t, fmt.Sprintf("/components/%d", ids[i]), "component "+name)
	}
	a, b, cc := ids[0], ids[1], ids[2]
	metricBody := map[string]any{ // an average: equal points within the threshold are not added up
		"name": tag + " reports", "suffix": "reports", "description": "cachet-updater acceptance test",
		"calc_type": 1, "display_chart": 0, "places": 0, "threshold": 5,
	}
	if !c.v3 { // 2.4 requires these; 3.x takes no default_value without decimal places
		metricBody["default_value"], metricBody["default_view"], metricBody["visible"] = 0, 1, 1
	}
	metric := c.create(t, "/metrics", metricBody)
	c.removeLater(t, fmt.Sprintf("/metrics/%d", metric), "metric "+tag+" reports")
	t.Cleanup(func() { c.removeIncidents(t, tag, ids) })

	fleet := []*server{newServer(t), newServer(t), newServer(t)}
	dir := t.TempDir()
	e := &env{bin: bin, config: filepath.Join(dir, "config.yaml"), cachet: c}
	write(t, filepath.Join(dir, "reports.json"), `{"a": 3, "b": 0, "c": 0}`)
	write(t, e.config, fmt.Sprintf(`cachet:
  url: %s
reports:
  source: {type: file, path: reports.json, max_age: 0s}
lock_file: run.lock
state:
  path: state.json
confirm: {worse: 2, better: 2}
manual_hold: 2h
maintenance:
  cachet_schedules: false   # the staging page's own schedules must not pause the suite
incidents:
  enabled: true
  notify: false
  name: "{{.Server}}: {{.StatusName}}"
  message: "{{.Server}}: {{.StatusName}} (acceptance: opened)"
  update: "{{.Server}}: {{.StatusName}} (acceptance: changed)"
  resolved: "{{.Server}}: operational (acceptance: resolved)"
servers:
  - {name: %q, url: %q, component_id: %d, reports_key: a, reports_metric_id: %d,
     status: {"200-399": operational, "429": partial_outage}}
  - {name: %q, url: %q, component_id: %d, reports_key: b}
  - {name: %q, url: %q, component_id: %d, reports_key: c}
`, apiURL, names[0], fleet[0].URL, a, metric, names[1], fleet[1].URL, b, names[2], fleet[2].URL, cc))

	wantStatus := func(step string, want map[int]int) {
		t.Helper()
		for id, st := range want {
			stored, shown := c.status(t, id)
			if stored != st || shown != st {
				t.Errorf("%s: component %d: Cachet holds status %d and its page shows %d, want %d", step, id, stored, shown, st)
			}
		}
	}
	ours := func(step string) []incident {
		t.Helper()
		list, err := c.incidents(t.Context(), tag, ids)
		if err != nil {
			t.Fatalf("%s: listing incidents: %v", step, err)
		}
		var out []incident
		for _, in := range list {
			out = append(out, incident{in.ID, in.Name, in.Message, int(in.Status), slices.Max(append(in.ComponentIDs, 0))})
		}
		return out
	}

	t.Log("check: the config, the token, the components, the metric, the report file")
	if out := e.cu(t, 0, "check"); !strings.Contains(string(out), "all checks passed") {
		t.Errorf("check: no \"all checks passed\" in\n%s", out)
	}

	t.Log("components: lists the suite's components in its group")
	var listed struct {
		Components []struct {
			ID      int    `json:"id"`
			Name    string `json:"name"`
			Group   string `json:"group"`
			Status  string `json:"status"`
			Enabled bool   `json:"enabled"`
		} `json:"components"`
	}
	if err := json.Unmarshal(e.cu(t, 0, "components", "--output", "json"), &listed); err != nil {
		t.Fatalf("components --output json: %v", err)
	}
	found := 0
	for _, comp := range listed.Components {
		for i, id := range ids {
			if comp.ID == id {
				found++
				if comp.Name != names[i] || comp.Group != tag || comp.Status != "operational" || !comp.Enabled {
					t.Errorf("components: %+v, want name %q, group %q, operational, enabled", comp, names[i], tag)
				}
			}
		}
	}
	if found != len(ids) {
		t.Errorf("components: %d of the suite's %d components listed", found, len(ids))
	}

	t.Log("run 1: every server answers: nothing to write, a point for the report count")
	e.cu(t, 0, "run", "--output", "json")
	wantStatus("run 1", map[int]int{a: operational, b: operational, cc: operational})
	points, _ := c.list(t, fmt.Sprintf("/metrics/%d/points", metric))
	if len(points) == 0 {
		t.Errorf("run 1: metric %d has no point, want the report count 3", metric)
	}
	for _, p := range points {
		if v, _ := p["value"].(float64); v != 3 {
			t.Errorf("run 1: metric %d has a point of %v, want 3 (the report count)", metric, p["value"])
		}
	}

	t.Log("run 2: A and B answer 503: both wait for a second run (confirm.worse: 2), nothing is written")
	fleet[0].code.Store(http.StatusServiceUnavailable)
	fleet[1].code.Store(http.StatusServiceUnavailable)
	if got := actions(t, e.cu(t, 0, "run", "--output", "json")); got[names[0]] != "pending" || got[names[1]] != "pending" {
		t.Errorf("run 2: actions %v, want A and B pending", got)
	}
	wantStatus("run 2", map[int]int{a: operational, b: operational, cc: operational})
	if in := ours("run 2"); len(in) != 0 {
		t.Errorf("run 2: incidents %+v, want none before a status is published", in)
	}

	t.Log("run 3: A still down: its outage is published with an incident; B's blip is absorbed, nothing written for it")
	fleet[1].code.Store(http.StatusOK)
	e.cu(t, 0, "run", "--output", "json")
	wantStatus("run 3", map[int]int{a: majorOutage, b: operational, cc: operational})
	opened := ours("run 3")
	if len(opened) != 1 || opened[0].component != a || opened[0].status != 1 || !strings.Contains(opened[0].name, names[0]) {
		t.Fatalf("run 3: incidents %+v, want one, investigating (1), naming component %d (%s)", opened, a, names[0])
	}
	// Issue 17 item 1: no marker (<!-- ... -->) in a message; today's main
	// ends every message with one.
	if want := names[0] + ": major_outage (acceptance: opened)"; opened[0].message != want {
		t.Errorf("run 3: the incident's message is %q, want %q", opened[0].message, want)
	}

	t.Log("a person sets C to partial outage in Cachet")
	c.setStatus(t, cc, partialOutage)

	t.Log("run 4: A answers 429 (partial outage for it): a better status waits for a second run; C's hand-set status is held")
	fleet[0].code.Store(http.StatusTooManyRequests)
	if got := actions(t, e.cu(t, 0, "run", "--output", "json")); got[names[0]] != "pending" || got[names[2]] != "held" {
		t.Errorf("run 4: actions %v, want A pending, C held", got)
	}
	wantStatus("run 4", map[int]int{a: majorOutage, b: operational, cc: partialOutage})

	// Issue 17 item 14 (3.x): the page shows what the tool wrote, not the
	// worse impact the incident was opened with (wantStatus compares
	// latest_status).
	// sameIncident: the incident opened at run 3 is still the only one, now
	// at status st, with its message changed in place to msg.
	sameIncident := func(step string, st int, msg string) {
		t.Helper()
		list := ours(step)
		if len(list) != 1 || list[0].id != opened[0].id || list[0].status != st {
			t.Fatalf("%s: incidents %+v, want incident %d alone, status %d", step, list, opened[0].id, st)
		}
		if list[0].message != msg {
			t.Errorf("%s: the incident's message is %q, want %q (changed in place)", step, list[0].message, msg)
		}
	}
	t.Log("run 5: A's partial outage is published and its incident changed; C is still held")
	if got := actions(t, e.cu(t, 0, "run", "--output", "json")); got[names[0]] != "updated" || got[names[2]] != "held" {
		t.Errorf("run 5: actions %v, want A updated, C held", got)
	}
	wantStatus("run 5", map[int]int{a: partialOutage, b: operational, cc: partialOutage})
	// Issue 17 item 2: with notify off the incident is changed in place
	// (PUT /incidents/{id}: status, message, component status) and no
	// update is posted (Cachet 2.4 mails every subscriber for each posted
	// update, whatever notify says).
	sameIncident("run 5", 3, names[0]+": partial_outage (acceptance: changed)")

	t.Log("runs 6 and 7: A answers 200 again: its recovery is published and its incident resolved in place; C is still held")
	fleet[0].code.Store(http.StatusOK)
	e.cu(t, 0, "run", "--output", "json")
	if got := actions(t, e.cu(t, 0, "run", "--output", "json")); got[names[0]] != "updated" || got[names[2]] != "held" {
		t.Errorf("run 7: actions %v, want A updated, C held", got)
	}
	wantStatus("run 7", map[int]int{a: operational, b: operational, cc: partialOutage})
	sameIncident("run 7", 4, names[0]+": operational (acceptance: resolved)")
	if updates, _ := c.list(t, fmt.Sprintf("/incidents/%d/updates", opened[0].id)); len(updates) != 0 {
		t.Errorf("run 7: incident %d has %d updates, want none with notify off: %v", opened[0].id, len(updates), updates)
	}
}

// incident is what the suite asserts of an incident.
type incident struct {
	id            int
	name, message string
	status        int
	component     int
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
