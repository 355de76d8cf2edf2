package updater

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/confirm"
	"github.com/proxer/cachet-updater/internal/maintenance"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

// memory is what plan needs of the state between runs.
type memory struct {
	state      *state.State
	now        time.Time
	manualHold time.Duration
	offline    bool // the guard: no probe may make a status worse this run
	windows    []maintenance.Window
	scheduled  map[string]string // why a schedule covers a server, by name
}

// plan fills in Cachet's current state and the action for every decided
// row: what the rules (guard, hand-set holds, confirmation) publish, and
// whether that is a write. short, when not nil, says the listing ended
// before Cachet's own count: a component missing from it may exist.
func plan(rows []Row, components []cachet.Component, short error, cachetErr error, m memory) {
	byID := make(map[int]cachet.Component, len(components))
	for _, c := range components {
		byID[c.ID] = c
	}
	for i := range rows {
		r := &rows[i]
		if r.Action != "" {
			continue // decideAll already settled it: interrupted or not probed
		}
		r.Considered = r.Decision.Status
		if cachetErr != nil {
			r.Action = NotWritten
			continue
		}
		c, ok := byID[r.Server.ComponentID]
		if !ok && short != nil {
			r.Action = NotWritten
			r.Err = fmt.Errorf("server %q: component %d is not in the listing, but %v: it may exist beyond what Cachet listed, so it is left alone; check Cachet's pagination (a proxy or cache in front of the API?)", r.Server.Name, r.Server.ComponentID, short)
			continue
		}
		if !ok {
			r.Action = UnknownComponent
			r.Err = fmt.Errorf("server %q: component %d does not exist in Cachet (or the token cannot see it): fix component_id; `cachet-updater components` lists them", r.Server.Name, r.Server.ComponentID)
			continue
		}
		if c.Unreadable != "" {
			// A warning, not a failure: the rest are corrected (issue 18.13).
			r.Action = NotWritten
			r.Notes = append(r.Notes, fmt.Sprintf("warning: Cachet sent the status of component %d as %s, which is no status: it is left alone; set its status in Cachet's dashboard", r.Server.ComponentID, c.Unreadable))
			continue
		}
		r.Current, r.CurrentKnown, r.Enabled, r.ComponentName = c.Status, true, c.Enabled, c.Name
		if why := maintenanceOf(r.Server.Name, c, m.windows, m.scheduled, m.now); why != "" {
			r.Action, r.Publish, r.MaintenanceWhy = Maintenance, r.Current, why
			continue
		}
		m.decide(r)
	}
}

// decide applies the rules between a decision and the page to a row whose
// Cachet status is known, in order: the guard, a hand-set hold, then
// confirmation over the history.
func (m memory) decide(r *Row) {
	if (m.offline || r.NoQuorum) && r.Decision.Probe > r.Current {
		// Only the reports, which come from users, may still make it worse.
		r.Considered, r.Guarded = max(r.Current, r.Decision.Reports), true
	}
	entry := m.state.Components[r.Server.ComponentID]
	if entry == nil {
		entry = &state.Component{}
	}
	agree := r.Considered
	if m.offline {
		agree = status.Unknown // the prober's own outage agrees with no hand-set status
	}
	var held bool
	r.Hold, held = confirm.Hold(confirm.HandSet{
		Current: r.Current, Last: entry.Last, Hold: heldOf(entry.Hold),
		Decision: agree, Now: m.now, MaxHold: m.manualHold,
	})
	hist := make([]confirm.Decision, 0, len(entry.History)+1)
	for _, d := range entry.History {
		hist = append(hist, confirm.Decision{At: d.At, Status: d.Status})
	}
	hist = append(hist, confirm.Decision{At: m.now, Status: r.Considered})
	c := r.Server.Confirm
	r.Confirm = confirm.Confirm(hist, r.Current, confirm.Policy{Worse: c.Worse, Better: c.Better, MaxGap: c.MaxGap.D()})
	r.Publish = r.Confirm.Publish
	switch {
	case held:
		r.Action, r.Publish = Held, r.Current
		r.HoldUntil = r.Hold.Since.Add(m.manualHold)
	case r.Changed():
		r.Action = WouldUpdate
	case r.Confirm.Pending != status.Unknown:
		r.Action = Pending
	default:
		r.Action = Unchanged
	}
}

func heldOf(h *state.Hold) *confirm.Held {
	if h == nil {
		return nil
	}
	return &confirm.Held{Since: h.Since, Status: h.Status}
}

// apply writes the planned changes, a bounded number at a time. Once the
// run is interrupted no new write starts; the Cachet client gives writes
// already sent a short grace to finish and retries none.
func apply(ctx context.Context, d Deps, rows []Row, dryRun bool, cc config.Cachet) {
	if dryRun {
		return
	}
	each(ctx, cc.WriteConcurrency, rows, func(r *Row) {
		if r.Action != WouldUpdate {
			return
		}
		if ctx.Err() != nil {
			r.Action = Interrupted
			return
		}
		err := d.Cachet.SetStatus(ctx, r.Server.ComponentID, r.Publish, r.Enabled)
		switch {
		case err != nil && ctx.Err() != nil:
			r.Action = Interrupted // the run ended first; the next run reads Cachet again
			r.Err = fmt.Errorf("server %q: updating component %d: %w", r.Server.Name, r.Server.ComponentID, err)
		case err != nil:
			r.Action = WriteFailed
			r.Err = fmt.Errorf("server %q: updating component %d: %w", r.Server.Name, r.Server.ComponentID, err)
			d.Log.Error().Err(err).Str("server", r.Server.Name).Int("component", r.Server.ComponentID).Msg("update failed")
		default:
			r.Action = Updated
			d.Log.Info().Str("server", r.Server.Name).Int("component", r.Server.ComponentID).
				Str("from", r.Current.String()).Str("to", r.Publish.String()).Str("rule", r.Rule()).Msg("status changed")
		}
	})
}

// each calls fn for every row, at most n at a time (n < 1 means 1). Once
// ctx is done no new call starts.
func each(ctx context.Context, n int, rows []Row, fn func(r *Row)) {
	sem := make(chan struct{}, max(n, 1))
	var wg sync.WaitGroup
	for i := range rows {
		r := &rows[i]
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			fn(r) // fn sees the context is done and starts nothing
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(r)
		})
	}
	wg.Wait()
}
