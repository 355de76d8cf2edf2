package updater

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

// Shared is a state store that several probers (vantages) share: it keeps
// each vantage's observations and a lock so that one run at a time decides
// and writes (state.SQL).
type Shared interface {
	state.Store
	Observe(ctx context.Context, vantage string, obs []state.Observation) error
	Views(ctx context.Context, ids []int) (map[int][]state.View, error)
	Lock(ctx context.Context, wait time.Duration) (unlock func(), err error)
}

// LockWait is how long a run waits for the shared decision lock; a run
// that does not get it has recorded its observations and leaves the
// deciding to the run that holds it.
const LockWait = 5 * time.Second

// sharedRound records this vantage's observations, takes the decision
// lock, reads the other vantages' views and the state, and turns each row's
// probe-based status into the quorum's. It returns the state to plan with
// (saveable: Save may write it), the unlock to call when the run is done,
// and decide=false when this run must write nothing: another vantage holds
// the lock, or the database is down and the quorum needs other vantages. A
// dry run records nothing and takes no lock: it counts its own observations
// in place of its vantage's recorded ones.
func sharedRound(ctx context.Context, d Deps, cfg *config.Config, o Options, sum *Summary, at time.Time) (st *state.State, saveable bool, unlock func(), decide bool) {
	vantage := o.Vantage
	fail := func(err error) (*state.State, bool, func(), bool) {
		sum.StateErr = errors.Join(sum.StateErr, err)
		d.Log.Error().Err(err).Msg("shared state")
		if cfg.Quorum.Probes <= 1 {
			// A quorum of one is this vantage alone: decide from its own
			// probes, keep no memory this run.
			return &state.State{}, false, nil, true
		}
		leave(sum.Rows, NotWritten, fmt.Errorf("the shared state database cannot be used and quorum.probes is %d: this vantage alone decides nothing", cfg.Quorum.Probes))
		return nil, false, nil, false
	}
	own := observations(sum.Rows, at)
	switch {
	case sum.Offline != "":
		own = nil
		d.Log.Warn().Str("vantage", vantage).Msg("this machine looks offline: its observations are not recorded")
	case o.DryRun: // a dry run writes nothing to the database: no observations, no lock
	default:
		if err := d.Shared.Observe(ctx, vantage, own); err != nil {
			return fail(fmt.Errorf("recording %s's observations in the %s: %w", vantage, d.Shared, err))
		}
	}
	unlock = func() {}
	if !o.DryRun {
		var err error
		unlock, err = d.Shared.Lock(ctx, LockWait)
		if errors.Is(err, state.ErrLockBusy) {
			sum.Deferred = fmt.Sprintf("another run holds the decision lock of the %s: %s's observations are recorded for it", d.Shared, vantage)
			leave(sum.Rows, Observed, nil)
			return nil, false, nil, false
		}
		if err != nil {
			return fail(fmt.Errorf("taking the decision lock of the %s: %w", d.Shared, err))
		}
	}
	views, err := d.Shared.Views(ctx, componentIDs(sum.Rows))
	if err != nil {
		unlock()
		return fail(fmt.Errorf("reading the vantages' views from the %s: %w", d.Shared, err))
	}
	st, saveable, err = loadState(ctx, d)
	if err != nil {
		sum.StateErr = err
	}
	if o.DryRun {
		addViews(views, vantage, own)
	}
	applyQuorum(sum.Rows, views, cfg.Quorum, at)
	warnClocks(d, views, at)
	return st, saveable, unlock, true
}

// addViews puts a dry run's own observations, which it does not record, in
// place of its vantage's recorded views.
func addViews(views map[int][]state.View, vantage string, own []state.Observation) {
	for _, o := range own {
		vs := slices.DeleteFunc(views[o.ComponentID], func(v state.View) bool { return v.Vantage == vantage })
		vs = append(vs, state.View{Vantage: vantage, At: o.At, Status: o.Status, Outcome: o.Outcome, Detail: o.Detail})
		slices.SortFunc(vs, func(a, b state.View) int { return strings.Compare(a.Vantage, b.Vantage) })
		views[o.ComponentID] = vs
	}
}

// warnClocks names each vantage whose views are dated in the future beyond
// quorum.MaxAhead: its clock is wrong, and its views do not count.
func warnClocks(d Deps, views map[int][]state.View, now time.Time) {
	ahead := map[string]time.Time{}
	for _, vs := range views {
		for _, v := range vs {
			if quorum.Stale(v.At, 0, now) != "" && v.At.After(ahead[v.Vantage]) {
				ahead[v.Vantage] = v.At
			}
		}
	}
	for vantage, at := range ahead {
		d.Log.Warn().Str("vantage", vantage).Time("observed_at", at).Str("ahead", at.Sub(now).Round(time.Second).String()).
			Msg("a vantage's views are dated in the future: its clock is ahead, so they do not count; sync its clock (NTP)")
	}
}

// leave gives every row that was not settled yet action a.
func leave(rows []Row, a Action, err error) {
	for i := range rows {
		if rows[i].Action == "" {
			rows[i].Action, rows[i].Err = a, err
		}
	}
}

func componentIDs(rows []Row) []int {
	ids := make([]int, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.Server.ComponentID)
	}
	return ids
}

// observations are this vantage's decided rows, as the database keeps them.
func observations(rows []Row, at time.Time) []state.Observation {
	obs := make([]state.Observation, 0, len(rows))
	for _, r := range rows {
		if !r.Decided() {
			continue // interrupted or not probed: nothing seen
		}
		obs = append(obs, state.Observation{
			ComponentID: r.Server.ComponentID, Server: r.Server.Name, At: at,
			Outcome: outcome(r.Probe), Status: r.Decision.Probe, Detail: ProbeSummary(r.Probe),
		})
	}
	return obs
}

func outcome(p probe.Result) string {
	switch p.Class {
	case "":
		return quorum.Answered
	case probe.ClassTimeout:
		return quorum.TimedOut
	}
	return quorum.Failed
}

// ProbeSummary is a probe result in a few words: "HTTP 200 in 12ms",
// "timeout after 10s", "refused".
func ProbeSummary(p probe.Result) string {
	switch p.Class {
	case "":
		s := fmt.Sprintf("HTTP %d in %s", p.Code, p.Latency.Round(time.Millisecond))
		if note := p.BodyNote(); note != "" {
			s += ", " + note
		}
		return s
	case probe.ClassTimeout:
		return fmt.Sprintf("timeout after %s", p.Latency.Round(time.Millisecond))
	}
	return string(p.Class)
}

// applyQuorum replaces each decided row's probe-based status with the
// quorum's: the status at least q.Probes fresh vantages see at least that
// bad. With fewer fresh vantages the row has no quorum, and plan lets no
// probe make its status worse than Cachet's.
func applyQuorum(rows []Row, views map[int][]state.View, q config.Quorum, now time.Time) {
	for i := range rows {
		r := &rows[i]
		if !r.Decided() {
			continue
		}
		r.Views = views[r.Server.ComponentID]
		st, n, ok := quorum.Decide(r.Views, q.Probes, q.Fresh.D(), now)
		if !ok {
			r.NoQuorum = true
			rule := fmt.Sprintf("only %d of the %d fresh vantages quorum.probes needs have a view", n, q.Probes)
			r.Decision = status.Combine(r.Decision.Probe, rule, r.Decision.Reports, r.Decision.ReportsRule)
			continue
		}
		rule := fmt.Sprintf("%s: at least %d of %d fresh vantages see %s or worse", viewList(r.Views, q.Fresh.D(), now), q.Probes, n, st)
		r.Decision = status.Combine(st, rule, r.Decision.Reports, r.Decision.ReportsRule)
	}
}

// viewList is "fra1 timeout, ams1 HTTP 200 in 12ms" for the fresh views.
func viewList(views []state.View, fresh time.Duration, now time.Time) string {
	var parts []string
	for _, v := range views {
		if quorum.Stale(v.At, fresh, now) != "" {
			continue
		}
		parts = append(parts, v.Vantage+" "+v.Detail)
	}
	return strings.Join(parts, ", ")
}

// Unavailable is a Shared whose database could not be opened: every call
// fails with err, so that the run says so and, with a quorum of one,
// decides from its own probes.
func Unavailable(name string, err error) Shared { return unavailable{name, err} }

type unavailable struct {
	name string
	err  error
}

func (u unavailable) String() string { return u.name }
func (u unavailable) Load(context.Context) (*state.State, error) {
	return nil, u.err
}
func (u unavailable) Save(context.Context, *state.State) error { return u.err }
func (u unavailable) Observe(context.Context, string, []state.Observation) error {
	return u.err
}
func (u unavailable) Views(context.Context, []int) (map[int][]state.View, error) {
	return nil, u.err
}
func (u unavailable) Lock(context.Context, time.Duration) (func(), error) { return nil, u.err }
