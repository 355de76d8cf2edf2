package quorum

import (
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const (
	op    = status.Operational
	perf  = status.PerformanceIssues
	part  = status.PartialOutage
	major = status.MajorOutage
	fresh = 10 * time.Minute
)

// v is a view by vantage, age old, with status s.
func v(vantage string, age time.Duration, s status.Status) View {
	return View{Vantage: vantage, At: now.Add(-age), Status: s}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name   string
		views  []View
		k      int
		fresh  time.Duration
		want   status.Status
		wantN  int
		wantOK bool
	}{
		{"one of three sees it down: not enough for k=2",
			[]View{v("fra1", 0, major), v("ams1", 0, op), v("nyc1", 0, op)}, 2, fresh, op, 3, true},
		{"two of three see it down: published",
			[]View{v("fra1", 0, major), v("ams1", time.Minute, major), v("nyc1", 0, op)}, 2, fresh, major, 3, true},
		{"the k-th worst: 4, 3, 1 with k=2 is 3",
			[]View{v("fra1", 0, major), v("ams1", 0, part), v("nyc1", 0, op)}, 2, fresh, part, 3, true},
		{"k=1 is the worst view",
			[]View{v("fra1", 0, op), v("ams1", 0, perf), v("nyc1", 0, op)}, 1, fresh, perf, 3, true},
		{"k=3 needs all three",
			[]View{v("fra1", 0, major), v("ams1", 0, major), v("nyc1", 0, perf)}, 3, fresh, perf, 3, true},
		{"ties: two at 3, one at 4, k=3 is 3",
			[]View{v("fra1", 0, part), v("ams1", 0, major), v("nyc1", 0, part)}, 3, fresh, part, 3, true},
		{"all agree",
			[]View{v("fra1", 0, op), v("ams1", 0, op), v("nyc1", 0, op)}, 2, fresh, op, 3, true},
		{"stale views are ignored: the stale down view does not count",
			[]View{v("fra1", 11*time.Minute, major), v("ams1", 0, major), v("nyc1", 0, op)}, 2, fresh, op, 2, true},
		{"exactly fresh counts",
			[]View{v("fra1", fresh, major), v("ams1", 0, major)}, 2, fresh, major, 2, true},
		{"fewer fresh vantages than the quorum: no status",
			[]View{v("fra1", 0, major), v("ams1", time.Hour, major), v("nyc1", time.Hour, major)}, 2, fresh, status.Unknown, 1, false},
		{"no views", nil, 1, fresh, status.Unknown, 0, false},
		{"k=0 counts as 1",
			[]View{v("fra1", 0, perf), v("ams1", 0, op)}, 0, fresh, perf, 2, true},
		{"fresh=0: every view counts",
			[]View{v("fra1", 48*time.Hour, major), v("ams1", 0, major)}, 2, 0, major, 2, true},
		{"a view up to a minute ahead counts",
			[]View{v("fra1", -time.Minute, major), v("ams1", 0, major)}, 2, fresh, major, 2, true},
		{"a view more than a minute ahead does not count: its clock is wrong",
			[]View{v("fra1", -61*time.Second, major), v("ams1", 0, major)}, 2, fresh, status.Unknown, 1, false},
		{"two views a year ahead do not outvote the live one",
			[]View{v("fra1", -365*24*time.Hour, major), v("ams1", -365*24*time.Hour, major), v("nyc1", 0, op)}, 1, fresh, op, 1, true},
		{"fresh=0: a view a year ahead does not count either",
			[]View{v("fra1", -365*24*time.Hour, major), v("ams1", 0, op)}, 1, 0, op, 1, true},
		{"one vantage twice is one view, its newest",
			[]View{v("fra1", time.Minute, major), v("fra1", 0, op), v("ams1", 0, major)}, 2, fresh, op, 2, true},
		{"one vantage twice cannot make a quorum alone",
			[]View{v("fra1", time.Minute, major), v("fra1", 0, major)}, 2, fresh, status.Unknown, 1, false},
		{"a view without a status is no view",
			[]View{v("fra1", 0, status.Unknown), v("ams1", 0, status.Status(9)), v("nyc1", 0, major)}, 1, fresh, major, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n, ok := Decide(tc.views, tc.k, tc.fresh, now)
			if got != tc.want || n != tc.wantN || ok != tc.wantOK {
				t.Errorf("Decide = %s, %d fresh, ok %v; want %s, %d, %v", got, n, ok, tc.want, tc.wantN, tc.wantOK)
			}
		})
	}
}

// TestDecideOrderFree: the order of the views does not matter.
func TestDecideOrderFree(t *testing.T) {
	views := []View{v("fra1", 0, major), v("ams1", 0, op), v("nyc1", 0, part), v("sfo1", 0, perf)}
	want, _, _ := Decide(views, 2, fresh, now)
	for i := range views {
		rotated := append(append([]View{}, views[i:]...), views[:i]...)
		if got, _, _ := Decide(rotated, 2, fresh, now); got != want {
			t.Errorf("rotation %d: %s, want %s", i, got, want)
		}
	}
	if want != part {
		t.Errorf("4, 1, 3, 2 with k=2 = %s, want partial_outage", want)
	}
}
