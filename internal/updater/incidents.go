package updater

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

// incidents opens, updates and resolves this tool's incidents after the
// component writes, on published statuses only: nothing for a pending,
// held or maintenance row, nor where a write failed or Cachet's status is
// unknown; no new incident for a disabled component, which visitors do
// not see. A failed incident write undoes nothing: the row records the
// problem and the next run catches up (the state keeps the incident).
func (r *run) incidents(ctx context.Context) {
	ic := r.cfg.Incidents
	if !ic.Enabled {
		return
	}
	var mu sync.Mutex // guards r.st's components
	r.each(ctx, func(row *Row) {
		if row.Action != Unchanged && row.Action != Updated && row.Action != WouldUpdate || ctx.Err() != nil {
			return // an interrupted run's next run catches up
		}
		mu.Lock()
		c := r.st.Component(row.Server.ComponentID, row.Server.Name)
		mu.Unlock()
		p, open := row.Publish, c.Incident
		if open == nil && (p < ic.OpenAt.S() || !row.Component.Enabled) || open != nil && p != status.Operational && p == open.Status {
			return
		}
		next, note, err := r.incident(ctx, row, open, p)
		if note != "" {
			row.Notes = append(row.Notes, note)
		}
		if err != nil {
			row.Problems = append(row.Problems, fmt.Errorf("server %q: %w", row.Server.Name, err))
			r.d.Log.Error().Err(err).Str("server", row.Server.Name).Int("component", row.Server.ComponentID).Msg("incident write failed")
		} else if !r.o.DryRun {
			c.Incident = next
		}
	})
}

// incident opens, updates or resolves the incident of a row, and returns
// the one to remember. A run that lost its state, or whose POST landed
// unseen, finds the one open in Cachet and takes it on as of Cachet's
// status: never a second one.
func (r *run) incident(ctx context.Context, row *Row, open *state.Incident, published status.Status) (next *state.Incident, note string, err error) {
	ic, id := r.cfg.Incidents, row.Server.ComponentID
	if open == nil && !r.o.DryRun {
		found, ok, err := r.d.Cachet.OpenIncident(ctx, id)
		if err != nil {
			return nil, "", fmt.Errorf("looking for an open incident of component %d: %w", id, err)
		}
		if ok {
			open = &state.Incident{ID: found.ID, Status: row.Current()}
			if published == open.Status {
				return open, fmt.Sprintf("found open incident %d", found.ID), nil
			}
		}
	}
	previous, what := row.Current(), ""
	if open != nil {
		previous = open.Status
	}
	data := config.TemplateData{Server: row.Server.Name, Component: row.Component.Name, ComponentID: id,
		Status: published.Label(), StatusName: published.String(), State: published.Plain(), Previous: previous.Label(),
		PreviousState: previous.Plain(), Rule: row.Decision.Rule, URL: row.Server.DisplayURL(), Time: r.now.In(r.cfg.TimeZone.Loc)}
	text := func(key string, t config.Template) string {
		s, e := t.Execute(data)
		if e != nil && err == nil {
			err = fmt.Errorf("incidents.%s: %w", key, e)
		}
		return s
	}
	switch {
	case open == nil && r.o.DryRun:
		return nil, fmt.Sprintf("would open an incident (%s)", published), nil
	case open == nil:
		name, msg := text("name", ic.Name), text("message", ic.Message)
		if err != nil {
			return nil, "", err
		}
		inc, err := r.d.Cachet.CreateIncident(ctx, cachet.NewIncident{Name: name, Message: msg, Status: cachet.IncidentInvestigating,
			Visible: ic.Visible, Notify: ic.Notify, ComponentID: id, ComponentStatus: published})
		if err != nil {
			return nil, "", fmt.Errorf("opening an incident: %w", err)
		}
		return &state.Incident{ID: inc.ID, Status: published}, fmt.Sprintf("opened incident %d (%s)", inc.ID, published), nil
	case published == status.Operational && r.o.DryRun:
		return open, fmt.Sprintf("would resolve incident %d", open.ID), nil
	case published == status.Operational:
		if msg := text("resolved", ic.Resolved); err == nil {
			err = r.d.Cachet.ResolveIncident(ctx, open.ID, msg, ic.Notify, id)
		}
		what, next, note = "resolving", nil, fmt.Sprintf("resolved incident %d", open.ID)
	case r.o.DryRun:
		return open, fmt.Sprintf("would update incident %d (%s → %s)", open.ID, open.Status, published), nil
	default:
		st := cachet.IncidentInvestigating
		if published < open.Status {
			st = cachet.IncidentWatching // getting better
		}
		if msg := text("update", ic.Update); err == nil {
			err = r.d.Cachet.UpdateIncident(ctx, open.ID, cachet.IncidentUpdate{Status: st, Message: msg, Notify: ic.Notify, ComponentID: id, ComponentStatus: published})
		}
		what, next, note = "updating", &state.Incident{ID: open.ID, Status: published}, fmt.Sprintf("updated incident %d (%s → %s)", open.ID, open.Status, published)
	}
	switch {
	case errors.Is(err, cachet.ErrIncidentClosed):
		// A person closed it: let go, or while the component is still bad
		// keep it closed and remembered, so none opens before it is
		// operational again.
		return next, strings.TrimPrefix(err.Error(), "cachet: "), nil
	case err != nil:
		return open, "", fmt.Errorf("%s incident %d: %w", what, open.ID, err)
	}
	return next, note, nil
}

// points posts each decided server's metric points: the probe's latency in
// ms to metric_id after an HTTP answer (a timeout or an error is the
// status's business), and the report count to reports_metric_id when the
// source answered. A failed point is a problem of the row, never a reason
// to undo anything.
func (r *run) points(ctx context.Context) {
	r.each(ctx, func(row *Row) {
		if ctx.Err() != nil || row.Decision == nil {
			return
		}
		if id := row.Server.MetricID; id > 0 && row.Probe.Class == "" {
			r.point(ctx, row, id, float64(row.Probe.Latency.Microseconds())/1000, "latency (ms)")
		}
		if id := row.Server.ReportsMetricID; id > 0 && row.Reports != nil {
			r.point(ctx, row, id, float64(*row.Reports), "report count")
		}
	})
}

func (r *run) point(ctx context.Context, row *Row, metric int, value float64, what string) {
	if r.o.DryRun {
		row.Notes = append(row.Notes, fmt.Sprintf("would post %s %g to metric %d", what, value, metric))
		return
	}
	if err := r.d.Cachet.AddMetricPoint(ctx, metric, value, r.now); err != nil {
		row.Problems = append(row.Problems, fmt.Errorf("server %q: posting its %s to metric %d: %w", row.Server.Name, what, metric, err))
		r.d.Log.Error().Err(err).Str("server", row.Server.Name).Int("metric", metric).Msg("metric point failed")
		return
	}
	row.Notes = append(row.Notes, fmt.Sprintf("posted %s %g to metric %d", what, value, metric))
}
