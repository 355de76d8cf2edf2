package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

// Version is the format version this code reads and writes. A change that an
// older build would misread bumps it: an older build then refuses the file
// instead of guessing.
const Version = 1

// fileV1 is the file as written: the state plus what a person reading it
// wants to know (which config it belongs to, when it was written).
type fileV1 struct {
	Version int       `json:"version"`
	Config  string    `json:"config"`
	SavedAt time.Time `json:"saved_at"`
	State
}

// errNewer is returned by decode for a file written by a newer build.
type errNewer struct{ version int }

func (e *errNewer) Error() string { return fmt.Sprintf("format version %d", e.version) }

func encode(st *State, config string, savedAt time.Time) ([]byte, error) {
	if err := validate(st); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(fileV1{Version: Version, Config: config, SavedAt: savedAt, State: *st}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// decode parses a file and returns the state and the config that wrote it.
// It returns *errNewer for a version it does not know, and any other error
// for a file that is not a state file of this version.
func decode(data []byte) (*State, string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, "", errors.New("the file is empty")
	}
	// The version first: a newer version may have any shape, and must not be
	// called corrupt for it.
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, "", jsonError(data, err)
	}
	switch {
	case head.Version > Version:
		return nil, "", &errNewer{head.Version}
	case head.Version < 1:
		return nil, "", errors.New(`no format version: expected a JSON object with "version": 1`)
	}
	var f fileV1
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, "", jsonError(data, err)
	}
	if err := validate(&f.State); err != nil {
		return nil, "", err
	}
	st := f.State
	if st.Components == nil {
		st.Components = make(map[int]*Component)
	}
	for _, c := range st.Components {
		c.trim(MaxHistory)
	}
	return &st, f.Config, nil
}

// validate checks what JSON types cannot: ids and statuses in range, no
// null entries.
func validate(st *State) error {
	for id, c := range st.Components {
		if id < 1 {
			return fmt.Errorf("component id %d: ids are positive", id)
		}
		if c == nil {
			return fmt.Errorf("component %d: null instead of an object", id)
		}
		if !c.Last.Valid() {
			return fmt.Errorf("component %d: last status %d is not 0-4", id, int(c.Last))
		}
		for i, d := range c.History {
			if !published(d.Status) {
				return fmt.Errorf("component %d: history[%d]: status %d is not 1-4", id, i, int(d.Status))
			}
		}
		if c.Hold != nil && !published(c.Hold.Status) {
			return fmt.Errorf("component %d: hold status %d is not 1-4", id, int(c.Hold.Status))
		}
		if c.Incident != nil && (c.Incident.ID < 1 || !published(c.Incident.Status)) {
			return fmt.Errorf("component %d: incident %d with status %d: want a positive id and a status 1-4", id, c.Incident.ID, int(c.Incident.Status))
		}
	}
	return nil
}

// published reports whether s is one of the four statuses Cachet shows.
func published(s status.Status) bool { return s >= status.Operational && s <= status.MajorOutage }

// jsonError adds the line to encoding/json's errors, which give only a byte
// offset.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		if syn.Offset >= int64(len(data)) {
			return fmt.Errorf("line %d: truncated JSON: %w", lineAt(data, syn.Offset), err)
		}
		return fmt.Errorf("line %d: %w", lineAt(data, syn.Offset), err)
	case errors.As(err, &typ):
		return fmt.Errorf("line %d: %w", lineAt(data, typ.Offset), err)
	}
	return err
}

func lineAt(data []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(data)))
	return bytes.Count(data[:offset], []byte("\n")) + 1
}
