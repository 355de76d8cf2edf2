package updater

import (
	"fmt"
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
// that covers it, or Cachet 3.x's "under maintenance" status.
func maintenanceOf(name string, c cachet.Component, ws []maintenance.Window, schedules []cachet.Schedule, now time.Time) string {
	for _, w := range ws {
		if w.Covers(name) && w.Active(now) {
			if w.Weekly != nil {
				return "maintenance window " + w.Weekly.String()
			}
			return fmt.Sprintf("maintenance window %s to %s", w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
		}
	}
	for _, s := range schedules {
		if s.Covers(c.ID) {
			return fmt.Sprintf("Cachet schedule %d %q in progress", s.ID, s.Name)
		}
	}
	if c.Maintenance {
		return "under maintenance in Cachet"
	}
	return ""
}
