package confirm

import (
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

// Held is a status set by hand in Cachet, left alone since Since.
type Held struct {
	Since  time.Time
	Status status.Status
}

// HandSet is what the hold rule looks at for one component.
type HandSet struct {
	Current  status.Status // Cachet's status now
	Last     status.Status // what this tool last wrote or saw there; Unknown: nothing yet
	Hold     *Held         // the hold so far; nil: none
	Decision status.Status // this run's decision
	Now      time.Time
	MaxHold  time.Duration // manual_hold; 0: never hold
}

// Hold reports whether the component is left alone this run, and the hold
// to remember (nil: none). A status that differs from what this tool last
// wrote or saw was set by a person (or another tool): it is held until
// MaxHold has passed since it was first seen, or until this tool's
// decision agrees with it. A status changed by hand again starts a new
// hold.
func Hold(in HandSet) (hold *Held, held bool) {
	if in.MaxHold <= 0 {
		return nil, false
	}
	h := in.Hold
	if h != nil && h.Status != in.Current {
		h = nil // changed again since the hold began
	}
	if h == nil {
		if in.Last == status.Unknown || in.Current == in.Last {
			return nil, false
		}
		h = &Held{Since: in.Now, Status: in.Current}
	}
	if in.Decision == h.Status || in.Now.Sub(h.Since) >= in.MaxHold {
		return nil, false
	}
	return h, true
}
