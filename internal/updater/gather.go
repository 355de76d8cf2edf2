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
)

// gather probes the servers and the guard's canaries, reads the report
// counts, and (with a state of its own) lists Cachet and loads the state,
// all at the same time: a run takes about as long as its slowest probe.
func (r *run) gather(ctx context.Context, servers []config.Server) {
	var wg sync.WaitGroup
	if r.d.Source != nil {
		wg.Go(func() {
			var err error
			if r.counts, err = r.d.Source.Counts(ctx, r.now.Add(-r.cfg.Reports.Window.D())); err != nil {
				r.sum.SourceErr = err
			}
		})
	}
	if r.d.Shared == nil { // a shared state is read under its lock, after the observations
		wg.Go(func() { r.list(ctx) })
		wg.Go(func() { r.load(ctx) })
	}
	all := r.d.Prober.ProbeAll(ctx, slices.Concat(servers, canaries(r.cfg)), r.cfg.Probe.Concurrency)
	r.results, r.canaries = all[:len(servers)], all[len(servers):]
	wg.Wait()
}

// canaries are probed like a server with the probe block's settings,
// following redirects and without a body check.
func canaries(cfg *config.Config) []config.Server {
	ss := make([]config.Server, len(cfg.Guard.Canaries))
	for i, u := range cfg.Guard.Canaries {
		ss[i] = config.Server{Name: "canary " + string(u), URL: string(u), Probe: cfg.Probe}
		ss[i].Probe.FollowRedirects, ss[i].Probe.ExpectBody = true, config.Regexp{}
	}
	return ss
}

// list reads Cachet's components, and its schedules in progress unless
// maintenance.cachet_schedules is off. Schedules that cannot be read are
// logged and count as none.
func (r *run) list(ctx context.Context) {
	var err error
	r.components, err = r.d.Cachet.Components(ctx)
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
	r.schedules, err = r.d.Cachet.Schedules(ctx)
	if err != nil && !errors.Is(err, cachet.ErrUnsupported) { // Cachet 2.3 has none
		r.d.Log.Warn().Err(err).Msg("cannot read Cachet's schedules: no component is taken to be under a schedule's maintenance this run")
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
				msg := "the server's TLS certificate expires soon"
				if p.CertNotBefore.After(r.now) {
					msg = "the server's TLS certificate is not valid yet"
				}
				r.d.Log.Warn().Str("server", s.Name).Time("expires", p.CertExpiry).Time("not_before", p.CertNotBefore).
					Int("days_left", int(p.CertExpiry.Sub(r.now).Hours()/24)).Msg(msg)
			}
		}
	}
}
