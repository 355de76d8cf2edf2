// Package updater runs one pass of the job: it gathers the probes, the
// report counts, Cachet's listing and the state, decides each server's
// status, writes what changed and returns a Summary. It prints nothing.
package updater

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/reports"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

// Action is what the run did (or would do) with one component.
type Action string

// Actions, as the table shows them.
const (
	Unchanged        Action = "unchanged"
	Updated          Action = "updated"
	WouldUpdate      Action = "would update" // --dry-run
	WriteFailed      Action = "write failed"
	UnknownComponent Action = "unknown component"
	NotWritten       Action = "not written" // Cachet's status is not known
	NotProbed        Action = "not probed"  // this machine could not make the probe (probe.ClassLocal)
	Interrupted      Action = "interrupted" // the run ended before the server was decided or written
	Pending          Action = "pending"     // the change waits for more runs to confirm it
	Observed         Action = "observed"    // shared state: another vantage's run decides this round
	Held             Action = "held"        // a status set by hand in Cachet is left alone (manual_hold)
	Maintenance      Action = "maintenance" // probed and shown, not written
)

// Deps are the edges of the pipeline, built by the caller.
type Deps struct {
	Cachet *cachet.Client
	Source reports.Source // nil: none, or it could not be opened (SourceErr says why)
	// SourceErr: the source could not be opened; the run decides from the
	// probes alone.
	SourceErr error
	Prober    *probe.Prober
	// State is the memory between runs; the caller holds the run lock.
	State state.Store
	// Shared, when set, is a state several vantages share: it is the State,
	// and the run records observations and decides by quorum.
	Shared Shared
	Now    func() time.Time // the clock; required
	Log    zerolog.Logger
}

// Options change what a run does.
type Options struct {
	DryRun  bool
	Only    []string // server names or component ids; empty: all servers
	Vantage string   // this prober's name in a shared state
}

// Decision is a server's status from its probe and its report count, with
// the rules in words.
type Decision struct {
	Status, Probe, Reports       status.Status // Status is the worse of Probe and Reports
	Rule, ProbeRule, ReportsRule string        // Rule is the one behind Status
}

// Waiting is a change that waits for more runs in a row to confirm it.
type Waiting struct {
	Status      status.Status
	Count, Need int // runs in a row that showed it, and that it needs
}

// Row is one server's outcome. The table, --only, the JSON document and the
// textfile all read it.
type Row struct {
	Server config.Server
	Probe  probe.Result
	// CertExpiring: a certificate expires within cert_expiry or is not
	// valid yet.
	CertExpiring bool
	Reports      *int              // nil: no count (no source, or it failed)
	Decision     *Decision         // nil: not decided (interrupted, not probed)
	Component    *cachet.Component // Cachet's before the run; nil: not known
	Current      status.Status     // Component's status (status.Unknown: not known)
	Publish      status.Status     // what the page shows after the run, when Component is known
	Pending      *Waiting
	Hold         *state.Hold // a status set by hand, left alone until HoldUntil
	HoldUntil    time.Time
	Maintenance  string // why the component is under maintenance
	// Guarded: this machine looked offline, or (NoQuorum) too few vantages
	// had a fresh view, so the probe could not make the status worse.
	Guarded, NoQuorum bool
	Views             []quorum.View // every vantage's latest view (shared state)
	Action            Action
	Err               error    // why the row failed
	Notes             []string // incidents and metric points written (or that would be)
	Problems          []error  // what failed of them: the run fails, nothing is undone
}

// Summary is the outcome of one run.
type Summary struct {
	Rows     []Row
	DryRun   bool
	Started  time.Time
	Duration time.Duration
	Zone     *time.Location // time_zone: the table shows times in it
	Fresh    time.Duration  // quorum.fresh in a shared state: older views are stale
	// Source and State name the report source and the state store.
	Source, State string
	SourceErr     error // the report source failed: decided from the probes alone
	StateErr      error
	CachetErr     error // the component listing failed: nothing was written
	TokenErr      error // the token's proof failed
	Interrupted   error // the run's context ended early (signal, run_timeout)
	Offline       string
	Deferred      string           // why another vantage's run decides this round
	Notes         []string         // said once: Cachet schedules that cover nothing or have no end
	Reads, Writes int64            // requests sent to Cachet: reads are GET
	Requests      map[string]int64 // by HTTP method
	// NotRun says why the run did nothing, and Err why it could not run;
	// the caller sets them.
	NotRun string
	Err    error
}

// Failed reports whether something went wrong on the way. Servers being
// down, a pending change or a held status are no failure of the run.
func (s Summary) Failed() bool {
	return s.SourceErr != nil || s.CachetErr != nil || s.Interrupted != nil || s.StateErr != nil || s.TokenErr != nil || s.Offline != "" || s.Err != nil ||
		slices.ContainsFunc(s.Rows, func(r Row) bool { return r.Err != nil || len(r.Problems) > 0 })
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

// Changed counts the rows whose status changed (or would, or failed to).
func (s Summary) Changed() int {
	return s.Count(Updated) + s.Count(WouldUpdate) + s.Count(WriteFailed)
}

// Select returns the servers only names (a name or a component id each),
// all when only is empty. A value that matches none is an error: a typo
// must not silently run nothing.
func Select(servers []config.Server, only []string) ([]config.Server, error) {
	if len(only) == 0 {
		return servers, nil
	}
	var out []config.Server
	for _, s := range servers {
		if slices.Contains(only, s.Name) || slices.Contains(only, strconv.Itoa(s.ComponentID)) {
			out = append(out, s)
		}
	}
	names := make([]string, len(servers))
	for i, s := range servers {
		names[i] = s.Name
	}
	for _, o := range only {
		if !slices.ContainsFunc(out, func(s config.Server) bool { return o == s.Name || o == strconv.Itoa(s.ComponentID) }) {
			return nil, fmt.Errorf("--only %q matches no server name or component_id in the config%s", o, namesHint(o, names))
		}
	}
	return out, nil
}

// namesHint lists the servers when they are few, else the names closest
// to the one that matched none.
func namesHint(name string, names []string) string {
	quoted := func(ss []string, sep string) string {
		for i := range ss {
			ss[i] = strconv.Quote(ss[i])
		}
		return strings.Join(ss, sep)
	}
	switch close := config.Closest(name, names, 3); {
	case len(names) <= 10:
		return ": the servers are " + quoted(names, ", ")
	case len(close) > 0:
		return ": did you mean " + quoted(close, " or ") + "?"
	}
	return fmt.Sprintf(" (none of its %d servers has a similar name; see servers[].name)", len(names))
}

// OpenSource builds the report source the config names: nil for type
// none. It does no I/O beyond resolving the DSN secret; when that fails it
// returns the source, to name it, with the error. log gets the source's
// warnings (reports dated in the future).
func OpenSource(src config.Source, getenv func(string) string, now func() time.Time, log zerolog.Logger) (reports.Source, error) {
	switch src.Type {
	case "file":
		return &reports.File{Path: src.Path, Format: src.Format, MaxAge: src.MaxAge.D(), Now: now, Timeout: src.Timeout.D(), Log: log}, nil
	case "sql":
		dsn, err := src.ResolveDSN(getenv) // its errors name the key to fix
		return &reports.SQL{Driver: src.Driver, DSN: dsn, Query: src.Query, Timeout: src.Timeout.D()}, err
	}
	return nil, nil
}

// run is one pass in progress: what the stages read and fill in.
type run struct {
	cfg *config.Config
	d   Deps
	o   Options
	now time.Time
	sum Summary

	results, canaries []probe.Result
	counts            map[string]int
	components        map[int]*cachet.Component // by id
	short             error                     // the listing ended short (cachet.ErrIncomplete): a missing component may exist
	schedules         []cachet.Schedule
	st                *state.State
	saveable          bool       // Save may write st
	mu                sync.Mutex // guards st's components while rows are written
}

// Run does one pass. Its error is for "could not run" (a bad --only, a
// state file of another config); every other failure is in the Summary,
// which the caller logs. The caller holds the run lock; Run loads the
// state and, unless DryRun, saves it.
func Run(ctx context.Context, cfg *config.Config, d Deps, o Options) (Summary, error) {
	servers, err := Select(cfg.Servers, o.Only)
	if err != nil {
		return Summary{}, err
	}
	if d.Shared != nil {
		d.State = d.Shared
	}
	r := &run{cfg: cfg, d: d, o: o, now: d.Now(), components: map[int]*cachet.Component{}}
	r.sum = Summary{DryRun: o.DryRun, Started: r.now, Zone: cfg.TimeZone.Loc, Fresh: cfg.Quorum.Fresh.D(), Source: "none",
		SourceErr: d.SourceErr, State: d.State.String()}
	if d.Source != nil {
		r.sum.Source = d.Source.String()
	}
	r.gather(ctx, servers)
	if errors.Is(r.sum.StateErr, state.ErrOtherConfig) {
		return Summary{}, r.sum.StateErr // nothing was written yet: the run refuses
	}
	r.decideAll(servers)
	r.sum.Offline = offline(r.results, r.canaries, cfg.Guard)
	if d.Shared != nil {
		unlock, decide := r.shared(ctx)
		defer unlock()
		if !decide {
			return r.finish(ctx), nil
		}
		r.list(ctx)
	}
	r.plan(r.maintained())
	r.each(ctx, r.write)
	r.proveToken(ctx)
	if !o.DryRun {
		r.remember(ctx)
	}
	return r.finish(ctx), nil
}

func (r *run) finish(ctx context.Context) Summary {
	if ctx.Err() != nil {
		r.sum.Interrupted = context.Cause(ctx)
	}
	r.sum.Reads, r.sum.Writes = r.d.Cachet.Requests()
	r.sum.Requests = r.d.Cachet.RequestsByMethod()
	r.sum.Duration = r.d.Now().Sub(r.sum.Started)
	return r.sum
}
