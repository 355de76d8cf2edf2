package updater

import (
	"cmp"
	"fmt"
	"time"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

// The pure rules: values in, values out; rules_test.go covers them.

// decide returns the worse of what the probe and the report count say
// (reports nil: unavailable, ignored).
func decide(p config.Probe, r probe.Result, certExpiring bool, reports *int, t config.Thresholds) *Decision {
	d := &Decision{}
	d.Probe, d.ProbeRule = probeStatus(p, r, certExpiring)
	d.Reports, d.ReportsRule = reportStatus(reports, t)
	d.combine()
	return d
}

// combine sets Status to the worse of Probe and Reports; a tie names the
// probe's rule.
func (d *Decision) combine() {
	d.Status, d.Rule = d.Probe, d.ProbeRule
	if d.Reports > d.Probe {
		d.Status, d.Rule = d.Reports, d.ReportsRule
	}
}

func probeStatus(p config.Probe, r probe.Result, certExpiring bool) (status.Status, string) {
	switch r.Class {
	case "":
	case probe.ClassTimeout:
		return p.OnTimeout.S(), fmt.Sprintf("probe timed out → %s (on_timeout)", p.OnTimeout)
	default:
		return p.OnError.S(), fmt.Sprintf("probe failed (%s) → %s (on_error)", r.Class, p.OnError)
	}
	st, rule := status.MajorOutage, fmt.Sprintf("HTTP %d matches no status key → %s", r.Code, status.MajorOutage)
	if c, ok := p.Status.Codes().Lookup(r.Code); ok {
		st, rule = c.Status, fmt.Sprintf("HTTP %d matches %q → %s", r.Code, c.Key, c.Status)
	}
	if slow := p.Slow.D(); slow > 0 && r.Latency > slow && st < status.PerformanceIssues {
		st, rule = status.PerformanceIssues, fmt.Sprintf("HTTP %d in %s, slower than %s → %s (slow)", r.Code, r.Latency.Round(time.Millisecond), slow, status.PerformanceIssues)
	}
	if r.BodyMismatch && p.OnBodyMismatch.S() > st {
		st, rule = p.OnBodyMismatch.S(), fmt.Sprintf("HTTP %d, body does not match expect_body → %s (on_body_mismatch)", r.Code, p.OnBodyMismatch)
	}
	if on := status.Status(p.OnCertExpiry); certExpiring && on > st {
		st, rule = on, fmt.Sprintf("HTTP %d, certificate expires within cert_expiry or is not valid yet → %s (on_cert_expiry)", r.Code, on)
	}
	return st, rule
}

func reportStatus(n *int, t config.Thresholds) (status.Status, string) {
	if n == nil {
		return status.Operational, "reports unavailable, ignored"
	}
	for _, at := range []struct {
		count int
		st    status.Status
	}{{t.MajorOutage, status.MajorOutage}, {t.PartialOutage, status.PartialOutage}, {t.PerformanceIssues, status.PerformanceIssues}} {
		if *n >= at.count {
			return at.st, fmt.Sprintf("%d reports ≥ %d → %s", *n, at.count, at.st)
		}
	}
	return status.Operational, fmt.Sprintf("%d reports < %d → %s", *n, t.PerformanceIssues, status.Operational)
}

// certExpiring reports whether r's certificates expire within cert_expiry
// of now, or are not valid yet (cert_expiry 0: the check is off).
func certExpiring(p config.Probe, r probe.Result, now time.Time) bool {
	window := p.CertExpiry.D()
	return window > 0 && !r.CertExpiry.IsZero() && (r.CertExpiry.Before(now.Add(window)) || r.CertNotBefore.After(now))
}

// minOffline is the fewest servers without an answer that make a run look
// offline: one or two failing servers are just failing servers.
const minOffline = 3

// offline says why this machine looks offline, or "": guard.canaries are
// set and none answered, or at least guard.max_failing of the servers (and
// minOffline) got no HTTP answer. An interrupted probe counts for neither.
func offline(results, canaries []probe.Result, g config.Guard) string {
	count := func(rs []probe.Result) (failing, probed int, first error) {
		for _, r := range rs {
			if r.Class != probe.ClassCanceled {
				probed++
			}
			if r.Class != "" && r.Class != probe.ClassCanceled {
				failing, first = failing+1, cmp.Or(first, r.Err)
			}
		}
		return failing, probed, first
	}
	if failing, probed, first := count(canaries); failing > 0 && failing == probed {
		return fmt.Sprintf("no canary answered (%s: %v)", g.Canaries[0], first)
	}
	if failing, probed, _ := count(results); !g.MaxFailing.Off() && failing >= minOffline && failing*100 >= g.MaxFailing.Percent*probed {
		return fmt.Sprintf("%d of %d servers got no HTTP answer (guard.max_failing %s)", failing, probed, g.MaxFailing)
	}
	return ""
}

// confirm is flap damping: a change is published once it was seen in
// enough runs in a row. history holds the decisions, oldest first, ending
// with this run's; only its newest chain counts (no gap over max_gap). If
// each of the last c.Worse decisions is worse than published, the mildest
// of them is published; if each of the last c.Better is better, the worst
// of them; else published stays, and pending says what waits.
func confirm(history []state.Decision, published status.Status, c config.Confirm) (status.Status, *Waiting) {
	if len(history) == 0 {
		return published, nil
	}
	newest := history[len(history)-1].Status
	if published == status.Unknown || !published.Valid() {
		return newest, nil // nothing trustworthy on the page to protect
	}
	worse, need := newest > published, max(c.Better, 1)
	if worse {
		need = max(c.Worse, 1)
	}
	n, pick := 0, newest // the mildest of the worse ones, the worst of the better ones
	for i := len(history) - 1; i >= 0; i-- {
		d := history[i]
		if d.Status == published || (d.Status > published) != worse || i < len(history)-1 && c.MaxGap > 0 && history[i+1].At.Sub(d.At) > c.MaxGap.D() {
			break
		}
		if n++; n <= need && (d.Status < pick) == worse {
			pick = d.Status
		}
	}
	switch {
	case n == 0:
		return published, nil
	case n >= need:
		return pick, nil
	}
	return published, &Waiting{Status: pick, Count: n, Need: need}
}

// hold returns the hold of a status set by hand, or nil when the component
// is not left alone. A status that differs from what this tool last wrote
// or saw (last; Unknown: nothing yet) was set by a person: it is held for
// maxHold since first seen, or until the decision agrees with it. A status
// changed by hand again starts a new hold.
func hold(current, last status.Status, h *state.Hold, decision status.Status, now time.Time, maxHold time.Duration) *state.Hold {
	if h == nil || h.Status != current { // none yet, or changed by hand again
		if last == status.Unknown || current == last {
			return nil
		}
		h = &state.Hold{Since: now, Status: current}
	}
	if maxHold <= 0 || decision == h.Status || now.Sub(h.Since) >= maxHold {
		return nil
	}
	return h
}
