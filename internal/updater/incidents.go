package updater

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

// incidentAction is what the incident stage does for one row.
type incidentAction int

const (
	noIncident incidentAction = iota
	openIncident
	updateIncident
	resolveIncident
)

// published is the status the page shows after the run: what was written,
// else what Cachet showed.
func (r Row) published() status.Status {
	if r.Action == Updated || r.Action == WouldUpdate {
		return r.Publish
	}
	return r.Current
}

// incidentFor decides the incident action for a row from the published
// status and the incident this tool has open for the component. It acts on
// published statuses only: nothing for a pending, held or maintenance row,
// nor where the component's write failed or Cachet's status is unknown. A
// disabled component, which visitors do not see, gets no new incident.
func incidentFor(r Row, open *state.Incident, openAt status.Status) incidentAction {
	switch r.Action {
	case Unchanged, Updated, WouldUpdate:
	default:
		return noIncident
	}
	p := r.published()
	switch {
	case open == nil && p >= openAt && r.Enabled:
		return openIncident
	case open != nil && p == status.Operational:
		return resolveIncident
	case open != nil && p != open.Status:
		return updateIncident
	}
	return noIncident
}

// incidents opens, updates and resolves this tool's incidents, at most
// write_concurrency at a time, after the component writes. A failed
// incident write undoes nothing: the row records the problem, the run
// exits 1, and the next run catches up (the state keeps the incident).
func incidents(ctx context.Context, d Deps, cfg *config.Config, rows []Row, st *state.State, dryRun bool, now time.Time) {
	ic := cfg.Incidents
	if !ic.Enabled {
		return
	}
	var mu sync.Mutex // guards st's components map
	each(ctx, cfg.Cachet.WriteConcurrency, rows, func(r *Row) {
		if ctx.Err() != nil {
			return // the run ended: the next run catches up
		}
		mu.Lock()
		entry := st.Components[r.Server.ComponentID]
		var open *state.Incident
		if entry != nil && entry.Incident != nil {
			c := *entry.Incident
			open = &c
		}
		mu.Unlock()
		action := incidentFor(*r, open, ic.OpenAt.S())
		if action == noIncident {
			return
		}
		next, note, err := incident(ctx, d, ic, *r, open, action, dryRun, now)
		if note != "" {
			r.Notes = append(r.Notes, note)
		}
		if err != nil {
			r.Problems = append(r.Problems, fmt.Errorf("server %q: %w", r.Server.Name, err))
			d.Log.Error().Err(err).Str("server", r.Server.Name).Int("component", r.Server.ComponentID).Msg("incident write failed")
			return
		}
		if dryRun {
			return
		}
		mu.Lock()
		st.Component(r.Server.ComponentID, r.Server.Name).Incident = next
		mu.Unlock()
	})
}

// incident carries out one action and returns the incident to remember.
func incident(ctx context.Context, d Deps, ic config.Incidents, r Row, open *state.Incident, action incidentAction, dryRun bool, now time.Time) (*state.Incident, string, error) {
	p := r.published()
	data := config.TemplateData{
		Server: r.Server.Name, Component: r.ComponentName, ComponentID: r.Server.ComponentID,
		Status: p.Label(), StatusName: p.String(), State: p.Plain(), Previous: r.Current.Label(), PreviousState: r.Current.Plain(),
		Rule: r.Rule(), URL: r.Server.DisplayURL(), Time: now,
	}
	if open != nil {
		data.Previous, data.PreviousState = open.Status.Label(), open.Status.Plain()
	}
	switch action {
	case openIncident:
		if dryRun {
			return nil, fmt.Sprintf("would open an incident (%s)", p), nil
		}
		// A run that lost its state, or whose POST landed unseen, finds the
		// incident open in Cachet and takes it on, as of Cachet's status:
		// never a second one.
		found, ok, err := d.Cachet.OpenIncident(ctx, r.Server.ComponentID)
		if err != nil {
			return nil, "", fmt.Errorf("looking for an open incident of component %d: %w", r.Server.ComponentID, err)
		}
		if ok {
			taken := &state.Incident{ID: found.ID, Status: r.Current}
			if p == r.Current {
				return taken, fmt.Sprintf("found open incident %d", found.ID), nil
			}
			return incident(ctx, d, ic, r, taken, updateIncident, dryRun, now)
		}
		name, err := ic.Name.Execute(data)
		if err != nil {
			return nil, "", fmt.Errorf("incidents.name: %w", err)
		}
		msg, err := ic.Message.Execute(data)
		if err != nil {
			return nil, "", fmt.Errorf("incidents.message: %w", err)
		}
		inc, err := d.Cachet.CreateIncident(ctx, cachet.NewIncident{
			Name: name, Message: msg, Status: cachet.IncidentInvestigating,
			Visible: ic.Visible, Notify: ic.Notify, ComponentID: r.Server.ComponentID, ComponentStatus: p,
		})
		if err != nil {
			return nil, "", fmt.Errorf("opening an incident: %w", err)
		}
		return &state.Incident{ID: inc.ID, Status: p}, fmt.Sprintf("opened incident %d (%s)", inc.ID, p), nil
	case updateIncident:
		if dryRun {
			return open, fmt.Sprintf("would update incident %d (%s → %s)", open.ID, open.Status, p), nil
		}
		msg, err := ic.Update.Execute(data)
		if err != nil {
			return open, "", fmt.Errorf("incidents.update: %w", err)
		}
		st := cachet.IncidentInvestigating
		if p < open.Status {
			st = cachet.IncidentWatching // getting better
		}
		err = d.Cachet.UpdateIncident(ctx, open.ID, cachet.IncidentUpdate{Status: st, Message: msg, Notify: ic.Notify,
			ComponentID: r.Server.ComponentID, ComponentStatus: p})
		if errors.Is(err, cachet.ErrIncidentClosed) {
			// A person closed it while the component is still bad: it stays
			// closed, and remembered, so that none opens before the
			// component is operational again.
			return &state.Incident{ID: open.ID, Status: p}, strings.TrimPrefix(err.Error(), "cachet: "), nil
		}
		if err != nil {
			return open, "", fmt.Errorf("updating incident %d: %w", open.ID, err)
		}
		return &state.Incident{ID: open.ID, Status: p}, fmt.Sprintf("updated incident %d (%s → %s)", open.ID, open.Status, p), nil
	case resolveIncident:
		if dryRun {
			return open, fmt.Sprintf("would resolve incident %d", open.ID), nil
		}
		msg, err := ic.Resolved.Execute(data)
		if err != nil {
			return open, "", fmt.Errorf("incidents.resolved: %w", err)
		}
		err = d.Cachet.ResolveIncident(ctx, open.ID, msg, ic.Notify, r.Server.ComponentID)
		if errors.Is(err, cachet.ErrIncidentClosed) {
			return nil, strings.TrimPrefix(err.Error(), "cachet: "), nil // closed by a person: let go
		}
		if err != nil {
			return open, "", fmt.Errorf("resolving incident %d: %w", open.ID, err)
		}
		return nil, fmt.Sprintf("resolved incident %d", open.ID), nil
	}
	return open, "", nil
}
