package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/updater"
)

// CheckOptions are what the check command needs.
type CheckOptions struct {
	Env    Env
	Global GlobalOptions
	Output string // text or json
}

func newCheckCmd(env Env, g *GlobalOptions, runF func(context.Context, *CheckOptions) error) *cobra.Command {
	o := &CheckOptions{Env: env}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the config, the secrets, Cachet and the report source; write nothing",
		Long: `check is for the first setup and for CI. It validates the config
(printing every error at once), resolves the secrets, says where the state
file is and checks that it can be written, pings Cachet, proves the token
with an authenticated read, checks that every component_id exists in Cachet
(and notes each Cachet component no server maps to), checks the metric ids,
and reads the report source once. It warns when the open-file limit
(ulimit -n) is too low for probe.concurrency, when run_timeout is too short
for the probe timeouts, when a file holding a secret is readable by other
users, and when a metric would chart the points wrong (a sum metric; on
Cachet 3.x a threshold that drops the points of runs closer together).
On Cachet 3.x it proves that the token may update components
(components.manage: a PATCH without a field, which changes nothing), names
the other abilities the config needs, and warns when a run may send more
requests than Cachet's rate limits let through in a minute (300, and 60 in
the 3.x app skeleton). It probes no server, changes nothing in Cachet and
does not change the state file. A config with only cachet: is enough to
check Cachet (the missing servers are then a failed check).

Exit codes: 0 all checks passed (unmapped components are only a note),
1 a check failed, 2 the config could not be loaded.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Global = *g
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "text or json (one document: every check and whether all passed)")
	choice(cmd, "output", "text", "json")
	return cmd
}

// CheckJSON is what `check --output json` prints.
type CheckJSON struct {
	Version int         `json:"version"`
	Passed  bool        `json:"passed"`
	Checks  []CheckItem `json:"checks"`
}

// CheckItem is one line of the checklist.
type CheckItem struct {
	Status  string `json:"status"` // ok, note, warn, fail
	Message string `json:"message"`
}

// checklist prints each check as it is made, or collects them for JSON.
type checklist struct {
	w      io.Writer // nil: collect only
	items  []CheckItem
	failed bool
}

func (c *checklist) ok(format string, a ...any)   { c.line("ok", format, a...) }
func (c *checklist) note(format string, a ...any) { c.line("note", format, a...) }
func (c *checklist) warn(format string, a ...any) { c.line("warn", format, a...) }
func (c *checklist) fail(format string, a ...any) {
	c.failed = true
	c.line("FAIL", format, a...)
}
func (c *checklist) line(tag, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	c.items = append(c.items, CheckItem{Status: strings.ToLower(tag), Message: msg})
	if c.w != nil {
		fmt.Fprintf(c.w, "%-6s %s\n", "["+tag+"]", msg)
	}
}

func runCheck(ctx context.Context, o *CheckOptions) error {
	env := o.Env
	log, err := o.Global.logger(env)
	if err != nil {
		return fail(ExitUsage, err)
	}
	// A config with only cachet: is enough to check Cachet (the first step
	// of a setup); the missing servers are then a failed check.
	cfg, err := config.LoadCachetOnly(o.Global.ConfigPath)
	if err != nil {
		return fail(ExitUsage, err)
	}
	c := &checklist{w: env.Out}
	if o.Output == "json" {
		c.w = nil
	}
	if len(cfg.Servers) == 0 {
		c.fail("config %s: no servers: list them under servers: (`cachet-updater components --output yaml` prints a starter config)", cfg.Path)
	} else {
		c.ok("config %s: %s", cfg.Path, plural(int64(len(cfg.Servers)), "server"))
	}
	for _, w := range cfg.Warnings(os.Stat) {
		c.warn("%s", w)
	}
	if env.OpenFileLimit != nil {
		if _, why := probeConcurrency(cfg.Probe.Concurrency, len(cfg.Servers), cfg.Cachet.WriteConcurrency, env.OpenFileLimit()); why != "" {
			c.warn("%s", why)
		}
	}
	token, err := cfg.Token(env.Getenv)
	if err != nil {
		c.fail("token: %v", err)
	} else {
		c.ok("token: read from %s", cfg.Cachet.TokenSource())
	}
	checkState(ctx, c, cfg, env)
	checkCachet(ctx, c, cfg, token, err == nil, env.Version)
	checkSource(ctx, c, cfg, env, log)
	switch {
	case o.Output == "json":
		if err := writeJSON(env.Out, CheckJSON{Version: JSONVersion, Passed: !c.failed, Checks: c.items}); err != nil {
			return fail(ExitFailed, fmt.Errorf("writing to stdout: %w", err))
		}
	case c.failed:
		fmt.Fprintln(env.Out, "some checks failed")
	default:
		fmt.Fprintln(env.Out, "all checks passed")
	}
	if c.failed {
		return silentExit(ExitFailed)
	}
	return nil
}

func checkCachet(ctx context.Context, c *checklist, cfg *config.Config, token string, haveToken bool, version string) {
	client, err := newCachetClient(cfg, token, version)
	if err != nil {
		c.fail("cachet.url: %v", err)
		return
	}
	if err := client.Ping(ctx); err != nil {
		c.fail("Cachet at %s does not answer ping: %v", cfg.Cachet.URL, err)
		return
	}
	c.ok("Cachet at %s answers ping", cfg.Cachet.URL)
	api, err := client.API(ctx)
	if err != nil {
		c.fail("Cachet API: %v", err)
	} else {
		c.ok("Cachet API: %s (cachet.api %s)", api, cfg.Cachet.API)
	}
	proved := false
	if !haveToken {
		c.fail("token not checked: no token")
	} else if err := client.VerifyToken(ctx); err != nil {
		c.fail("token refused by Cachet: %v", err)
	} else {
		proved = true
		c.ok("token accepted by Cachet (authenticated read)")
	}
	comps, err := client.Components(ctx)
	if err != nil {
		c.fail("listing components: %v", err)
		return
	}
	known := map[int]cachet.Component{}
	for _, k := range comps {
		known[k.ID] = k
	}
	mapped := map[int]bool{}
	missing := 0
	for _, s := range cfg.Servers {
		mapped[s.ComponentID] = true
		k, ok := known[s.ComponentID]
		switch {
		case !ok && proved:
			missing++
			c.fail("server %q (line %d): component %d does not exist in Cachet", s.Name, s.Line, s.ComponentID)
		case !ok:
			// Cachet serves a refused token's reads as a guest's.
			missing++
			c.fail("server %q (line %d): component %d is not in the listing Cachet served as a guest's, without an accepted token: a guest does not see disabled components", s.Name, s.Line, s.ComponentID)
		case k.Unreadable != "":
			c.warn("server %q (line %d): Cachet sends the status of component %d as %s, which is no status: a run leaves it alone", s.Name, s.Line, s.ComponentID, k.Unreadable)
		}
	}
	if missing == 0 && len(cfg.Servers) > 0 {
		c.ok("the %s exist in Cachet (%s listed)", plural(int64(len(cfg.Servers)), "component id"), plural(int64(len(comps)), "component"))
	}
	for _, k := range comps {
		if !mapped[k.ID] {
			c.note("Cachet component %d %q: no server maps to it", k.ID, k.Name)
		}
	}
	if api == cachet.APIv3 && proved {
		checkAbilities(ctx, c, cfg, client, known)
	}
	checkMetrics(ctx, c, cfg, client, api)
	if api == cachet.APIv3 {
		checkLimits(c, cfg, comps)
	}
}

// checkAbilities proves on Cachet 3.x the token ability it can prove
// without a change (components.manage) and names the ones only a write
// proves.
func checkAbilities(ctx context.Context, c *checklist, cfg *config.Config, client *cachet.Client, known map[int]cachet.Component) {
	var unproved []string
	id := 0
	for _, s := range cfg.Servers {
		if _, ok := known[s.ComponentID]; ok {
			id = s.ComponentID
			break
		}
	}
	if id == 0 {
		unproved = append(unproved, "components.manage")
	} else if err := client.ProveComponentWrites(ctx, id); err != nil {
		c.fail("token may not update components: %v", err)
	} else {
		c.ok("token may update components (components.manage: PATCH /components/%d without a field, which changes nothing)", id)
	}
	if cfg.Incidents.Enabled {
		unproved = append(unproved, "incidents.manage", "incident-updates.manage")
	}
	if metricIDs(cfg) > 0 {
		unproved = append(unproved, "metric-points.manage")
	}
	if len(unproved) > 0 {
		c.note("the token also needs %s: check cannot prove them without writing, and without them Cachet 3.x answers the first such write 403 \"Invalid ability provided.\"", strings.Join(unproved, ", "))
	}
}

// metricIDs counts the servers with a metric_id or a reports_metric_id.
func metricIDs(cfg *config.Config) int {
	n := 0
	for _, s := range cfg.Servers {
		if s.MetricID > 0 || s.ReportsMetricID > 0 {
			n++
		}
	}
	return n
}

// checkMetrics checks that every metric_id and reports_metric_id exists,
// and warns about what Cachet would make of the points: a sum metric
// multiplies the points it folds together, and on 3.x a threshold longer
// than a minute drops the points of runs closer together than it.
func checkMetrics(ctx context.Context, c *checklist, cfg *config.Config, client *cachet.Client, api string) {
	uses := metricIDs(cfg)
	if uses == 0 {
		return
	}
	metrics, err := client.Metrics(ctx)
	if err != nil {
		c.fail("listing metrics: %v", err)
		return
	}
	known := map[int]cachet.Metric{}
	for _, m := range metrics {
		known[m.ID] = m
	}
	missing, seen := false, map[int]bool{}
	for _, s := range cfg.Servers {
		for _, key := range []struct {
			name string
			id   int
		}{{"metric_id", s.MetricID}, {"reports_metric_id", s.ReportsMetricID}} {
			m, ok := known[key.id]
			switch {
			case key.id <= 0 || seen[key.id]:
				continue
			case !ok:
				missing = true
				c.fail("server %q (line %d): %s %d does not exist in Cachet", s.Name, s.Line, key.name, key.id)
				continue
			}
			seen[key.id] = true
			what := fmt.Sprintf("server %q (line %d): %s %d (%q)", s.Name, s.Line, key.name, m.ID, m.Name)
			if m.Sum {
				c.warn("%s is a sum metric: Cachet folds an equal value posted within the metric's threshold into one point with a counter, and a sum multiplies them (3 reports posted by 40 runs chart as 120): make it an average metric (calc_type 1)", what)
			}
			if api == cachet.APIv3 && m.Threshold > 1 {
				c.warn("%s has a threshold of %d minutes: Cachet 3.x keeps the first point within it and only counts the later ones, so the points of runs less than %d minutes apart are lost: set the metric's threshold to the cron's interval in minutes or less", what, m.Threshold, m.Threshold)
			}
		}
	}
	if !missing {
		c.ok("the metric ids of %s exist in Cachet", plural(int64(uses), "server"))
	}
}

// checkLimits warns when a run may send Cachet 3.x more requests than its
// rate limits let through in a minute: core's 300 (CACHET_API_RATE_LIMIT)
// and the 3.x app skeleton's 60 on top, both counted per user (the token)
// or IP. At worst a run reads the listing's pages (100 components a page,
// enabled and disabled ones apart) and the schedules, writes every
// component and an incident for each, and posts every point.
func checkLimits(c *checklist, cfg *config.Config, comps []cachet.Component) {
	const skeleton, core = 60, 300
	pages := func(n int) int { return max(1, (n+99)/100) }
	enabled := 0
	for _, k := range comps {
		if k.Enabled {
			enabled++
		}
	}
	reads := pages(enabled) + pages(len(comps)-enabled)
	if cfg.Maintenance.CachetSchedules != config.SchedulesOff {
		reads++
	}
	writes, points := len(cfg.Servers), 0
	for _, s := range cfg.Servers {
		if cfg.Incidents.Enabled {
			writes++
		}
		if s.MetricID > 0 {
			points++
		}
		if s.ReportsMetricID > 0 {
			points++
		}
	}
	n := reads + writes + points
	if n <= skeleton {
		return
	}
	limits := fmt.Sprintf("the %d a minute of the 3.x app skeleton's own limiter", skeleton)
	if n > core {
		limits += fmt.Sprintf(" and the %d a minute of core's (CACHET_API_RATE_LIMIT)", core)
	}
	c.warn("a run may send Cachet up to %d requests (at worst %d reads, %d writes, %d points), more than %s: Cachet answers the rest 429 Too Many Attempts; raise the limits (the skeleton's is in its app/Providers/AppServiceProvider.php)", n, reads, writes, points, limits)
}

// checkState says where the state lives and that a run can write there; it
// changes nothing in the state file itself.
func checkState(ctx context.Context, c *checklist, cfg *config.Config, env Env) {
	if cfg.State.SQL.Set() {
		checkSharedState(ctx, c, cfg, env)
		return
	}
	path, err := statePath(cfg, env)
	if err != nil {
		c.fail("state: %v", err)
		return
	}
	if err := state.CheckWritable(ctx, path); err != nil {
		c.fail("state: %v", err)
		return
	}
	c.ok("state: %s (writable)", path)
}

// checkSharedState connects to state.sql, reads its schema version and
// takes and releases the decision lock; it creates and changes nothing.
func checkSharedState(ctx context.Context, c *checklist, cfg *config.Config, env Env) {
	q := cfg.State.SQL
	vantage, err := vantageName(cfg)
	if err != nil {
		c.fail("vantage: %v", err)
	} else {
		c.ok("vantage: %s", vantage)
	}
	dsn, err := q.ResolveDSN(env.Getenv)
	if err != nil {
		c.fail("state database (%s): %v", q.Driver, err)
		return
	}
	s, err := state.OpenSQL(ctx, state.SQLOptions{Driver: q.Driver, DSN: dsn, Timeout: q.Timeout.D(), Vantage: vantage})
	if err != nil {
		c.fail("state database (%s): %v", q.Driver, err)
		return
	}
	defer s.Close()
	h, err := s.Check(ctx)
	switch {
	case err != nil:
		c.fail("state database (%s): %v", q.Driver, err)
		return
	case h.Schema == 0:
		c.ok("state database (%s): reachable; its tables are created by the first run (schema version %d)", q.Driver, state.SchemaVersion)
	case h.Schema < state.SchemaVersion:
		c.ok("state database (%s): schema version %d; the next run migrates it to %d", q.Driver, h.Schema, state.SchemaVersion)
	default:
		c.ok("state database (%s): schema version %d", q.Driver, h.Schema)
	}
	if h.LockBusy {
		c.note("state database (%s): a run holds the decision lock right now", q.Driver)
	} else if h.Schema > 0 {
		c.ok("state database (%s): the decision lock can be taken", q.Driver)
	}
	c.ok("quorum: %s of the vantages with a view fresher than %s", plural(int64(cfg.Quorum.Probes), "vantage"), cfg.Quorum.Fresh)
}

// checkSource reads the report source once; its warnings (reports dated in
// the future) go to the log on stderr.
func checkSource(ctx context.Context, c *checklist, cfg *config.Config, env Env, log zerolog.Logger) {
	name := updater.SourceName(cfg.Reports.Source)
	src, err := updater.OpenSource(cfg.Reports.Source, env.Getenv, env.Now, log)
	if err != nil {
		c.fail("reports: %v", err)
		return
	}
	if src == nil {
		c.note("reports: no source configured (type none): statuses come from the probes alone")
		return
	}
	counts, err := src.Counts(ctx, env.Now().Add(-cfg.Reports.Window.D()))
	if err != nil {
		c.fail("reports: %v", err)
		return
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	c.ok("reports: %s read: %d keys, %d reports in the window", name, len(counts), total)
	keys := map[string]bool{}
	for _, s := range cfg.Servers {
		keys[s.ReportsKey] = true
	}
	var stray []string
	for k := range counts {
		if !keys[k] {
			stray = append(stray, fmt.Sprintf("%q", k))
		}
	}
	if len(stray) > 0 {
		sort.Strings(stray)
		if len(stray) > 10 {
			stray = append(stray[:10], "...")
		}
		c.note("report keys no server uses (check reports_key): %s", strings.Join(stray, ", "))
	}
}
