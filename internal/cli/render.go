package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/updater"
)

func renderTable(w io.Writer, s updater.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tCOMPONENT\tPROBE\tREPORTS\tSTATUS\tACTION")
	for _, r := range s.Rows {
		probe := probeCell(r.Probe)
		if len(r.Views) > 0 {
			probe = viewsCell(r, s)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n",
			r.Server.Name, r.Server.ComponentID, probe, reportsCell(r), statusCell(r), actionCell(r, s.Zone))
	}
	tw.Flush()
	for _, r := range s.Rows {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "%s: %s\n", r.Server.Name, n)
		}
	}
	for _, r := range s.Rows {
		if r.Err != nil {
			fmt.Fprintf(w, "error: %v\n", r.Err)
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "error: %v\n", p)
		}
	}
	sourceAndCachetErrors(w, s)
}

// viewsCell is every vantage's view of a server, in a shared state: "fra1
// timeout, ams1 200, nyc1 200 (stale)".
func viewsCell(r updater.Row, s updater.Summary) string {
	parts := make([]string, 0, len(r.Views))
	for _, v := range r.Views {
		word := v.Outcome
		if v.Outcome == "answered" {
			word = strings.TrimPrefix(strings.SplitN(v.Detail, " in ", 2)[0], "HTTP ")
		}
		if why := quorum.Stale(v.At, s.QuorumFresh, s.Started); why != "" {
			word += " (" + why + ")"
		}
		parts = append(parts, v.Vantage+" "+word)
	}
	return strings.Join(parts, ", ")
}

func sourceAndCachetErrors(w io.Writer, s updater.Summary) {
	for _, r := range s.Rows {
		switch {
		case r.CertExpiring && r.Probe.CertNotBefore.After(s.Started):
			fmt.Fprintf(w, "warning: the TLS certificate of %s is not valid before %s (or this machine's clock is wrong)\n", r.Server.Name, clock(r.Probe.CertNotBefore, s.Zone))
		case r.CertExpiring:
			fmt.Fprintf(w, "warning: the TLS certificate of %s expires %s (%s)\n", r.Server.Name, clock(r.Probe.CertExpiry, s.Zone), daysLeft(r.Probe.CertExpiry, s.Started))
		}
	}
	if s.SourceErr != nil {
		fmt.Fprintf(w, "error: reports: %v (decided from the probes alone)\n", s.SourceErr)
	}
	if s.CachetErr != nil {
		fmt.Fprintf(w, "error: %v (nothing was written)\n", s.CachetErr)
	}
	if s.Interrupted != nil {
		fmt.Fprintf(w, "error: run interrupted: %v\n", s.Interrupted)
	}
	if s.Deferred != "" {
		fmt.Fprintf(w, "note: %s\n", s.Deferred)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if s.Offline != "" {
		fmt.Fprintf(w, "error: this machine looks offline: %s; no server was marked down by its probe (reports still count); holds, confirmation, incidents and metric points were left alone\n", s.Offline)
	}
	if s.StateErr != nil {
		fmt.Fprintf(w, "error: %v\n", s.StateErr)
	}
	if s.TokenErr != nil {
		fmt.Fprintf(w, "error: token refused by Cachet: %v\n", s.TokenErr)
	}
}

// renderDetail is the --only view: everything known about each server.
func renderDetail(w io.Writer, s updater.Summary) {
	for i, r := range s.Rows {
		if i > 0 {
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "server\t%s\n", r.Server.Name)
		fmt.Fprintf(tw, "url\t%s %s\n", r.Server.Probe.Method, r.Server.DisplayURL())
		comp := strconv.Itoa(r.Server.ComponentID)
		if r.ComponentName != "" {
			comp += fmt.Sprintf(" (%q in Cachet", r.ComponentName)
			if !r.Enabled {
				comp += ", disabled"
			}
			comp += ")"
		}
		fmt.Fprintf(tw, "component\t%s\n", comp)
		fmt.Fprintf(tw, "probe\t%s\n", probeDetail(r.Probe))
		if r.Probe.Class == "" {
			fmt.Fprintf(tw, "body\t%d bytes read\n", r.Probe.Bytes)
		}
		if r.Probe.BodyPattern != "" {
			verdict := "matches"
			if note := r.Probe.BodyNote(); note != "" {
				verdict = note
			}
			fmt.Fprintf(tw, "expect_body\t%q: %s\n", r.Probe.BodyPattern, verdict)
		}
		if c := r.Probe.URLCert; c != nil {
			fmt.Fprintf(tw, "url certificate\t%s\n", certLine(*c, s))
		}
		for i, c := range r.Probe.Certs {
			what := "certificate"
			if i > 0 {
				what = "  issued by"
			}
			fmt.Fprintf(tw, "%s\t%s\n", what, certLine(c, s))
		}
		if r.Probe.FinalURL != "" && r.Probe.FinalURL != r.Server.DisplayURL() {
			fmt.Fprintf(tw, "redirected to\t%s\n", r.Probe.FinalURL)
		}
		fmt.Fprintf(tw, "reports\t%s (key %q, from %s)\n", reportsCell(r), r.Server.ReportsKey, s.Source)
		if r.Decided() {
			fmt.Fprintf(tw, "probe says\t%s: %s\n", r.Decision.Probe, r.Decision.ProbeRule)
			fmt.Fprintf(tw, "reports say\t%s: %s\n", r.Decision.Reports, r.Decision.ReportsRule)
			fmt.Fprintf(tw, "decided\t%s (the worse of both: %s)\n", r.Decision.Status, r.Decision.Rule)
		}
		for _, v := range r.Views {
			stale := ""
			if why := quorum.Stale(v.At, s.QuorumFresh, s.Started); why != "" {
				stale = " (" + why + ": it does not count)"
			}
			fmt.Fprintf(tw, "vantage %s\t%s: %s, %s ago%s\n", v.Vantage, v.Status, v.Detail, roundDur(s.Started.Sub(v.At)), stale)
		}
		if r.Guarded && r.NoQuorum {
			fmt.Fprintf(tw, "quorum\ttoo few vantages have a fresh view: the probe may not make the status worse than %s; counted as %s\n", r.Current, r.Considered)
		} else if r.Guarded {
			fmt.Fprintf(tw, "guard\tthis machine looked offline: the probe may not make the status worse than %s; counted as %s\n", r.Current, r.Considered)
		}
		if line := confirmDetail(r); line != "" {
			fmt.Fprintf(tw, "confirm\t%s\n", line)
		}
		if r.MaintenanceWhy != "" {
			fmt.Fprintf(tw, "maintenance\t%s: probed and shown, not written, no incident\n", r.MaintenanceWhy)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(tw, "cachet\t%s\n", n)
		}
		for _, p := range r.Problems {
			fmt.Fprintf(tw, "error\t%v\n", p)
		}
		if r.Action == updater.Held {
			fmt.Fprintf(tw, "hold\t%s was set by hand in Cachet (not by this tool): left alone since %s, until %s (manual_hold) or until the decision agrees\n",
				r.Hold.Status, clock(r.Hold.Since, s.Zone), clock(r.HoldUntil, s.Zone))
		}
		fmt.Fprintf(tw, "status\t%s\n", statusCell(r))
		fmt.Fprintf(tw, "action\t%s\n", actionCell(r, s.Zone))
		if r.Err != nil {
			fmt.Fprintf(tw, "error\t%v\n", r.Err)
		}
		tw.Flush()
	}
	sourceAndCachetErrors(w, s)
}

func certLine(c probe.Cert, s updater.Summary) string {
	line := fmt.Sprintf("%s, issuer %s, expires %s (%s)", c.Subject, c.Issuer, clock(c.NotAfter, s.Zone), daysLeft(c.NotAfter, s.Started))
	if c.NotBefore.After(s.Started) {
		line += ", not valid before " + clock(c.NotBefore, s.Zone)
	}
	return line
}

func probeCell(p probe.Result) string {
	switch p.Class {
	case "":
		if note := p.BodyNote(); note != "" {
			return fmt.Sprintf("%d, %s", p.Code, note)
		}
		return fmt.Sprintf("%d in %s", p.Code, roundDur(p.Latency))
	case probe.ClassTimeout:
		return fmt.Sprintf("timeout after %s", roundDur(p.Latency))
	}
	return string(p.Class)
}

func probeDetail(p probe.Result) string {
	if p.Class == "" {
		if note := p.BodyNote(); note != "" {
			return fmt.Sprintf("HTTP %d in %s, %s", p.Code, roundDur(p.Latency), note)
		}
		return fmt.Sprintf("HTTP %d in %s", p.Code, roundDur(p.Latency))
	}
	if p.Err != nil {
		return fmt.Sprintf("%s after %s: %v", p.Class, roundDur(p.Latency), p.Err)
	}
	return fmt.Sprintf("%s after %s", p.Class, roundDur(p.Latency))
}

func reportsCell(r updater.Row) string {
	if !r.Reports.Available {
		return "-"
	}
	return strconv.Itoa(r.Reports.Count)
}

func statusCell(r updater.Row) string {
	guard := ""
	switch {
	case r.Guarded && r.NoQuorum:
		guard = " (no quorum)"
	case r.Guarded:
		guard = " (guarded)"
	}
	switch {
	case !r.Decided():
		return "-"
	case !r.CurrentKnown:
		return "? → " + r.Decision.Status.String()
	case r.Action == updater.Held:
		return r.Current.String() + " (set by hand)"
	case r.Action == updater.Maintenance:
		return r.Current.String() + " (maintenance)"
	case r.Action == updater.Pending:
		return fmt.Sprintf("%s → %s (%d/%d)%s", r.Current, r.Confirm.Pending, r.Confirm.Count, r.Confirm.Need, guard)
	case r.Current == r.Publish:
		return r.Current.String() + guard
	}
	return r.Current.String() + " → " + r.Publish.String() + guard
}

// confirmDetail says what the confirmation rule did, for --only.
func confirmDetail(r updater.Row) string {
	c := r.Confirm
	switch {
	case !r.CurrentKnown || r.Action == updater.Held:
		return ""
	case c.Pending != 0:
		word := "worse"
		if c.Pending < r.Current {
			word = "better"
		}
		when := "the next run agrees"
		if left := c.Need - c.Count; left > 1 {
			when = fmt.Sprintf("%d more runs agree", left)
		}
		return fmt.Sprintf("%s waits: %d of %d runs in a row showed a status %s than %s; published when %s",
			c.Pending, c.Count, c.Need, word, r.Current, when)
	case r.Publish != r.Current:
		return fmt.Sprintf("%s confirmed by the last runs in a row (confirm.worse %d, better %d)", r.Publish, r.Server.Confirm.Worse, r.Server.Confirm.Better)
	}
	return ""
}

// daysLeft says how far t is from now, in days.
func daysLeft(t, now time.Time) string {
	d := t.Sub(now)
	switch days := int(d.Hours() / 24); {
	case d < 0:
		return "expired"
	case days == 1:
		return "1 day left"
	default:
		return fmt.Sprintf("%d days left", days)
	}
}

// clock formats a time for the table and the detail view, in the config's
// time_zone (nil: UTC).
func clock(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

func actionCell(r updater.Row, zone *time.Location) string {
	if r.Action == updater.WriteFailed {
		return "WRITE FAILED"
	}
	if r.Action == updater.UnknownComponent {
		return "UNKNOWN COMPONENT"
	}
	if r.Action == updater.NotProbed {
		return "NOT PROBED"
	}
	if r.Action == updater.Held {
		return "held since " + clock(r.Hold.Since, zone)
	}
	return string(r.Action)
}

func summaryLine(s updater.Summary) string {
	var b strings.Builder
	changed := s.Count(updater.Updated) + s.Count(updater.WouldUpdate) + s.Count(updater.WriteFailed)
	fmt.Fprintf(&b, "%s: %d changed", plural(int64(len(s.Rows)), "server"), changed)
	if s.DryRun {
		fmt.Fprintf(&b, " (dry run: nothing written)")
	} else {
		fmt.Fprintf(&b, " (%d written", s.Count(updater.Updated))
		if n := s.Count(updater.WriteFailed); n > 0 {
			fmt.Fprintf(&b, ", %d failed", n)
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ", %d unchanged", s.Count(updater.Unchanged))
	if n := s.Count(updater.UnknownComponent); n > 0 {
		fmt.Fprintf(&b, ", %s", plural(int64(n), "unknown component"))
	}
	if n := s.Count(updater.NotWritten); n > 0 {
		fmt.Fprintf(&b, ", %d not written", n)
	}
	if n := s.Count(updater.NotProbed); n > 0 {
		fmt.Fprintf(&b, ", %d not probed", n)
	}
	if n := s.Count(updater.Interrupted); n > 0 {
		fmt.Fprintf(&b, ", %d interrupted", n)
	}
	if n := s.Count(updater.Pending); n > 0 {
		fmt.Fprintf(&b, ", %d pending", n)
	}
	if n := s.Count(updater.Held); n > 0 {
		fmt.Fprintf(&b, ", %d held", n)
	}
	if n := s.Count(updater.Maintenance); n > 0 {
		fmt.Fprintf(&b, ", %d under maintenance", n)
	}
	if n := s.Count(updater.Observed); n > 0 {
		fmt.Fprintf(&b, ", %d observed for another vantage", n)
	}
	if s.Offline != "" {
		b.WriteString("; OFFLINE: nothing marked down, holds and incidents left alone")
	}
	fmt.Fprintf(&b, "; reports: %s", s.Source)
	if s.SourceErr != nil {
		b.WriteString(" (FAILED)")
	}
	fmt.Fprintf(&b, "; Cachet: %s, %s; took %s", plural(s.Reads, "read"), plural(s.Writes, "write"), roundDur(s.Duration))
	return b.String()
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
