package cachet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/proxer/cachet-updater/internal/status"
)

// Component is the part of a Cachet component the updater needs.
type Component struct {
	ID   int
	Name string
	// Status may be outside 0..4 on Cachet 2.3, which does not validate.
	// Cachet 3.x's 5 (unknown) and 6 (under maintenance) are
	// status.Unknown.
	Status status.Status
	// Shown is what visitors see: on 3.x latest_status (the worse of the
	// status and the impact of an open incident; under maintenance it is
	// status.Unknown with Maintenance set), on 2.x the status.
	Shown   status.Status
	Enabled bool
	GroupID int // 0 = ungrouped
	// Maintenance is set when someone set the component's status to under
	// maintenance (6) in Cachet 3.x, and the updater leaves it alone.
	// Always false on 2.x. A schedule in progress (latest_status 6) does
	// not set it: Schedules says what schedules cover.
	Maintenance bool
	// Unreadable is the status as Cachet sent it when it is no number
	// (e.g. "abc"); Status is then status.Unknown. One such component
	// does not fail a listing. Client.Components returns it escaped,
	// shortened and without the token.
	Unreadable string
}

// UnmarshalJSON decodes Cachet's component JSON tolerantly: numbers may
// come as strings (Cachet 2.3 on older PHP), booleans as 0/1 or "0"/"1",
// group_id as null. Other fields (tags, meta, link, ...) are ignored.
// A missing or null "enabled" means enabled, Cachet's default, so that a
// later SetStatus does not disable the component. A Cachet 3.x JSON:API
// resource is decoded from its attributes, its group from the included
// relationship.
func (c *Component) UnmarshalJSON(b []byte) error {
	res, v3, err := jsonAPI(b)
	if err != nil {
		return fmt.Errorf("decoding component: %w", err)
	}
	if v3 {
		b = res.Attributes
	}
	var raw struct {
		ID           flexInt         `json:"id"`
		Name         *string         `json:"name"`
		Status       json.RawMessage `json:"status"`
		LatestStatus json.RawMessage `json:"latest_status"`
		Enabled      *flexBool       `json:"enabled"`
		GroupID      flexInt         `json:"group_id"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decoding component: %w", err)
	}
	var st flexInt
	*c = Component{ID: int(raw.ID), Enabled: true, GroupID: int(raw.GroupID)}
	if !isNull(raw.Status) && st.UnmarshalJSON(raw.Status) != nil {
		c.Unreadable = string(raw.Status)
	}
	c.Status = status.Status(st)
	c.Shown = c.Status
	if v3 {
		var latest flexInt // one that is no number only loses what the page shows
		_ = latest.UnmarshalJSON(raw.LatestStatus)
		c.fromV3(res, int(st), int(latest))
	}
	if raw.Name != nil {
		c.Name = *raw.Name
	}
	if raw.Enabled != nil {
		c.Enabled = bool(*raw.Enabled)
	}
	return nil
}

func (c *Component) fromV3(res resource, stored, latest int) {
	if c.ID == 0 {
		c.ID = int(res.ID)
	}
	c.Status, c.Maintenance = fromV3Status(stored)
	c.Shown = c.Status
	if latest > 0 { // before core#398 there was no latest_status
		c.Shown, _ = fromV3Status(latest)
	}
	if g := res.related("group"); len(g) > 0 {
		c.GroupID = g[0]
	}
}

// Group is a Cachet component group.
type Group struct {
	ID   int
	Name string
}

// UnmarshalJSON decodes Cachet's group JSON (2.x, or a 3.x JSON:API
// resource), tolerating a string id.
func (g *Group) UnmarshalJSON(b []byte) error {
	res, v3, err := jsonAPI(b)
	if err != nil {
		return fmt.Errorf("decoding component group: %w", err)
	}
	if v3 {
		b = res.Attributes
	}
	var raw struct {
		ID   flexInt `json:"id"`
		Name *string `json:"name"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decoding component group: %w", err)
	}
	*g = Group{ID: int(raw.ID)}
	if g.ID == 0 {
		g.ID = int(res.ID)
	}
	if raw.Name != nil {
		g.Name = *raw.Name
	}
	return nil
}

// flexInt accepts 2, 2.0, "2", "", null and Cachet 3.x's {"value":2}.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = 0
		return nil
	case len(b) > 0 && b[0] == '{':
		var obj struct {
			Value flexInt `json:"value"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		*f = obj.Value
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*f = 0
			return nil
		}
		return f.parse(s, string(b))
	default:
		return f.parse(string(b), string(b))
	}
}

func (f *flexInt) parse(s, orig string) error {
	if n, err := strconv.ParseInt(s, 10, 0); err == nil {
		*f = flexInt(n)
		return nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x != math.Trunc(x) || math.Abs(x) > math.MaxInt32 {
		return fmt.Errorf("cannot decode %s as an integer", orig)
	}
	*f = flexInt(x)
	return nil
}

// flexBool accepts true/false, 0/1, "0"/"1", "true"/"false" and null.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if len(s) > 1 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.ToLower(strings.TrimSpace(s))
	}
	switch s {
	case "true", "1":
		*f = true
	case "false", "0", "null", "":
		*f = false
	default:
		return fmt.Errorf("cannot decode %s as a boolean", b)
	}
	return nil
}
