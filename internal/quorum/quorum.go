// Package quorum holds the pure rule that turns several probers' views of
// one server into one probe-based status: a status is believed when enough
// vantages see it, so one prober's own network trouble never reaches the
// status page.
package quorum

import (
	"maps"
	"slices"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

// Outcomes of a probe as a view records them: short words a person reading
// the database understands.
const (
	Answered = "answered" // an HTTP answer arrived (any code)
	TimedOut = "timeout"  // the probe's deadline passed first
	Failed   = "error"    // any other failure: refused, reset, DNS, TLS, ...
)

// View is one vantage's latest observation of one server.
type View struct {
	Vantage string        // the prober's name: fra1, ams1, ...
	At      time.Time     // when it probed
	Status  status.Status // the status its probe alone gave, 1–4
	Outcome string        // Answered, TimedOut or Failed
	Detail  string        // for people: "HTTP 200 in 12ms", "timeout after 10s"
}

// Decide returns the status that at least k fresh vantages see at least
// that bad: the k-th worst of the views not older than fresh at now. With
// three vantages seeing major outage, major outage and operational, k = 2
// gives major outage and k = 3 operational; k = 1 is the worst view.
//
// n is the number of fresh views (one per vantage, its newest; views
// without a status 1–4 are not counted). ok is false when n < k: too few
// probers looked lately to say anything, and the status is then
// status.Unknown, which the caller must not publish as worse than what the
// page shows. k below 1 counts as 1; fresh <= 0 means every view is fresh.
// A view dated more than MaxAhead after now (a prober's clock is ahead) is
// not fresh, whatever fresh says.
func Decide(views []View, k int, fresh time.Duration, now time.Time) (st status.Status, n int, ok bool) {
	newest := make(map[string]View, len(views)) // each vantage's newest fresh view with a status
	for _, v := range views {
		if v.Status >= status.Operational && v.Status <= status.MajorOutage && Stale(v.At, fresh, now) == "" && v.At.After(newest[v.Vantage].At) {
			newest[v.Vantage] = v
		}
	}
	if k = max(k, 1); len(newest) < k {
		return status.Unknown, len(newest), false
	}
	// Worst first: the k-th is seen at least that bad by k vantages.
	statuses := slices.SortedFunc(maps.Values(newest), func(a, b View) int { return int(b.Status) - int(a.Status) })
	return statuses[k-1].Status, len(newest), true
}

// MaxAhead is how far a view may be dated after now and still count: clocks
// differ a little, but a prober whose clock runs ahead would otherwise stay
// fresh for ever.
const MaxAhead = time.Minute

// Stale says why a view taken at at does not count at now: "clock ahead"
// (dated more than MaxAhead after now), "stale" (older than fresh; fresh
// <= 0: never), or "" when it counts.
func Stale(at time.Time, fresh time.Duration, now time.Time) string {
	switch {
	case at.Sub(now) > MaxAhead:
		return "clock ahead"
	case fresh > 0 && now.Sub(at) > fresh:
		return "stale"
	}
	return ""
}
