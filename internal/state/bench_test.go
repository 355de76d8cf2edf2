package state

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

// fleetState is the state of n components after many runs, each keeping
// the keep decisions its confirmation needs.
func fleetState(n, keep int) *State {
	st := &State{TokenProvedAt: time.Now()}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for id := 1; id <= n; id++ {
		c := st.Component(id, fmt.Sprintf("s%d", id))
		for i := range MaxHistory {
			c.Record(Decision{At: at.Add(time.Duration(i) * 3 * time.Minute), Status: status.Operational}, keep)
		}
		c.Last, c.LastAt = status.Operational, at
	}
	return st
}

// BenchmarkSave10000 saves the state of a 10,000-server fleet with the
// default confirmation (2 decisions kept); a run saves once, after its
// writes.
func BenchmarkSave10000(b *testing.B) {
	st := fleetState(10000, 2)
	f := NewFile(filepath.Join(b.TempDir(), "state.json"), "/etc/cachet-updater/config.yaml")
	for b.Loop() {
		if err := f.Save(context.Background(), st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad10000 loads it (a run loads once, while it probes).
func BenchmarkLoad10000(b *testing.B) {
	f := NewFile(filepath.Join(b.TempDir(), "state.json"), "/etc/cachet-updater/config.yaml")
	if err := f.Save(context.Background(), fleetState(10000, 2)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := f.Load(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
