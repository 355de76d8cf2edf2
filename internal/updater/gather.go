package updater

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/status"
)

// inputs are what a run reads before it decides.
type inputs struct {
	results    []probe.Result // results[i] belongs to servers[i]
	canaries   []probe.Result // canaries[i] belongs to guard.canaries[i]
	counts     map[string]int
	sourceErr  error
	components []cachet.Component
	short      *cachet.IncompleteListError // the listing ended short: components holds what was listed
	cachetErr  error
	schedules  []cachet.Schedule // Cachet's maintenance in progress
}

// gather probes the servers (and the guard's canaries with them), reads the
// report counts and lists Cachet's components. The three are independent,
// so they run at the same time and a run takes about as long as its slowest
// probe.
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
	if d.Shared == nil {
		// With a shared state the listing waits for the decision lock:
		// another vantage's run may be writing until then.
		wg.Go(func() {
			in.listComponents(ctx, d, cfg.Maintenance.CachetSchedules != config.SchedulesOff)
			d.Log.Debug().Dur("after", since()).Msg("Cachet listing done")
		})
	}
	all := d.Prober.ProbeAll(ctx, slices.Concat(servers, canaries(cfg)), cfg.Probe.Concurrency)
	in.results, in.canaries = all[:len(servers)], all[len(servers):]
	d.Log.Debug().Int("servers", len(servers)).Int("canaries", len(in.canaries)).Dur("after", since()).Msg("probes done")
	wg.Wait()
	return in
}

// listComponents reads Cachet's components into in, and its schedules in
// progress when schedules is set: one read per run, where the API has them.
// Schedules that cannot be read are logged and count as none.
func (in *inputs) listComponents(ctx context.Context, d Deps, schedules bool) {
	in.components, in.cachetErr = d.Cachet.Components(ctx)
	if errors.As(in.cachetErr, &in.short) {
		in.cachetErr = nil // what was listed is right; plan says what is missing
	}
	if in.cachetErr != nil {
		in.cachetErr = fmt.Errorf("reading components from Cachet: %w", in.cachetErr)
		return
	}
	if !schedules {
		return
	}
	var err error
	in.schedules, err = d.Cachet.Schedules(ctx)
	switch {
	case errors.Is(err, cachet.ErrUnsupported): // Cachet 2.3: no schedules
	case err != nil:
		d.Log.Warn().Err(err).Msg("cannot read Cachet's schedules: no component is taken to be under a schedule's maintenance this run")
	}
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

// Observe reduces a probe result to what the decision rule needs;
// certExpiring says whether a certificate expires within cert_expiry or is not valid yet.
func Observe(r probe.Result, certExpiring bool) status.Observation {
	obs := status.Observation{Code: r.Code, Latency: r.Latency, BodyMismatch: r.BodyMismatch, CertExpiring: certExpiring}
	switch r.Class {
	case "":
	case probe.ClassTimeout:
		obs.Failure = status.TimedOut
	default:
		obs.Failure, obs.ErrorClass = status.TransportFailed, string(r.Class)
	}
	return obs
}

// CertExpiring reports whether a result's certificates expire within the
// server's cert_expiry of now, or are not valid yet (0: the check is off).
func CertExpiring(s config.Server, r probe.Result, now time.Time) bool {
	window := s.Probe.CertExpiry.D()
	return window > 0 && !r.CertExpiry.IsZero() && (r.CertExpiry.Before(now.Add(window)) || r.CertNotBefore.After(now))
}

func decideAll(servers []config.Server, results []probe.Result, counts map[string]int, haveCounts bool, th status.Thresholds, now time.Time) []Row {
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
			// Out of file descriptors or ports, or no route out of this
			// machine, says nothing about the server: marking it down
			// would be a lie.
			rows[i].Action = NotProbed
			rows[i].Err = fmt.Errorf("server %q could not be probed from this machine (%v): its status is left as it is; check this machine's network, and raise the open-file limit (ulimit -n) or lower probe.concurrency when it ran out of files", s.Name, results[i].Err)
			continue
		}
		rows[i].CertExpiring = CertExpiring(s, results[i], now)
		rows[i].Decision = status.Decide(Observe(results[i], rows[i].CertExpiring), rep, s.Policy(th))
	}
	return rows
}
