package updater

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
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

// each calls fn for every row, write_concurrency rows at a time. Once ctx
// is done fn still sees every row, and starts nothing.
func (r *run) each(ctx context.Context, fn func(context.Context, *Row)) {
	rows := make(chan *Row)
	var wg sync.WaitGroup
	for range max(r.cfg.Cachet.WriteConcurrency, 1) {
		wg.Go(func() {
			for row := range rows {
				fn(ctx, row)
			}
		})
	}
	for i := range r.sum.Rows {
		rows <- &r.sum.Rows[i]
	}
	close(rows)
	wg.Wait()
}

// write writes a row's planned status, then, when Cachet could be read and
// this machine does not look offline, its incident and metric points. Once
// the run is interrupted no write starts; the client gives writes already
// sent a short grace and retries none. A failed incident or point write
// undoes nothing: the row records the problem and the next run catches up.
func (r *run) write(ctx context.Context, row *Row) {
	s := row.Server
	switch planned := row.Action == WouldUpdate && !r.o.DryRun; {
	case planned && ctx.Err() != nil:
		row.Action = Interrupted
	case planned:
		err := r.d.Cachet.SetStatus(ctx, s.ComponentID, row.Publish, row.Component.Enabled)
		if row.Action = Updated; err != nil {
			row.Action, row.Err = WriteFailed, fmt.Errorf("server %q: updating component %d: %w", s.Name, s.ComponentID, err)
			if ctx.Err() != nil {
				row.Action = Interrupted // the run ended first; the next run reads Cachet again
			}
		} else {
			r.d.Log.Info().Str("server", s.Name).Int("component", s.ComponentID).
				Str("from", row.Current.String()).Str("to", row.Publish.String()).Str("rule", row.Decision.Rule).Msg("status changed")
		}
	}
	if r.sum.CachetErr != nil || r.sum.Offline != "" || ctx.Err() != nil { // the prober's own outage tells nothing about the servers
		return
	}
	if r.cfg.Incidents.Enabled && (row.Action == Unchanged || row.Action == Updated || row.Action == WouldUpdate) {
		if err := r.incident(ctx, row); err != nil {
			row.Problems = append(row.Problems, fmt.Errorf("server %q: %w", s.Name, err))
		}
	}
	// The latency after an HTTP answer (a timeout or an error is the
	// status's business), and the report count when the source answered.
	if s.MetricID > 0 && row.Decision != nil && row.Probe.Class == "" {
		r.point(ctx, row, s.MetricID, float64(row.Probe.Latency.Microseconds())/1000, "latency (ms)")
	}
	if s.ReportsMetricID > 0 && row.Decision != nil && row.Reports != nil {
		r.point(ctx, row, s.ReportsMetricID, float64(*row.Reports), "report count")
	}
}

// incident opens, updates or resolves the incident of a row whose status
// is published (not pending, held or under maintenance), and remembers it:
// no new one below open_at nor for a disabled component, which visitors do
// not see. A run that lost its state, or whose POST landed unseen, finds
// the one open in Cachet and takes it on as of Cachet's status: never a
// second one.
func (r *run) incident(ctx context.Context, row *Row) error {
	ic, id, p := r.cfg.Incidents, row.Server.ComponentID, row.Publish
	r.mu.Lock()
	c := r.st.Component(id, row.Server.Name)
	r.mu.Unlock()
	open, note := c.Incident, func(format string, a ...any) { row.Notes = append(row.Notes, fmt.Sprintf(format, a...)) }
	if open == nil && (p < ic.OpenAt.S() || !row.Component.Enabled) || open != nil && p != status.Operational && p == open.Status {
		return nil
	}
	if open == nil && !r.o.DryRun {
		found, ok, err := r.d.Cachet.OpenIncident(ctx, id)
		if err != nil {
			return fmt.Errorf("looking for an open incident of component %d: %w", id, err)
		}
		if ok {
			open = &state.Incident{ID: found.ID, Status: row.Current}
		}
		if ok && p == open.Status {
			c.Incident = open
			note("found open incident %d", found.ID)
			return nil
		}
	}
	verb, key, tmpl, change := "update", "update", ic.Update, ""
	switch {
	case open == nil:
		verb, key, tmpl, change = "open", "message", ic.Message, fmt.Sprintf(" (%s)", p)
	case p == status.Operational:
		verb, key, tmpl = "resolve", "resolved", ic.Resolved
	default:
		change = fmt.Sprintf(" (%s → %s)", open.Status, p)
	}
	if r.o.DryRun && open == nil {
		note("would open an incident%s", change)
		return nil
	} else if r.o.DryRun {
		note("would %s incident %d%s", verb, open.ID, change)
		return nil
	}
	previous := cmp.Or(open, &state.Incident{Status: row.Current}).Status
	data := config.TemplateData{Server: row.Server.Name, Component: row.Component.Name, ComponentID: id,
		Status: p.Label(), StatusName: p.String(), State: p.Plain(), Previous: previous.Label(),
		PreviousState: previous.Plain(), Rule: row.Decision.Rule, URL: row.Server.DisplayURL(), Time: r.now.In(r.cfg.TimeZone.Loc)}
	msg, err := tmpl.Execute(data)
	if err != nil {
		return fmt.Errorf("incidents.%s: %w", key, err)
	}
	switch {
	case open == nil:
		name, err := ic.Name.Execute(data)
		if err != nil {
			return fmt.Errorf("incidents.name: %w", err)
		}
		inc, err := r.d.Cachet.CreateIncident(ctx, cachet.NewIncident{Name: name, Message: msg, Status: cachet.IncidentInvestigating,
			Visible: ic.Visible, Notify: ic.Notify, ComponentID: id, ComponentStatus: p})
		if err != nil {
			return fmt.Errorf("opening an incident: %w", err)
		}
		c.Incident = &state.Incident{ID: inc.ID, Status: p}
		note("opened incident %d%s", inc.ID, change)
		return nil
	case p == status.Operational:
		err = r.d.Cachet.ResolveIncident(ctx, open.ID, msg, ic.Notify, id)
	default:
		st := cachet.IncidentInvestigating
		if p < open.Status {
			st = cachet.IncidentWatching // getting better
		}
		err = r.d.Cachet.UpdateIncident(ctx, open.ID, cachet.IncidentUpdate{Status: st, Message: msg, Notify: ic.Notify, ComponentID: id, ComponentStatus: p})
	}
	next, done := &state.Incident{ID: open.ID, Status: p}, fmt.Sprintf("%sd incident %d%s", verb, open.ID, change)
	if p == status.Operational {
		next = nil
	}
	if errors.Is(err, cachet.ErrIncidentClosed) {
		// A person closed it: let go, or while the component is still bad
		// keep it closed and remembered, so none opens before it is
		// operational again.
		done, err = strings.TrimPrefix(err.Error(), "cachet: "), nil
	} else if err != nil {
		return fmt.Errorf("could not %s incident %d: %w", verb, open.ID, err)
	}
	c.Incident = next
	note("%s", done)
	return nil
}

func (r *run) point(ctx context.Context, row *Row, metric int, value float64, what string) {
	if r.o.DryRun {
		row.Notes = append(row.Notes, fmt.Sprintf("would post %s %g to metric %d", what, value, metric))
	} else if err := r.d.Cachet.AddMetricPoint(ctx, metric, value, r.now); err != nil {
		row.Problems = append(row.Problems, fmt.Errorf("server %q: posting its %s to metric %d: %w", row.Server.Name, what, metric, err))
	} else {
		row.Notes = append(row.Notes, fmt.Sprintf("posted %s %g to metric %d", what, value, metric))
	}
}

// remember records in the state each decided row's decision, what Cachet
// shows now and the hold, forgets the servers no longer in the config, and
// saves the state when it may. An offline run records only what it wrote:
// its decisions are no evidence, so no confirmation chain moves and no
// hold ends.
func (r *run) remember(ctx context.Context) {
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
		c.LastAt, c.Hold, c.Last = r.now, row.Hold, row.Current
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
	if !r.saveable {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := r.d.State.Save(ctx, r.st); err != nil {
		r.sum.StateErr = errors.Join(r.sum.StateErr, err)
	}
}

// proveToken proves the token with one authenticated read, unless a write
// proved it: at once when a mapped component is missing from the listing
// (a guest does not see disabled ones), to say which it is; otherwise at
// most once per TokenProofEvery. A refused token fails the run; another
// failure is only logged.
func (r *run) proveToken(ctx context.Context) {
	now, err := r.d.Now(), error(nil)
	if r.sum.Count(Updated) == 0 {
		if r.sum.CachetErr != nil || ctx.Err() != nil || r.sum.Count(UnknownComponent) == 0 && (r.o.DryRun || now.Sub(r.st.TokenProvedAt) < TokenProofEvery) {
			return
		}
		err = r.d.Cachet.VerifyToken(ctx)
	}
	var apiErr *cachet.Error
	switch {
	case err == nil:
		r.st.TokenProvedAt = now
	case errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden):
		r.sum.TokenErr = err
	default:
		r.d.Log.Warn().Err(err).Msg("could not prove the Cachet API token this run")
		return
	}
	// Why each mapped component missing from the listing is missing: Cachet
	// listed as for a guest, or there is no such component.
	for i := range r.sum.Rows {
		row, s := &r.sum.Rows[i], r.sum.Rows[i].Server
		switch {
		case row.Action != UnknownComponent:
		case r.sum.TokenErr != nil:
			row.Action = NotWritten
			row.Err = fmt.Errorf("server %q: component %d is not in Cachet's listing, which Cachet served as a guest's because it refused the token (a guest does not see disabled components): fix the token", s.Name, s.ComponentID)
		default:
			row.Err = fmt.Errorf("server %q: component %d does not exist in Cachet (the token was accepted, so disabled ones are listed too): fix component_id; `cachet-updater components` lists them", s.Name, s.ComponentID)
		}
	}
}
