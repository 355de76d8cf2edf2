package cli

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/updater"
)

// render prints the run's table, or (detail) everything known about each
// server, then what the run says once and the summary line.
func render(w io.Writer, s updater.Summary, detail bool) {
	if detail {
		renderDetail(w, s)
	} else {
		renderTable(w, s)
	}
	for _, r := range s.Rows {
		early := r.Probe.CertNotBefore.After(s.Started)
		say(w, r.CertExpiring && early, "warning: the TLS certificate of %s is not valid before %s (or this machine's clock is wrong)", r.Server.Name, clock(r.Probe.CertNotBefore, s.Zone))
		say(w, r.CertExpiring && !early, "warning: the TLS certificate of %s expires %s (%s)", r.Server.Name, clock(r.Probe.CertExpiry, s.Zone), daysLeft(r.Probe.CertExpiry, s.Started))
	}
	say(w, s.SourceErr != nil, "error: reports: %v (decided from the probes alone)", s.SourceErr)
	say(w, s.CachetErr != nil, "error: %v (nothing was written)", s.CachetErr)
	say(w, s.Interrupted != nil, "error: run interrupted: %v", s.Interrupted)
	say(w, s.Deferred != "", "note: %s", s.Deferred)
	say(w, len(s.Notes) > 0, "note: %s", strings.Join(s.Notes, "\nnote: "))
	say(w, s.Offline != "", "error: this machine looks offline: %s; no server was marked down by its probe (reports still count); holds, confirmation, incidents and metric points were left alone", s.Offline)
	say(w, s.StateErr != nil, "error: %v", s.StateErr)
	say(w, s.TokenErr != nil, "error: token refused by Cachet: %v", s.TokenErr)
	summaryLine(w, s)
}

func renderTable(w io.Writer, s updater.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tCOMPONENT\tPROBE\tREPORTS\tSTATUS\tACTION")
	for _, r := range s.Rows {
		var views []string // in a shared state: "fra1 timeout, ams1 200, nyc1 200 (stale)"
		for _, v := range r.Views {
			word := v.Outcome
			if v.Outcome == quorum.Answered {
				word = strings.TrimPrefix(strings.SplitN(v.Detail, " in ", 2)[0], "HTTP ")
			}
			if why := quorum.Stale(v.At, s.Fresh, s.Started); why != "" {
				word += " (" + why + ")"
			}
			views = append(views, v.Vantage+" "+word)
		}
		cell := cmp.Or(strings.Join(views, ", "), probeCell(r.Probe))
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Server.Name, r.Server.ComponentID, cell, reportsCell(r), statusCell(r), actionCell(r, s.Zone))
	}
	tw.Flush()
	for _, r := range s.Rows {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "%s: %s\n", r.Server.Name, n)
		}
	}
	for _, r := range s.Rows {
		for _, err := range append([]error{r.Err}, r.Problems...) {
			say(w, err != nil, "error: %v", err)
		}
	}
}

// renderDetail is the --only view: everything known about each server.
func renderDetail(w io.Writer, s updater.Summary) {
	for i, r := range s.Rows {
		if i > 0 {
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		line := func(ok bool, key, format string, a ...any) { say(tw, ok, key+"\t"+format, a...) }
		p, d, h, c, comp := r.Probe, cmp.Or(r.Decision, &updater.Decision{}), cmp.Or(r.Hold, &state.Hold{}), cmp.Or(r.Pending, &updater.Waiting{}), ""
		if r.Component != nil {
			comp = fmt.Sprintf(" (%q in Cachet%s)", r.Component.Name, map[bool]string{false: ", disabled"}[r.Component.Enabled])
		}
		word, when := map[bool]string{true: "better", false: "worse"}[c.Status < r.Current], "the next run agrees"
		if left := c.Need - c.Count; left > 1 {
			when = fmt.Sprintf("%d more runs agree", left)
		}
		line(true, "server", "%s", r.Server.Name)
		line(true, "url", "%s %s", r.Server.Probe.Method, r.Server.DisplayURL())
		line(true, "component", "%d%s", r.Server.ComponentID, comp)
		line(true, "probe", "%s", probeDetail(p))
		line(p.Class == "", "body", "%d bytes read", p.Bytes)
		line(p.BodyPattern != "", "expect_body", "%q: %s", p.BodyPattern, cmp.Or(p.BodyNote(), "matches"))
		line(p.URLCert != nil, "url certificate", "%s", certLine(p.URLCert, s))
		for i := range p.Certs {
			line(true, map[bool]string{true: "certificate", false: "  issued by"}[i == 0], "%s", certLine(&p.Certs[i], s))
		}
		line(p.FinalURL != "" && p.FinalURL != r.Server.DisplayURL(), "redirected to", "%s", p.FinalURL)
		line(true, "reports", "%s (key %q, from %s)", reportsCell(r), r.Server.ReportsKey, s.Source)
		line(r.Decision != nil, "probe says", "%s: %s", d.Probe, d.ProbeRule)
		line(r.Decision != nil, "reports say", "%s: %s", d.Reports, d.ReportsRule)
		line(r.Decision != nil, "decided", "%s (the worse of both: %s)", d.Status, d.Rule)
		for _, v := range r.Views {
			stale := quorum.Stale(v.At, s.Fresh, s.Started)
			line(true, "vantage "+v.Vantage, "%s: %s, %s ago%s", v.Status, v.Detail, roundDur(s.Started.Sub(v.At)), map[bool]string{true: " (" + stale + ": it does not count)"}[stale != ""])
		}
		line(r.Guarded && r.NoQuorum, "quorum", "too few vantages have a fresh view: the probe may not make the status worse than %s; counted as %s", r.Current, d.Status)
		line(r.Guarded && !r.NoQuorum, "guard", "this machine looked offline: the probe may not make the status worse than %s; counted as %s", r.Current, d.Status)
		line(r.Action == updater.Pending, "confirm", "%s waits: %d of %d runs in a row showed a status %s than %s; published when %s", c.Status, c.Count, c.Need, word, r.Current, when)
		line(r.Component != nil && r.Action != updater.Held && r.Publish != r.Current, "confirm", "%s confirmed by the last runs in a row (confirm.worse %d, better %d)",
			r.Publish, r.Server.Confirm.Worse, r.Server.Confirm.Better)
		line(r.Maintenance != "", "maintenance", "%s: probed and shown, not written, no incident", r.Maintenance)
		for _, n := range r.Notes {
			line(true, "cachet", "%s", n)
		}
		for _, e := range r.Problems {
			line(true, "error", "%v", e)
		}
		line(r.Action == updater.Held, "hold", "%s was set by hand in Cachet (not by this tool): left alone since %s, until %s (manual_hold) or until the decision agrees",
			h.Status, clock(h.Since, s.Zone), clock(r.HoldUntil, s.Zone))
		line(true, "status", "%s", statusCell(r))
		line(true, "action", "%s", actionCell(r, s.Zone))
		line(r.Err != nil, "error", "%v", r.Err)
		tw.Flush()
	}
}

func certLine(c *probe.Cert, s updater.Summary) string {
	if c == nil {
		return ""
	}
	line := fmt.Sprintf("%s, issuer %s, expires %s (%s)", c.Subject, c.Issuer, clock(c.NotAfter, s.Zone), daysLeft(c.NotAfter, s.Started))
	if c.NotBefore.After(s.Started) {
		line += ", not valid before " + clock(c.NotBefore, s.Zone)
	}
	return line
}

func probeCell(p probe.Result) string {
	switch {
	case p.Class == "" && p.BodyMismatch:
		return fmt.Sprintf("%d, %s", p.Code, p.BodyNote())
	case p.Class == "":
		return fmt.Sprintf("%d in %s", p.Code, roundDur(p.Latency))
	case p.Class == probe.ClassTimeout:
		return fmt.Sprintf("timeout after %s", roundDur(p.Latency))
	}
	return string(p.Class)
}

func probeDetail(p probe.Result) string {
	switch {
	case p.Class == "" && p.BodyMismatch:
		return fmt.Sprintf("HTTP %d in %s, %s", p.Code, roundDur(p.Latency), p.BodyNote())
	case p.Class == "":
		return fmt.Sprintf("HTTP %d in %s", p.Code, roundDur(p.Latency))
	case p.Err != nil:
		return fmt.Sprintf("%s after %s: %v", p.Class, roundDur(p.Latency), p.Err)
	}
	return fmt.Sprintf("%s after %s", p.Class, roundDur(p.Latency))
}

func reportsCell(r updater.Row) string {
	if r.Reports == nil {
		return "-"
	}
	return strconv.Itoa(*r.Reports)
}

func statusCell(r updater.Row) string {
	cur, guard := r.Current, map[bool]string{true: " (guarded)"}[r.Guarded]
	if r.Guarded && r.NoQuorum {
		guard = " (no quorum)"
	}
	switch {
	case r.Decision == nil:
		return "-"
	case r.Component == nil:
		return "? → " + r.Decision.Status.String()
	case r.Action == updater.Held:
		return cur.String() + " (set by hand)"
	case r.Action == updater.Maintenance:
		return cur.String() + " (maintenance)"
	case r.Action == updater.Pending:
		return fmt.Sprintf("%s → %s (%d/%d)%s", cur, r.Pending.Status, r.Pending.Count, r.Pending.Need, guard)
	case cur == r.Publish:
		return cur.String() + guard
	}
	return cur.String() + " → " + r.Publish.String() + guard
}

func actionCell(r updater.Row, zone *time.Location) string {
	switch r.Action {
	case updater.WriteFailed, updater.UnknownComponent, updater.NotProbed:
		return strings.ToUpper(string(r.Action))
	case updater.Held:
		return "held since " + clock(r.Hold.Since, zone)
	}
	return string(r.Action)
}

// say prints the line when ok.
func say(w io.Writer, ok bool, format string, a ...any) {
	if ok {
		fmt.Fprintf(w, format+"\n", a...)
	}
}

// summaryLine ends what run prints: what it did to how many servers.
func summaryLine(w io.Writer, s updater.Summary) {
	fmt.Fprintf(w, "%s: %d changed", plural(len(s.Rows), "server"), s.Changed())
	if s.DryRun {
		io.WriteString(w, " (dry run: nothing written)")
	} else if n := s.Count(updater.WriteFailed); n > 0 {
		fmt.Fprintf(w, " (%d written, %d failed)", s.Count(updater.Updated), n)
	} else {
		fmt.Fprintf(w, " (%d written)", s.Count(updater.Updated))
	}
	fmt.Fprintf(w, ", %d unchanged", s.Count(updater.Unchanged))
	if n := s.Count(updater.UnknownComponent); n > 0 {
		fmt.Fprintf(w, ", %s", plural(n, "unknown component"))
	}
	words := map[updater.Action]string{updater.Maintenance: "under maintenance", updater.Observed: "observed for another vantage"}
	for _, a := range []updater.Action{updater.NotWritten, updater.NotProbed, updater.Interrupted, updater.Pending, updater.Held, updater.Maintenance, updater.Observed} {
		if n := s.Count(a); n > 0 {
			fmt.Fprintf(w, ", %d %s", n, cmp.Or(words[a], string(a)))
		}
	}
	if s.Offline != "" {
		io.WriteString(w, "; OFFLINE: nothing marked down, holds and incidents left alone")
	}
	fmt.Fprintf(w, "; reports: %s%s", s.Source, map[bool]string{true: " (FAILED)"}[s.SourceErr != nil])
	fmt.Fprintf(w, "; Cachet: %s, %s; took %s\n", plural(int(s.Reads), "read"), plural(int(s.Writes), "write"), roundDur(s.Duration))
}

// daysLeft says how far t is from now, in days.
func daysLeft(t, now time.Time) string {
	if t.Before(now) {
		return "expired"
	}
	return plural(int(t.Sub(now).Hours()/24), "day") + " left"
}

// clock is a time as the table shows it, in time_zone (nil: UTC).
func clock(t time.Time, loc *time.Location) string {
	return t.In(cmp.Or(loc, time.UTC)).Format("2006-01-02 15:04 MST")
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

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
