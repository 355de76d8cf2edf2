package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/runlock"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/updater"
)

// RunOptions are what the run command needs: its flags, the global ones
// and the world it may touch.
type RunOptions struct {
	Env    Env
	Global GlobalOptions
	DryRun bool
	Only   []string // server names or component ids; empty: all
	Output string   // table or json
}

// newRunCmd builds the run command; runF does the work (tests pass their
// own to check how flags land in RunOptions).
func newRunCmd(env Env, g *GlobalOptions, runF func(context.Context, *RunOptions) error) *cobra.Command {
	o := &RunOptions{Env: env}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Probe the fleet, read reports, decide and update Cachet (the cron job)",
		Long: `run does one pass: it probes every server concurrently, reads the report
counts of the window, reads the components' current statuses from Cachet,
decides each server's status and writes only the components whose status
changed.

Each server's status is the worse of two signals:
  probe    the final HTTP code mapped through probe.status (the most specific
           key wins; no match: major_outage); no answer in time: on_timeout
           (performance_issues); refused, reset, DNS, TLS, redirect loop, no
           final answer: on_error (major_outage); slower than slow: at least
           performance_issues
  reports  at least 11 / 20 / 50 reports in the window (reports.thresholds):
           performance_issues / partial_outage / major_outage
A report source that fails is ignored (decided from the probes alone, exit 1).

What is decided is published only after confirm.worse / confirm.better runs
in a row showed it (default 2: a single timeout never reaches the page;
ACTION "pending" meanwhile). A status set by hand in Cachet is left alone for
manual_hold (2h; "held"). A maintenance window, or a Cachet schedule in
progress that covers a server (maintenance.cachet_schedules: on 2.4 one that
names it; maintenance.max_open 12h without an end), leaves its component
alone ("maintenance"). Times in the table and in incident texts are in
time_zone (default: this machine's zone, as cron's). When every server (at least 3) or every
guard.canaries URL gets no HTTP answer, this machine looks offline: no probe
makes a status worse, no hold ends, no confirmation chain moves, no incident
or metric point is written this run (exit 1). A run that writes nothing proves the
token once an hour. The memory for this is the state file (state.path;
default /var/lib/cachet-updater/ for root, ~/.local/state/cachet-updater/
otherwise); --dry-run never changes it, deleting it resets it.
An interrupted probe never changes a status, nor does one this machine could
not make (no file descriptor left: NOT PROBED, exit 1). probe.concurrency is
capped below the open-file limit (ulimit -n), with a warning. A run sets Go's
soft memory limit to 80 MiB, more when over 1,500 probes are in flight
(20 MiB + 40 KiB each); GOMEMLIMIT in the environment overrides it.

run_timeout or SIGINT/SIGTERM end the run within seconds: probes in flight
stop, no new write or retry starts, writes already sent get up to 3s to
finish; then the summary is printed and the run exits 4. A second signal
ends it at once.

A run in which nothing changed and nothing failed prints nothing on stdout
and one summary log line on stderr. For a quiet cron, send stderr to a file
(2>>/var/log/cachet-updater.log) or use --log-level warn; otherwise cron
mails that line every run. When something changed or failed, and always on
a terminal, with --dry-run or with --only, it prints a table.`,
		Example: `  # the crontab line (every 3 minutes; the log goes to a file, cron mails only changes and failures)
  */3 * * * * CACHET_API_TOKEN=... /usr/local/bin/cachet-updater run --config /etc/cachet-updater/config.yaml 2>>/var/log/cachet-updater.log

  # see what it would change, write nothing
  cachet-updater run --config config.yaml --dry-run

  # debug one server: full detail, which rule decided
  cachet-updater run --config config.yaml --only "Stream 14" --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Global = *g
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVarP(&o.DryRun, "dry-run", "n", false, "do everything but write to Cachet; print what would change")
	cmd.Flags().StringArrayVar(&o.Only, "only", nil, "run just this server (a name or a component id; repeatable) and print full detail")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "table, or json: one document with every row and the summary, printed on every run")
	choice(cmd, "output", "table", "json")
	_ = cmd.RegisterFlagCompletionFunc("only", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return serverNames(g.ConfigPath), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// runRun is one run from a config path on; the demo calls it too. With
// --output json it prints one document on every run, also on one that did
// nothing (not_run says why).
func runRun(ctx context.Context, o *RunOptions) error {
	started := o.Env.Now()
	err := runOnce(ctx, o)
	var ee *exitError
	if o.Output != "json" || !errors.As(err, &ee) || (ee.code != ExitLocked && ee.code != ExitUsage) {
		return err
	}
	why := "another run of this config holds the run lock (lock_file): this one did nothing"
	if ee.code == ExitUsage {
		why = fmt.Sprintf("could not run: %v", ee.err)
	}
	doc := RunJSON{Version: JSONVersion, DryRun: o.DryRun, Started: started.UTC(), NotRun: &why, Rows: []RowJSON{},
		Summary: SummaryJSON{Failed: ee.code == ExitUsage}}
	if werr := writeJSON(o.Env.Out, doc); werr != nil {
		fmt.Fprintf(o.Env.Err, "cachet-updater: writing the JSON document to stdout: %v\n", werr)
	}
	return err
}

func runOnce(ctx context.Context, o *RunOptions) error {
	env := o.Env
	log, err := o.Global.logger(env)
	if err != nil {
		return fail(ExitUsage, err)
	}
	cfg, err := config.Load(o.Global.ConfigPath)
	if err != nil {
		return fail(ExitUsage, err)
	}
	servers, err := updater.Select(cfg.Servers, o.Only)
	if err != nil {
		return fail(ExitUsage, err)
	}
	for _, w := range cfg.Warnings(os.Stat) {
		log.Warn().Msg(w)
	}
	if env.OpenFileLimit != nil {
		var why string
		cfg.Probe.Concurrency, why = probeConcurrency(cfg.Probe.Concurrency, len(servers), cfg.Cachet.WriteConcurrency, env.OpenFileLimit())
		if why != "" {
			log.Warn().Msg(why)
		}
	}
	if env.SetMemoryLimit != nil {
		env.SetMemoryLimit(memoryLimit(min(cfg.Probe.Concurrency, len(servers)+len(cfg.Guard.Canaries))))
	}
	token, err := cfg.Token(env.Getenv)
	if err != nil {
		return fail(ExitUsage, err)
	}

	lockFile := cfg.LockFile
	if lockFile == "" { // the config leaves it empty when lock_file is not set
		if lockFile, err = runlock.DefaultPath(cfg.Path, env.Getenv, os.Geteuid()); err != nil {
			return fail(ExitUsage, err)
		}
	}
	lock, err := runlock.Acquire(lockFile)
	if err != nil {
		if errors.Is(err, runlock.ErrHeld) {
			log.Warn().Str("lock_file", lockFile).Msg("another run of this config is still going: skipping this one")
			return silentExit(ExitLocked)
		}
		return fail(ExitUsage, err) // an unusable lock_file: a setup problem
	}
	defer lock.Release()

	ctx, cancel := context.WithTimeoutCause(ctx, cfg.RunTimeout.D(), fmt.Errorf("run_timeout %s exceeded", cfg.RunTimeout))
	defer cancel()

	client, err := newCachetClient(cfg, token, env.Version)
	if err != nil {
		return fail(ExitUsage, err)
	}
	src, srcErr := updater.OpenSource(cfg.Reports.Source, env.Getenv, env.Now, log)
	prober := probe.New(userAgent(env.Version))
	deps := updater.Deps{
		Cachet:    client,
		Source:    src,
		SourceErr: srcErr,
		Prober:    prober,
		Now:       env.Now,
		Log:       log,
	}
	opts := updater.Options{DryRun: o.DryRun, Only: o.Only}
	if cfg.State.SQL.Set() {
		if opts.Vantage, err = vantageName(cfg); err != nil {
			return fail(ExitUsage, err)
		}
		shared, closeShared := openShared(ctx, cfg, env, opts.Vantage, o.DryRun)
		defer closeShared()
		deps.Shared = shared
	} else if deps.State, err = stateStore(cfg, env, o.DryRun); err != nil {
		return fail(ExitUsage, err)
	}

	sum, err := updater.Run(ctx, cfg, deps, opts)
	if err != nil {
		return fail(ExitUsage, err)
	}

	show := o.DryRun || len(o.Only) > 0 || env.IsTerminal(env.Out) || sum.Failed() ||
		sum.Count(updater.Updated) > 0 || sum.Count(updater.WouldUpdate) > 0
	if o.Output == "json" {
		if err := writeJSON(env.Out, runJSON(sum)); err != nil {
			log.Error().Err(err).Msg("writing the JSON document to stdout")
		}
	} else if show {
		// One buffered write: a fleet of thousands is thousands of lines.
		out := bufio.NewWriter(env.Out)
		if len(o.Only) > 0 {
			renderDetail(out, sum)
		} else {
			renderTable(out, sum)
		}
		fmt.Fprintln(out, summaryLine(sum))
		if err := out.Flush(); err != nil {
			log.Error().Err(err).Msg("writing the table to stdout")
		}
	}
	logSummary(log, sum)
	code := ExitOK
	switch {
	case sum.Interrupted != nil:
		code = ExitInterrupted
	case sum.Failed():
		code = ExitFailed
	}
	if !o.DryRun {
		writeMetrics(ctx, cfg, sum, code, log)
	}
	if code != ExitOK {
		return silentExit(code)
	}
	return nil
}

// serverNames completes --only: the servers of the config the command line
// names (or the default one); none when it cannot be loaded.
func serverNames(path string) []string {
	cfg, err := config.Load(path)
	if err != nil {
		return nil
	}
	names := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		names[i] = s.Name
	}
	return names
}

// statePath is state.path, or the default for this config and user.
func statePath(cfg *config.Config, env Env) (string, error) {
	if cfg.State.Path != "" {
		return cfg.State.Path, nil
	}
	return state.DefaultPath(cfg.Path, env.Getenv, os.Geteuid())
}

// vantageName is vantage.name, or this machine's host name.
func vantageName(cfg *config.Config) (string, error) {
	name := cfg.Vantage.Name
	if name == "" {
		host, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("vantage.name is not set and the host name cannot be read (%v): set vantage.name", err)
		}
		name, _, _ = strings.Cut(host, ".")
	}
	if err := state.CheckVantage(name); err != nil {
		return "", fmt.Errorf("%w: set vantage.name", err)
	}
	return name, nil
}

// openShared opens and migrates state.sql (for a dry run: read-only, and
// only checks the schema). A database that cannot be opened is not a setup
// error: the run says so, and with quorum.probes 1 decides from its own
// probes.
func openShared(ctx context.Context, cfg *config.Config, env Env, vantage string, dryRun bool) (updater.Shared, func()) {
	q := cfg.State.SQL
	name := fmt.Sprintf("state database (%s)", q.Driver)
	dsn, err := q.ResolveDSN(env.Getenv)
	if err != nil {
		return updater.Unavailable(name, fmt.Errorf("%s: %w", name, err)), func() {}
	}
	s, err := state.OpenSQL(ctx, state.SQLOptions{Driver: q.Driver, DSN: dsn, Timeout: q.Timeout.D(), Vantage: vantage, ReadOnly: dryRun})
	if err != nil {
		return updater.Unavailable(name, err), func() {}
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return updater.Unavailable(name, err), func() {}
	}
	return s, func() { s.Close() }
}

func stateStore(cfg *config.Config, env Env, dryRun bool) (state.Store, error) {
	path, err := statePath(cfg, env)
	if err != nil {
		return nil, err
	}
	if dryRun {
		return state.NewFile(path, cfg.Path).ReadOnly(), nil
	}
	return state.NewFile(path, cfg.Path), nil
}

func logSummary(log zerolog.Logger, s updater.Summary) {
	ev := log.Info()
	if s.Failed() {
		ev = log.Error()
	}
	ev = ev.Int("servers", len(s.Rows)).
		Int("changed", s.Count(updater.Updated)+s.Count(updater.WouldUpdate)+s.Count(updater.WriteFailed)).
		Int("written", s.Count(updater.Updated)).
		Int("failed", failedRows(s)).
		Int("pending", s.Count(updater.Pending)).Int("held", s.Count(updater.Held)).
		Int64("cachet_reads", s.Reads).Int64("cachet_writes", s.Writes).
		Int64("took_ms", s.Duration.Milliseconds()).Bool("dry_run", s.DryRun).Str("reports", s.Source)
	if s.SourceErr != nil {
		ev = ev.AnErr("reports_error", s.SourceErr)
	}
	if s.CachetErr != nil {
		ev = ev.AnErr("cachet_error", s.CachetErr)
	}
	if s.Interrupted != nil {
		ev = ev.AnErr("interrupted", s.Interrupted)
	}
	if s.Offline != "" {
		ev = ev.Str("offline", s.Offline)
	}
	if s.StateErr != nil {
		ev = ev.AnErr("state_error", s.StateErr)
	}
	if s.TokenErr != nil {
		ev = ev.AnErr("token_error", s.TokenErr)
	}
	ev.Msg("run finished")
}

func failedRows(s updater.Summary) int {
	n := 0
	for _, r := range s.Rows {
		if r.Err != nil {
			n++
		}
	}
	return n
}

func userAgent(version string) string { return "cachet-updater/" + version }

// newCachetClient builds the client with a transport of its own: nothing
// here touches http.DefaultTransport. Proxy settings from the environment
// apply to Cachet (a status page may sit behind one), never to probes.
func newCachetClient(cfg *config.Config, token, version string) (*cachet.Client, error) {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.Cachet.Timeout.D(), KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   cfg.Cachet.Timeout.D(),
		ResponseHeaderTimeout: cfg.Cachet.Timeout.D(),
		MaxIdleConnsPerHost:   cfg.Cachet.WriteConcurrency + 1,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return cachet.New(cachet.Options{
		BaseURL:    cfg.Cachet.URL,
		Token:      token,
		HTTPClient: &http.Client{Transport: tr, Timeout: cfg.Cachet.Timeout.D()},
		UserAgent:  userAgent(version),
		Retries:    cfg.Cachet.Retries,
		API:        cfg.Cachet.API,
		TimeZone:   cfg.Cachet.TimeZone.Loc,
	})
}

// logger builds the one logger of a command from the log flags.
func (g GlobalOptions) logger(env Env) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(strings.ToLower(g.LogLevel))
	if err != nil || g.LogLevel == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: use debug, info, warn or error", g.LogLevel)
	}
	// Writes log from several goroutines; the writer may be any io.Writer.
	out := zerolog.SyncWriter(env.Err)
	var w io.Writer = out
	switch g.LogFormat {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: out, TimeFormat: time.TimeOnly, NoColor: !env.IsTerminal(env.Err)}
	case "":
		if env.IsTerminal(env.Err) {
			w = zerolog.ConsoleWriter{Out: out, TimeFormat: time.TimeOnly}
		}
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format %q: use json or console", g.LogFormat)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}
