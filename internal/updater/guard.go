package updater

import (
	"fmt"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
)

// minOffline is the fewest servers without an answer that can make a run
// look offline: one or two failing servers are just failing servers.
const minOffline = 3

// offline says why this machine looks offline, or "": when guard.canaries
// are set and none of them answered, or when at least guard.max_failing of
// the servers (and at least minOffline) got no HTTP answer at all. An
// interrupted probe counts for neither side. It is pure.
func offline(results, canaries []probe.Result, g config.Guard) string {
	if len(canaries) > 0 {
		answered, done := 0, 0
		var first probe.Result
		for _, c := range canaries {
			if c.Class == probe.ClassCanceled {
				continue
			}
			done++
			if c.Class == "" {
				answered++
			} else if first.Err == nil {
				first = c
			}
		}
		if done > 0 && answered == 0 {
			return fmt.Sprintf("none of the %s answered (%s: %v)", plural(len(canaries), "canary", "canaries"), g.Canaries[0], first.Err)
		}
	}
	if g.MaxFailing.Off() {
		return ""
	}
	failing, probed := 0, 0
	for _, r := range results {
		if r.Class == probe.ClassCanceled {
			continue
		}
		probed++
		if r.Class != "" {
			failing++
		}
	}
	if failing >= minOffline && failing*100 >= g.MaxFailing.Percent*probed {
		return fmt.Sprintf("%d of %d servers got no HTTP answer (guard.max_failing %s)", failing, probed, g.MaxFailing)
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
