package state

import (
	"context"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/status"
)

// forEachBackendB runs fn as a sub-benchmark per backend, skipping those
// not set.
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

// BenchmarkDecisionRound is one round of a three-prober fleet of 1,000
// servers: each vantage records its observations, then the deciding run
// reads every component's views and applies the quorum to each.
func BenchmarkDecisionRound(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, be backend) {
		ctx := context.Background()
		fra := be.fresh(b, "fra1")
		stores := map[string]*SQL{"fra1": fra, "ams1": be.open(b, fra.prefix, "ams1"), "nyc1": be.open(b, fra.prefix, "nyc1")}
		at := time.Now()
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
			down := 0
			for _, id := range ids {
				if st, _, ok := quorum.Decide(views[id], 2, 10*time.Minute, at); ok && st == status.MajorOutage {
					down++
				}
			}
			if down != 0 { // every 100th is down at one vantage only, shifted per vantage
				b.Fatalf("%d components down by quorum, want 0", down)
			}
		}
	})
}

// BenchmarkSQLSave10000 saves the state of a 10,000-server fleet (two
// decisions each), as a run does once, under the lock.
func BenchmarkSQLSave10000(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, be backend) {
		s := be.fresh(b, "fra1")
		st := fleetState(10000, 2)
		for b.Loop() {
			if err := s.Save(context.Background(), st); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSQLLoad10000 loads it.
func BenchmarkSQLLoad10000(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, be backend) {
		s := be.fresh(b, "fra1")
		if err := s.Save(context.Background(), fleetState(10000, 2)); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := s.Load(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSQLLock takes and releases the decision lock.
func BenchmarkSQLLock(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, be backend) {
		s := be.fresh(b, "fra1")
		for b.Loop() {
			unlock, err := s.Lock(context.Background(), time.Second)
			if err != nil {
				b.Fatal(err)
			}
			unlock()
		}
	})
}
