// Package updater runs one pass of the job: probe the servers, read the
// report counts and Cachet's current statuses, decide, plan and apply the
// changes, and return a Summary. It prints nothing; the caller renders it.
package updater

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/reports"
	"github.com/proxer/cachet-updater/internal/status"
	"github.com/proxer/cachet-updater/internal/suggest"
)

// Action is what the run did (or would do) with one component.
type Action string

// Actions, as shown in the table.
const (
	Unchanged        Action = "unchanged"
	Updated          Action = "updated"
	WouldUpdate      Action = "would update" // --dry-run
	WriteFailed      Action = "write failed"
	UnknownComponent Action = "unknown component"
	NotWritten       Action = "not written" // Cachet's current state could not be read
	NotProbed        Action = "not probed"  // this machine could not probe the server (probe.ClassLocal); its status is left alone
	Interrupted      Action = "interrupted" // the run was canceled before this server was decided or written
)

// Deps are the edges of the pipeline, built by the caller.
type Deps struct {
	Cachet *cachet.Client
	Source reports.Source // nil when the source could not even be opened (SourceErr then says why)
	// SourceErr is a failure to set up the report source (e.g. a missing
	// DSN); the run then decides from the probes alone.
	SourceErr error
	Prober    *probe.Prober
	Now       func() time.Time
	Log       zerolog.Logger
}

// Options change what a run does, not how.
type Options struct {
	DryRun bool
	Only   []string // server names or component ids; empty: all servers
}

// Row is one server's line of the outcome.
type Row struct {
	Server        config.Server
	Probe         probe.Result
	Reports       status.Reports
	Decision      status.Decision
	Current       status.Status // Cachet's status before the run
	CurrentKnown  bool          // false when Cachet could not be read or does not know the component
	Enabled       bool
	ComponentName string
	Action        Action
	Err           error // why the row failed, for WriteFailed, UnknownComponent, NotWritten, NotProbed
}

// Decided reports whether the row has a decision: not when its probe was
// interrupted or could not be made (decideAll's Interrupted, NotProbed).
func (r Row) Decided() bool { return r.Decision.Rule != "" }

// Changed reports whether the decided status differs from Cachet's.
func (r Row) Changed() bool { return r.CurrentKnown && r.Current != r.Decision.Status }

// Summary is the outcome of one run.
type Summary struct {
	Rows        []Row
	DryRun      bool
	Source      string // names the report source
	SourceErr   error  // the report source failed: decided from the probes alone
	CachetErr   error  // the component listing failed: nothing was written
	Reads       int64  // HTTP requests sent to Cachet
	Writes      int64
	Started     time.Time
	Duration    time.Duration
	Interrupted error // non-nil when the run's context ended early (signal, run_timeout)
}

// Failed reports whether something went wrong on the way: a write, the
// report source, Cachet, an unknown component or an interruption. Servers
// being down is not a failure of the run.
func (s Summary) Failed() bool {
	if s.SourceErr != nil || s.CachetErr != nil || s.Interrupted != nil {
		return true
	}
	for _, r := range s.Rows {
		if r.Err != nil {
			return true
		}
	}
	return false
}

// Count returns how many rows have action a.
func (s Summary) Count(a Action) int {
	n := 0
	for _, r := range s.Rows {
		if r.Action == a {
			n++
		}
	}
	return n
}

// Select returns the servers that only names (a server name or a component
// id each); all of them when only is empty. A value that matches no server
// is an error: a typo must not silently run nothing.
func Select(servers []config.Server, only []string) ([]config.Server, error) {
	if len(only) == 0 {
		return servers, nil
	}
	want := map[string]bool{}
	for _, o := range only {
		want[o] = false
	}
	var out []config.Server
	for _, s := range servers {
		id := strconv.Itoa(s.ComponentID)
		_, byName := want[s.Name]
		_, byID := want[id]
		if byName || byID {
			out = append(out, s)
			if byName {
				want[s.Name] = true
			}
			if byID {
				want[id] = true
			}
		}
	}
	for _, o := range only {
		if !want[o] {
			return nil, fmt.Errorf("--only %q matches no server name or component_id in the config%s", o, namesHint(o, servers))
		}
	}
	return out, nil
}

// namesHint lists the servers' names when there are few, else the ones
// closest to the name that matched none.
func namesHint(name string, servers []config.Server) string {
	names := make([]string, len(servers))
	for i, s := range servers {
		names[i] = strconv.Quote(s.Name)
	}
	if len(names) <= 10 {
		return ": the servers are " + strings.Join(names, ", ")
	}
	plain := make([]string, len(servers))
	for i, s := range servers {
		plain[i] = s.Name
	}
	close := suggest.Closest(name, plain, 3)
	if len(close) == 0 {
		return fmt.Sprintf(" (none of its %d servers has a similar name; see servers[].name)", len(servers))
	}
	for i, c := range close {
		close[i] = strconv.Quote(c)
	}
	return ": did you mean " + strings.Join(close, " or ") + "?"
}

// Run does one pass. Its error is for "could not run" (a bad --only); every
// other failure is recorded in the Summary.
func Run(ctx context.Context, cfg *config.Config, d Deps, o Options) (Summary, error) {
	servers, err := Select(cfg.Servers, o.Only)
	if err != nil {
		return Summary{}, err
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	started := d.Now()
	in := gather(ctx, cfg, d, servers, started)
	sum := Summary{
		DryRun:    o.DryRun,
		Started:   started,
		Source:    SourceName(cfg.Reports.Source),
		SourceErr: d.SourceErr, // the source could not be opened: then in.sourceErr is nil
		CachetErr: in.cachetErr,
	}
	if in.sourceErr != nil {
		sum.SourceErr = in.sourceErr
	}

	if sum.SourceErr != nil {
		d.Log.Error().Err(sum.SourceErr).Str("source", sum.Source).Msg("report source failed: deciding from the probes alone")
	}
	if sum.CachetErr != nil {
		d.Log.Error().Err(sum.CachetErr).Msg("cannot read Cachet: nothing will be written")
	}

	sum.Rows = decideAll(servers, in.results, in.counts, d.Source != nil && sum.SourceErr == nil, status.Thresholds(cfg.Reports.Thresholds))
	plan(sum.Rows, in.components, in.short, sum.CachetErr)
	apply(ctx, d, sum.Rows, o.DryRun, cfg.Cachet)
	d.Log.Debug().Dur("after", d.Now().Sub(started)).Msg("writes done")
	if ctx.Err() != nil {
		sum.Interrupted = context.Cause(ctx)
	}

	sum.Reads, sum.Writes = d.Cachet.Requests()
	sum.Duration = d.Now().Sub(started)
	return sum, nil
}

// inputs are what a run reads before it decides.
type inputs struct {
	results    []probe.Result // results[i] belongs to servers[i]
	counts     map[string]int
	sourceErr  error
	components []cachet.Component
	short      *cachet.IncompleteListError // the listing ended short: components holds what was listed
	cachetErr  error
}

// gather probes the servers, reads the report counts and lists Cachet's
// components. The three are independent, so they run at the same time and
// a run takes about as long as its slowest probe.
func gather(ctx context.Context, cfg *config.Config, d Deps, servers []config.Server, started time.Time) inputs {
	var (
		in inputs
		wg sync.WaitGroup
	)
	since := func() time.Duration { return d.Now().Sub(started) }
	if d.Source != nil {
		wg.Go(func() {
			in.counts, in.sourceErr = d.Source.Counts(ctx, started.Add(-cfg.Reports.Window.D()))
		})
	}
	wg.Go(func() {
		in.components, in.cachetErr = d.Cachet.Components(ctx)
		if errors.As(in.cachetErr, &in.short) {
			in.cachetErr = nil // what was listed is right; plan says what is missing
		}
		if in.cachetErr != nil {
			in.cachetErr = fmt.Errorf("reading components from Cachet: %w", in.cachetErr)
		}
		d.Log.Debug().Dur("after", since()).Msg("Cachet listing done")
	})
	in.results = d.Prober.ProbeAll(ctx, targets(servers), cfg.Probe.Concurrency)
	d.Log.Debug().Int("servers", len(servers)).Dur("after", since()).Msg("probes done")
	wg.Wait()
	return in
}

func targets(servers []config.Server) []probe.Target {
	ts := make([]probe.Target, len(servers))
	for i, s := range servers {
		ts[i] = probe.Target{
			Name:            s.Name,
			URL:             s.URL,
			Method:          string(s.Probe.Method),
			Timeout:         s.Probe.Timeout.D(),
			TLSSkipVerify:   s.Probe.TLSSkipVerify,
			FollowRedirects: s.Probe.FollowRedirects,
		}
	}
	return ts
}

// Observe reduces a probe result to what the decision rule needs.
func Observe(r probe.Result) status.Observation {
	obs := status.Observation{Code: r.Code, Latency: r.Latency}
	switch r.Class {
	case "":
	case probe.ClassTimeout:
		obs.Failure = status.TimedOut
	default:
		obs.Failure, obs.ErrorClass = status.TransportFailed, string(r.Class)
	}
	return obs
}

func decideAll(servers []config.Server, results []probe.Result, counts map[string]int, haveCounts bool, th status.Thresholds) []Row {
	rows := make([]Row, len(servers))
	for i, s := range servers {
		rep := status.Reports{Available: haveCounts}
		if haveCounts {
			rep.Count = counts[s.ReportsKey]
		}
		rows[i] = Row{Server: s, Probe: results[i], Reports: rep}
		switch results[i].Class {
		case probe.ClassCanceled:
			rows[i].Action = Interrupted
			continue
		case probe.ClassLocal:
			// Out of file descriptors or ports here says nothing about
			// the server: marking it down would be a lie.
			rows[i].Action = NotProbed
			rows[i].Err = fmt.Errorf("server %q could not be probed from this machine (%v): its status is left as it is; raise the open-file limit (ulimit -n) or lower probe.concurrency", s.Name, results[i].Err)
			continue
		}
		rows[i].Decision = status.Decide(Observe(results[i]), rep, s.Policy(th))
	}
	return rows
}

// plan fills in Cachet's current state and the action for every decided
// row. short, when not nil, says the listing ended before Cachet's own
// count: a component missing from it may exist.
func plan(rows []Row, components []cachet.Component, short *cachet.IncompleteListError, cachetErr error) {
	byID := make(map[int]cachet.Component, len(components))
	for _, c := range components {
		byID[c.ID] = c
	}
	for i := range rows {
		r := &rows[i]
		if r.Action != "" {
			continue // decideAll already settled it: interrupted or not probed
		}
		if cachetErr != nil {
			r.Action = NotWritten
			continue
		}
		c, ok := byID[r.Server.ComponentID]
		if !ok && short != nil {
			r.Action = NotWritten
			r.Err = fmt.Errorf("server %q: component %d is not in the listing, but %v: it may exist beyond what Cachet listed, so it is left alone; check Cachet's pagination (a proxy or cache in front of the API?)", r.Server.Name, r.Server.ComponentID, short)
			continue
		}
		if !ok {
			r.Action = UnknownComponent
			r.Err = fmt.Errorf("server %q: component %d does not exist in Cachet (or the token cannot see it): fix component_id; `cachet-updater components` lists them", r.Server.Name, r.Server.ComponentID)
			continue
		}
		r.Current, r.CurrentKnown, r.Enabled, r.ComponentName = c.Status, true, c.Enabled, c.Name
		r.Action = Unchanged
		if r.Changed() {
			r.Action = WouldUpdate
		}
	}
}

// apply writes the planned changes, a bounded number at a time. Once the
// run is interrupted no new write starts; the Cachet client gives writes
// already sent a short grace to finish and retries none.
func apply(ctx context.Context, d Deps, rows []Row, dryRun bool, cc config.Cachet) {
	if dryRun {
		return
	}
	n := cc.WriteConcurrency
	if n < 1 {
		n = 1
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range rows {
		r := &rows[i]
		if r.Action != WouldUpdate {
			continue
		}
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			r.Action = Interrupted
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := d.Cachet.SetStatus(ctx, r.Server.ComponentID, r.Decision.Status, r.Enabled)
			if err != nil && ctx.Err() != nil {
				r.Action = Interrupted // the run ended first; the next run reads Cachet again
				r.Err = fmt.Errorf("server %q: updating component %d: %w", r.Server.Name, r.Server.ComponentID, err)
				return
			}
			if err != nil {
				r.Action = WriteFailed
				r.Err = fmt.Errorf("server %q: updating component %d: %w", r.Server.Name, r.Server.ComponentID, err)
				d.Log.Error().Err(err).Str("server", r.Server.Name).Int("component", r.Server.ComponentID).Msg("update failed")
				return
			}
			r.Action = Updated
			d.Log.Info().Str("server", r.Server.Name).Int("component", r.Server.ComponentID).
				Str("from", r.Current.String()).Str("to", r.Decision.Status.String()).Str("rule", r.Decision.Rule).Msg("status changed")
		}()
	}
	wg.Wait()
}
