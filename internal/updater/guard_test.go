package updater

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

func TestOffline(t *testing.T) {
	ok := probe.Result{Code: 200}
	bad := probe.Result{Class: probe.ClassRefused, Err: errors.New("connection refused")}
	cut := probe.Result{Class: probe.ClassCanceled, Err: errors.New("probe canceled")}
	all := config.Guard{MaxFailing: config.Share{Percent: 100}}
	tests := []struct {
		name     string
		results  []probe.Result
		canaries []probe.Result
		guard    config.Guard
		want     string // substring; "" for not offline
	}{
		{"every server failing", []probe.Result{bad, bad, bad}, nil, all, "3 of 3 servers got no HTTP answer"},
		{"two are too few", []probe.Result{bad, bad}, nil, all, ""},
		{"one answers", []probe.Result{bad, bad, bad, ok}, nil, all, ""},
		{"80% of 5", []probe.Result{bad, bad, bad, bad, ok}, nil, config.Guard{MaxFailing: config.Share{Percent: 80}}, "4 of 5"},
		{"interrupted probes count for neither side", []probe.Result{bad, bad, bad, cut}, nil, all, "3 of 3"},
		{"max_failing off", []probe.Result{bad, bad, bad}, nil, config.Guard{}, ""},
		{"no canary answers", []probe.Result{ok}, []probe.Result{bad, bad}, config.Guard{Canaries: []config.WebURL{"https://a.example/", "https://b.example/"}}, "none of the 2 canaries answered"},
		{"one canary answers", []probe.Result{ok}, []probe.Result{bad, ok}, config.Guard{Canaries: []config.WebURL{"https://a.example/", "https://b.example/"}}, ""},
		{"canaries interrupted", []probe.Result{ok}, []probe.Result{cut}, config.Guard{Canaries: []config.WebURL{"https://a.example/"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := offline(tt.results, tt.canaries, tt.guard)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("offline() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOfflineLeavesAHandSetStatusAlone is the prober's own outage in the
// middle of a hold: a person sets partial_outage by hand, the run holds it;
// then this machine loses its network for several runs (its canary and its
// server get no answer); then the network comes back. Throughout, the hold
// survives (manual_hold is 2h), the status stays the person's, the
// confirmation history does not move, no incident opens and no metric
// point is posted while offline.
func TestOfflineLeavesAHandSetStatusAlone(t *testing.T) {
	canary := httptest.NewServer(http.HandlerFunc(ok))
	t.Cleanup(canary.Close)
	w := newCachetWorld(t, cachettest.Cachet24,
		"manual_hold: 2h\nincidents:\n  enabled: true\nguard:\n  canaries: ["+canary.URL+"/]",
		"    metric_id: 7\n    reports_metric_id: 8\n")
	w.cachet.AddMetric(cachettest.Metric{ID: 7, Name: "Latency", Threshold: 1})
	w.cachet.AddMetric(cachettest.Metric{ID: 8, Name: "Reports", Threshold: 1})
	server, refused := w.cfg.Servers[0].URL, config.WebURL("http://127.0.0.1:1/")
	posts := func() (n int) {
		for _, r := range w.cachet.Requests() {
			if r.Method == http.MethodPost {
				n++
			}
		}
		return n
	}
	history := func() []state.Decision {
		st, err := state.NewFile(filepath.Join(w.dir, "state.json"), w.cfg.Path).Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st.Components[1].History
	}

	w.run(Options{}) // operational, seen by this tool
	w.cachet.Add(cachettest.Component{ID: 1, Name: "S1", Status: int(status.PartialOutage), Enabled: true})
	if r := w.run(Options{}).Rows[0]; r.Action != Held {
		t.Fatalf("the hand-set status is not held: %s", r.Action)
	}
	before := history()
	w.cachet.Reset()

	w.cfg.Servers[0].URL, w.cfg.Guard.Canaries = string(refused), []config.WebURL{refused}
	for run := 1; run <= 3; run++ {
		sum := w.run(Options{})
		if r := sum.Rows[0]; sum.Offline == "" || r.Action != Held {
			t.Fatalf("offline run %d: offline %q, action %s (rule %s)", run, sum.Offline, r.Action, r.Rule())
		}
	}
	if got := history(); !slices.Equal(got, before) {
		t.Errorf("the offline runs moved the confirmation history: %v, before %v", got, before)
	}
	if n := posts(); n != 0 {
		t.Errorf("the offline runs posted %d incidents or metric points: %v", n, w.cachet.Requests())
	}

	w.cfg.Servers[0].URL, w.cfg.Guard.Canaries = server, []config.WebURL{config.WebURL(canary.URL + "/")}
	for run := 1; run <= 3; run++ {
		if r := w.run(Options{}).Rows[0]; r.Action != Held {
			t.Fatalf("run %d after the network came back: %s, want the hold to survive", run, r.Action)
		}
	}
	if c, _ := w.cachet.Component(1); c.Status != int(status.PartialOutage) {
		t.Errorf("Cachet shows %s, want the person's partial_outage", status.Status(c.Status))
	}
	if inc := w.cachet.Incidents(); len(inc) != 0 {
		t.Errorf("incidents opened: %+v", inc)
	}
}
