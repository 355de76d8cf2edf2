// Package maintenance decides whether a server is inside a maintenance
// window: a one-off period, or a weekly one in wall-clock time of a time
// zone; and whether a text (a Cachet schedule's) names a server. During a window its server is still probed and shown, but its
// component is not written and no incident opens. It is pure.
package maintenance

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	// A static binary must know Europe/Berlin on a host without zoneinfo.
	_ "time/tzdata"
)

// Window is one maintenance window.
type Window struct {
	// Servers are the names the window covers; empty: every server.
	Servers []string
	// Start and End bound a one-off window: Start ≤ t < End.
	Start, End time.Time
	// Weekly, when not nil, makes the window repeat every week instead.
	Weekly *Weekly
}

// Weekly is a window that repeats every week at the same wall-clock times
// in Loc: "Tue 03:00-04:30". It follows the clock on the wall through DST
// changes: a window inside the hour a spring-forward skips does not happen
// that week, and one inside the hour a fall-back repeats is open for both.
// A window whose end is not after its start ends on the next day ("Sat
// 23:00-01:00").
type Weekly struct {
	Day      time.Weekday
	From, To int // minutes after midnight, 0..1439
	Loc      *time.Location
}

// Covers reports whether the window applies to server.
func (w Window) Covers(server string) bool {
	if len(w.Servers) == 0 {
		return true
	}
	for _, s := range w.Servers {
		if s == server {
			return true
		}
	}
	return false
}

// Active reports whether the window is open at t.
func (w Window) Active(t time.Time) bool {
	if w.Weekly != nil {
		return w.Weekly.Active(t)
	}
	return !t.Before(w.Start) && t.Before(w.End)
}

// Active reports whether the weekly window is open at t.
func (w Weekly) Active(t time.Time) bool {
	local := t.In(w.Loc)
	minute := local.Hour()*60 + local.Minute()
	day := local.Weekday()
	if w.From < w.To {
		return day == w.Day && minute >= w.From && minute < w.To
	}
	// It runs over midnight into the next day.
	return (day == w.Day && minute >= w.From) || (day == (w.Day+1)%7 && minute < w.To)
}

// String writes the window the way the config does.
func (w Weekly) String() string {
	return fmt.Sprintf("%s %02d:%02d-%02d:%02d (%s)", w.Day.String()[:3], w.From/60, w.From%60, w.To/60, w.To%60, w.Loc)
}

// ParseWeekly reads "Tue 03:00-04:30" (a weekday's first three letters or
// its full English name, any case; 24-hour times) in loc.
func ParseWeekly(s string, loc *time.Location) (Weekly, error) {
	const want = `write it like "Tue 03:00-04:30": a weekday, then from-to in 24-hour time`
	dayText, span, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return Weekly{}, fmt.Errorf("%q: %s", s, want)
	}
	day, ok := weekday(dayText)
	if !ok {
		return Weekly{}, fmt.Errorf("%q: %q is not a weekday: %s", s, dayText, want)
	}
	fromText, toText, ok := strings.Cut(strings.TrimSpace(span), "-")
	if !ok {
		return Weekly{}, fmt.Errorf("%q: %s", s, want)
	}
	from, err := clock(fromText)
	if err == nil && from == 24*60 {
		err = fmt.Errorf("%q is the end of the day, not a start", strings.TrimSpace(fromText))
	}
	if err != nil {
		return Weekly{}, fmt.Errorf("%q: %v: %s", s, err, want)
	}
	to, err := clock(toText)
	if err != nil {
		return Weekly{}, fmt.Errorf("%q: %v: %s", s, err, want)
	}
	if from == to {
		return Weekly{}, fmt.Errorf("%q: the window starts and ends at the same time", s)
	}
	return Weekly{Day: day, From: from, To: to, Loc: loc}, nil
}

func weekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(s)
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if s == name || s == name[:3] {
			return d, true
		}
	}
	return 0, false
}

// clock reads "HH:MM" as minutes after midnight; "24:00" is the end of the
// day.
func clock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day", strings.TrimSpace(s))
	}
	return hh*60 + mm, nil
}

// Names reports whether text names name: name stands in it as whole words,
// in any case and spacing. "stream 8: Wartung" names "Stream 8", not
// "Stream 80". An empty name is named nowhere.
func Names(text, name string) bool {
	text, name = fold(text), fold(name)
	if name == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(name)
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[end:])
		if !inWord(before) && !inWord(after) {
			return true
		}
		i = start + 1
	}
}

func fold(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }

func inWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
