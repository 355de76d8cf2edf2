package state

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/quorum"
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

// BenchmarkDecisionRound is one round of a three-prober fleet of 1,000
// servers: each vantage records its observations, then the deciding run
// reads every component's views and applies the quorum to each.
func BenchmarkDecisionRound(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, be backend) {
		ctx, at := context.Background(), time.Now()
		fra := be.fresh(b, "fra1")
		stores := map[string]*SQL{"fra1": fra, "ams1": be.open(b, fra.TablePrefix, "ams1", false), "nyc1": be.open(b, fra.TablePrefix, "nyc1", false)}
		var ids []int
		obs := map[string][]Observation{}
		for i, name := range []string{"fra1", "ams1", "nyc1"} {
			ids, obs[name] = fleetObservations(1000, at, i)
		}
		for b.Loop() {
			for name, s := range stores {
				if err := s.Observe(ctx, name, obs[name]); err != nil {
					b.Fatal(err)
				}
			}
			views, err := fra.Views(ctx, ids)
			if err != nil {
				b.Fatal(err)
			}
			for _, id := range ids { // every 100th is down at one vantage only, shifted per vantage
				if st, _, ok := quorum.Decide(views[id], 2, 10*time.Minute, at); !ok || st == status.MajorOutage {
					b.Fatalf("component %d: %s, %v by quorum", id, st, ok)
				}
			}
		}
	})
}

// BenchmarkSQL saves, loads and locks the state of a 10,000-server fleet
// (two decisions each), as a run does once each.
func BenchmarkSQL(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, be backend) {
		s, st, ctx := be.fresh(b, "fra1"), fleetState(10000, 2), context.Background()
		b.Run("Save10000", func(b *testing.B) {
			for b.Loop() {
				if err := s.Save(ctx, st); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Load10000", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Load(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Lock", func(b *testing.B) {
			for b.Loop() {
				unlock, err := s.Lock(ctx, time.Second)
				if err != nil {
					b.Fatal(err)
				}
				unlock()
			}
		})
	})
}

func forEachBackendB(b *testing.B, fn func(b *testing.B, be backend)) {
	for _, be := range backends(b) {
		b.Run(be.driver, func(b *testing.B) {
			if be.dsn == "" {
				b.Skip(be.skip)
			}
			fn(b, be)
		})
	}
}
