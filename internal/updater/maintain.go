package updater

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/maintenance"
)

// windows turns the config's maintenance windows into the pure rule's.
// The config has checked them: a weekly window parses and has its zone.
func windows(cfg []config.Window) []maintenance.Window {
	out := make([]maintenance.Window, 0, len(cfg))
	for _, w := range cfg {
		mw := maintenance.Window{Servers: w.Servers, Start: w.Start.Time, End: w.End.Time}
		if w.Weekly != "" {
			weekly, err := maintenance.ParseWeekly(string(w.Weekly), w.TimeZone.Loc)
			if err != nil {
				continue // unreachable: the config checked it
			}
			mw.Weekly = &weekly
		}
		out = append(out, mw)
	}
	return out
}

// maintenanceOf says why a server's component is under maintenance now,
// or "": a maintenance window of the config, a Cachet schedule in progress
// that covers it (scheduled, by server), or Cachet 3.x's "under
// maintenance" status.
func maintenanceOf(name string, c cachet.Component, ws []maintenance.Window, scheduled map[string]string, now time.Time) string {
	for _, w := range ws {
		if w.Covers(name) && w.Active(now) {
			if w.Weekly != nil {
				return "maintenance window " + w.Weekly.String()
			}
			return fmt.Sprintf("maintenance window %s to %s", w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
		}
	}
	if why := scheduled[name]; why != "" {
		return why
	}
	if c.Maintenance {
		return "under maintenance in Cachet"
	}
	return ""
}

// scheduled says which servers the Cachet schedules in progress cover, by
// maintenance.cachet_schedules, and what the run notes about them: a 2.4
// schedule that names no server, one without an end (it covers at most
// max_open after its start) and one past that. components are Cachet's,
// for the names of the servers' components.
func scheduled(schedules []cachet.Schedule, servers []config.Server, components []cachet.Component, m config.Maintenance, now time.Time) (why map[string]string, notes []string) {
	names := make(map[int]string, len(components))
	for _, c := range components {
		names[c.ID] = c.Name
	}
	why = map[string]string{}
	for _, s := range schedules {
		label := fmt.Sprintf("Cachet schedule %d %q", s.ID, s.Name)
		noEnd, until := s.CompletedAt.IsZero(), s.ScheduledAt.Add(m.MaxOpen.D())
		if noEnd && !now.Before(until) {
			notes = append(notes, fmt.Sprintf("%s has no end and started %s, more than maintenance.max_open (%s) ago: it covers nothing; complete it or give it an end in Cachet",
				label, s.ScheduledAt.Format(time.RFC3339), m.MaxOpen))
			continue
		}
		inProgress := label + " in progress"
		if noEnd {
			inProgress += ", no end: until " + until.Format(time.RFC3339) + " at most"
		}
		var covered []string
		for _, sv := range servers {
			if covers(s, m.CachetSchedules, sv, names[sv.ComponentID]) {
				covered = append(covered, sv.Name)
				if why[sv.Name] == "" {
					why[sv.Name] = inProgress
				}
			}
		}
		if m.CachetSchedules == config.SchedulesAll {
			covered = []string{"every server"}
		}
		switch {
		case len(covered) == 0 && !s.ListsComponents:
			notes = append(notes, label+` names no server: it covers none; name a server or its component in the schedule's name or message ("Stream 8: Wartung"), or set maintenance.cachet_schedules: all`)
		case len(covered) > 0 && noEnd:
			notes = append(notes, fmt.Sprintf("%s has no end: it covers %s until %s at most (maintenance.max_open: %s); give it an end in Cachet",
				label, strings.Join(covered, ", "), until.Format(time.RFC3339), m.MaxOpen))
		}
	}
	return why, notes
}

// covers reports whether schedule s covers a server whose component Cachet
// calls component. A 2.4 schedule lists no components: under named it
// covers the servers whose server or component name it names.
func covers(s cachet.Schedule, mode config.Schedules, server config.Server, component string) bool {
	switch {
	case mode == config.SchedulesAll:
		return true
	case s.ListsComponents:
		return slices.Contains(s.ComponentIDs, server.ComponentID)
	}
	text := s.Name + "\n" + s.Message
	return maintenance.Names(text, server.Name) || maintenance.Names(text, component)
}
