package cli

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/updater"
)

const checkHelp = `check validates the config (every error at once), resolves the secrets, checks
the state, pings Cachet, proves the token, checks every component and metric id,
reads the report source once and warns about what would go wrong at run time.
It probes no server and changes nothing. Exit codes: 0 passed, 1 failed, 2 bad config.`

// checklist prints each check as it is made, or collects them for JSON.
type checklist struct {
	o       *options
	Version int         `json:"version"`
	Passed  bool        `json:"passed"`
	Checks  []checkItem `json:"checks"`
}

type checkItem struct {
	Status  string `json:"status"` // ok, note, warn, fail
	Message string `json:"message"`
}

// add records a check; tag is ok, note, warn or FAIL.
func (c *checklist) add(tag, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	c.Checks = append(c.Checks, checkItem{strings.ToLower(tag), msg})
	c.Passed = c.Passed && tag != "FAIL"
	if c.o.output != "json" {
		fmt.Fprintf(c.o.Out, "%-6s %s\n", "["+tag+"]", msg)
	}
}

// either records "what: err" as a failure, or when err is nil the message.
func (c *checklist) either(err error, what, format string, a ...any) bool {
	if err != nil {
		c.add("FAIL", "%s: %v", what, err)
		return false
	}
	c.add("ok", format, a...)
	return true
}

func runCheck(ctx context.Context, o *options) error {
	log, cfg, err := o.setup(config.LoadCachetOnly) // the servers may be missing: the first step of a setup
	if err != nil {
		return err
	}
	c := &checklist{o: o, Version: updater.JSONVersion, Passed: true}
	if n := len(cfg.Servers); n == 0 {
		c.add("FAIL", "config %s: no servers: list them under servers: (`cachet-updater components --output yaml` prints a starter config)", cfg.Path)
	} else {
		c.add("ok", "config %s: %s", cfg.Path, plural(n, "server"))
	}
	for _, w := range append(cfg.Warnings(os.Stat), capProbes(cfg, len(cfg.Servers), o.FileLimit)...) {
		c.add("warn", "%s", w)
	}
	token, err := cfg.Token(o.Getenv)
	c.either(err, "token", "token: read from %s", cfg.Cachet.TokenSource())
	c.state(ctx, cfg)
	c.cachet(ctx, cfg, token, err == nil)
	c.source(ctx, cfg, log)
	if o.output == "json" {
		err = o.writeJSON(c)
	} else {
		_, err = fmt.Fprintln(o.Out, map[bool]string{true: "all checks passed", false: "some checks failed"}[c.Passed])
	}
	if err != nil || !c.Passed {
		return fail(ExitFailed, err)
	}
	return nil
}

func (c *checklist) cachet(ctx context.Context, cfg *config.Config, token string, haveToken bool) {
	client, err := newCachetClient(cfg, token, c.o.Version)
	if err == nil {
		err = client.Ping(ctx)
	}
	if !c.either(err, "Cachet at "+cfg.Cachet.URL, "Cachet at %s answers ping", cfg.Cachet.URL) {
		return
	}
	api := client.API()
	c.add("ok", "Cachet API: %s (cachet.api %s)", api, cfg.Cachet.API)
	// Without a token its own check failed already.
	proved := haveToken && c.either(client.VerifyToken(ctx), "token refused by Cachet", "token accepted by Cachet (authenticated read)")
	comps, err := client.Components(ctx)
	if err != nil {
		c.add("FAIL", "listing components: %v", err)
		return
	}
	absent := "does not exist in Cachet"
	if !proved { // Cachet serves a refused token's reads as a guest's
		absent = "is not in the listing Cachet served as a guest's, without an accepted token: a guest does not see disabled components"
	}
	known, mapped, missing, writable := map[int]cachet.Component{}, map[int]bool{}, false, 0
	enabled, metricServers, points := 0, 0, 0
	for _, k := range comps {
		if known[k.ID] = k; k.Enabled {
			enabled++
		}
	}
	for _, s := range cfg.Servers {
		mapped[s.ComponentID] = true
		metricServers += min(s.MetricID+s.ReportsMetricID, 1) // ids are positive or 0
		points += min(s.MetricID, 1) + min(s.ReportsMetricID, 1)
		k, ok := known[s.ComponentID]
		if ok && writable == 0 {
			writable = s.ComponentID
		}
		switch {
		case !ok:
			missing = true
			c.add("FAIL", "server %q (line %d): component %d %s", s.Name, s.Line, s.ComponentID, absent)
		case k.Unreadable != "":
			c.add("warn", "server %q (line %d): Cachet sends the status of component %d as %s, which is no status: a run leaves it alone", s.Name, s.Line, s.ComponentID, k.Unreadable)
		}
	}
	if !missing && len(cfg.Servers) > 0 {
		c.add("ok", "the %s exist in Cachet (%s listed)", plural(len(cfg.Servers), "component id"), plural(len(comps), "component"))
	}
	for _, k := range comps {
		if !mapped[k.ID] {
			c.add("note", "Cachet component %d %q: no server maps to it", k.ID, k.Name)
		}
	}
	if api == cachet.APIv3 && proved { // a PATCH without a field proves components.manage; the rest only a write would
		var unproved []string
		if writable == 0 {
			unproved = append(unproved, "components.manage")
		} else {
			c.either(client.ProveComponentWrites(ctx, writable), "token may not update components",
				"token may update components (components.manage: PATCH /components/%d without a field, which changes nothing)", writable)
		}
		if cfg.Incidents.Enabled {
			unproved = append(unproved, "incidents.manage", "incident-updates.manage")
		}
		if metricServers > 0 {
			unproved = append(unproved, "metric-points.manage")
		}
		if len(unproved) > 0 {
			c.add("note", "the token also needs %s: check cannot prove them without writing, and without them Cachet 3.x answers the first such write 403 \"Invalid ability provided.\"", strings.Join(unproved, ", "))
		}
	}
	if metricServers > 0 {
		c.metrics(ctx, cfg, client, api, metricServers)
	}
	if api == cachet.APIv3 {
		c.limits(cfg, enabled, len(comps)-enabled, points)
	}
}

// metrics checks that every metric id exists, and warns about what Cachet
// would make of the points: a sum metric multiplies the points it folds
// together, and on 3.x a threshold over a minute drops the points of runs
// closer together than it.
func (c *checklist) metrics(ctx context.Context, cfg *config.Config, client *cachet.Client, api string, servers int) {
	list, err := client.Metrics(ctx)
	if err != nil {
		c.add("FAIL", "listing metrics: %v", err)
		return
	}
	known, missing, seen := map[int]cachet.Metric{}, false, map[int]bool{}
	for _, m := range list {
		known[m.ID] = m
	}
	for _, s := range cfg.Servers {
		for i, id := range []int{s.MetricID, s.ReportsMetricID} {
			m, ok := known[id]
			what := fmt.Sprintf("server %q (line %d): %s %d", s.Name, s.Line, []string{"metric_id", "reports_metric_id"}[i], id)
			if id <= 0 || seen[id] {
				continue
			} else if !ok {
				missing = true
				c.add("FAIL", "%s does not exist in Cachet", what)
				continue
			}
			seen[id], what = true, fmt.Sprintf("%s (%q)", what, m.Name)
			if m.Sum {
				c.add("warn", "%s is a sum metric: Cachet folds an equal value posted within the metric's threshold into one point with a counter, and a sum multiplies them (3 reports posted by 40 runs chart as 120): make it an average metric (calc_type 1)", what)
			}
			if api == cachet.APIv3 && m.Threshold > 1 {
				c.add("warn", "%s has a threshold of %d minutes: Cachet 3.x keeps the first point within it and only counts the later ones, so the points of runs less than %d minutes apart are lost: set the metric's threshold to the cron's interval in minutes or less", what, m.Threshold, m.Threshold)
			}
		}
	}
	if !missing {
		c.add("ok", "the metric ids of %s exist in Cachet", plural(servers, "server"))
	}
}

// limits warns when a run may send Cachet 3.x more requests than its rate
// limits let through in a minute: the 3.x app skeleton's 60, and core's
// 300 (CACHET_API_RATE_LIMIT), per token or IP. At worst a run reads the
// listing's pages (100 a page, enabled and disabled apart) and the
// schedules, writes every component and an incident for each, and posts
// every point.
func (c *checklist) limits(cfg *config.Config, enabled, disabled, points int) {
	reads, writes := max(1, (enabled+99)/100)+max(1, (disabled+99)/100), len(cfg.Servers)
	if cfg.Maintenance.CachetSchedules != config.SchedulesOff {
		reads++
	}
	if cfg.Incidents.Enabled {
		writes *= 2
	}
	limits := "the 60 a minute of the 3.x app skeleton's own limiter"
	if n := reads + writes + points; n > 300 {
		limits += " and the 300 a minute of core's (CACHET_API_RATE_LIMIT)"
	} else if n <= 60 {
		return
	}
	c.add("warn", "a run may send Cachet up to %d requests (at worst %d reads, %d writes, %d points), more than %s: Cachet answers the rest 429 Too Many Attempts; raise the limits (the skeleton's is in its app/Providers/AppServiceProvider.php)", reads+writes+points, reads, writes, points, limits)
}

// state says where the state lives and that a run can write there; it
// changes nothing in it. A shared database is connected to, its tables
// looked for and its decision lock taken and released.
func (c *checklist) state(ctx context.Context, cfg *config.Config) {
	if !cfg.State.SQL.Set() {
		path, err := c.o.pathOr(cfg.State.Path, cfg, state.DefaultPath)
		if err == nil {
			err = state.CheckWritable(ctx, path)
		}
		c.either(err, "state", "state: %s (writable)", path)
		return
	}
	vantage, err := vantageName(cfg)
	c.either(err, "vantage", "vantage: %s", vantage)
	name := "state database (" + cfg.State.SQL.Driver + ")"
	db, err := openShared(ctx, cfg, c.o, vantage)
	var tables, busy bool
	if err == nil {
		defer db.Close()
		tables, busy, err = db.Check(ctx)
	}
	if err != nil {
		c.add("FAIL", "%v", err) // it names the database
		return
	}
	c.add("ok", "%s: reachable%s", name, map[bool]string{true: ", its tables are there", false: "; its tables are created by the first run"}[tables])
	if busy {
		c.add("note", "%s: a run holds the decision lock right now", name)
	} else if tables {
		c.add("ok", "%s: the decision lock can be taken", name)
	}
	c.add("ok", "quorum: %s of the vantages with a view fresher than %s", plural(cfg.Quorum.Probes, "vantage"), cfg.Quorum.Fresh)
}

// source reads the report source once; its warnings (reports dated in the
// future) go to the log on stderr.
func (c *checklist) source(ctx context.Context, cfg *config.Config, log zerolog.Logger) {
	src, err := updater.OpenSource(cfg.Reports.Source, c.o.Getenv, c.o.Now, log)
	if src == nil && err == nil {
		c.add("note", "reports: no source configured (type none): statuses come from the probes alone")
		return
	}
	var counts map[string]int
	if err == nil {
		counts, err = src.Counts(ctx, c.o.Now().Add(-cfg.Reports.Window.D()))
	}
	keys, total, stray := map[string]bool{}, 0, []string{}
	for _, s := range cfg.Servers {
		keys[s.ReportsKey] = true
	}
	for k, n := range counts {
		if total += n; !keys[k] {
			stray = append(stray, strconv.Quote(k))
		}
	}
	if !c.either(err, "reports", "reports: %s read: %d keys, %d reports in the window", src, len(counts), total) {
		return
	}
	if slices.Sort(stray); len(stray) > 10 {
		stray = append(stray[:10], "...")
	}
	if len(stray) > 0 {
		c.add("note", "report keys no server uses (check reports_key): %s", strings.Join(stray, ", "))
	}
}
