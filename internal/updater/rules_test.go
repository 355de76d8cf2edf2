package updater

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

// Table tests of the pure rules.

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

var op, perf, part, major = status.Operational, status.PerformanceIssues, status.PartialOutage, status.MajorOutage

func codes(t *testing.T, m map[string]string) config.StatusMap {
	t.Helper()
	s, err := config.NewStatusMap(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func answer(code int) probe.Result { return probe.Result{Code: code, Latency: 20 * time.Millisecond} }

func count(n int) *int { return &n }

func TestDecide(t *testing.T) {
	def := config.DefaultProbe()
	slow, custom, checks := def, def, def
	slow.Slow = config.Duration(time.Second)
	custom.Status = codes(t, map[string]string{"2xx": "operational", "429": "performance_issues", "500-599": "partial_outage", "503": "major_outage"})
	checks.OnBodyMismatch, checks.OnCertExpiry = config.Status(major), config.OptionalStatus(perf)
	th := config.Thresholds{PerformanceIssues: 11, PartialOutage: 20, MajorOutage: 50}
	tests := []struct {
		name     string
		p        config.Probe
		r        probe.Result
		expiring bool
		reports  *int
		want     status.Status
		rule     string
	}{
		{"200", def, answer(200), false, nil, op, `"200-399"`},
		{"399 edge", def, answer(399), false, nil, op, `"200-399"`},
		{"199 below", def, answer(199), false, nil, major, "HTTP 199 matches no status key"},
		{"404", def, answer(404), false, nil, major, "HTTP 404"},
		{"timeout", def, probe.Result{Class: probe.ClassTimeout}, false, nil, perf, "probe timed out → performance_issues (on_timeout)"},
		{"refused", def, probe.Result{Class: probe.ClassRefused}, false, nil, major, "probe failed (refused) → major_outage (on_error)"},
		{"slow off", def, probe.Result{Code: 200, Latency: time.Hour}, false, nil, op, `"200-399"`},
		{"slow at limit", slow, probe.Result{Code: 200, Latency: time.Second}, false, nil, op, `"200-399"`},
		{"slow over", slow, probe.Result{Code: 200, Latency: time.Second + time.Millisecond}, false, nil, perf, "slower than 1s → performance_issues (slow)"},
		{"slow keeps worse", slow, probe.Result{Code: 500, Latency: 2 * time.Second}, false, nil, major, "HTTP 500"},
		{"class", custom, answer(204), false, nil, op, `"2xx"`},
		{"exact code", custom, answer(429), false, nil, perf, `"429"`},
		{"range", custom, answer(502), false, nil, part, `"500-599"`},
		{"exact beats range", custom, answer(503), false, nil, major, `"503"`},
		{"unmapped in custom", custom, answer(301), false, nil, major, "no status key"},
		{"an error page", checks, probe.Result{Code: 200, BodyMismatch: true}, false, nil, major, "HTTP 200, body does not match expect_body → major_outage (on_body_mismatch)"},
		{"503 with an error page stays", checks, probe.Result{Code: 503, BodyMismatch: true}, false, nil, major, "HTTP 503 matches no status key"},
		{"certificate expiring", checks, answer(200), true, nil, perf, "certificate expires within cert_expiry or is not valid yet → performance_issues (on_cert_expiry)"},
		{"both: the worse", checks, probe.Result{Code: 200, BodyMismatch: true}, true, nil, major, "on_body_mismatch"},
		{"expiry only warns without on_cert_expiry", def, answer(200), true, nil, op, `"200-399"`},
		// The original script: >10 and <20 performance issues, 20..49 partial, >=50 major.
		{"10 reports", def, answer(200), false, count(10), op, `"200-399"`},
		{"11 reports", def, answer(200), false, count(11), perf, "11 reports ≥ 11 → performance_issues"},
		{"19 reports", def, answer(200), false, count(19), perf, "≥ 11"},
		{"20 reports", def, answer(200), false, count(20), part, "20 reports ≥ 20 → partial_outage"},
		{"49 reports", def, answer(200), false, count(49), part, "≥ 20"},
		{"50 reports", def, answer(200), false, count(50), major, "50 reports ≥ 50 → major_outage"},
		{"timeout with 60 reports is major", def, probe.Result{Class: probe.ClassTimeout}, false, count(60), major, "60 reports"},
		{"a tie names the probe's rule", def, probe.Result{Class: probe.ClassTimeout}, false, count(15), perf, "on_timeout"},
		{"404 with 0 reports", def, answer(404), false, count(0), major, "HTTP 404"},
	}
	for _, tt := range tests {
		d := decide(tt.p, tt.r, tt.expiring, tt.reports, th)
		if d.Status != tt.want || !strings.Contains(d.Rule, tt.rule) || d.Status != max(d.Probe, d.Reports) {
			t.Errorf("%s: %s (%s), want %s (%s)", tt.name, d.Status, d.Rule, tt.want, tt.rule)
		}
	}
	if d := decide(def, answer(200), false, nil, th); d.Reports != op || d.ReportsRule != "reports unavailable, ignored" {
		t.Errorf("no reports: %+v", d)
	}
	if d := decide(def, answer(200), false, count(3), config.Thresholds{PerformanceIssues: 1, PartialOutage: 2, MajorOutage: 3}); d.Status != major {
		t.Errorf("custom thresholds: %+v", d)
	}
}

// every3m spaces statuses three minutes apart, as a cron job would run.
func every3m(ss ...status.Status) []state.Decision {
	h := make([]state.Decision, len(ss))
	for i, s := range ss {
		h[i] = state.Decision{At: t0.Add(time.Duration(i) * 3 * time.Minute), Status: s}
	}
	return h
}

// TestConfirm runs the rule run after run, carrying the published status
// forward as Cachet would, and checks what each run publishes.
func TestConfirm(t *testing.T) {
	def := config.Confirm{Worse: 2, Better: 2, MaxGap: config.Duration(15 * time.Minute)}
	tests := []struct {
		name      string
		published status.Status
		c         config.Confirm
		decisions []status.Status
		want      []status.Status // published after each run
	}{
		{"a blip is never published", op, def, []status.Status{op, perf, op, op}, []status.Status{op, op, op, op}},
		{"a steady failure is published on the second run", op, def, []status.Status{major, major, major}, []status.Status{op, major, major}},
		{"4, 3, 4 publishes the mildest: partial outage", op, def, []status.Status{major, part, major}, []status.Status{op, part, part}},
		{"recovery is confirmed too", major, def, []status.Status{op, op}, []status.Status{major, op}},
		{"recovery publishes the worst of the better ones", major, def, []status.Status{op, perf}, []status.Status{major, perf}},
		{"a flapping count at 10/11 publishes nothing", op, def, []status.Status{perf, op, perf, op, perf}, []status.Status{op, op, op, op, op}},
		{"worse: 1 publishes at once", op, config.Confirm{Worse: 1, Better: 2}, []status.Status{major, op, op}, []status.Status{major, major, op}},
		{"better: 3 waits three runs", major, config.Confirm{Worse: 2, Better: 3}, []status.Status{op, op, op}, []status.Status{major, major, op}},
		{"worse then better interrupts the count", op, def, []status.Status{major, op, major, major}, []status.Status{op, op, op, major}},
		{"an unknown page takes the decision at once", status.Unknown, def, []status.Status{perf}, []status.Status{perf}},
		{"zero counts as one", op, config.Confirm{}, []status.Status{major}, []status.Status{major}},
	}
	for _, tt := range tests {
		published, hist := tt.published, every3m(tt.decisions...)
		for i := range hist {
			if published, _ = confirm(hist[:i+1], published, tt.c); published != tt.want[i] {
				t.Errorf("%s: run %d published %s, want %s", tt.name, i+1, published, tt.want[i])
				break
			}
		}
	}
	c := config.Confirm{Worse: 2, Better: 3, MaxGap: config.Duration(15 * time.Minute)}
	for _, tt := range []struct {
		name      string
		hist      []state.Decision
		published status.Status
		want      status.Status
		waiting   *Waiting
	}{
		{"worse waits", every3m(op, major), op, op, &Waiting{major, 1, 2}},
		{"better waits", every3m(major, op, perf), major, major, &Waiting{perf, 2, 3}},
		{"steady", every3m(major, major), major, major, nil},
		{"a gap over max_gap starts afresh", []state.Decision{{At: t0, Status: major}, {At: t0.Add(16 * time.Minute), Status: major}}, op, op, &Waiting{major, 1, 2}},
		{"a gap of max_gap does not", []state.Decision{{At: t0, Status: major}, {At: t0.Add(15 * time.Minute), Status: major}}, op, major, nil},
		{"only the newest chain counts", append(every3m(major, major, major), state.Decision{At: t0.Add(time.Hour), Status: major}), op, op, &Waiting{major, 1, 2}},
		{"no history", nil, part, part, nil},
	} {
		got, waiting := confirm(tt.hist, tt.published, c)
		if got != tt.want || fmt.Sprint(waiting) != fmt.Sprint(tt.waiting) {
			t.Errorf("%s: %s, %v; want %s, %v", tt.name, got, waiting, tt.want, tt.waiting)
		}
	}
}

func TestHold(t *testing.T) {
	const maxHold = 2 * time.Hour
	held := func(ago time.Duration, s status.Status) *state.Hold {
		return &state.Hold{Since: t0.Add(-ago), Status: s}
	}
	tests := []struct {
		name                    string
		current, last, decision status.Status
		hold                    *state.Hold
		maxHold                 time.Duration
		want                    *state.Hold
	}{
		{"first run: nothing known, no hold", part, status.Unknown, op, nil, maxHold, nil},
		{"Cachet shows what this tool wrote", op, op, major, nil, maxHold, nil},
		{"set by hand: held from now", part, op, op, nil, maxHold, held(0, part)},
		{"set by hand, and the tool agrees: no hold", part, op, part, nil, maxHold, nil},
		{"held, within manual_hold", part, part, op, held(time.Hour, part), maxHold, held(time.Hour, part)},
		{"held, manual_hold has passed", part, part, op, held(maxHold, part), maxHold, nil},
		{"held, the decision now agrees", part, part, part, held(time.Hour, part), maxHold, nil},
		{"held, then changed by hand again: a new hold", major, part, op, held(time.Hour, part), maxHold, held(0, major)},
		{"held, then set back to what the tool wrote", op, op, op, held(time.Hour, part), maxHold, nil},
		{"manual_hold 0 corrects at once", part, op, op, nil, 0, nil},
	}
	for _, tt := range tests {
		if got := hold(tt.current, tt.last, tt.hold, tt.decision, t0, tt.maxHold); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestOffline(t *testing.T) {
	ok := probe.Result{Code: 200}
	bad := probe.Result{Class: probe.ClassRefused, Err: errors.New("connection refused")}
	cut := probe.Result{Class: probe.ClassCanceled, Err: errors.New("probe canceled")}
	all := config.Guard{MaxFailing: config.Share{Percent: 100}}
	two := config.Guard{Canaries: []config.WebURL{"https://a.example/", "https://b.example/"}}
	tests := []struct {
		name              string
		results, canaries []probe.Result
		guard             config.Guard
		want              string // substring; "" for not offline
	}{
		{"every server failing", []probe.Result{bad, bad, bad}, nil, all, "3 of 3 servers got no HTTP answer"},
		{"two are too few", []probe.Result{bad, bad}, nil, all, ""},
		{"one answers", []probe.Result{bad, bad, bad, ok}, nil, all, ""},
		{"80% of 5", []probe.Result{bad, bad, bad, bad, ok}, nil, config.Guard{MaxFailing: config.Share{Percent: 80}}, "4 of 5"},
		{"interrupted probes count for neither side", []probe.Result{bad, bad, bad, cut}, nil, all, "3 of 3"},
		{"max_failing off", []probe.Result{bad, bad, bad}, nil, config.Guard{}, ""},
		{"no canary answers", []probe.Result{ok}, []probe.Result{bad, bad}, two, "no canary answered (https://a.example/: connection refused)"},
		{"one canary answers", []probe.Result{ok}, []probe.Result{bad, ok}, two, ""},
		{"canaries interrupted", []probe.Result{ok}, []probe.Result{cut}, config.Guard{Canaries: []config.WebURL{"https://a.example/"}}, ""},
	}
	for _, tt := range tests {
		if got := offline(tt.results, tt.canaries, tt.guard); (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSelect(t *testing.T) {
	servers := []config.Server{{Name: "Stream 1", ComponentID: 1}, {Name: "Stream 2", ComponentID: 2}, {Name: "14", ComponentID: 3}} // a name like an id
	var fleet []config.Server
	for i := 1; i <= 40; i++ {
		fleet = append(fleet, config.Server{Name: fmt.Sprintf("Stream %d", i), ComponentID: i})
	}
	tests := []struct {
		servers []config.Server
		only    []string
		want    string // the names selected, or the error
	}{
		{servers, nil, "[Stream 1 Stream 2 14]"},
		{servers, []string{"Stream 2"}, "[Stream 2]"},
		{servers, []string{"1"}, "[Stream 1]"},
		{servers, []string{"14"}, "[14]"},
		{servers, []string{"3", "Stream 1"}, "[Stream 1 14]"},
		{servers, []string{"Stream 2", "Stream 2"}, "[Stream 2]"},
		{servers, []string{"stream 2"}, `"stream 2" matches no server name or component_id in the config: the servers are "Stream 1", "Stream 2", "14"`},
		{servers, []string{"Stream 1", "99"}, `"99" matches no server`},
		{fleet, []string{"Straem 17"}, `did you mean "Stream 17"?`},
		{fleet, []string{"Website"}, "none of its 40 servers has a similar name"},
	}
	for _, tt := range tests {
		got, err := Select(tt.servers, tt.only)
		var names []string
		for _, s := range got {
			names = append(names, s.Name)
		}
		if s := fmt.Sprint(names); err != nil && !strings.Contains(err.Error(), tt.want) || err == nil && s != tt.want {
			t.Errorf("%v: %s, %v; want %s", tt.only, s, err, tt.want)
		}
	}
}
