package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/promfile"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
	"github.com/proxer/cachet-updater/internal/updater"
)

const runHelp = `run does one pass: it probes every server, reads the report counts, decides
each status (the worse of the probe's and the reports') and writes those that
changed, once confirm.worse/better runs in a row agree ("pending" until then).
It leaves alone a status set by hand (manual_hold, "held") and maintenance; on a
machine that looks offline (guard) no probe makes a status worse. A quiet run
prints one log line on stderr; a table shows when something changed or failed,
on a terminal, with --dry-run or --only.`

// runExample's crontab line is the README's (TestCrontabLine).
const runExample = `  */3 * * * * CACHET_API_TOKEN=... /usr/local/bin/cachet-updater run --config /etc/cachet-updater/config.yaml 2>>/var/log/cachet-updater.log
  cachet-updater run --dry-run --only "Stream 14"   # one server in full detail, writing nothing`

// runRun is one run; the demo calls it too. With --output json it prints
// one document on every exit, also when it did nothing (not_run says why).
func runRun(ctx context.Context, o *options) error {
	started := o.Now()
	err := runOnce(ctx, o)
	var ee *exitError
	if o.output == "json" && errors.As(err, &ee) && (ee.code == ExitLocked || ee.code == ExitUsage) {
		sum := updater.Summary{DryRun: o.dryRun, Started: started, NotRun: "another run of this config holds the run lock (lock_file): this one did nothing", Err: ee.err}
		if ee.err != nil {
			sum.NotRun = fmt.Sprintf("could not run: %v", ee.err)
		}
		if werr := o.writeJSON(sum); werr != nil {
			fmt.Fprintf(o.Err, "cachet-updater: writing the JSON document to stdout: %v\n", werr)
		}
	}
	return err
}

func runOnce(ctx context.Context, o *options) error {
	log, cfg, err := o.setup(config.Load)
	if err != nil {
		return err
	}
	servers, err := updater.Select(cfg.Servers, o.only) // what keeps the run from starting is said at once
	token, terr := cfg.Token(o.Getenv)
	client, cerr := newCachetClient(cfg, token, o.Version)
	lockFile, lerr := o.pathOr(cfg.LockFile, cfg, state.DefaultLockPath)
	if err = errors.Join(err, terr, cerr, lerr); err != nil {
		return fail(ExitUsage, err)
	}
	for _, w := range append(cfg.Warnings(os.Stat), capProbes(cfg, len(servers), o.FileLimit)...) {
		log.Warn().Msg(w)
	}
	if o.SetMemoryLimit != nil {
		o.SetMemoryLimit(memoryLimit(min(cfg.Probe.Concurrency, len(servers)+len(cfg.Guard.Canaries))))
	}
	unlock, err := state.LockFile(lockFile)
	if errors.Is(err, state.ErrLockBusy) {
		log.Warn().Str("lock_file", lockFile).Msg("another run of this config is still going: skipping this one")
		return fail(ExitLocked, nil)
	} else if err != nil {
		return fail(ExitUsage, err) // an unusable lock_file: a setup problem
	}
	defer unlock()
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.RunTimeout.D(), fmt.Errorf("run_timeout %s exceeded", cfg.RunTimeout))
	defer cancel()
	src, srcErr := updater.OpenSource(cfg.Reports.Source, o.Getenv, o.Now, log)
	deps := updater.Deps{Cachet: client, Source: src, SourceErr: srcErr, Prober: probe.New(userAgent(o.Version)), Now: o.Now, Log: log}
	opts := updater.Options{DryRun: o.dryRun, Only: o.only}
	if cfg.State.SQL.Set() {
		if opts.Vantage, err = vantageName(cfg); err != nil {
			return fail(ExitUsage, err)
		}
		db, err := openShared(ctx, cfg, o, opts.Vantage)
		if err == nil {
			defer db.Close()
			err = db.Prepare(ctx) // creates the tables; a dry run's checks that they are there
		}
		if deps.Shared = db; err != nil {
			deps.Shared = updater.Unavailable(fmt.Sprintf("state database (%s)", cfg.State.SQL.Driver), err)
		}
	} else {
		path, err := o.pathOr(cfg.State.Path, cfg, state.DefaultPath)
		if err != nil {
			return fail(ExitUsage, err)
		}
		deps.State = state.NewFile(path, cfg.Path, o.dryRun) // a dry run changes nothing
	}

	sum, err := updater.Run(ctx, cfg, deps, opts)
	if err != nil {
		return fail(ExitUsage, err)
	}
	if o.output == "json" {
		err = o.writeJSON(sum)
	} else if o.dryRun || len(o.only) > 0 || o.OutTerminal || sum.Failed() || sum.Changed() > 0 {
		out := bufio.NewWriter(o.Out) // one write: a fleet of thousands is thousands of lines
		render(out, sum, len(o.only) > 0)
		err = out.Flush()
	}
	if err != nil {
		log.Error().Err(err).Msg("writing to stdout")
	}
	logSummary(log, sum)
	code := ExitOK
	if sum.Interrupted != nil {
		code = ExitInterrupted
	} else if sum.Failed() {
		code = ExitFailed
	}
	if !o.dryRun && cfg.MetricsFile != "" {
		writeMetrics(ctx, cfg, sum, code, log)
	}
	if code != ExitOK {
		return fail(code, nil)
	}
	return nil
}

// writeMetrics writes metrics_file for a run that ended with code; a
// failed run keeps the last success of the file before. A file that cannot
// be written is logged, never a failure of the run: a missing textfile
// shows in its own alert. It is written after the run's deadline may have
// passed, so it has a bound of its own.
func writeMetrics(ctx context.Context, cfg *config.Config, sum updater.Summary, code int, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	m := promfile.Metrics{RunTime: sum.Started, Duration: sum.Duration, ExitCode: code, Requests: sum.Requests}
	for _, r := range sum.Rows {
		s := promfile.Server{Name: r.Server.Name, ComponentID: r.Server.ComponentID, Duration: r.Probe.Latency, HTTPStatus: r.Probe.Code,
			Success: r.Probe.Class == "" && r.Decision != nil && r.Decision.Probe == status.Operational, CertExpiry: r.Probe.CertExpiry}
		if r.Reports != nil {
			s.Reports, s.ReportsKnown = *r.Reports, true
		}
		if r.Component != nil {
			s.ComponentStatus = int(r.Current)
			if r.Action == updater.Updated {
				s.ComponentStatus = int(r.Publish)
			}
		}
		m.Servers = append(m.Servers, s)
	}
	if err := promfile.Write(ctx, cfg.MetricsFile, m); err != nil {
		log.Error().Err(err).Str("metrics_file", cfg.MetricsFile).Msg("could not write the metrics textfile")
	}
}

// pathOr is path, or def's default for this config and user.
func (o *options) pathOr(path string, cfg *config.Config, def func(string, func(string) string, int) (string, error)) (string, error) {
	if path != "" {
		return path, nil
	}
	return def(cfg.Path, o.Getenv, os.Geteuid())
}

// vantageName is vantage.name (the config checked it), or this machine's
// host name up to its first dot.
func vantageName(cfg *config.Config) (string, error) {
	if cfg.Vantage.Name != "" {
		return cfg.Vantage.Name, nil
	}
	host, err := os.Hostname()
	name, _, _ := strings.Cut(host, ".")
	if err == nil {
		err = state.CheckVantage(name)
	}
	if err != nil {
		return "", fmt.Errorf("vantage.name is not set and the host name cannot stand in (%w): set vantage.name", err)
	}
	return name, nil
}

// openShared opens state.sql, read-only for a dry run.
func openShared(ctx context.Context, cfg *config.Config, o *options, vantage string) (*state.SQL, error) {
	q := cfg.State.SQL
	dsn, err := q.ResolveDSN(o.Getenv)
	if err != nil {
		return nil, fmt.Errorf("state database (%s): %w", q.Driver, err)
	}
	return state.OpenSQL(ctx, state.SQLOptions{Driver: q.Driver, DSN: dsn, Timeout: q.Timeout.D(), Vantage: vantage, ReadOnly: o.dryRun})
}

func logSummary(log zerolog.Logger, s updater.Summary) {
	ev, failed := log.Info(), 0
	if s.Failed() {
		ev = log.Error()
	}
	for _, r := range s.Rows {
		if r.Err != nil {
			failed++
		}
	}
	if s.Offline != "" {
		ev = ev.Str("offline", s.Offline)
	}
	ev.Int("servers", len(s.Rows)).Int("changed", s.Changed()).Int("written", s.Count(updater.Updated)).Int("failed", failed).
		Int("pending", s.Count(updater.Pending)).Int("held", s.Count(updater.Held)).Int64("cachet_reads", s.Reads).Int64("cachet_writes", s.Writes).
		Int64("took_ms", s.Duration.Milliseconds()).Bool("dry_run", s.DryRun).Str("reports", s.Source).
		AnErr("reports_error", s.SourceErr).AnErr("cachet_error", s.CachetErr).AnErr("interrupted", s.Interrupted). // nil: left out
		AnErr("state_error", s.StateErr).AnErr("token_error", s.TokenErr).Msg("run finished")
}

func userAgent(version string) string { return "cachet-updater/" + version }

// newCachetClient builds the client on a transport of its own: nothing
// touches http.DefaultTransport. Proxy settings from the environment apply
// to Cachet (a status page may sit behind one), never to probes.
func newCachetClient(cfg *config.Config, token, version string) (*cachet.Client, error) {
	c := cfg.Cachet
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: (&net.Dialer{Timeout: c.Timeout.D(), KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: c.Timeout.D(), ResponseHeaderTimeout: c.Timeout.D(), MaxIdleConnsPerHost: c.WriteConcurrency + 1,
		IdleConnTimeout: 30 * time.Second, ForceAttemptHTTP2: true}
	return cachet.New(cachet.Options{BaseURL: c.URL, Token: token, HTTPClient: &http.Client{Transport: tr, Timeout: c.Timeout.D()},
		UserAgent: userAgent(version), Retries: c.Retries, API: c.API, TimeZone: c.TimeZone.Loc})
}

// fdReserve is how many file descriptors a run keeps for all but the
// probes (stdio, the lock, the poller, the report source); Cachet's
// connections (write_concurrency) come on top.
const fdReserve = 32

// capProbes lowers probe.concurrency so that every probe can open its socket
// under the open-file limit (0: unknown): a probe that cannot says nothing
// about its server. When it does, it says so and what to do.
func capProbes(cfg *config.Config, servers int, limit uint64) []string {
	n, slots := cfg.Probe.Concurrency, max(1, int(min(limit, 1<<30))-fdReserve-cfg.Cachet.WriteConcurrency)
	if limit == 0 || min(n, servers) <= slots {
		return nil
	}
	cfg.Probe.Concurrency = slots
	return []string{fmt.Sprintf("the open-file limit (%d) allows %s at once, not probe.concurrency %d: probing %d at a time, so the run may take longer; raise the limit (ulimit -n, systemd LimitNOFILE=) to probe more at once",
		limit, plural(slots, "probe"), n, slots)}
}

// memoryLimit is the soft memory limit for a run with inFlight probes: the
// collector works a little harder at the peak instead of letting the heap
// double, and a limit below what the probes need would starve them
// (docs/benchmarks.md).
func memoryLimit(inFlight int) int64 { return max(80<<20, 20<<20+int64(inFlight)*(40<<10)) }
