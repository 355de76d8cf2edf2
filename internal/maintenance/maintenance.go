// Package maintenance holds the pure rules of maintenance: weekly windows
// in the wall-clock time of a time zone, and whether a text (a Cachet
// schedule's) names a server.
package maintenance

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	// A static binary must know Europe/Berlin on a host without zoneinfo.
	_ "time/tzdata"
)

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

// Active reports whether the weekly window is open at t.
func (w Weekly) Active(t time.Time) bool {
	local := t.In(w.Loc)
	day, minute := local.Weekday(), local.Hour()*60+local.Minute()
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

var weeklyPattern = regexp.MustCompile(`^\s*(\pL+)\s+(\d\d):(\d\d)\s*-\s*(\d\d):(\d\d)\s*$`)

// ParseWeekly reads "Tue 03:00-04:30" (a weekday's first three letters or
// its English name, any case; 24-hour times, 24:00 the end of the day) in
// loc.
func ParseWeekly(s string, loc *time.Location) (Weekly, error) {
	if m := weeklyPattern.FindStringSubmatch(s); m != nil {
		n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
		w := Weekly{Day: -1, From: n(2)*60 + n(3), To: n(4)*60 + n(5), Loc: loc}
		for d := time.Sunday; d <= time.Saturday; d++ {
			if strings.EqualFold(m[1], d.String()) || strings.EqualFold(m[1], d.String()[:3]) {
				w.Day = d
			}
		}
		switch {
		case w.Day < 0 || n(3) > 59 || n(5) > 59 || w.From >= 24*60 || w.To > 24*60:
		case w.From == w.To:
			return Weekly{}, fmt.Errorf("%q: the window starts and ends at the same time", s)
		default:
			return w, nil
		}
	}
	return Weekly{}, fmt.Errorf(`%q: write it like "Tue 03:00-04:30": a weekday, then from-to in 24-hour time`, s)
}

// Names reports whether text names name: name stands in it as whole words,
// in any case and spacing. "stream 8: Wartung" names "Stream 8", not
// "Stream 80". An empty name is named nowhere.
func Names(text, name string) bool {
	text, name = fold(text), fold(name)
	for start := 0; name != ""; start++ {
		j := strings.Index(text[start:], name)
		if j < 0 {
			return false
		}
		start += j
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[start+len(name):])
		if !inWord(before) && !inWord(after) {
			return true
		}
	}
	return false
}

func fold(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }

func inWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
