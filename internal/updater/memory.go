package updater

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

// TokenProofEvery is how often a run that writes nothing proves the token
// with an authenticated read: Cachet 2.x serves a revoked token's reads as
// a guest's, so only a write or such a read notices it.
const TokenProofEvery = time.Hour

// saveTimeout bounds saving the state after the run's own context ended
// (run_timeout, a signal): what the run learned is still worth keeping.
const saveTimeout = 5 * time.Second

// loadState reads the state. A corrupt file was moved aside (not by a dry
// run's store): the run goes on with an empty history and fails. A file of
// another config is returned for Run to refuse. Any other problem (a newer
// format, a file it cannot read) leaves the file alone: the run goes on
// with an empty history, fails, and does not save over it.
func loadState(ctx context.Context, d Deps) (st *state.State, saveable bool, err error) {
	st, err = d.State.Load(ctx)
	if err == nil {
		return st, true, nil
	}
	if errors.Is(err, state.ErrOtherConfig) {
		return nil, false, err // the run refuses: Run returns it
	}
	var corrupt *state.CorruptError
	if errors.As(err, &corrupt) {
		d.Log.Error().Err(err).Msg("state: starting with an empty history")
		return st, true, err
	}
	err = fmt.Errorf("%w: this run keeps no memory and leaves the file as it is", err)
	d.Log.Error().Err(err).Msg("state: cannot be used")
	return &state.State{}, false, err
}

func saveState(ctx context.Context, d Deps, sum *Summary, st *state.State) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := d.State.Save(sctx, st); err != nil {
		sum.StateErr = errors.Join(sum.StateErr, err)
		d.Log.Error().Err(err).Msg("state: not saved")
	}
}

// remember records what this run decided and saw in the state: each
// decided row's decision, what Cachet shows now, the hold; and it forgets
// the components of servers no longer in the config. An offline run (the
// guard) records only what it wrote: its decisions are no evidence, so no
// confirmation chain moves and no hold ends.
func remember(st *state.State, rows []Row, servers []config.Server, at time.Time, offline bool) {
	for _, r := range rows {
		wrote := r.Action == Updated || r.Action == WriteFailed || r.Action == Interrupted
		if !r.Decided() || (offline && !wrote) {
			continue
		}
		c := st.Component(r.Server.ComponentID, r.Server.Name)
		if !offline {
			c.Record(state.Decision{At: at, Status: r.Considered}, max(r.Server.Confirm.Worse, r.Server.Confirm.Better))
		}
		if !r.CurrentKnown {
			continue
		}
		c.LastAt, c.Hold = at, nil
		switch r.Action {
		case Updated:
			c.Last = r.Publish
		case WriteFailed, Interrupted:
			// The write may or may not have landed: a status that differs
			// next run must not be taken for one set by hand.
			c.Last = status.Unknown
		default:
			c.Last = r.Current
		}
		if r.Hold != nil {
			c.Hold = &state.Hold{Since: r.Hold.Since, Status: r.Hold.Status}
		}
	}
	keep := make(map[int]bool, len(servers))
	for _, s := range servers {
		keep[s.ComponentID] = true
	}
	st.Prune(func(id int) bool { return keep[id] })
}

// proveToken proves the token with one authenticated read, because Cachet
// serves a refused token's reads as a guest's: at once when a mapped
// component is missing from the listing (a guest does not see disabled
// ones), and then says which it is; otherwise at most once per
// TokenProofEvery when no write proved it. A refused token fails the run;
// a read that fails otherwise is only logged.
func proveToken(ctx context.Context, d Deps, sum *Summary, st *state.State, now time.Time, dryRun bool) {
	missing := sum.Count(UnknownComponent) > 0
	if sum.Count(Updated) > 0 {
		st.TokenProvedAt = now
		explainMissing(sum.Rows, false)
		return
	}
	if sum.CachetErr != nil || ctx.Err() != nil || (!missing && (dryRun || now.Sub(st.TokenProvedAt) < TokenProofEvery)) {
		return
	}
	err := d.Cachet.VerifyToken(ctx)
	var apiErr *cachet.Error
	switch {
	case err == nil:
		st.TokenProvedAt = now
		explainMissing(sum.Rows, false)
	case errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden):
		sum.TokenErr = err
		d.Log.Error().Err(err).Msg("the Cachet API token was refused: the next write will fail")
		explainMissing(sum.Rows, true)
	default:
		d.Log.Warn().Err(err).Msg("could not prove the Cachet API token this run")
	}
}

// explainMissing says why each mapped component missing from the listing
// is missing, once the token is proved (refused: Cachet listed as for a
// guest) or was accepted.
func explainMissing(rows []Row, refused bool) {
	for i := range rows {
		r := &rows[i]
		switch {
		case r.Action != UnknownComponent:
		case refused:
			r.Action = NotWritten
			r.Err = fmt.Errorf("server %q: component %d is not in Cachet's listing, which Cachet served as a guest's because it refused the token (a guest does not see disabled components): fix the token", r.Server.Name, r.Server.ComponentID)
		default:
			r.Err = fmt.Errorf("server %q: component %d does not exist in Cachet (the token was accepted, so disabled ones are listed too): fix component_id; `cachet-updater components` lists them", r.Server.Name, r.Server.ComponentID)
		}
	}
}
