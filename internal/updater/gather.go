package updater

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/state"
)

// gather probes the servers and the guard's canaries, reads the report
// counts, and (with a state of its own) lists Cachet and loads the state,
// all at the same time: a run takes about as long as its slowest probe.
func (r *run) gather(ctx context.Context, servers []config.Server) {
	var wg sync.WaitGroup
	if r.d.Source != nil && r.d.SourceErr == nil {
		wg.Go(func() { r.counts, r.sum.SourceErr = r.d.Source.Counts(ctx, r.now.Add(-r.cfg.Reports.Window.D())) })
	}
	if r.d.Shared == nil { // a shared state is read under its lock, after the observations
		wg.Go(func() { r.list(ctx) })
		wg.Go(func() { r.load(ctx) })
	}
	// Canaries are probed like a server with the probe block's settings,
	// following redirects and without a body check.
	all := slices.Clone(servers)
	for _, u := range r.cfg.Guard.Canaries {
		c := config.Server{Name: "canary " + string(u), URL: string(u), Probe: r.cfg.Probe}
		c.Probe.FollowRedirects, c.Probe.ExpectBody = true, config.Regexp{}
		all = append(all, c)
	}
	results := r.d.Prober.ProbeAll(ctx, all, r.cfg.Probe.Concurrency)
	r.results, r.canaries = results[:len(servers)], results[len(servers):]
	wg.Wait()
}

// list reads Cachet's components, and its schedules in progress unless
// maintenance.cachet_schedules is off. Schedules that cannot be read are
// logged and count as none.
func (r *run) list(ctx context.Context) {
	listed, err := r.d.Cachet.Components(ctx)
	for i := range listed {
		r.components[listed[i].ID] = &listed[i]
	}
	if errors.Is(err, cachet.ErrIncomplete) {
		r.short, err = err, nil // what was listed is right; plan says what is missing
	}
	if err != nil {
		r.sum.CachetErr = fmt.Errorf("reading components from Cachet: %w", err)
		return
	}
	if r.cfg.Maintenance.CachetSchedules == config.SchedulesOff {
		return
	}
	if r.schedules, err = r.d.Cachet.Schedules(ctx); err != nil && !errors.Is(err, cachet.ErrUnsupported) { // Cachet 2.3 has none
		r.d.Log.Warn().Err(err).Msg("cannot read Cachet's schedules: no component is taken to be under a schedule's maintenance this run")
	}
}

// load reads the state. A corrupt file was moved aside (not by a dry run's
// store): the run goes on with an empty history and fails. A file of
// another config is left in StateErr for Run to refuse. Any other problem
// leaves the file alone: the run goes on with no memory, fails, and does
// not save over it.
func (r *run) load(ctx context.Context) {
	st, err := r.d.State.Load(ctx)
	var corrupt *state.CorruptError
	switch {
	case err == nil || errors.As(err, &corrupt):
		r.st, r.saveable, r.sum.StateErr = st, true, err
	case errors.Is(err, state.ErrOtherConfig):
		r.sum.StateErr = err
	default:
		r.st, r.sum.StateErr = &state.State{}, fmt.Errorf("%w: this run keeps no memory and leaves the file as it is", err)
	}
}

// decideAll gives every server its row and, when its probe could be made,
// its decision.
func (r *run) decideAll(servers []config.Server) {
	r.sum.Rows = make([]Row, len(servers))
	for i, s := range servers {
		row := &r.sum.Rows[i]
		*row = Row{Server: s, Probe: r.results[i]}
		if r.d.Source != nil && r.sum.SourceErr == nil {
			n := r.counts[s.ReportsKey]
			row.Reports = &n
		}
		switch p := row.Probe; p.Class {
		case probe.ClassCanceled:
			row.Action = Interrupted
		case probe.ClassLocal:
			// No file descriptor or port, or no route out of this machine,
			// says nothing about the server: marking it down would be a lie.
			row.Action = NotProbed
			row.Err = fmt.Errorf("server %q could not be probed from this machine (%v): its status is left as it is; check this machine's network, and raise the open-file limit (ulimit -n) or lower probe.concurrency when it ran out of files", s.Name, p.Err)
		default:
			row.CertExpiring = certExpiring(s.Probe, p, r.now)
			row.Decision = decide(s.Probe, p, row.CertExpiring, row.Reports, r.cfg.Reports.Thresholds)
			if row.CertExpiring {
				r.d.Log.Warn().Str("server", s.Name).Time("expires", p.CertExpiry).Time("not_before", p.CertNotBefore).
					Int("days_left", int(p.CertExpiry.Sub(r.now).Hours()/24)).Msg("the server's TLS certificate expires soon or is not valid yet")
			}
		}
	}
}
