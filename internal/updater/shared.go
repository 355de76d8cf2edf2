package updater

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/state"
)

// Shared is a state store several probers (vantages) share: it keeps each
// vantage's observations, and a lock lets one run at a time decide and
// write (state.SQL).
type Shared interface {
	state.Store
	Observe(ctx context.Context, vantage string, obs []state.Observation) error
	Views(ctx context.Context) (map[int][]state.View, error)
	Lock(ctx context.Context, wait time.Duration) (unlock func(), err error)
}

// LockWait is how long a run waits for the decision lock; a run that does
// not get it has recorded its observations for the run that holds it.
const LockWait = 5 * time.Second

// shared records this vantage's observations, takes the decision lock,
// reads every vantage's views and the state, and turns each row's probe
// status into the quorum's. decide is false when this run must write
// nothing: another vantage holds the lock, or the database is down and
// the quorum needs other vantages. A dry run records nothing and takes no
// lock: its own observations stand in for its vantage's recorded ones.
func (r *run) shared(ctx context.Context) (unlock func(), decide bool) {
	unlock = func() {}
	fail := func(err error) (func(), bool) {
		r.sum.StateErr = errors.Join(r.sum.StateErr, err)
		if q := r.cfg.Quorum.Probes; q > 1 {
			leave(r.sum.Rows, NotWritten, fmt.Errorf("the shared state database cannot be used and quorum.probes is %d: this vantage alone decides nothing", q))
			return unlock, false
		}
		// A quorum of one is this vantage alone: it decides, keeping no memory.
		r.st = &state.State{}
		return unlock, true
	}
	db, vantage, own := r.d.Shared, r.o.Vantage, r.observations()
	if r.sum.Offline != "" {
		own = nil // no evidence: not recorded
	} else if !r.o.DryRun {
		if err := db.Observe(ctx, vantage, own); err != nil {
			return fail(fmt.Errorf("recording %s's observations in the %s: %w", vantage, db, err))
		}
	}
	if !r.o.DryRun {
		l, err := db.Lock(ctx, LockWait)
		if errors.Is(err, state.ErrLockBusy) {
			r.sum.Deferred = fmt.Sprintf("another run holds the decision lock of the %s: %s's observations are recorded for it", db, vantage)
			leave(r.sum.Rows, Observed, nil)
			return unlock, false
		} else if err != nil {
			return fail(fmt.Errorf("taking the decision lock of the %s: %w", db, err))
		}
		unlock = l
	}
	views, err := db.Views(ctx)
	if err != nil { // the caller unlocks
		return fail(fmt.Errorf("reading the vantages' views from the %s: %w", db, err))
	}
	r.load(ctx)
	if r.o.DryRun {
		for _, o := range own {
			vs := slices.DeleteFunc(views[o.ComponentID], func(v state.View) bool { return v.Vantage == vantage })
			vs = append(vs, state.View{Vantage: vantage, At: o.At, Status: o.Status, Outcome: o.Outcome, Detail: o.Detail})
			slices.SortFunc(vs, func(a, b state.View) int { return strings.Compare(a.Vantage, b.Vantage) })
			views[o.ComponentID] = vs
		}
	}
	r.quorum(views)
	return unlock, true
}

// leave gives every row not settled yet action a.
func leave(rows []Row, a Action, err error) {
	for i := range rows {
		if rows[i].Action == "" {
			rows[i].Action, rows[i].Err = a, err
		}
	}
}

// observations are this vantage's decided rows, as the database keeps them.
func (r *run) observations() []state.Observation {
	obs := make([]state.Observation, 0, len(r.sum.Rows))
	for _, row := range r.sum.Rows {
		if row.Decision == nil {
			continue // interrupted or not probed: nothing seen
		}
		p, outcome, detail := row.Probe, quorum.Failed, string(row.Probe.Class)
		switch p.Class {
		case "":
			outcome, detail = quorum.Answered, fmt.Sprintf("HTTP %d in %s", p.Code, p.Latency.Round(time.Millisecond))
			if note := p.BodyNote(); note != "" {
				detail += ", " + note
			}
		case probe.ClassTimeout:
			outcome, detail = quorum.TimedOut, fmt.Sprintf("timeout after %s", p.Latency.Round(time.Millisecond))
		}
		obs = append(obs, state.Observation{ComponentID: row.Server.ComponentID, Server: row.Server.Name, At: r.now,
			Outcome: outcome, Status: row.Decision.Probe, Detail: detail})
	}
	return obs
}

// quorum replaces each decided row's probe status with the quorum's: the
// status at least quorum.probes fresh vantages see at least that bad. With
// fewer fresh vantages the row has no quorum, and no probe may make its
// status worse than Cachet's. A vantage whose views are dated in the future
// has a wrong clock: they do not count, and the run names it.
func (r *run) quorum(views map[int][]state.View) {
	q, fresh, ahead := r.cfg.Quorum, r.cfg.Quorum.Fresh.D(), map[string]time.Time{}
	for i := range r.sum.Rows {
		row := &r.sum.Rows[i]
		if row.Decision == nil {
			continue
		}
		row.Views = views[row.Server.ComponentID]
		var seen []string
		for _, v := range row.Views {
			switch quorum.Stale(v.At, fresh, r.now) {
			case "":
				seen = append(seen, v.Vantage+" "+v.Detail)
			case "clock ahead":
				ahead[v.Vantage] = v.At
			}
		}
		d := row.Decision
		if st, n, ok := quorum.Decide(row.Views, q.Probes, fresh, r.now); ok {
			d.Probe, d.ProbeRule = st, fmt.Sprintf("%s: at least %d of %d fresh vantages see %s or worse", strings.Join(seen, ", "), q.Probes, n, st)
		} else {
			row.NoQuorum, d.ProbeRule = true, fmt.Sprintf("only %d of the %d fresh vantages quorum.probes needs have a view", n, q.Probes)
		}
		d.combine()
	}
	for vantage, at := range ahead {
		r.d.Log.Warn().Str("vantage", vantage).Time("observed_at", at).Str("ahead", at.Sub(r.now).Round(time.Second).String()).
			Msg("a vantage's views are dated in the future: its clock is ahead, so they do not count; sync its clock (NTP)")
	}
}

// Unavailable is a Shared whose database could not be opened: every call
// fails with err, so that the run says so and, with a quorum of one,
// decides from its own probes.
func Unavailable(name string, err error) Shared { return unavailable{name, err} }

type unavailable struct {
	name string
	err  error
}

func (u unavailable) String() string                                             { return u.name }
func (u unavailable) Load(context.Context) (*state.State, error)                 { return nil, u.err }
func (u unavailable) Save(context.Context, *state.State) error                   { return u.err }
func (u unavailable) Observe(context.Context, string, []state.Observation) error { return u.err }
func (u unavailable) Views(context.Context) (map[int][]state.View, error)        { return nil, u.err }
func (u unavailable) Lock(context.Context, time.Duration) (func(), error)        { return nil, u.err }
