// Package state keeps the memory between runs, as one JSON document saved
// whole to a file or to a database several probers share, and the locks that
// let one run at a time use it.
//
// The document, as the file holds it (the database holds the same):
//
//	{
//	  "version": 1,
//	  "config": "/etc/cachet-updater/config.yaml",
//	  "saved_at": "2026-11-25T06:35:02Z",
//	  "token_proved_at": "2026-11-25T06:35:01Z",
//	  "components": {
//	    "14": {
//	      "server": "Stream 1",
//	      "history": [{"at": "2026-11-25T06:35:01Z", "status": 4}],
//	      "last": 1,
//	      "last_at": "2026-11-25T06:32:01Z",
//	      "hold": {"since": "2026-11-25T05:35:02Z", "status": 3},
//	      "incident": {"id": 7, "status": 4}
//	    }
//	  }
//	}
//
// Statuses are Cachet's numbers (1 operational … 4 major outage; "last": 0
// or absent: not known); fields this build does not know are ignored. A
// document with a newer "version" is refused and left alone
// ([ErrNewerVersion]); "config" is the config that wrote a file, which
// another config refuses ([ErrOtherConfig]); "saved_by" the vantage that
// saved it in a database.
package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

// MaxHistory is how many decisions a component keeps: enough for any
// confirmation rule over the last runs, small enough to keep the file short.
const MaxHistory = 16

// Version is the document's format version; a change an older build would
// misread bumps it, so that the older build refuses the document.
const Version = 1

// State is what one run leaves for the next. The zero value is usable.
type State struct {
	// TokenProvedAt: the last authenticated read of Cachet that succeeded.
	TokenProvedAt time.Time          `json:"token_proved_at,omitzero"`
	Components    map[int]*Component `json:"components"`
}

// Component is the memory of one Cachet component.
type Component struct {
	Server  string     `json:"server"`            // its name when last seen, for people
	History []Decision `json:"history,omitempty"` // oldest first, at most MaxHistory
	// Last is the status this tool last wrote to or saw in Cachet, at LastAt;
	// status.Unknown: not known.
	Last     status.Status `json:"last,omitzero"`
	LastAt   time.Time     `json:"last_at,omitzero"`
	Hold     *Hold         `json:"hold,omitempty"`     // a hand-set status left alone
	Incident *Incident     `json:"incident,omitempty"` // this tool's open incident
}

// Incident is an open Cachet incident of this tool's, and the component
// status it last told about.
type Incident struct {
	ID     int           `json:"id"`
	Status status.Status `json:"status"`
}

// Decision is the status this tool decided for a component in one run.
type Decision struct {
	At     time.Time     `json:"at"`
	Status status.Status `json:"status"`
}

// Hold is a status someone set by hand in Cachet, left alone since this
// tool first saw it.
type Hold struct {
	Since  time.Time     `json:"since"`
	Status status.Status `json:"status"`
}

// Component returns the memory of component id, created when missing, with
// server as its name.
func (s *State) Component(id int, server string) *Component {
	if s.Components == nil {
		s.Components = make(map[int]*Component)
	}
	if s.Components[id] == nil {
		s.Components[id] = &Component{}
	}
	s.Components[id].Server = server
	return s.Components[id]
}

// Prune drops the components for which keep is false: those of servers no
// longer in the config.
func (s *State) Prune(keep func(id int) bool) {
	maps.DeleteFunc(s.Components, func(id int, _ *Component) bool { return !keep(id) })
}

// Record appends d and keeps the newest keep decisions (MaxHistory when keep
// is not in 1..MaxHistory): a rule that looks at the last keep needs no more.
func (c *Component) Record(d Decision, keep int) {
	if keep <= 0 || keep > MaxHistory {
		keep = MaxHistory
	}
	c.History = append(c.History, d)
	c.History = c.History[max(len(c.History)-keep, 0):]
}

// document is the state as saved, with what a person reading it wants to know.
type document struct {
	Version int       `json:"version"`
	Config  string    `json:"config,omitempty"`
	SavedBy string    `json:"saved_by,omitempty"`
	SavedAt time.Time `json:"saved_at"`
	State
}

// ErrNewerVersion is matched by Load's error for a document a newer
// cachet-updater wrote; it is left alone.
var ErrNewerVersion = errors.New("written by a newer cachet-updater")

func encode(st *State, d document) ([]byte, error) {
	d.Version, d.State = Version, *st
	data, _ := json.MarshalIndent(d, "", "  ") // cannot fail on these types
	return append(data, '\n'), validate(st)
}

// decode reads a document and the config that wrote it. Its error wraps
// ErrNewerVersion for a newer format; any other means it is not a state.
func decode(data []byte) (*State, string, error) {
	var d document
	err := json.Unmarshal(data, &d) // on a wrong type it goes on, and reads the version
	switch {
	case d.Version > Version:
		err = fmt.Errorf("format version %d, but this cachet-updater knows only version %d: %w; upgrade cachet-updater (it was left in place)", d.Version, Version, ErrNewerVersion)
	case len(bytes.TrimSpace(data)) == 0:
		err = errors.New("the document is empty")
	case int64(len(data)) > MaxFileSize:
		err = fmt.Errorf("larger than %d MiB", MaxFileSize>>20)
	case err != nil:
		off := int64(-1)
		if e, ok := errors.AsType[*json.SyntaxError](err); ok {
			off = e.Offset
		} else if e, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			off = e.Offset
		}
		if off >= 0 { // encoding/json gives only the offset
			err = fmt.Errorf("line %d: %w", bytes.Count(data[:min(off, int64(len(data)))], []byte("\n"))+1, err)
		}
	case d.Version < 1:
		err = errors.New(`no format version: expected a JSON object with "version": 1`)
	default:
		err = validate(&d.State)
	}
	return &d.State, d.Config, err
}

// validate checks what JSON types cannot (ids and statuses in range, no
// nulls), and keeps the newest MaxHistory decisions of each component.
func validate(st *State) error {
	published := func(s status.Status) bool { return s >= status.Operational && s <= status.MajorOutage }
	for id, c := range st.Components {
		if id < 1 || c == nil {
			return fmt.Errorf("component %d: want a positive id and an object", id)
		}
		c.History = c.History[max(len(c.History)-MaxHistory, 0):]
		bad := !c.Last.Valid() || c.Hold != nil && !published(c.Hold.Status) ||
			c.Incident != nil && (c.Incident.ID < 1 || !published(c.Incident.Status))
		for _, d := range c.History {
			bad = bad || !published(d.Status)
		}
		if bad {
			data, _ := json.Marshal(c)
			return fmt.Errorf("component %d: %s: want statuses 1-4 (last: 0-4) and a positive incident id", id, data)
		}
	}
	return nil
}

// DefaultPath returns the state file of a config that sets no state.path:
// <config name>-<8 hex of the SHA-256 of its resolved path>.json, so that two
// configs never share one and a config reached through a symbolic link
// shares its own; in /var/lib/cachet-updater for root, else
// $XDG_STATE_HOME/cachet-updater or ~/.local/state/cachet-updater.
func DefaultPath(configPath string, getenv func(string) string, euid int) (string, error) {
	return defaultPath(configPath, getenv, euid, false)
}

// defaultPath is the one rule for both default paths: root's folder, a
// user's in the first absolute one of $XDG_RUNTIME_DIR (for a lock),
// $XDG_STATE_HOME and ~/.local/state (relative ones are ignored, as the XDG
// spec asks); the name after the config.
func defaultPath(configPath string, getenv func(string) string, euid int, lock bool) (string, error) {
	root, name, key, dirs := "/var/lib", "%s.json", "state.path", []string{getenv("XDG_STATE_HOME"), filepath.Join(getenv("HOME"), ".local", "state")}
	if lock {
		root, name, key, dirs = "/run", "cachet-updater-%s.lock", "lock_file", append([]string{getenv("XDG_RUNTIME_DIR")}, dirs...)
	}
	if euid == 0 {
		dirs = []string{root}
	}
	dirs = slices.DeleteFunc(dirs, func(d string) bool { return !filepath.IsAbs(d) })
	abs, err := filepath.Abs(configPath)
	if err != nil || len(dirs) == 0 {
		return "", fmt.Errorf("no folder for the default %s of %s: none of XDG_STATE_HOME and HOME is set to an absolute path: set %[1]s", key, configPath)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	sum := sha256.Sum256([]byte(abs))
	base := strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs)) + "-" + hex.EncodeToString(sum[:4])
	return filepath.Join(dirs[0], "cachet-updater", fmt.Sprintf(name, base)), nil
}
