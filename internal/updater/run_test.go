package updater

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

const token = "run-test-token-0123456789"

var modes = []struct {
	name string
	mode cachettest.Mode
}{{"2.4", cachettest.Cachet24}, {"2.3", cachettest.Cachet23}, {"3.x", cachettest.Cachet3}}

// world is a Cachet emulator and servers S1..Sn (components 1..n, all
// operational at first) whose HTTP answers a test sets (0: hang), with a
// config the test extends.
type world struct {
	t       *testing.T
	cachet  *cachettest.Server
	codes   []*atomic.Int64
	started chan struct{} // a probe reached a server
	token   string        // the one the run sends
	dir     string
	cfg     *config.Config
}

func newWorld(t *testing.T, mode cachettest.Mode, n int, extra, serverExtra string) *world {
	t.Helper()
	w := &world{t: t, cachet: cachettest.New(token, cachettest.WithMode(mode)), started: make(chan struct{}, 1), token: token, dir: t.TempDir()}
	t.Cleanup(w.cachet.Close)
	var servers strings.Builder
	for i := 1; i <= n; i++ {
		code := new(atomic.Int64)
		code.Store(200)
		w.codes = append(w.codes, code)
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			select {
			case w.started <- struct{}{}:
			default:
			}
			if c := int(code.Load()); c != 0 {
				rw.WriteHeader(c)
				io.WriteString(rw, "ok")
				return
			}
			<-r.Context().Done()
		}))
		t.Cleanup(srv.Close)
		w.cachet.Add(cachettest.Component{ID: i, Name: fmt.Sprintf("S%d", i), Status: 1, Enabled: true})
		fmt.Fprintf(&servers, "  - name: S%d\n    url: %s/\n    component_id: %d\n    reports_key: s%d\n%s", i, srv.URL, i, i, serverExtra)
	}
	w.reports(`{}`)
	cfg, err := config.Parse(filepath.Join(w.dir, "config.yaml"), []byte(fmt.Sprintf(`cachet: {url: %s, timeout: 2s, retries: 0}
probe:
  timeout: 1s
  status: {"200-399": operational, "429": partial_outage}
confirm: {worse: 1, better: 1}
reports: {source: {type: file, path: reports.json, max_age: 0s}}
%s
servers:
%s`, w.cachet.URL(), extra, servers.String())))
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg
	return w
}

// set gives the servers these HTTP answers, in order.
func (w *world) set(codes ...int) {
	for i, c := range codes {
		w.codes[i].Store(int64(c))
	}
}

func (w *world) reports(counts string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, "reports.json"), []byte(counts), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// run runs the config against the emulator, with the state file in dir.
func (w *world) run(ctx context.Context, o Options) Summary {
	w.t.Helper()
	client, err := cachet.New(cachet.Options{BaseURL: w.cfg.Cachet.URL, Token: w.token, HTTPClient: &http.Client{Timeout: 5 * time.Second},
		Retries: w.cfg.Cachet.Retries, MinBackoff: time.Millisecond})
	if err != nil {
		w.t.Fatal(err)
	}
	src, err := OpenSource(w.cfg.Reports.Source, func(string) string { return "" }, time.Now, zerolog.Nop())
	if err != nil {
		w.t.Fatal(err)
	}
	sum, err := Run(ctx, w.cfg, Deps{Cachet: client, Source: src, Prober: probe.New(""), State: w.store(), Now: time.Now, Log: zerolog.Nop()}, o)
	if err != nil {
		w.t.Fatal(err)
	}
	return sum
}

func (w *world) store() *state.File {
	return state.NewFile(filepath.Join(w.dir, "state.json"), w.cfg.Path, false)
}

func (w *world) state() *state.State {
	w.t.Helper()
	st, err := w.store().Load(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func (w *world) status(id int) status.Status {
	c, _ := w.cachet.Component(id)
	return status.Status(c.Status)
}

func (w *world) open() []cachettest.Incident {
	return slices.DeleteFunc(w.cachet.Incidents(), func(i cachettest.Incident) bool { return i.Status == 4 })
}

// texts are every text the page shows of the incidents: their messages and
// their updates'.
func (w *world) texts() []string {
	var out []string
	for _, i := range w.cachet.Incidents() {
		out = append(out, i.Message)
		for _, u := range w.cachet.IncidentUpdates(i.ID) {
			out = append(out, u.Message)
		}
	}
	return out
}

func notes(r Row) string { return strings.Join(r.Notes, " | ") }

// TestRun: the decided statuses, the rows' actions, the counts and the
// writes; the second run finds nothing to change.
func TestRun(t *testing.T) {
	w := newWorld(t, cachettest.Cachet24, 4, "", "")
	w.cachet.Add(cachettest.Component{ID: 4, Name: "S4", Status: 4, Enabled: true})
	w.cfg.Servers[3].URL = "http://127.0.0.1:1/" // refused
	w.set(200, 200, 503)
	w.reports(`{"s1": 3, "s2": 25}`)
	sum := w.run(context.Background(), Options{})
	if sum.Failed() || sum.Interrupted != nil {
		t.Fatalf("run failed: %+v", sum)
	}
	for i, want := range []struct {
		action Action
		status status.Status
	}{{Unchanged, op}, {Updated, part}, {Updated, major}, {Unchanged, major}} {
		if r := sum.Rows[i]; r.Action != want.action || r.Decision.Status != want.status || w.status(i+1) != want.status {
			t.Errorf("%s: %s %s (Cachet %s), want %s %s", r.Server.Name, r.Action, r.Decision.Status, w.status(i+1), want.action, want.status)
		}
	}
	if sum.Count(Updated) != 2 || len(w.cachet.Writes()) != 2 || sum.Writes != 2 || *sum.Rows[1].Reports != 25 {
		t.Errorf("writes: %d updated, %d at Cachet, %d counted; reports %d", sum.Count(Updated), len(w.cachet.Writes()), sum.Writes, *sum.Rows[1].Reports)
	}
	w.cachet.Reset()
	if sum = w.run(context.Background(), Options{}); sum.Count(Unchanged) != 4 || len(w.cachet.Writes()) != 0 {
		t.Errorf("second run: %d unchanged, %d writes", sum.Count(Unchanged), len(w.cachet.Writes()))
	}
}

func TestRunDryRunAndOnly(t *testing.T) {
	w := newWorld(t, cachettest.Cachet24, 2, "", "")
	w.set(503, 503)
	sum := w.run(context.Background(), Options{DryRun: true, Only: []string{"S2"}})
	if len(sum.Rows) != 1 || sum.Rows[0].Server.Name != "S2" || sum.Rows[0].Action != WouldUpdate {
		t.Fatalf("rows: %+v", sum.Rows)
	}
	if len(w.cachet.Writes()) != 0 || w.status(2) != op {
		t.Errorf("a dry run wrote: %+v", w.cachet.Writes())
	}
}

// TestRunInterrupted: a context that ends while a probe hangs leaves that
// server alone, writes nothing for it and records why.
func TestRunInterrupted(t *testing.T) {
	w := newWorld(t, cachettest.Cachet24, 1, "", "    timeout: 1m\n")
	w.set(0)
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		<-w.started
		cancel(errors.New("SIGTERM received"))
	}()
	sum := w.run(ctx, Options{})
	if sum.Interrupted == nil || sum.Interrupted.Error() != "SIGTERM received" || sum.Rows[0].Action != Interrupted || len(w.cachet.Writes()) != 0 {
		t.Errorf("interrupted %v, row %+v, writes %+v", sum.Interrupted, sum.Rows[0], w.cachet.Writes())
	}
}

// TestRunForgetsRemovedServers: the state drops the entries of servers no
// longer in the config; --only leaves the others' entries alone.
func TestRunForgetsRemovedServers(t *testing.T) {
	w := newWorld(t, cachettest.Cachet24, 3, "", "")
	w.run(context.Background(), Options{})
	first := w.state()
	if len(first.Components) != 3 {
		t.Fatalf("%d entries after the first run, want 3", len(first.Components))
	}
	time.Sleep(10 * time.Millisecond) // decisions carry their time
	w.run(context.Background(), Options{Only: []string{"S2"}})
	newest := func(s *state.State, id int) time.Time {
		return s.Components[id].History[len(s.Components[id].History)-1].At
	}
	if st := w.state(); !newest(st, 1).Equal(newest(first, 1)) || !newest(st, 2).After(newest(first, 2)) {
		t.Errorf("--only S2 changed another entry, or not its own")
	}
	w.cfg.Servers = w.cfg.Servers[:2]
	w.run(context.Background(), Options{})
	if _, kept := w.state().Components[3]; kept {
		t.Error("the entry of a server no longer in the config was kept")
	}
}

// TestRunListing: a component Cachet does not list is unknown, and the run
// fails saying so; one beyond a listing that ended short of Cachet's count
// may exist: it is left alone, not called unknown.
func TestRunListing(t *testing.T) {
	w := newWorld(t, cachettest.Cachet24, 2, "", "")
	w.set(503, 503)
	w.cfg.Servers[1].ComponentID = 9
	sum := w.run(context.Background(), Options{})
	if r := sum.Rows[1]; !sum.Failed() || r.Action != UnknownComponent || !strings.Contains(fmt.Sprint(r.Err), `server "S2": component 9 does not exist`) || sum.Rows[0].Action != Updated {
		t.Errorf("unknown component: %s %v; S1 %s", r.Action, r.Err, sum.Rows[0].Action)
	}
	// A proxy in front of Cachet that says it holds two components more.
	front := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		w.cachet.Handler().ServeHTTP(rec, r)
		rw.WriteHeader(rec.Code)
		io.WriteString(rw, strings.Replace(rec.Body.String(), `"total":2,`, `"total":4,`, 1))
	}))
	defer front.Close()
	w.cfg.Cachet.URL = front.URL + "/api/v1"
	sum = w.run(context.Background(), Options{})
	if r := sum.Rows[1]; r.Action != NotWritten || !strings.Contains(fmt.Sprint(r.Err), "Cachet listed 2 of 4 components") || strings.Contains(fmt.Sprint(r.Err), "does not exist") {
		t.Errorf("short listing: %s %v", r.Action, r.Err)
	}
}

// TestNotProbed: a probe this machine could not make (out of file
// descriptors) and an interrupted one decide nothing and are left alone;
// only the first fails the run.
func TestNotProbed(t *testing.T) {
	servers := []config.Server{{Name: "S1", ComponentID: 1, Probe: config.DefaultProbe()}, {Name: "S2", ComponentID: 2}, {Name: "S3", ComponentID: 3}}
	r := &run{cfg: &config.Config{}, d: Deps{Log: zerolog.Nop()}, now: t0, st: &state.State{}, results: []probe.Result{
		{Code: 200},
		{Class: probe.ClassLocal, Err: errors.New("dial tcp 127.0.0.1:80: socket: too many open files")},
		{Class: probe.ClassCanceled, Err: errors.New("probe canceled")},
	}}
	r.decideAll(servers)
	r.components = map[int]*cachet.Component{1: {ID: 1, Status: op}, 2: {ID: 2, Status: op}, 3: {ID: 3, Status: op}}
	r.plan(nil)
	for i, want := range []Action{Unchanged, NotProbed, Interrupted} {
		if row := r.sum.Rows[i]; row.Action != want || (i > 0) != (row.Decision == nil) {
			t.Errorf("%s: %s, want %s", row.Server.Name, row.Action, want)
		}
	}
	if err := fmt.Sprint(r.sum.Rows[1].Err); !strings.Contains(err, `server "S2" could not be probed from this machine`) || !strings.Contains(err, "too many open files") || !strings.Contains(err, "ulimit -n") {
		t.Errorf("not probed: %s", err)
	}
	if !r.sum.Failed() {
		t.Error("a server that could not be probed must fail the run (exit 1)")
	}
}

// TestListingBehindAProxy: Cachet 3.x behind a proxy that rewrites Host
// links its next pages to an origin of its own; the client asks cachet.url
// for that page, so a listing over 100 components is whole and the run
// writes.
func TestListingBehindAProxy(t *testing.T) {
	w := newWorld(t, cachettest.Cachet3, 2, "", "")
	w.cachet.Close()
	w.cachet = cachettest.New(token, cachettest.WithMode(cachettest.Cachet3), cachettest.WithLinkOrigin("http://cachet.internal:8000"))
	defer w.cachet.Close()
	for id := 1; id <= 250; id++ {
		w.cachet.Add(cachettest.Component{ID: id, Name: fmt.Sprintf("C%d", id), Status: 1, Enabled: id%2 == 0})
	}
	w.cfg.Cachet.URL = w.cachet.URL()
	w.cfg.Servers[0].ComponentID, w.cfg.Servers[1].ComponentID = 250, 201
	w.set(503, 503)
	if sum := w.run(context.Background(), Options{}); sum.CachetErr != nil || w.status(250) != major || w.status(201) != major {
		t.Fatalf("listing: %v; 250 is %s, 201 is %s", sum.CachetErr, w.status(250), w.status(201))
	}
	pages := 0
	for _, r := range w.cachet.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/components") {
			if pages++; !strings.Contains(r.RawQuery, "per_page=100") || !strings.Contains(r.RawQuery, "include=group") {
				t.Errorf("a page without the listing's query: %s", r.RawQuery)
			}
		}
	}
	if pages != 4 { // 125 enabled, 125 disabled
		t.Errorf("%d pages read, want 4", pages)
	}
}

// TestUnreadableStatus: a component whose status Cachet sends as "abc" is
// left alone with a warning naming it; the others are corrected; the run
// does not fail.
func TestUnreadableStatus(t *testing.T) {
	for _, m := range []struct {
		mode cachettest.Mode
		bad  any
	}{{cachettest.Cachet24, "abc"}, {cachettest.Cachet3, map[string]any{"human": "Operational", "value": "abc"}}} {
		w := newWorld(t, m.mode, 2, "", "")
		w.cachet.SetStatusValue(1, m.bad)
		w.set(503, 503)
		sum := w.run(context.Background(), Options{})
		if bad := sum.Rows[0]; sum.Failed() || w.status(2) != major || w.status(1) != op || bad.Action != NotWritten || bad.Err != nil || !strings.Contains(notes(bad), `"abc"`) {
			t.Errorf("%s: failed %v, 2 is %s, 1 is %s, row %s %v %q", m.mode, sum.Failed(), w.status(2), w.status(1), bad.Action, bad.Err, bad.Notes)
		}
	}
}

// TestMissingComponentProvesToken: Cachet serves a refused token's listing
// as a guest's, without disabled components. A mapped component missing
// from it makes the run prove the token at once, and the row says which it
// is: the token refused, or no such component.
func TestMissingComponentProvesToken(t *testing.T) {
	proofs := func(w *world) (n int) {
		for _, r := range w.cachet.Requests() {
			if strings.HasSuffix(r.Path, "/subscribers") {
				n++
			}
		}
		return n
	}
	for _, m := range modes {
		w := newWorld(t, m.mode, 2, "", "")
		w.cachet.Add(cachettest.Component{ID: 2, Name: "Off", Status: 1, Enabled: false})
		w.token = "another-token-0123456789"
		sum := w.run(context.Background(), Options{})
		if r := sum.Rows[1]; sum.TokenErr == nil || r.Action != NotWritten || !strings.Contains(fmt.Sprint(r.Err), "refused the token") || proofs(w) != 1 {
			t.Errorf("%s, refused token: token error %v, row %s %v, %d proofs", m.name, sum.TokenErr, r.Action, r.Err, proofs(w))
		}
		w = newWorld(t, m.mode, 2, "", "")
		w.cfg.Servers[1].ComponentID = 9
		sum = w.run(context.Background(), Options{})
		if r := sum.Rows[1]; sum.TokenErr != nil || r.Action != UnknownComponent || !strings.Contains(fmt.Sprint(r.Err), "component 9 does not exist in Cachet (the token was accepted") || proofs(w) != 1 {
			t.Errorf("%s, no such component: token error %v, row %s %v, %d proofs", m.name, sum.TokenErr, r.Action, r.Err, proofs(w))
		}
	}
}

// TestIncidents: an incident opens once when the published status reaches
// open_at, is updated when it changes and resolved when operational; found
// again when the state is lost. In every API mode.
func TestIncidents(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			w := newWorld(t, m.mode, 1, "incidents:\n  enabled: true\n  message: \"{{.Server}} is down\"", "")
			w.set(503)
			sum := w.run(context.Background(), Options{})
			if sum.Failed() || len(w.cachet.Incidents()) != 1 {
				t.Fatalf("major outage: %d incidents, failed %v: %+v", len(w.cachet.Incidents()), sum.Failed(), sum.Rows[0])
			}
			inc := w.cachet.Incidents()[0]
			if inc.ComponentID != 1 || inc.Status == 4 || !strings.Contains(inc.Message, "S1 is down") || !strings.Contains(inc.Name, "S1: Major Outage") ||
				!strings.Contains(notes(sum.Rows[0]), fmt.Sprintf("opened incident %d", inc.ID)) {
				t.Errorf("incident: %+v, notes %v", inc, sum.Rows[0].Notes)
			}
			if w.run(context.Background(), Options{}); len(w.cachet.Incidents()) != 1 {
				t.Errorf("a second run opened another incident")
			}
			w.set(429) // partial outage: updated, getting better (watching)
			if sum = w.run(context.Background(), Options{}); sum.Failed() || !strings.Contains(notes(sum.Rows[0]), "updated incident") {
				t.Fatalf("update: %+v", sum.Rows[0])
			}
			if got, _ := w.cachet.Incident(inc.ID); w.status(1) != part || got.Status != 3 {
				t.Errorf("after the update: component %s, incident %+v", w.status(1), got)
			}
			w.set(200)
			w.run(context.Background(), Options{})
			if got, _ := w.cachet.Incident(inc.ID); got.Status != 4 || len(w.open()) != 0 {
				t.Fatalf("not resolved: %+v", got)
			}
			// The state is lost while an incident is open: found, not opened twice.
			w.set(503)
			w.run(context.Background(), Options{})
			os.Remove(filepath.Join(w.dir, "state.json"))
			w.set(429)
			if sum = w.run(context.Background(), Options{}); len(w.open()) != 1 {
				t.Fatalf("after the state was lost: open %+v (notes %v)", w.open(), sum.Rows[0].Notes)
			}
		})
	}
}

// TestIncidentsNotForPending: a change waiting for confirmation opens
// nothing; --dry-run says what it would do and writes nothing.
func TestIncidentsNotForPending(t *testing.T) {
	w := newWorld(t, cachettest.Cachet24, 1, "incidents:\n  enabled: true", "    confirm: {worse: 2}\n")
	w.set(503)
	if sum := w.run(context.Background(), Options{}); sum.Rows[0].Action != Pending || len(w.cachet.Incidents()) != 0 {
		t.Fatalf("pending: %s, %d incidents", sum.Rows[0].Action, len(w.cachet.Incidents()))
	}
	if sum := w.run(context.Background(), Options{DryRun: true}); len(w.cachet.Incidents()) != 0 || !strings.Contains(notes(sum.Rows[0]), "would open an incident (major_outage)") {
		t.Errorf("dry run: %d incidents, notes %v", len(w.cachet.Incidents()), sum.Rows[0].Notes)
	}
}

// TestIncidentWriteFails: a failed incident write undoes nothing, fails the
// run, and the next run catches up. A POST that Cachet stored before it
// answered 500 is not sent again: the next run finds the incident.
func TestIncidentWriteFails(t *testing.T) {
	for _, fault := range []cachettest.Fault{cachettest.Fault500, cachettest.FaultStored500} {
		for _, m := range modes {
			w := newWorld(t, m.mode, 1, "incidents:\n  enabled: true", "")
			w.cfg.Cachet.Retries = 2
			w.cachet.Add(cachettest.Component{ID: 1, Name: "S1", Status: 4, Enabled: true}) // already major: no component write
			w.set(503)
			w.cachet.FailNext(fault, 1, true)
			sum := w.run(context.Background(), Options{})
			stored := map[bool]int{true: 1}[fault == cachettest.FaultStored500]
			if r := sum.Rows[0]; !sum.Failed() || r.Action != Unchanged || len(r.Problems) != 1 || len(w.cachet.Incidents()) != stored || w.status(1) != major {
				t.Fatalf("%s %v: failed %v, row %+v, incidents %+v", m.name, fault, sum.Failed(), r, w.cachet.Incidents())
			}
			sum = w.run(context.Background(), Options{})
			if sum.Failed() || len(w.cachet.Incidents()) != 1 || stored == 1 && !strings.Contains(notes(sum.Rows[0]), "found open incident") {
				t.Errorf("%s %v: the next run: failed %v, %d incidents, notes %v", m.name, fault, sum.Failed(), len(w.cachet.Incidents()), sum.Rows[0].Notes)
			}
		}
	}
}

// TestIncidentTexts: the page shows exactly what the templates say: nothing
// invisible travels in a message (2.4's PUT and updates and every 2.3
// message store an HTML comment escaped). After a lost state the update's
// "was" is Cachet's status then.
func TestIncidentTexts(t *testing.T) {
	for _, m := range modes {
		w := newWorld(t, m.mode, 1, `incidents:
  enabled: true
  message: "{{.Server}} is down"
  update: "{{.Server}} is {{.StatusName}}, was {{.Previous}}"
  resolved: "{{.Server}} is back"`, "")
		allowed := []string{"S1 is down", "S1 is partial_outage, was Major Outage", "S1 is back"}
		for i, code := range []int{503, 429, 200} {
			w.set(code)
			w.run(context.Background(), Options{})
			if i == 0 {
				os.Remove(filepath.Join(w.dir, "state.json"))
			}
			if texts := w.texts(); !slices.Contains(texts, allowed[i]) || slices.ContainsFunc(texts, func(s string) bool { return !slices.Contains(allowed, s) }) {
				t.Errorf("%s: the page shows %q, want %q", m.name, texts, allowed[:i+1])
			}
		}
		if len(w.cachet.Incidents()) != 1 || len(w.open()) != 0 {
			t.Errorf("%s: incidents %+v; want 1, resolved", m.name, w.cachet.Incidents())
		}
	}
}

// TestIncidentDefaultTexts: the default texts read as a person would write
// them.
func TestIncidentDefaultTexts(t *testing.T) {
	w := newWorld(t, cachettest.Cachet24, 1, "incidents:\n  enabled: true\n  notify: true", "")
	for _, code := range []int{503, 429, 200} {
		w.set(code)
		w.run(context.Background(), Options{})
	}
	inc := w.cachet.Incidents()[0]
	if texts := []string{inc.Name, w.texts()[1], w.texts()[2]}; fmt.Sprint(texts) != fmt.Sprint([]string{"S1: Major Outage", "S1 is now partly unavailable (it was unavailable).", "S1 is working normally again."}) {
		t.Errorf("texts %q", texts)
	}
	if !regexp.MustCompile(`^S1 has been unavailable since \d\d:\d\d \S+\. We are looking into it\.$`).MatchString(inc.Message) {
		t.Errorf("message %q", inc.Message)
	}
}

// TestIncidentNotify: with incidents.notify off no incident request mails
// anyone: Cachet 2.4 mails every subscriber for each POSTed update, so the
// open incident is changed in place, keeping what a person set (stickied).
// With notify on, updates are posted and mail as the version does.
func TestIncidentNotify(t *testing.T) {
	for _, m := range modes {
		for _, notify := range []bool{false, true} {
			w := newWorld(t, m.mode, 1, fmt.Sprintf("incidents:\n  enabled: true\n  notify: %v", notify), "")
			name := fmt.Sprintf("%s notify %v", m.name, notify)
			w.set(503)
			w.run(context.Background(), Options{})
			inc := w.cachet.Incidents()[0]
			inc.Stickied = true // pinned by a person
			w.cachet.AddIncident(inc)
			w.set(429)
			if sum := w.run(context.Background(), Options{}); sum.Failed() {
				t.Fatalf("%s: update: %+v", name, sum.Rows[0])
			}
			if got, _ := w.cachet.Incident(inc.ID); got.Status == 4 || !got.Visible || (m.mode != cachettest.Cachet23 && !got.Stickied) || w.status(1) != part {
				t.Errorf("%s: after the update: %+v (visible and stickied must stay), component %s", name, got, w.status(1))
			}
			w.set(200)
			w.run(context.Background(), Options{})
			mails, want := w.cachet.Mails(), map[string]int{cachettest.MailComponent: 0}
			mails[cachettest.MailComponent] = 0 // component changes mail as the version does
			if notify {
				want[cachettest.MailIncident] = 1
				if m.mode != cachettest.Cachet23 {
					want[cachettest.MailIncidentUpdate] = 2
				}
			}
			if got, _ := w.cachet.Incident(inc.ID); got.Status != 4 || fmt.Sprint(mails) != fmt.Sprint(want) || !notify && len(w.cachet.IncidentUpdates(inc.ID)) != 0 {
				t.Errorf("%s: incident %+v, mails %v, want %v, %d updates", name, got, mails, want, len(w.cachet.IncidentUpdates(inc.ID)))
			}
		}
	}
}

// TestIncidentClosedByHand: an incident a person marked fixed, or deleted,
// while the component is still bad is left closed: not reopened by the next
// change, no error; a new one opens only after the component was published
// operational and worsened again.
func TestIncidentClosedByHand(t *testing.T) {
	for _, m := range modes {
		for _, how := range []string{"fixed", "deleted"} {
			w := newWorld(t, m.mode, 1, "incidents:\n  enabled: true", "")
			w.set(503)
			w.run(context.Background(), Options{})
			inc := w.cachet.Incidents()[0]
			codes, kept := []int{429, 429, 503, 200}, 1 // still bad, changing; then operational
			if how == "fixed" {
				inc.Status = 4
				w.cachet.AddIncident(inc)
			} else {
				w.cachet.RemoveIncident(inc.ID)
				codes, kept = []int{503, 200}, 0 // found out when it is to be resolved
			}
			for _, code := range codes {
				w.set(code)
				if sum := w.run(context.Background(), Options{}); sum.Failed() || len(w.open()) != 0 || len(w.cachet.Incidents()) != kept {
					t.Fatalf("%s %s, %d: failed %v, incidents %+v", m.name, how, code, sum.Failed(), w.cachet.Incidents())
				}
			}
			w.set(503)
			w.run(context.Background(), Options{})
			if open := w.open(); len(open) != 1 || open[0].ID == inc.ID {
				t.Errorf("%s %s: the next outage: open incidents %+v", m.name, how, open)
			}
		}
	}
}

// TestNoIncidentForHiddenComponent: a disabled component, which visitors do
// not see, gets its status but no public incident.
func TestNoIncidentForHiddenComponent(t *testing.T) {
	for _, m := range modes {
		w := newWorld(t, m.mode, 1, "incidents:\n  enabled: true", "")
		w.cachet.Add(cachettest.Component{ID: 1, Name: "S1", Status: 1, Enabled: false})
		w.set(503)
		if sum := w.run(context.Background(), Options{}); sum.Failed() || w.status(1) != major || len(w.cachet.Incidents()) != 0 {
			t.Errorf("%s: failed %v, component %s, incidents %+v", m.name, sum.Failed(), w.status(1), w.cachet.Incidents())
		}
	}
}

// TestIncidentPageShowsWhatWasWritten: Cachet 3.x shows the worse of the
// component's status and an open incident's impact, which the API cannot
// change later: a recovery from major to partial outage showed "Major
// outage" until the incident was resolved.
func TestIncidentPageShowsWhatWasWritten(t *testing.T) {
	for _, m := range modes {
		w := newWorld(t, m.mode, 1, "incidents:\n  enabled: true\n  notify: true", "")
		for _, tt := range []struct{ code, shown int }{{503, 4}, {429, 3}, {503, 4}, {200, 1}} {
			w.set(tt.code)
			if w.run(context.Background(), Options{}); w.cachet.Shown(1) != tt.shown {
				t.Errorf("%s: after %d the page shows %d, want %d", m.name, tt.code, w.cachet.Shown(1), tt.shown)
			}
		}
	}
}

// TestMetricPoints: the latency after an answer and the report count go to
// their metrics; nothing for a probe without an answer.
func TestMetricPoints(t *testing.T) {
	for _, m := range modes {
		w := newWorld(t, m.mode, 2, "", "    metric_id: 7\n    reports_metric_id: 8\n")
		w.cachet.AddMetric(cachettest.Metric{ID: 7, Name: "Latency", Threshold: 1})
		w.cachet.AddMetric(cachettest.Metric{ID: 8, Name: "Reports", Threshold: 1})
		w.cfg.Servers[1].URL = "http://127.0.0.1:1/" // refused
		w.cfg.Servers[1].ReportsMetricID = 0
		w.reports(`{"s1": 25}`)
		sum := w.run(context.Background(), Options{})
		lat, rep := w.cachet.Points(7), w.cachet.Points(8)
		if sum.Rows[0].Problems != nil || len(lat) != 1 || lat[0].Value <= 0 || lat[0].Value > 1000 || len(rep) != 1 || rep[0].Value != 25 || sum.Writes < 3 {
			t.Errorf("%s: problems %v, points: latency %+v, reports %+v, %d writes", m.name, sum.Rows[0].Problems, lat, rep, sum.Writes)
		}
	}
}

// TestMaintenance: a window of the config, a weekly one on the wall clock
// of the config's time_zone, leaves the component alone; it is still
// probed and shown.
func TestMaintenance(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	now, start := time.Now().UTC(), time.Now().In(tokyo).Add(-time.Minute)
	weekly := fmt.Sprintf("%s %s-%s", start.Weekday().String()[:3], start.Format("15:04"), start.Add(31*time.Minute).Format("15:04"))
	for _, tt := range []struct{ extra, why string }{
		{fmt.Sprintf("maintenance:\n  cachet_schedules: false\n  windows:\n    - servers: [S1]\n      start: %s\n      end: %s",
			now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)), "maintenance window " + now.Add(-time.Minute).Format(time.RFC3339)},
		{"time_zone: Asia/Tokyo\nmaintenance:\n  windows:\n    - weekly: " + weekly, "(Asia/Tokyo)"},
	} {
		w := newWorld(t, cachettest.Cachet24, 2, tt.extra, "")
		w.set(503, 503)
		sum := w.run(context.Background(), Options{})
		if r := sum.Rows[0]; r.Action != Maintenance || r.Probe.Code != 503 || !strings.Contains(r.Maintenance, tt.why) || w.status(1) != op {
			t.Errorf("%s: row %+v", tt.why, r)
		}
		if covered := sum.Rows[1].Action == Maintenance; covered == strings.Contains(tt.extra, "servers: [S1]") {
			t.Errorf("%s: S2 under maintenance %v", tt.why, covered)
		}
	}
}

// TestScheduleCovers: what a Cachet schedule in progress covers, by
// maintenance.cachet_schedules. A 2.4 schedule lists no components: named
// covers what its name or message names, and one that names nothing is
// noted once. 3.x's lists the components it covers. A schedule without an
// end covers at most maintenance.max_open after its start; the run notes
// it.
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
		w := newWorld(t, tt.mode, 1, "maintenance:\n  "+cmpOr(tt.config, "max_open: 12h"), "")
		w.cachet.Add(cachettest.Component{ID: 1, Name: "Encoder", Status: 1, Enabled: true})
		w.cachet.Add(cachettest.Component{ID: 2, Name: "other", Status: 1, Enabled: true})
		if tt.sc.ScheduledAt.IsZero() {
			tt.sc.ScheduledAt, tt.sc.CompletedAt = now.Add(-time.Minute), now.Add(time.Hour)
		}
		tt.sc.Status = 1
		w.cachet.AddSchedule(tt.sc)
		w.set(503)
		sum := w.run(context.Background(), Options{})
		r := sum.Rows[0]
		if got := r.Action == Maintenance; got != tt.want || sum.Failed() || r.Probe.Code != 503 || (w.status(1) == major) == tt.want || tt.want && !strings.Contains(r.Maintenance, tt.sc.Name) {
			t.Errorf("%s: under maintenance %v, want %v: row %+v, component %s", tt.name, got, tt.want, r, w.status(1))
		}
		if notes := strings.Join(sum.Notes, "\n"); tt.note == "" && notes != "" || !strings.Contains(notes, tt.note) {
			t.Errorf("%s: notes %q, want %q", tt.name, notes, tt.note)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestOfflineLeavesAHandSetStatusAlone is the prober's own outage in the
// middle of a hold: a person sets partial_outage by hand, the run holds it;
// then this machine loses its network for several runs; then the network
// comes back. Throughout, the hold survives, the status stays the person's,
// the confirmation history does not move, no incident opens and no metric
// point is posted while offline.
func TestOfflineLeavesAHandSetStatusAlone(t *testing.T) {
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(canary.Close)
	w := newWorld(t, cachettest.Cachet24, 1, "manual_hold: 2h\nincidents:\n  enabled: true\nguard:\n  canaries: ["+canary.URL+"/]",
		"    metric_id: 7\n    reports_metric_id: 8\n")
	w.cachet.AddMetric(cachettest.Metric{ID: 7, Name: "Latency", Threshold: 1})
	w.cachet.AddMetric(cachettest.Metric{ID: 8, Name: "Reports", Threshold: 1})
	server, refused := w.cfg.Servers[0].URL, config.WebURL("http://127.0.0.1:1/")
	w.run(context.Background(), Options{}) // operational, seen by this tool
	w.cachet.Add(cachettest.Component{ID: 1, Name: "S1", Status: int(part), Enabled: true})
	if r := w.run(context.Background(), Options{}).Rows[0]; r.Action != Held {
		t.Fatalf("the hand-set status is not held: %s", r.Action)
	}
	before := w.state().Components[1].History
	w.cachet.Reset()
	w.cfg.Servers[0].URL, w.cfg.Guard.Canaries = string(refused), []config.WebURL{refused}
	for run := 1; run <= 3; run++ {
		if sum := w.run(context.Background(), Options{}); sum.Offline == "" || sum.Rows[0].Action != Held {
			t.Fatalf("offline run %d: offline %q, action %s", run, sum.Offline, sum.Rows[0].Action)
		}
	}
	if got := w.state().Components[1].History; !slices.Equal(got, before) {
		t.Errorf("the offline runs moved the confirmation history: %v, before %v", got, before)
	}
	for _, r := range w.cachet.Requests() {
		if r.Method == http.MethodPost {
			t.Errorf("an offline run posted %s", r.Path)
		}
	}
	w.cfg.Servers[0].URL, w.cfg.Guard.Canaries = server, []config.WebURL{config.WebURL(canary.URL + "/")}
	for run := 1; run <= 3; run++ {
		if r := w.run(context.Background(), Options{}).Rows[0]; r.Action != Held {
			t.Fatalf("run %d after the network came back: %s, want the hold to survive", run, r.Action)
		}
	}
	if w.status(1) != part || len(w.cachet.Incidents()) != 0 {
		t.Errorf("Cachet shows %s, want the person's partial_outage; incidents %+v", w.status(1), w.cachet.Incidents())
	}
}
