// Package confirm holds the pure rules that stand between a run's decision
// and the status page: a change is published only after it was seen in
// enough runs in a row (flap damping), and a status a person set by hand is
// left alone for a while. Both take values and return values; the state
// between runs is the caller's.
package confirm

import (
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

// Policy says how many runs in a row must agree before a change is
// published.
type Policy struct {
	Worse  int           // runs in a row that must show a worse status (1: at once)
	Better int           // runs in a row that must show a better status
	MaxGap time.Duration // a gap longer than this between two decisions breaks the chain; 0: no limit
}

// Decision is one run's decision for a component.
type Decision struct {
	At     time.Time
	Status status.Status
}

// Outcome is what the rule says for one component.
type Outcome struct {
	// Publish is the status the page should show: the published status
	// itself when nothing is confirmed.
	Publish status.Status
	// Pending is the status that would be published if the change were
	// confirmed now, when a change is waiting; status.Unknown otherwise.
	Pending status.Status
	Count   int // runs in a row that showed the pending change so far
	Need    int // runs in a row it needs
}

// Changed reports whether the outcome publishes something new.
func (o Outcome) Changed(published status.Status) bool { return o.Publish != published }

// Confirm applies the rule to a component whose page shows published.
// history holds this tool's decisions, oldest first, ending with this
// run's; only its newest unbroken chain counts (no gap over p.MaxGap).
//
// If each of the last p.Worse decisions is worse than published, the
// mildest of them is published; else if each of the last p.Better is
// better, the worst of them; else published stays. So 4, 3, 4 after an
// operational page publishes 3 (partial outage) on the second run, and a
// single timeout between healthy runs publishes nothing.
func Confirm(history []Decision, published status.Status, p Policy) Outcome {
	chain := recentChain(history, p.MaxGap)
	if len(chain) == 0 {
		return Outcome{Publish: published}
	}
	newest := chain[len(chain)-1].Status
	if !published.Valid() || published == status.Unknown {
		// Nothing trustworthy is on the page: there is nothing to protect.
		return Outcome{Publish: newest}
	}
	worse := run(chain, func(s status.Status) bool { return s > published })
	better := run(chain, func(s status.Status) bool { return s < published })
	need, n := max(p.Worse, 1), worse
	pick := func(a, b status.Status) status.Status { return min(a, b) } // the mildest of the worse ones
	if better > 0 {
		need, n = max(p.Better, 1), better
		pick = func(a, b status.Status) status.Status { return max(a, b) } // the worst of the better ones
	}
	if n == 0 {
		return Outcome{Publish: published}
	}
	counted := chain[len(chain)-min(n, need):]
	candidate := counted[0].Status
	for _, d := range counted[1:] {
		candidate = pick(candidate, d.Status)
	}
	if n >= need {
		return Outcome{Publish: candidate}
	}
	return Outcome{Publish: published, Pending: candidate, Count: n, Need: need}
}

// recentChain returns the newest decisions that follow each other with no
// gap over maxGap: a paused cron starts afresh.
func recentChain(history []Decision, maxGap time.Duration) []Decision {
	start := len(history) - 1
	for start > 0 && (maxGap <= 0 || history[start].At.Sub(history[start-1].At) <= maxGap) {
		start--
	}
	if start < 0 {
		return nil
	}
	return history[start:]
}

// run counts the newest decisions in a row for which ok holds.
func run(chain []Decision, ok func(status.Status) bool) int {
	n := 0
	for i := len(chain) - 1; i >= 0 && ok(chain[i].Status); i-- {
		n++
	}
	return n
}
