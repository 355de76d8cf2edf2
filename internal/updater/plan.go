package updater

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/maintenance"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

// plan settles every decided row against Cachet's listing: what the rules
// (maintenance, the guard, a hand-set hold, confirmation) publish, and
// whether that is a write. maintained says why servers are under
// maintenance.
func (r *run) plan(maintained map[string]string) {
	for i := range r.sum.Rows {
		row := &r.sum.Rows[i]
		c, s := r.components[row.Server.ComponentID], row.Server
		switch {
		case row.Action != "": // interrupted or not probed
		case r.sum.CachetErr != nil:
			row.Action = NotWritten
		case c == nil && r.short != nil:
			row.Action = NotWritten
			row.Err = fmt.Errorf("server %q: component %d is not in the listing, but %v: it may exist beyond what Cachet listed, so it is left alone; check Cachet's pagination (a proxy or cache in front of the API?)", s.Name, s.ComponentID, r.short)
		case c == nil:
			row.Action = UnknownComponent
			row.Err = fmt.Errorf("server %q: component %d does not exist in Cachet (or the token cannot see it): fix component_id; `cachet-updater components` lists them", s.Name, s.ComponentID)
		case c.Unreadable != "": // a warning, not a failure: the rest are corrected
			row.Action = NotWritten
			row.Notes = append(row.Notes, fmt.Sprintf("warning: Cachet sent the status of component %d as %s, which is no status: it is left alone; set its status in Cachet's dashboard", s.ComponentID, c.Unreadable))
		default:
			row.Component, row.Current, row.Publish = c, c.Status, c.Status
			if row.Maintenance = maintained[s.Name]; row.Maintenance != "" {
				row.Action = Maintenance
			} else {
				r.settle(row)
			}
		}
	}
}

// settle applies, in order, the guard, a hand-set hold and confirmation to
// a row whose Cachet status is known.
func (r *run) settle(row *Row) {
	cur, d, offline := row.Current, row.Decision, r.sum.Offline != ""
	if (offline || row.NoQuorum) && d.Probe > cur {
		// Only the reports, which come from users, may still make it worse.
		d.Status, d.Rule, row.Guarded = max(cur, d.Reports), d.ReportsRule+" (guarded: the probe was not counted)", true
	}
	entry := cmp.Or(r.st.Components[row.Server.ComponentID], &state.Component{})
	agree := d.Status
	if offline {
		agree = status.Unknown // the prober's own outage agrees with no hand-set status
	}
	row.Hold = hold(cur, entry.Last, entry.Hold, agree, r.now, r.cfg.ManualHold.D())
	history := append(slices.Clip(entry.History), state.Decision{At: r.now, Status: d.Status})
	row.Publish, row.Pending = confirm(history, cur, row.Server.Confirm)
	switch {
	case row.Hold != nil:
		row.Action, row.Publish, row.Pending, row.HoldUntil = Held, cur, nil, row.Hold.Since.Add(r.cfg.ManualHold.D())
	case row.Publish != cur:
		row.Action = WouldUpdate
	case row.Pending != nil:
		row.Action = Pending
	default:
		row.Action = Unchanged
	}
}

// maintained says which servers are under maintenance now, by name, and
// why: a window of the config, a Cachet schedule in progress that covers
// them (by maintenance.cachet_schedules), or Cachet 3.x's "under
// maintenance". It notes once a 2.4 schedule that names no server, one
// without an end (it covers at most max_open after its start) and one past
// that.
func (r *run) maintained() map[string]string {
	m, why := r.cfg.Maintenance, map[string]string{}
	note := func(format string, a ...any) { r.sum.Notes = append(r.sum.Notes, fmt.Sprintf(format, a...)) }
	for _, w := range m.Windows {
		active := !r.now.Before(w.Start.Time) && r.now.Before(w.End.Time)
		reason := fmt.Sprintf("maintenance window %s to %s", w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
		if weekly, err := maintenance.ParseWeekly(string(w.Weekly), w.TimeZone.Loc); w.Weekly != "" {
			active, reason = err == nil && weekly.Active(r.now), "maintenance window "+weekly.String()
		}
		for _, s := range r.cfg.Servers {
			if active && (len(w.Servers) == 0 || slices.Contains(w.Servers, s.Name)) {
				why[s.Name] = cmp.Or(why[s.Name], reason)
			}
		}
	}
	for _, s := range r.schedules {
		label := fmt.Sprintf("Cachet schedule %d %q", s.ID, s.Name)
		noEnd, until := s.CompletedAt.IsZero(), s.ScheduledAt.Add(m.MaxOpen.D())
		if noEnd && !r.now.Before(until) {
			note("%s has no end and started %s, more than maintenance.max_open (%s) ago: it covers nothing; complete it or give it an end in Cachet", label, s.ScheduledAt.Format(time.RFC3339), m.MaxOpen)
			continue
		}
		inProgress := label + " in progress"
		if noEnd {
			inProgress += ", no end: until " + until.Format(time.RFC3339) + " at most"
		}
		var covered []string
		for _, sv := range r.cfg.Servers {
			if covers(s, m.CachetSchedules, sv, r.components[sv.ComponentID]) {
				covered = append(covered, sv.Name)
				why[sv.Name] = cmp.Or(why[sv.Name], inProgress)
			}
		}
		if m.CachetSchedules == config.SchedulesAll {
			covered = []string{"every server"}
		}
		switch {
		case len(covered) == 0 && !s.ListsComponents:
			note(`%s names no server: it covers none; name a server or its component in the schedule's name or message ("Stream 8: Wartung"), or set maintenance.cachet_schedules: all`, label)
		case len(covered) > 0 && noEnd:
			note("%s has no end: it covers %s until %s at most (maintenance.max_open: %s); give it an end in Cachet", label, strings.Join(covered, ", "), until.Format(time.RFC3339), m.MaxOpen)
		}
	}
	for _, s := range r.cfg.Servers {
		if c := r.components[s.ComponentID]; c != nil && c.Maintenance {
			why[s.Name] = cmp.Or(why[s.Name], "under maintenance in Cachet")
		}
	}
	return why
}

// covers reports whether schedule s covers server, whose component Cachet
// calls component. A 2.4 schedule lists no components: it covers the
// servers whose name or component's name it names.
func covers(s cachet.Schedule, mode config.Schedules, server config.Server, component *cachet.Component) bool {
	switch {
	case mode == config.SchedulesAll:
		return true
	case s.ListsComponents:
		return slices.Contains(s.ComponentIDs, server.ComponentID)
	}
	text := s.Name + "\n" + s.Message
	return maintenance.Names(text, server.Name) || component != nil && maintenance.Names(text, component.Name)
}
