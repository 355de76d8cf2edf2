package maintenance

import (
	"strings"
	"testing"
	"time"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func weekly(t *testing.T, s string, loc *time.Location) Weekly {
	t.Helper()
	w, err := ParseWeekly(s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestParseWeekly(t *testing.T) {
	loc := time.UTC
	for _, tt := range []struct {
		in   string
		want Weekly
	}{
		{"Tue 03:00-04:30", Weekly{time.Tuesday, 180, 270, loc}},
		{"sunday 23:00-01:00", Weekly{time.Sunday, 1380, 60, loc}},
		{"SAT 00:00-24:00", Weekly{time.Saturday, 0, 1440, loc}},
	} {
		if got := weekly(t, tt.in, loc); got != tt.want {
			t.Errorf("ParseWeekly(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", "Tue", "Tus 03:00-04:00", "Tue 3-4", "Tue 03:00", "Tue 25:00-26:00", "Tue 03:60-04:00", "Tue 03:00-03:00", "Tue 24:00-01:00", "Tue 3:5-04:00"} {
		if _, err := ParseWeekly(bad, loc); err == nil || !strings.Contains(err.Error(), "Tue 03:00-04:30") && !strings.Contains(err.Error(), "same time") {
			t.Errorf("ParseWeekly(%q) = %v, want an error with an example", bad, err)
		}
	}
}

// TestWeeklyAcrossDST: a weekly window follows the wall clock of its time
// zone, also on the days Europe/Berlin changes between CET and CEST
// (2026-03-29, 02:00 → 03:00; 2026-10-25, 03:00 → 02:00).
func TestWeeklyAcrossDST(t *testing.T) {
	loc := berlin(t)
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		window string
		at     string
		want   bool
	}{
		// An ordinary Sunday window, the week before and on the spring switch.
		{"Sun 03:00-04:30", "2026-03-22T02:00:00Z", true},  // 03:00 CET
		{"Sun 03:00-04:30", "2026-03-29T01:00:00Z", true},  // 03:00 CEST, an hour earlier in UTC
		{"Sun 03:00-04:30", "2026-03-29T02:29:00Z", true},  // 04:29 CEST
		{"Sun 03:00-04:30", "2026-03-29T02:30:00Z", false}, // 04:30 CEST: over
		{"Sun 03:00-04:30", "2026-03-29T00:59:00Z", false}, // 01:59 CET
		// The hour the spring switch skips: no window that week.
		{"Sun 02:00-03:00", "2026-03-29T00:59:00Z", false}, // 01:59 CET
		{"Sun 02:00-03:00", "2026-03-29T01:00:00Z", false}, // 03:00 CEST
		{"Sun 02:00-03:00", "2026-03-22T01:30:00Z", true},  // 02:30 CET the week before
		// The hour the autumn switch repeats: open for both.
		{"Sun 02:00-03:00", "2026-10-25T00:30:00Z", true},  // 02:30 CEST
		{"Sun 02:00-03:00", "2026-10-25T01:30:00Z", true},  // 02:30 CET
		{"Sun 02:00-03:00", "2026-10-25T02:00:00Z", false}, // 03:00 CET
		// Over midnight.
		{"Sat 23:00-01:00", "2026-10-24T21:30:00Z", true},  // Sat 23:30 CEST
		{"Sat 23:00-01:00", "2026-10-24T22:30:00Z", true},  // Sun 00:30 CEST
		{"Sat 23:00-01:00", "2026-10-25T00:30:00Z", false}, // Sun 01:30 (CEST)
		{"Tue 03:00-04:30", "2026-11-24T02:15:00Z", true},  // Tue 03:15 CET
		{"Tue 03:00-04:30", "2026-11-25T02:15:00Z", false}, // a Wednesday
	}
	for _, tt := range tests {
		w := weekly(t, tt.window, loc)
		if got := w.Active(at(tt.at)); got != tt.want {
			t.Errorf("%s at %s (%s): %v, want %v", tt.window, tt.at, at(tt.at).In(loc).Format("Mon 15:04 MST"), got, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct {
		text, name string
		want       bool
	}{
		{"Stream 8: Wartung", "Stream 8", true},
		{"stream  8 wird neu gestartet", "Stream 8", true},
		{"Wartung an STREAM 8.", "Stream 8", true},
		{"Stream 80: Wartung", "Stream 8", false},
		{"Stream 8b", "Stream 8", false},
		{"Upstream 8", "Stream 8", false},
		{"Stream 80 und Stream 8", "Stream 8", true},
		{"Stream 8", "Stream", true},
		{"Straße 4", "straße 4", true},
		{"Wartung", "", false},
		{"(enc9)", "enc9", true},
	} {
		if got := Names(tt.text, tt.name); got != tt.want {
			t.Errorf("Names(%q, %q) = %v, want %v", tt.text, tt.name, got, tt.want)
		}
	}
}
