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
	"time"

	"github.com/rs/zerolog"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/confirm"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/reports"
	"github.com/proxer/cachet-updater/internal/state"
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
	Pending          Action = "pending"     // a change waits for more runs to confirm it (confirm.worse/better)
	Observed         Action = "observed"    // shared state: another vantage's run decides this round; this one's observations are recorded
	Held             Action = "held"        // a status set by hand in Cachet is left alone (manual_hold)
	Maintenance      Action = "maintenance" // a maintenance window or schedule: probed and shown, not written
)

// Deps are the edges of the pipeline, built by the caller.
type Deps struct {
	Cachet *cachet.Client
	Source reports.Source // nil when the source could not even be opened (SourceErr then says why)
	// SourceErr is a failure to set up the report source (e.g. a missing
	// DSN); the run then decides from the probes alone.
	SourceErr error
	Prober    *probe.Prober
	// State is the memory between runs; the caller holds the run lock
	// while Run loads and saves it.
	State state.Store
	// Shared, when set, is a state several vantages share: it is the
	// State, and the run records observations and decides by quorum.
	Shared Shared
	Now    func() time.Time
	Log    zerolog.Logger
}

// Options change what a run does, not how.
type Options struct {
	DryRun bool
	Only   []string // server names or component ids; empty: all servers
	// Vantage is this prober's name in a shared state (Deps.Shared).
	Vantage string
}

// Row is one server's line of the outcome.
type Row struct {
	Server config.Server
	Probe  probe.Result
	// CertExpiring: a certificate expires within the server's cert_expiry,
	// or is not valid yet.
	CertExpiring  bool
	Reports       status.Reports
	Decision      status.Decision
	Current       status.Status // Cachet's status before the run
	CurrentKnown  bool          // false when Cachet could not be read or does not know the component
	Enabled       bool
	ComponentName string
	// Publish is what the page should show after this run: the decision
	// once confirmed, else Current. Meaningful when CurrentKnown.
	Publish status.Status
	// Confirm is the confirmation rule's outcome: a change waiting for
	// more runs has Confirm.Pending set.
	Confirm confirm.Outcome
	Hold    *confirm.Held // a status set by hand, left alone; nil: none
	// HoldUntil is when manual_hold ends the hold at the latest.
	HoldUntil time.Time
	// Maintenance says why the component is under maintenance ("": not).
	MaintenanceWhy string
	// Notes say what the run did (or would do) beyond the component's
	// status: incidents and metric points. Problems are what failed of
	// it; they fail the run but undo nothing.
	Notes    []string
	Problems []error
	// Considered is the decision the rules weigh and the history records:
	// Decision.Status, unless the guard kept the probe from making it
	// worse than Cachet's.
	Considered status.Status
	// Guarded: this machine looked offline, or (shared state) too few
	// vantages had a fresh view, so the probe could not make the status
	// worse than Cachet's.
	Guarded bool
	// Views are every vantage's latest observation (shared state only);
	// NoQuorum: fewer fresh ones than quorum.probes.
	Views    []state.View
	NoQuorum bool
	Action   Action
	Err      error // why the row failed, for WriteFailed, UnknownComponent, NotWritten, NotProbed, Interrupted
}

// Decided reports whether the row has a decision: not when its probe was
// interrupted or could not be made (decideAll's Interrupted, NotProbed).
func (r Row) Decided() bool { return r.Decision.Rule != "" }

// Rule is the rule behind the status considered: the decision's, or with
// the guard, the reports' alone.
func (r Row) Rule() string {
	if r.Guarded {
		return r.Decision.ReportsRule + " (guarded: the probe was not counted)"
	}
	return r.Decision.Rule
}

// Changed reports whether the status to publish differs from Cachet's.
func (r Row) Changed() bool { return r.CurrentKnown && r.Current != r.Publish }

// Summary is the outcome of one run.
type Summary struct {
	Rows      []Row
	DryRun    bool
	Source    string // names the report source
	SourceErr error  // the report source failed: decided from the probes alone
	CachetErr error  // the component listing failed: nothing was written
	Reads     int64  // HTTP requests sent to Cachet
	Writes    int64
	// RequestsByMethod counts the requests sent to Cachet by HTTP method.
	RequestsByMethod map[string]int64
	Started          time.Time
	// Zone is the config's time_zone: the table shows times in it, as the
	// incident texts' .Time is.
	Zone        *time.Location
	Duration    time.Duration
	Interrupted error // non-nil when the run's context ended early (signal, run_timeout)
	// Offline says why this machine looked offline (the guard): then no
	// probe made a status worse than Cachet's. "" when it did not.
	Offline  string
	State    string // names the state store
	StateErr error  // the state could not be read or saved
	// Deferred says why this run wrote nothing although it could: another
	// vantage's run held the shared decision lock.
	Deferred string
	// Notes are what the run says once, not about one server: Cachet
	// schedules that cover nothing, or that have no end.
	Notes []string
	// QuorumFresh is quorum.fresh in a shared state: older views are stale.
	QuorumFresh time.Duration
	TokenErr    error // the token's hourly proof failed
}

// Failed reports whether something went wrong on the way: a write, the
// report source, Cachet, an unknown component, the state, the token, this
// machine looking offline or an interruption. Servers being down, a pending
// change or a held status are not failures of the run.
func (s Summary) Failed() bool {
	if s.SourceErr != nil || s.CachetErr != nil || s.Interrupted != nil || s.StateErr != nil || s.TokenErr != nil || s.Offline != "" {
		return true
	}
	for _, r := range s.Rows {
		if r.Err != nil || len(r.Problems) > 0 {
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

// Run does one pass. Its error is for "could not run" (a bad --only, no
// state store, a state file of another config); every other failure is
// recorded in the Summary. The caller
// holds the run lock: Run loads the state, and saves it unless DryRun.
func Run(ctx context.Context, cfg *config.Config, d Deps, o Options) (Summary, error) {
	servers, err := Select(cfg.Servers, o.Only)
	if err != nil {
		return Summary{}, err
	}
	if d.Shared != nil {
		d.State = d.Shared
	}
	if d.State == nil {
		return Summary{}, errors.New("updater: no state store")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	started := d.Now()
	sum := Summary{
		DryRun:    o.DryRun,
		Started:   started,
		Zone:      cfg.TimeZone.Loc,
		Source:    SourceName(cfg.Reports.Source),
		SourceErr: d.SourceErr, // the source could not be opened: then in.sourceErr is nil
		State:     d.State.String(),
	}
	// A state of its own is needed only to plan: read it while the probes
	// run. A shared one is read under its lock, after the observations.
	var (
		st       *state.State
		saveable bool
		stateErr error
		loaded   = make(chan struct{})
	)
	if d.Shared == nil {
		go func() {
			defer close(loaded)
			st, saveable, stateErr = loadState(ctx, d)
		}()
	} else {
		close(loaded)
	}
	in := gather(ctx, cfg, d, servers, started)
	<-loaded
	if errors.Is(stateErr, state.ErrOtherConfig) {
		return Summary{}, stateErr // nothing written yet: the run refuses
	}
	sum.StateErr = stateErr
	if in.sourceErr != nil {
		sum.SourceErr = in.sourceErr
	}
	if sum.SourceErr != nil {
		d.Log.Error().Err(sum.SourceErr).Str("source", sum.Source).Msg("report source failed: deciding from the probes alone")
	}

	sum.Rows = decideAll(servers, in.results, in.counts, d.Source != nil && sum.SourceErr == nil, status.Thresholds(cfg.Reports.Thresholds), started)
	for _, r := range sum.Rows {
		if r.CertExpiring {
			msg := "the server's TLS certificate expires soon"
			if r.Probe.CertNotBefore.After(started) {
				msg = "the server's TLS certificate is not valid yet"
			}
			d.Log.Warn().Str("server", r.Server.Name).Time("expires", r.Probe.CertExpiry).Time("not_before", r.Probe.CertNotBefore).
				Int("days_left", int(r.Probe.CertExpiry.Sub(started).Hours()/24)).Msg(msg)
		}
	}
	sum.Offline = offline(in.results, in.canaries, cfg.Guard)
	if sum.Offline != "" {
		d.Log.Error().Str("why", sum.Offline).Msg("this machine looks offline: no probe makes a status worse; holds, confirmation, incidents and metric points are left alone this run")
	}
	if d.Shared != nil {
		sum.QuorumFresh = cfg.Quorum.Fresh.D()
		var unlock func()
		var decide bool
		st, saveable, unlock, decide = sharedRound(ctx, d, cfg, o, &sum, started)
		if unlock != nil {
			defer unlock()
		}
		if !decide {
			if ctx.Err() != nil {
				sum.Interrupted = context.Cause(ctx)
			}
			sum.Reads, sum.Writes = d.Cachet.Requests()
			sum.RequestsByMethod = d.Cachet.RequestsByMethod()
			sum.Duration = d.Now().Sub(started)
			return sum, nil
		}
		in.listComponents(ctx, d, cfg.Maintenance.CachetSchedules != config.SchedulesOff)
	}
	sum.CachetErr = in.cachetErr
	if sum.CachetErr != nil {
		d.Log.Error().Err(sum.CachetErr).Msg("cannot read Cachet: nothing will be written")
	}
	why, notes := scheduled(in.schedules, cfg.Servers, in.components, cfg.Maintenance, started)
	sum.Notes = append(sum.Notes, notes...)
	plan(sum.Rows, in.components, in.short, sum.CachetErr, memory{
		state: st, now: started, manualHold: cfg.ManualHold.D(), offline: sum.Offline != "",
		windows: windows(cfg.Maintenance.Windows), scheduled: why,
	})
	apply(ctx, d, sum.Rows, o.DryRun, cfg.Cachet)
	if sum.CachetErr == nil && sum.Offline == "" { // the prober's own outage tells nothing about the servers
		incidents(ctx, d, cfg, sum.Rows, st, o.DryRun, started.In(cfg.TimeZone.Loc))
		points(ctx, d, cfg.Cachet.WriteConcurrency, sum.Rows, o.DryRun, started)
	}
	d.Log.Debug().Dur("after", d.Now().Sub(started)).Msg("writes done")
	if ctx.Err() != nil {
		sum.Interrupted = context.Cause(ctx)
	}
	proveToken(ctx, d, &sum, st, d.Now(), o.DryRun)
	if !o.DryRun {
		remember(st, sum.Rows, cfg.Servers, started, sum.Offline != "")
		if saveable {
			saveState(ctx, d, &sum, st)
		}
		d.Log.Debug().Dur("after", d.Now().Sub(started)).Msg("state saved")
	}

	sum.Reads, sum.Writes = d.Cachet.Requests()
	sum.RequestsByMethod = d.Cachet.RequestsByMethod()
	sum.Duration = d.Now().Sub(started)
	return sum, nil
}
