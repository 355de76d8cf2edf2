package cachet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// timeLayout is how both APIs render timestamps, without a zone. Cachet
// 2.x renders them in the Time-Zone header's zone, which the client sets
// to UTC; Cachet 3.x in the app's timezone (Options.TimeZone), so a 3.x
// answer's times are decoded as UTC and then moved by inZone.
const timeLayout = "2006-01-02 15:04:05"

// zoned is a 3.x answer with times; inZone reads their wall clock in loc.
type zoned interface{ inZone(loc *time.Location) }

func wallIn(t time.Time, loc *time.Location) time.Time {
	if t.IsZero() {
		return t
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc).UTC()
}

// inZone moves the times of a 3.x answer v into the client's zone.
func (c *Client) inZone(api string, v zoned) {
	if api == APIv3 {
		v.inZone(c.zone)
	}
}

// flexFloat accepts 1.5, "1.5" (a decimal cast) and null.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if len(s) > 1 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
	}
	if s == "null" || s == "" {
		*f = 0
		return nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("cannot decode %s as a number", b)
	}
	*f = flexFloat(x)
	return nil
}

// cachetTime accepts "2006-01-02 15:04:05" (taken as UTC), RFC 3339,
// null, and Cachet 3.x's {"human": ..., "string": ...}. Anything else is
// the zero time: a timestamp is informative, never worth failing a list.
type cachetTime time.Time

func (t *cachetTime) UnmarshalJSON(b []byte) error {
	*t = cachetTime{}
	b = bytes.TrimSpace(b)
	var s string
	if len(b) > 0 && b[0] == '{' {
		var obj struct {
			String string `json:"string"`
		}
		if json.Unmarshal(b, &obj) != nil {
			return nil
		}
		s = obj.String
	} else if json.Unmarshal(b, &s) != nil {
		return nil
	}
	s = strings.TrimSpace(s)
	if v, err := time.ParseInLocation(timeLayout, s, time.UTC); err == nil {
		*t = cachetTime(v)
	} else if v, err := time.Parse(time.RFC3339, s); err == nil {
		*t = cachetTime(v.UTC())
	}
	return nil
}

// visibility reads a visible field: 2.x sends 0 or 1, 3.x 0 (logged-in
// users), 1 (guests) or 2 (hidden); either may send a boolean. It is true
// when guests see the item.
type visibility bool

func (v *visibility) UnmarshalJSON(b []byte) error {
	var n flexInt
	if n.UnmarshalJSON(b) == nil {
		*v = n == 1
		return nil
	}
	var f flexBool
	if err := f.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("cannot decode %s as a visibility", b)
	}
	*v = visibility(f)
	return nil
}
