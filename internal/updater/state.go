package updater

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

// TokenProofEvery is how often a run that writes nothing proves the token
// with an authenticated read: Cachet serves a revoked token's reads as a
// guest's, so only a write or such a read notices it.
const TokenProofEvery = time.Hour

// saveTimeout bounds saving the state after the run's own context ended:
// what the run learned is still worth keeping.
const saveTimeout = 5 * time.Second

// load reads the state. A corrupt file was moved aside (not by a dry run's
// store): the run goes on with an empty history and fails. A file of
// another config is left in StateErr for Run to refuse. Any other problem
// leaves the file alone: the run goes on with no memory, fails, and does
// not save over it.
func (r *run) load(ctx context.Context) {
	st, err := r.d.State.Load(ctx)
	var corrupt *state.CorruptError
	switch {
	case err == nil:
		r.st, r.saveable = st, true
	case errors.Is(err, state.ErrOtherConfig):
		r.sum.StateErr = err
	case errors.As(err, &corrupt):
		r.d.Log.Error().Err(err).Msg("state: starting with an empty history")
		r.st, r.saveable, r.sum.StateErr = st, true, err
	default:
		r.sum.StateErr = fmt.Errorf("%w: this run keeps no memory and leaves the file as it is", err)
		r.d.Log.Error().Err(r.sum.StateErr).Msg("state: cannot be used")
		r.st = &state.State{}
	}
}

func (r *run) save(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := r.d.State.Save(ctx, r.st); err != nil {
		r.sum.StateErr = errors.Join(r.sum.StateErr, err)
		r.d.Log.Error().Err(err).Msg("state: not saved")
	}
}

// remember records in the state each decided row's decision, what Cachet
// shows now and the hold, and forgets the servers no longer in the config.
// An offline run records only what it wrote: its decisions are no
// evidence, so no confirmation chain moves and no hold ends.
func (r *run) remember() {
	offline := r.sum.Offline != ""
	for _, row := range r.sum.Rows {
		wrote := row.Action == Updated || row.Action == WriteFailed || row.Action == Interrupted
		if row.Decision == nil || (offline && !wrote) {
			continue
		}
		c := r.st.Component(row.Server.ComponentID, row.Server.Name)
		if !offline {
			c.Record(state.Decision{At: r.now, Status: row.Decision.Status}, max(row.Server.Confirm.Worse, row.Server.Confirm.Better))
		}
		if row.Component == nil {
			continue
		}
		c.LastAt, c.Hold, c.Last = r.now, row.Hold, row.Current()
		switch row.Action {
		case Updated:
			c.Last = row.Publish
		case WriteFailed, Interrupted:
			// The write may or may not have landed: a status that differs
			// next run must not be taken for one set by hand.
			c.Last = status.Unknown
		}
	}
	keep := make(map[int]bool, len(r.cfg.Servers))
	for _, s := range r.cfg.Servers {
		keep[s.ComponentID] = true
	}
	r.st.Prune(func(id int) bool { return keep[id] })
}

// proveToken proves the token with one authenticated read: at once when a
// mapped component is missing from the listing (a guest does not see
// disabled ones), to say which it is; otherwise at most once per
// TokenProofEvery when no write proved it. A refused token fails the run;
// another failure is only logged.
func (r *run) proveToken(ctx context.Context) {
	now, missing := r.d.Now(), r.sum.Count(UnknownComponent) > 0
	if r.sum.Count(Updated) > 0 {
		r.st.TokenProvedAt = now
		r.explainMissing(false)
		return
	}
	if r.sum.CachetErr != nil || ctx.Err() != nil || (!missing && (r.o.DryRun || now.Sub(r.st.TokenProvedAt) < TokenProofEvery)) {
		return
	}
	err := r.d.Cachet.VerifyToken(ctx)
	var apiErr *cachet.Error
	switch {
	case err == nil:
		r.st.TokenProvedAt = now
		r.explainMissing(false)
	case errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden):
		r.sum.TokenErr = err
		r.d.Log.Error().Err(err).Msg("the Cachet API token was refused: the next write will fail")
		r.explainMissing(true)
	default:
		r.d.Log.Warn().Err(err).Msg("could not prove the Cachet API token this run")
	}
}

// explainMissing says why each mapped component missing from the listing
// is missing, once the token was refused (Cachet listed as for a guest) or
// accepted.
func (r *run) explainMissing(refused bool) {
	for i := range r.sum.Rows {
		row, s := &r.sum.Rows[i], r.sum.Rows[i].Server
		switch {
		case row.Action != UnknownComponent:
		case refused:
			row.Action = NotWritten
			row.Err = fmt.Errorf("server %q: component %d is not in Cachet's listing, which Cachet served as a guest's because it refused the token (a guest does not see disabled components): fix the token", s.Name, s.ComponentID)
		default:
			row.Err = fmt.Errorf("server %q: component %d does not exist in Cachet (the token was accepted, so disabled ones are listed too): fix component_id; `cachet-updater components` lists them", s.Name, s.ComponentID)
		}
	}
}
