package confirm

import (
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const (
	op    = status.Operational
	perf  = status.PerformanceIssues
	part  = status.PartialOutage
	major = status.MajorOutage
)

// every3m spaces statuses three minutes apart, as a cron job would run.
func every3m(ss ...status.Status) []Decision {
	h := make([]Decision, len(ss))
	for i, s := range ss {
		h[i] = Decision{At: t0.Add(time.Duration(i) * 3 * time.Minute), Status: s}
	}
	return h
}

// TestConfirmSequences runs the rule run after run, carrying the published
// status forward as Cachet would, and checks what each run publishes.
func TestConfirmSequences(t *testing.T) {
	def := Policy{Worse: 2, Better: 2, MaxGap: 15 * time.Minute}
	tests := []struct {
		name      string
		published status.Status
		policy    Policy
		decisions []status.Status
		want      []status.Status // published after each run
	}{
		{"a blip is never published", op, def, []status.Status{op, perf, op, op}, []status.Status{op, op, op, op}},
		{"a steady failure is published on the second run", op, def, []status.Status{major, major, major}, []status.Status{op, major, major}},
		{"4, 3, 4 publishes the mildest: partial outage", op, def, []status.Status{major, part, major}, []status.Status{op, part, part}},
		{"recovery is confirmed too", major, def, []status.Status{op, op}, []status.Status{major, op}},
		{"recovery publishes the worst of the better ones", major, def, []status.Status{op, perf}, []status.Status{major, perf}},
		{"a flapping count at 10/11 publishes nothing", op, def, []status.Status{perf, op, perf, op, perf}, []status.Status{op, op, op, op, op}},
		{"worse: 1 publishes at once", op, Policy{Worse: 1, Better: 2, MaxGap: 15 * time.Minute}, []status.Status{major, op, op}, []status.Status{major, major, op}},
		{"better: 3 waits three runs", major, Policy{Worse: 2, Better: 3}, []status.Status{op, op, op}, []status.Status{major, major, op}},
		{"worse then better interrupts the count", op, def, []status.Status{major, op, major, major}, []status.Status{op, op, op, major}},
		{"an unknown page takes the decision at once", status.Unknown, def, []status.Status{perf}, []status.Status{perf}},
		{"zero counts as one", op, Policy{}, []status.Status{major}, []status.Status{major}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			published := tt.published
			hist := every3m(tt.decisions...)
			for i := range hist {
				out := Confirm(hist[:i+1], published, tt.policy)
				if out.Publish != tt.want[i] {
					t.Fatalf("run %d (decision %s): published %s, want %s (%+v)", i+1, hist[i].Status, out.Publish, tt.want[i], out)
				}
				published = out.Publish
			}
		})
	}
}

func TestConfirmPending(t *testing.T) {
	def := Policy{Worse: 2, Better: 3, MaxGap: 15 * time.Minute}
	out := Confirm(every3m(op, major), op, def)
	if out.Publish != op || out.Pending != major || out.Count != 1 || out.Need != 2 {
		t.Errorf("worse: %+v", out)
	}
	out = Confirm(every3m(major, op, perf), major, def)
	if out.Publish != major || out.Pending != perf || out.Count != 2 || out.Need != 3 {
		t.Errorf("better: %+v", out)
	}
	out = Confirm(every3m(major, major), major, def)
	if out.Pending != status.Unknown || out.Changed(major) {
		t.Errorf("steady: %+v", out)
	}
}

// TestConfirmMaxGap: decisions before a gap longer than max_gap do not
// count, so a paused cron starts afresh.
func TestConfirmMaxGap(t *testing.T) {
	p := Policy{Worse: 2, Better: 2, MaxGap: 15 * time.Minute}
	hist := []Decision{{t0, major}, {t0.Add(16 * time.Minute), major}}
	if out := Confirm(hist, op, p); out.Publish != op || out.Count != 1 {
		t.Errorf("over the gap: %+v", out)
	}
	hist[1].At = t0.Add(15 * time.Minute)
	if out := Confirm(hist, op, p); out.Publish != major {
		t.Errorf("at the gap: %+v", out)
	}
	// Only the newest chain counts, however long the history.
	hist = append(every3m(major, major, major), Decision{t0.Add(time.Hour), major})
	if out := Confirm(hist, op, p); out.Publish != op || out.Count != 1 {
		t.Errorf("old chain counted: %+v", out)
	}
	if out := Confirm(nil, part, p); out.Publish != part {
		t.Errorf("no history: %+v", out)
	}
}

func TestHold(t *testing.T) {
	const maxHold = 2 * time.Hour
	tests := []struct {
		name     string
		in       HandSet
		wantHeld bool
		wantHold *Held
	}{
		{"first run: nothing known, no hold", HandSet{Current: part, Last: status.Unknown, Decision: op}, false, nil},
		{"Cachet shows what this tool wrote", HandSet{Current: op, Last: op, Decision: major}, false, nil},
		{"set by hand: held from now", HandSet{Current: part, Last: op, Decision: op}, true, &Held{t0, part}},
		{"set by hand, and the tool agrees: no hold", HandSet{Current: part, Last: op, Decision: part}, false, nil},
		{"held, within manual_hold", HandSet{Current: part, Last: part, Hold: &Held{t0.Add(-time.Hour), part}, Decision: op}, true, &Held{t0.Add(-time.Hour), part}},
		{"held, manual_hold has passed", HandSet{Current: part, Last: part, Hold: &Held{t0.Add(-maxHold), part}, Decision: op}, false, nil},
		{"held, the decision now agrees", HandSet{Current: part, Last: part, Hold: &Held{t0.Add(-time.Hour), part}, Decision: part}, false, nil},
		{"held, then changed by hand again: a new hold", HandSet{Current: major, Last: part, Hold: &Held{t0.Add(-time.Hour), part}, Decision: op}, true, &Held{t0, major}},
		{"held, then set back to what the tool wrote", HandSet{Current: op, Last: op, Hold: &Held{t0.Add(-time.Hour), part}, Decision: op}, false, nil},
		{"manual_hold 0 corrects at once", HandSet{Current: part, Last: op, Decision: op, MaxHold: -1}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Now = t0
			if in.MaxHold == 0 {
				in.MaxHold = maxHold
			} else if in.MaxHold < 0 {
				in.MaxHold = 0
			}
			hold, held := Hold(in)
			if held != tt.wantHeld || (hold == nil) != (tt.wantHold == nil) || (hold != nil && *hold != *tt.wantHold) {
				t.Errorf("Hold = %+v, %v; want %+v, %v", hold, held, tt.wantHold, tt.wantHeld)
			}
		})
	}
}
