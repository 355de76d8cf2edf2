package state

import (
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

var t0 = time.Date(2026, 11, 25, 6, 35, 2, 0, time.UTC)

func TestRecordKeepsNewest(t *testing.T) {
	var c Component
	for i := range 40 {
		c.Record(Decision{At: t0.Add(time.Duration(i) * time.Minute), Status: status.Operational}, 0)
		if want := min(i+1, MaxHistory); len(c.History) != want {
			t.Fatalf("after %d records: %d decisions, want %d", i+1, len(c.History), want)
		}
	}
	if first, last := c.History[0].At, c.History[MaxHistory-1].At; !first.Equal(t0.Add(24*time.Minute)) || !last.Equal(t0.Add(39*time.Minute)) {
		t.Errorf("history runs %s .. %s, want the newest 16 oldest first", first, last)
	}
}

// TestRecordKeep: a rule that needs the last 2 decisions keeps 2.
func TestRecordKeep(t *testing.T) {
	var c Component
	for i := range 5 {
		c.Record(Decision{At: t0.Add(time.Duration(i) * time.Minute), Status: status.Operational}, 2)
	}
	if len(c.History) != 2 || !c.History[1].At.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("history %+v, want the newest 2", c.History)
	}
	c.Record(Decision{At: t0.Add(5 * time.Minute)}, 40) // more than MaxHistory: capped
	if len(c.History) != 3 {
		t.Errorf("history %d long, want 3", len(c.History))
	}
}

func TestComponentGetOrCreate(t *testing.T) {
	var s State // the zero value is usable
	c := s.Component(14, "Stream 1")
	c.Last = status.MajorOutage
	if again := s.Component(14, "Stream 1 renamed"); again != c || again.Last != status.MajorOutage || again.Server != "Stream 1 renamed" {
		t.Errorf("second Component(14) = %+v, want the same entry with the new name", again)
	}
	if len(s.Components) != 1 {
		t.Errorf("%d components, want 1", len(s.Components))
	}
}

func TestPrune(t *testing.T) {
	var s State
	s.Prune(func(int) bool { return false }) // nil map: nothing to do
	for _, id := range []int{1, 2, 3, 4} {
		s.Component(id, "")
	}
	s.Prune(func(id int) bool { return id%2 == 0 })
	if len(s.Components) != 2 || s.Components[2] == nil || s.Components[4] == nil {
		t.Errorf("after Prune: %v, want 2 and 4", s.Components)
	}
}
