package state

import (
	"maps"
	"slices"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

// MaxHistory is how many decisions a component keeps: enough for any
// confirmation rule over the last runs, small enough to keep the file short.
const MaxHistory = 16

// State is what one run leaves for the next. The zero value is usable.
type State struct {
	// TokenProvedAt is the time of the last authenticated read of Cachet that
	// succeeded; zero: never.
	TokenProvedAt time.Time `json:"token_proved_at,omitzero"`
	// Components holds the memory per Cachet component id.
	Components map[int]*Component `json:"components"`
}

// Component is the memory of one Cachet component.
type Component struct {
	// Server is the server's name when last seen, for people reading the file.
	Server string `json:"server"`
	// History holds this tool's decisions, oldest first, at most MaxHistory.
	History []Decision `json:"history,omitempty"`
	// Last is the status this tool last wrote to or saw in Cachet for the
	// component; status.Unknown (0): not known.
	Last status.Status `json:"last,omitzero"`
	// LastAt is when Last was written or seen.
	LastAt time.Time `json:"last_at,omitzero"`
	// Hold is a hand-set status being left alone; nil: none.
	Hold *Hold `json:"hold,omitempty"`
	// Incident is the Cachet incident this tool opened for the component
	// and has not resolved yet; nil: none.
	Incident *Incident `json:"incident,omitempty"`
}

// Incident is an open Cachet incident of this tool's.
type Incident struct {
	ID int `json:"id"`
	// Status is the component status the incident last told about.
	Status status.Status `json:"status"`
}

// Decision is the status this tool decided for a component in one run.
type Decision struct {
	At     time.Time     `json:"at"`
	Status status.Status `json:"status"`
}

// Hold is a status someone set by hand in Cachet, which this tool leaves
// alone since the time it first saw it.
type Hold struct {
	Since  time.Time     `json:"since"`
	Status status.Status `json:"status"`
}

// Component returns the memory of component id, creating it when missing,
// and records server as its name.
func (s *State) Component(id int, server string) *Component {
	if s.Components == nil {
		s.Components = make(map[int]*Component)
	}
	c := s.Components[id]
	if c == nil {
		c = &Component{}
		s.Components[id] = c
	}
	c.Server = server
	return c
}

// Prune drops the components for which keep returns false: those of servers
// no longer in the config, whose memory would otherwise grow forever.
func (s *State) Prune(keep func(id int) bool) {
	maps.DeleteFunc(s.Components, func(id int, _ *Component) bool { return !keep(id) })
}

// Record appends d to the history and drops the oldest decisions beyond
// MaxHistory, or beyond keep when 0 < keep < MaxHistory: a rule that looks
// at the last keep decisions needs no more, and the file stays small.
func (c *Component) Record(d Decision, keep int) {
	c.History = append(c.History, d)
	if keep <= 0 || keep > MaxHistory {
		keep = MaxHistory
	}
	c.trim(keep)
}

func (c *Component) trim(keep int) {
	if n := len(c.History) - keep; n > 0 {
		c.History = slices.Delete(c.History, 0, n)
	}
}
