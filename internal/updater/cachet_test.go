package updater

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/state"
)

var modes = []struct {
	name string
	mode cachettest.Mode
}{{"2.4", cachettest.Cachet24}, {"2.3", cachettest.Cachet23}, {"3.x", cachettest.Cachet3}}

// codeServer answers with the status code held in code.
func codeServer(t *testing.T, code *atomic.Int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(code.Load()))
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// cachetWorld is one server whose answer a test sets, as component 1 of an
// emulator in a given mode, with a config the test extends.
type cachetWorld struct {
	t      *testing.T
	cachet *cachettest.Server
	code   atomic.Int64
	dir    string
	cfg    *config.Config
}

func newCachetWorld(t *testing.T, mode cachettest.Mode, extra, serverExtra string) *cachetWorld {
	t.Helper()
	w := &cachetWorld{t: t, dir: t.TempDir()}
	w.code.Store(200)
	if mode == cachettest.Cachet3 {
		w.cachet = cachettest.NewV3(runToken)
	} else {
		w.cachet = cachettest.New(runToken, cachettest.WithMode(mode))
	}
	t.Cleanup(w.cachet.Close)
	w.cachet.Add(cachettest.Component{ID: 1, Name: "S1", Status: 1, Enabled: true})
	url := codeServer(t, &w.code)
	w.reports(0)
	text := fmt.Sprintf(`cachet:
  url: %s
  timeout: 2s
  retries: 0
probe:
  timeout: 1s
  status: {"200-399": operational, "429": partial_outage}
confirm:
  worse: 1
  better: 1
reports:
  source:
    type: file
    path: reports.json
    max_age: 0s
%s
servers:
  - name: S1
    url: %s
    component_id: 1
    reports_key: s1
%s`, w.cachet.URL(), extra, url, serverExtra)
	cfg, err := config.Parse(filepath.Join(w.dir, "config.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg
	return w
}

// reports sets S1's report count.
func (w *cachetWorld) reports(n int) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, "reports.json"), []byte(fmt.Sprintf(`{"s1": %d}`, n)), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

func (w *cachetWorld) run(o Options) Summary {
	w.t.Helper()
	return runWith(context.Background(), w.t, w.cfg, w.dir, o)
}

// openIncidents are the emulator's incidents not fixed.
func (w *cachetWorld) openIncidents() []cachettest.Incident {
	var open []cachettest.Incident
	for _, i := range w.cachet.Incidents() {
		if i.Status != 4 {
			open = append(open, i)
		}
	}
	return open
}

// TestIncidents: an incident opened once when the published status reaches
// open_at, updated when it changes, resolved when operational; found again
// when the state is lost; none for a pending change. In every API mode.
func TestIncidents(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			w := newCachetWorld(t, m.mode, "incidents:\n  enabled: true\n  message: \"{{.Server}} is down\"", "")
			w.code.Store(503)
			sum := w.run(Options{})
			if sum.Failed() || len(w.cachet.Incidents()) != 1 {
				t.Fatalf("major outage: %d incidents, failed %v: %+v", len(w.cachet.Incidents()), sum.Failed(), sum.Rows[0])
			}
			inc := w.cachet.Incidents()[0]
			if inc.ComponentID != 1 || inc.Status == 4 || !strings.Contains(inc.Message, "S1 is down") || !strings.Contains(inc.Name, "S1: Major Outage") {
				t.Errorf("incident: %+v", inc)
			}
			if !strings.Contains(strings.Join(sum.Rows[0].Notes, " "), fmt.Sprintf("opened incident %d", inc.ID)) {
				t.Errorf("notes: %v", sum.Rows[0].Notes)
			}

			// The same again: nothing new.
			w.run(Options{})
			if n := len(w.cachet.Incidents()); n != 1 {
				t.Errorf("a second run opened another incident: %d", n)
			}

			// Partial outage: the incident is updated.
			w.code.Store(429)
			sum = w.run(Options{})
			if sum.Failed() || !strings.Contains(strings.Join(sum.Rows[0].Notes, " "), "updated incident") {
				t.Fatalf("update: %+v", sum.Rows[0])
			}
			if c, _ := w.cachet.Component(1); c.Status != 3 {
				t.Errorf("after the incident update the component is %d, want 3 (the update must not put back the status it was opened with)", c.Status)
			}
			if got, _ := w.cachet.Incident(inc.ID); got.Status != 3 {
				t.Errorf("after getting better the incident is %+v, want watching (3)", got)
			}

			// Operational: resolved.
			w.code.Store(200)
			sum = w.run(Options{})
			if got, _ := w.cachet.Incident(inc.ID); got.Status != 4 || len(w.openIncidents()) != 0 {
				st, _ := state.NewFile(filepath.Join(w.dir, "state.json"), "").Load(context.Background())
				t.Fatalf("not resolved: %+v (row %+v, state %+v)", got, sum.Rows[0], st.Components[1])
			}

			// The state is lost while an incident is open: found, not opened twice.
			w.code.Store(503)
			w.run(Options{})
			if err := os.Remove(filepath.Join(w.dir, "state.json")); err != nil {
				t.Fatal(err)
			}
			w.code.Store(429)
			sum = w.run(Options{})
			if open := w.openIncidents(); len(open) != 1 {
				t.Fatalf("after the state was lost: %d open incidents: %+v (notes %v)", len(open), open, sum.Rows[0].Notes)
			}
		})
	}
}

// TestIncidentsNotForPending: a change waiting for confirmation opens
// nothing; --dry-run says what it would do and writes nothing.
func TestIncidentsNotForPending(t *testing.T) {
	w := newCachetWorld(t, cachettest.Cachet24, "incidents:\n  enabled: true", "    confirm: {worse: 2}\n")
	w.code.Store(503)
	if sum := w.run(Options{}); sum.Rows[0].Action != Pending || len(w.cachet.Incidents()) != 0 {
		t.Fatalf("pending: %s, %d incidents", sum.Rows[0].Action, len(w.cachet.Incidents()))
	}
	sum := w.run(Options{DryRun: true})
	if len(w.cachet.Incidents()) != 0 || !strings.Contains(strings.Join(sum.Rows[0].Notes, " "), "would open an incident (major_outage)") {
		t.Errorf("dry run: %d incidents, notes %v", len(w.cachet.Incidents()), sum.Rows[0].Notes)
	}
}

// TestMetricPoints: the latency after an answer and the report count go to
// their metrics; nothing for a probe without an answer.
func TestMetricPoints(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			w := newCachetWorld(t, m.mode, "", "    metric_id: 7\n    reports_metric_id: 8\n")
			w.cachet.AddMetric(cachettest.Metric{ID: 7, Name: "Latency", Threshold: 1})
			w.cachet.AddMetric(cachettest.Metric{ID: 8, Name: "Reports", Threshold: 1})
			w.reports(25)
			sum := w.run(Options{})
			if sum.Failed() {
				t.Fatalf("failed: %+v", sum.Rows[0].Problems)
			}
			lat, rep := w.cachet.Points(7), w.cachet.Points(8)
			if len(lat) != 1 || lat[0].Value <= 0 || lat[0].Value > 1000 || len(rep) != 1 || rep[0].Value != 25 {
				t.Errorf("points: latency %+v, reports %+v", lat, rep)
			}
			if sum.Writes < 2 {
				t.Errorf("points not counted as writes: %d", sum.Writes)
			}
		})
	}
	w := newCachetWorld(t, cachettest.Cachet24, "", "    metric_id: 7\n")
	w.cachet.AddMetric(cachettest.Metric{ID: 7, Name: "Latency"})
	w.cfg.Servers[0].URL = "http://127.0.0.1:1/" // refused
	w.run(Options{})
	if p := w.cachet.Points(7); len(p) != 0 {
		t.Errorf("a point after a probe without an answer: %+v", p)
	}
}

// TestMaintenance: a window of the config leaves the component alone; it
// is still probed and shown.
func TestMaintenance(t *testing.T) {
	now := time.Now().UTC()
	window := fmt.Sprintf("maintenance:\n  cachet_schedules: false\n  windows:\n    - servers: [S1]\n      start: %s\n      end: %s",
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	w := newCachetWorld(t, cachettest.Cachet24, window, "")
	w.code.Store(503)
	if r := w.run(Options{}).Rows[0]; r.Action != Maintenance || r.Probe.Code != 503 || len(w.cachet.Writes()) != 0 {
		t.Errorf("window: row %+v", r)
	}
}

// TestScheduleCovers: what a Cachet schedule in progress covers, by
// maintenance.cachet_schedules. A 2.4 schedule lists no components: named
// covers what its name or message names, and one that names nothing is
// noted once. 3.x's lists the components it covers. A schedule without an
// end (2.4 shows it as now; 3.x as null) covers at most
// maintenance.max_open after its start; the run notes it.
func TestScheduleCovers(t *testing.T) {
	now := time.Now().UTC()
	tests := []struct {
		name   string
		mode   cachettest.Mode
		config string // maintenance keys
		sc     cachettest.Schedule
		want   bool   // S1 is under maintenance
		note   string // in the run's notes; "": none
	}{
		{"2.4 names none", cachettest.Cachet24, "", cachettest.Schedule{Name: "Wartung", ComponentIDs: []int{1}}, false, `"Wartung" names no server: it covers none`},
		{"2.4 by name", cachettest.Cachet24, "", cachettest.Schedule{Name: "s1: Wartung"}, true, ""},
		{"2.4 by message", cachettest.Cachet24, "cachet_schedules: named", cachettest.Schedule{Name: "Wartung", Message: "Betrifft (S1)."}, true, ""},
		{"2.4 by component name", cachettest.Cachet24, "", cachettest.Schedule{Name: "Wartung", Message: "Betrifft den Encoder"}, true, ""},
		{"2.4 part of a word", cachettest.Cachet24, "", cachettest.Schedule{Name: "S10 und S1x"}, false, "names no server"},
		{"2.4 true is named", cachettest.Cachet24, "cachet_schedules: true", cachettest.Schedule{Name: "Wartung"}, false, "names no server"},
		{"2.4 all", cachettest.Cachet24, "cachet_schedules: all", cachettest.Schedule{Name: "Wartung"}, true, ""},
		{"2.4 off", cachettest.Cachet24, "cachet_schedules: off", cachettest.Schedule{Name: "S1"}, false, ""},
		{"2.4 false is off", cachettest.Cachet24, "cachet_schedules: false", cachettest.Schedule{Name: "S1"}, false, ""},
		{"3.x listed", cachettest.Cachet3, "", cachettest.Schedule{Name: "Wartung", ComponentIDs: []int{1}}, true, ""},
		{"3.x named, not listed", cachettest.Cachet3, "", cachettest.Schedule{Name: "S1", ComponentIDs: []int{2}}, false, ""},
		{"3.x all", cachettest.Cachet3, "cachet_schedules: all", cachettest.Schedule{Name: "Wartung", ComponentIDs: []int{2}}, true, ""},
		{"3.x off", cachettest.Cachet3, "cachet_schedules: off", cachettest.Schedule{Name: "S1", ComponentIDs: []int{1}}, false, ""},
		{"2.4 no end, 11h", cachettest.Cachet24, "", cachettest.Schedule{Name: "S1", ScheduledAt: now.Add(-11 * time.Hour)}, true, `"S1" has no end: it covers S1 until`},
		{"2.4 no end, 13h", cachettest.Cachet24, "", cachettest.Schedule{Name: "S1", ScheduledAt: now.Add(-13 * time.Hour)}, false, "more than maintenance.max_open (12h) ago: it covers nothing"},
		{"2.4 no end, past max_open", cachettest.Cachet24, "max_open: 30m", cachettest.Schedule{Name: "S1", ScheduledAt: now.Add(-time.Hour)}, false, "(30m) ago"},
		{"2.4 an end, 13h", cachettest.Cachet24, "", cachettest.Schedule{Name: "S1", ScheduledAt: now.Add(-13 * time.Hour), CompletedAt: now.Add(time.Hour)}, true, ""},
		{"3.x no end, 13h", cachettest.Cachet3, "", cachettest.Schedule{Name: "S1", ScheduledAt: now.Add(-13 * time.Hour), ComponentIDs: []int{1}}, false, "more than maintenance.max_open (12h) ago"},
		{"3.x no end, 11h", cachettest.Cachet3, "", cachettest.Schedule{Name: "S1", ScheduledAt: now.Add(-11 * time.Hour), ComponentIDs: []int{1}}, true, "has no end: it covers S1 until"},
		{"3.x an end, 13h", cachettest.Cachet3, "", cachettest.Schedule{Name: "S1", ScheduledAt: now.Add(-13 * time.Hour), CompletedAt: now.Add(time.Hour), ComponentIDs: []int{1}}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := ""
			if tt.config != "" {
				extra = "maintenance:\n  " + tt.config
			}
			w := newCachetWorld(t, tt.mode, extra, "")
			w.cachet.Add(cachettest.Component{ID: 1, Name: "Encoder", Status: 1, Enabled: true})
			w.cachet.Add(cachettest.Component{ID: 2, Name: "other", Status: 1, Enabled: true})
			if tt.sc.ScheduledAt.IsZero() {
				tt.sc.ScheduledAt, tt.sc.CompletedAt = now.Add(-time.Minute), now.Add(time.Hour)
			}
			tt.sc.Status = 1
			w.cachet.AddSchedule(tt.sc)
			w.code.Store(503)
			sum := w.run(Options{})
			r := sum.Rows[0]
			if got := r.Action == Maintenance; got != tt.want || sum.Failed() || r.Probe.Code != 503 {
				t.Fatalf("under maintenance %v, want %v: row %+v", got, tt.want, r)
			}
			if c, _ := w.cachet.Component(1); (c.Status == 4) == tt.want || tt.want && !strings.Contains(r.MaintenanceWhy, tt.sc.Name) {
				t.Errorf("component 1 is %d; why %q", c.Status, r.MaintenanceWhy)
			}
			if notes := strings.Join(sum.Notes, "\n"); tt.note == "" && notes != "" || !strings.Contains(notes, tt.note) {
				t.Errorf("notes %q, want %q", notes, tt.note)
			}
		})
	}
}

// TestWeeklyWindowZone: a weekly window without a time_zone of its own
// runs on the wall clock of the config's time_zone.
func TestWeeklyWindowZone(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().In(tokyo).Add(-time.Minute)
	weekly := fmt.Sprintf("%s %s-%s", start.Weekday().String()[:3], start.Format("15:04"), start.Add(31*time.Minute).Format("15:04"))
	w := newCachetWorld(t, cachettest.Cachet24, "time_zone: Asia/Tokyo\nmaintenance:\n  windows:\n    - weekly: "+weekly, "")
	w.code.Store(503)
	if r := w.run(Options{}).Rows[0]; r.Action != Maintenance || !strings.Contains(r.MaintenanceWhy, "Asia/Tokyo") || len(w.cachet.Writes()) != 0 {
		t.Errorf("weekly %s in Tokyo: row %+v, writes %v", weekly, r, w.cachet.Writes())
	}
}

// TestIncidentWriteFails: a failed incident write undoes nothing, fails the
// run, and the next run catches up.
func TestIncidentWriteFails(t *testing.T) {
	w := newCachetWorld(t, cachettest.Cachet24, "incidents:\n  enabled: true", "")
	w.cachet.Add(cachettest.Component{ID: 1, Name: "S1", Status: 4, Enabled: true}) // already major: no component write
	w.code.Store(503)
	w.cachet.FailNext(cachettest.Fault500, 1, true)
	sum := w.run(Options{})
	if r := sum.Rows[0]; !sum.Failed() || r.Action != Unchanged || len(r.Problems) != 1 || len(w.cachet.Incidents()) != 0 {
		t.Fatalf("failed incident write: failed %v, row %+v, incidents %+v", sum.Failed(), r, w.cachet.Incidents())
	}
	if c, _ := w.cachet.Component(1); c.Status != 4 {
		t.Errorf("the component changed: %d", c.Status)
	}
	sum = w.run(Options{})
	if sum.Failed() || len(w.cachet.Incidents()) != 1 {
		t.Errorf("the next run did not catch up: failed %v, %d incidents", sum.Failed(), len(w.cachet.Incidents()))
	}
}

// texts are every text the page shows of the emulator's incidents: their
// messages and their updates'.
func (w *cachetWorld) texts() []string {
	var out []string
	for _, i := range w.cachet.Incidents() {
		out = append(out, i.Message)
		for _, u := range w.cachet.IncidentUpdates(i.ID) {
			out = append(out, u.Message)
		}
	}
	return out
}

// TestIncidentTexts: the page shows exactly what the templates say:
// nothing invisible travels in a message (2.4's PUT and updates and every
// 2.3 message store an HTML comment escaped, and the page shows it as
// text). After a lost state the update's "was" is Cachet's status then.
func TestIncidentTexts(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			w := newCachetWorld(t, m.mode, `incidents:
  enabled: true
  message: "{{.Server}} is down"
  update: "{{.Server}} is {{.StatusName}}, was {{.Previous}}"
  resolved: "{{.Server}} is back"`, "")
			allowed := map[string]bool{"S1 is down": true, "S1 is partial_outage, was Major Outage": true, "S1 is back": true}
			check := func(want string) {
				t.Helper()
				found := false
				for _, s := range w.texts() {
					if !allowed[s] {
						t.Errorf("the page shows %q", s)
					}
					found = found || s == want
				}
				if !found {
					t.Errorf("the page does not show %q: %q", want, w.texts())
				}
			}
			w.code.Store(503)
			w.run(Options{})
			check("S1 is down")
			if err := os.Remove(filepath.Join(w.dir, "state.json")); err != nil {
				t.Fatal(err)
			}
			w.code.Store(429)
			w.run(Options{})
			check("S1 is partial_outage, was Major Outage")
			w.code.Store(200)
			w.run(Options{})
			check("S1 is back")
			if n := len(w.cachet.Incidents()); n != 1 || len(w.openIncidents()) != 0 {
				t.Errorf("%d incidents, %d open; want 1, resolved", n, len(w.openIncidents()))
			}
		})
	}
}

// TestIncidentNotify: with incidents.notify off no incident request mails
// anyone: Cachet 2.4 mails every subscriber for each POSTed update and
// ignores notify there, so the open incident is changed in place (PUT),
// keeping what a person set (stickied). With notify on, updates are
// posted and mail as the version does.
func TestIncidentNotify(t *testing.T) {
	for _, m := range modes {
		for _, notify := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s notify %v", m.name, notify), func(t *testing.T) {
				w := newCachetWorld(t, m.mode, fmt.Sprintf("incidents:\n  enabled: true\n  notify: %v", notify), "")
				w.code.Store(503)
				w.run(Options{})
				inc := w.cachet.Incidents()[0]
				inc.Stickied = true // pinned by a person
				w.cachet.AddIncident(inc)
				w.code.Store(429)
				if sum := w.run(Options{}); sum.Failed() {
					t.Fatalf("update: %+v", sum.Rows[0])
				}
				got, _ := w.cachet.Incident(inc.ID)
				if got.Status == 4 || !got.Visible || (m.mode != cachettest.Cachet23 && !got.Stickied) || !strings.Contains(got.Name, "S1") {
					t.Errorf("after the update: %+v (visible and stickied must stay)", got)
				}
				if c, _ := w.cachet.Component(1); c.Status != 3 {
					t.Errorf("component %d, want 3", c.Status)
				}
				w.code.Store(200)
				w.run(Options{})
				if got, _ := w.cachet.Incident(inc.ID); got.Status != 4 {
					t.Errorf("not resolved: %+v", got)
				}
				mails := w.cachet.Mails()
				mails[cachettest.MailComponent] = 0 // component changes mail as the version does
				want := map[string]int{cachettest.MailComponent: 0}
				if notify {
					want[cachettest.MailIncident] = 1
					if m.mode != cachettest.Cachet23 {
						want[cachettest.MailIncidentUpdate] = 2
					}
				}
				if fmt.Sprint(mails) != fmt.Sprint(want) {
					t.Errorf("mails %v, want %v", mails, want)
				}
				if n := len(w.cachet.IncidentUpdates(inc.ID)); !notify && n != 0 {
					t.Errorf("%d updates posted with notify off", n)
				}
			})
		}
	}
}

// TestWriteNotSentTwice: an incident POST that Cachet stored before it
// answered 500 is not sent again (that gave two incidents and two mails):
// the run fails, and the next run finds the incident and takes it on.
func TestWriteNotSentTwice(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			w := newCachetWorld(t, m.mode, "incidents:\n  enabled: true", "")
			w.cfg.Cachet.Retries = 2
			w.code.Store(503)
			w.cachet.FailNext(cachettest.FaultStored500, 1, true)
			w.cachet.Add(cachettest.Component{ID: 1, Name: "S1", Status: 4, Enabled: true}) // already major: no component write
			sum := w.run(Options{})
			if n := len(w.cachet.Incidents()); n != 1 || !sum.Failed() {
				t.Fatalf("%d incidents, failed %v; want 1, failed", n, sum.Failed())
			}
			sum = w.run(Options{})
			if n := len(w.cachet.Incidents()); n != 1 || sum.Failed() || !strings.Contains(strings.Join(sum.Rows[0].Notes, " "), "found open incident") {
				t.Errorf("next run: %d incidents, failed %v, notes %v", n, sum.Failed(), sum.Rows[0].Notes)
			}
		})
	}
}

// TestIncidentClosedByHand: an incident a person marked fixed, or
// deleted, while the component is still bad is left closed: not reopened
// by the next change, no error; a new one opens only after the component
// was published operational and worsened again.
func TestIncidentClosedByHand(t *testing.T) {
	for _, m := range modes {
		for _, how := range []string{"fixed", "deleted"} {
			t.Run(m.name+" "+how, func(t *testing.T) {
				w := newCachetWorld(t, m.mode, "incidents:\n  enabled: true", "")
				w.code.Store(503)
				w.run(Options{})
				inc := w.cachet.Incidents()[0]
				if how == "fixed" {
					inc.Status = 4
					w.cachet.AddIncident(inc)
				} else {
					w.cachet.RemoveIncident(inc.ID)
				}
				codes := []int64{429, 429, 503, 200} // still bad, changing; then operational
				if how == "deleted" {
					codes = []int64{503, 200} // found out when it is to be resolved
				}
				for _, code := range codes {
					w.code.Store(code)
					if sum := w.run(Options{}); sum.Failed() {
						t.Fatalf("%d: the run failed: %+v", code, sum.Rows[0])
					}
					if n := len(w.cachet.Incidents()); len(w.openIncidents()) != 0 || (how == "fixed" && n != 1) || (how == "deleted" && n != 0) {
						t.Fatalf("%d: incidents %+v", code, w.cachet.Incidents())
					}
				}
				w.code.Store(503)
				w.run(Options{})
				if open := w.openIncidents(); len(open) != 1 || open[0].ID == inc.ID {
					t.Errorf("the next outage: open incidents %+v", open)
				}
			})
		}
	}
}

// TestNoIncidentForHiddenComponent: a disabled component, which visitors
// do not see, gets its status but no public incident.
func TestNoIncidentForHiddenComponent(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			w := newCachetWorld(t, m.mode, "incidents:\n  enabled: true", "")
			w.cachet.Add(cachettest.Component{ID: 1, Name: "S1", Status: 1, Enabled: false})
			w.code.Store(503)
			sum := w.run(Options{})
			if c, _ := w.cachet.Component(1); sum.Failed() || c.Status != 4 || len(w.cachet.Incidents()) != 0 {
				t.Errorf("failed %v, component %+v, incidents %+v", sum.Failed(), c, w.cachet.Incidents())
			}
		})
	}
}

// TestIncidentPageShowsWhatWasWritten: the page shows what the tool wrote
// while its incident is open. Cachet 3.x shows the worse of the
// component's status and an open incident's impact, which the API cannot
// change later: a recovery from major to partial outage showed "Major
// outage" until the incident was resolved.
func TestIncidentPageShowsWhatWasWritten(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			w := newCachetWorld(t, m.mode, "incidents:\n  enabled: true\n  notify: true", "")
			for _, tt := range []struct {
				code  int64
				shown int
			}{{503, 4}, {429, 3}, {503, 4}, {200, 1}} {
				w.code.Store(tt.code)
				w.run(Options{})
				if got := w.cachet.Shown(1); got != tt.shown {
					t.Errorf("after %d the page shows %d, want %d", tt.code, got, tt.shown)
				}
			}
		})
	}
}

// TestIncidentDefaultTexts: the default texts read as a person would write
// them (they said "S1 has Major Outage since 00:39 CET").
func TestIncidentDefaultTexts(t *testing.T) {
	w := newCachetWorld(t, cachettest.Cachet24, "incidents:\n  enabled: true\n  notify: true", "")
	for _, code := range []int64{503, 429, 200} {
		w.code.Store(code)
		w.run(Options{})
	}
	inc := w.cachet.Incidents()[0]
	texts := []string{inc.Name, w.texts()[1], w.texts()[2]}
	want := []string{"S1: Major Outage", "S1 is now partly unavailable (it was unavailable).", "S1 is working normally again."}
	if fmt.Sprint(texts) != fmt.Sprint(want) {
		t.Errorf("texts %q, want %q", texts, want)
	}
	if !regexp.MustCompile(`^S1 has been unavailable since \d\d:\d\d \S+\. We are looking into it\.$`).MatchString(inc.Message) {
		t.Errorf("message %q", inc.Message)
	}
}
