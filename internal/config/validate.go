package config

import (
	"cmp"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The validate methods check what decoding cannot: required keys, ranges,
// and what spans keys. A key that was not written has its default, which
// is valid, so most checks are about written keys only.

const (
	positive = "must be longer than 0, such as 10s, 5m or 2h"
	notNeg   = "must not be negative: use 0 to turn it off"
	atLeast1 = "must be at least 1"
	envName  = "must be the name of an environment variable (letters, digits and _), such as %s, not the secret itself"
)

var (
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	vantageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// check reports a problem with key when bad and key was written.
func (r *reader) check(bad bool, key, format string, args ...any) {
	if bad && r.has(key) {
		r.report(key, format, args...)
	}
}

// report reports a problem with key at its line (or that of the nearest
// key above it that was written), unless it would repeat one reported.
func (r *reader) report(key, format string, args ...any) {
	if !r.related(key) {
		r.add(r.line(key), key, format, args...)
	}
}

func (r *reader) has(key string) bool { _, ok := r.at[key]; return ok }

// val returns the value written for key, or an empty node.
func (r *reader) val(key string) *yaml.Node {
	if p, ok := r.at[key]; ok {
		return p.val
	}
	return &yaml.Node{}
}

func (r *reader) line(key string) int {
	for ; key != ""; key = parentKey(key) {
		if p, ok := r.at[key]; ok && p.key != nil {
			return p.key.Line
		} else if ok {
			return p.val.Line // a list entry
		}
	}
	return 0
}

// require reports the key name of the mapping at parent when it is
// missing (its value may be zero), at the mapping's first line, unless an
// unknown key there is probably its typo.
func (r *reader) require(zero bool, parent, name, hint string) {
	if key := join(parent, name); zero && !r.has(key) && !r.related(key) {
		r.add(r.val(parent).Line, key, "is required: %s", hint)
	}
}

func (r *reader) oneOf(key, s string, words ...string) {
	last := len(words) - 1
	r.check(!slices.Contains(words, s), key, "must be %s or %s, not %q", strings.Join(words[:last], ", "), words[last], s)
}

func (cfg *Config) validate(r *reader, o LoadOptions) {
	r.require(true, "", "cachet", "set cachet.url to the Cachet API, such as https://status.example.org/api/v1")
	if c := cfg.Cachet; r.has("cachet") {
		r.require(c.URL == "", "cachet", "url", "set it to the Cachet API, such as https://status.example.org/api/v1")
		u, err := url.Parse(c.URL)
		r.check(!isWebURL(c.URL), "cachet.url", "must be an absolute http or https URL such as https://status.example.org/api/v1")
		r.check(err == nil && u.User != nil, "cachet.url", "must not hold a user name or password: Cachet takes the API token (token_env or token_file), and the URL is printed in logs; use a URL such as https://status.example.org/api/v1")
		r.check(!envNameRE.MatchString(c.TokenEnv), "cachet.token_env", envName, DefaultTokenEnv)
		r.check(strings.TrimSpace(c.TokenFile) == "", "cachet.token_file", "must not be empty: write the path of the file that holds the token")
		r.check(r.has("cachet.token_env"), "cachet.token_file", "token_env and token_file are both set: keep only one")
		r.check(c.Timeout <= 0, "cachet.timeout", positive)
		r.check(c.Retries < 0, "cachet.retries", "must be at least 0")
		r.check(c.WriteConcurrency < 1, "cachet.write_concurrency", atLeast1)
		r.oneOf("cachet.api", c.API, "auto", "v2", "v3")
	}
	cfg.Probe.validate(r, "probe")
	r.check(cfg.Probe.Concurrency < 1, "probe.concurrency", atLeast1)
	r.check(cfg.Reports.Window <= 0, "reports.window", positive)
	cfg.Reports.Thresholds.validate(r)
	cfg.Reports.Source.validate(r)
	r.check(cfg.RunTimeout <= 0, "run_timeout", positive)
	r.check(strings.TrimSpace(cfg.MetricsFile) == "", "metrics_file", "must not be empty: write a .prom file in node_exporter's textfile collector folder")
	cfg.Confirm.validate(r, "confirm")
	r.check(cfg.ManualHold < 0, "manual_hold", notNeg)
	r.check(cfg.Maintenance.MaxOpen <= 0, "maintenance.max_open", positive)
	r.check(strings.TrimSpace(cfg.State.Path) == "", "state.path", "must not be empty: write the path of the state file, such as /var/lib/cachet-updater/proxer.json")
	r.check(r.has("state.path"), "state.sql", "state.path and state.sql are both set: a file or a shared database, keep one")
	if q := cfg.State.SQL; r.has("state.sql") {
		r.require(true, "state.sql", "driver", "mysql, postgres or sqlite")
		r.oneOf("state.sql.driver", q.Driver, "mysql", "postgres", "sqlite")
		r.dsn("state.sql", q.Driver, "CACHET_UPDATER_STATE_DSN")
		r.check(q.Timeout <= 0, "state.sql.timeout", positive)
	}
	r.check(!vantageName.MatchString(cfg.Vantage.Name), "vantage.name", "%q: use 1 to 64 letters, digits, '.', '-' and '_', such as fra1", cfg.Vantage.Name)
	r.check(cfg.Quorum.Probes < 1 || cfg.Quorum.Probes > 64, "quorum.probes", "must be from 1 to 64")
	r.check(!r.has("state.sql") && cfg.Quorum.Probes > 1, "quorum.probes", "is %d, but only state.sql lets several vantages share their observations: set state.sql, or 1", cfg.Quorum.Probes)
	r.check(cfg.Quorum.Fresh <= 0, "quorum.fresh", positive)
	cfg.validateServers(r, o)
	cfg.Maintenance.validate(r, cfg.Servers)
}

// validate checks the probe block (key "probe") or a server's probe keys
// (key "servers[3]").
func (p Probe) validate(r *reader, key string) {
	r.check(p.Timeout <= 0, key+".timeout", positive)
	r.check(p.Slow < 0, key+".slow", notNeg)
	r.check(p.CertExpiry < 0, key+".cert_expiry", notNeg)
	if p.ExpectBody.Re() != nil && p.Method == "HEAD" && (r.has(key+".expect_body") || r.has(key+".method")) {
		r.report(key+".expect_body", "a HEAD probe gets no body to match: use method GET, or remove expect_body")
	}
}

func (c Confirm) validate(r *reader, key string) {
	r.check(c.Worse < 1 || c.Worse > 16, key+".worse", "must be from 1 to 16 (1 publishes a worse status at once)")
	r.check(c.Better < 1 || c.Better > 16, key+".better", "must be from 1 to 16 (1 publishes a better status at once)")
	r.check(c.MaxGap <= 0, key+".max_gap", positive)
}

func (t Thresholds) validate(r *reader) {
	const key = "reports.thresholds"
	line, counts := r.line(key), []int{t.PerformanceIssues, t.PartialOutage, t.MajorOutage}
	for i, k := range []string{"performance_issues", "partial_outage", "major_outage"} {
		r.check(counts[i] < 1, key+"."+k, "must be at least 1: a report count of 0 would always trigger it")
		if r.has(key + "." + k) {
			line = max(line, r.line(key+"."+k)) // the last key written points at the problem best
		}
	}
	if !r.related(key) && r.has(key) && !(counts[0] < counts[1] && counts[1] < counts[2]) {
		d := defaults().Reports.Thresholds
		r.add(line, key, "must increase strictly: performance_issues (%d) < partial_outage (%d) < major_outage (%d); unset keys keep their defaults (%d, %d, %d)",
			counts[0], counts[1], counts[2], d.PerformanceIssues, d.PartialOutage, d.MajorOutage)
	}
}

func (s Source) validate(r *reader) {
	const key = "reports.source"
	if !r.has(key) {
		return
	}
	r.require(true, key, "type", "file, sql or none")
	if r.oneOf(key+".type", s.Type, "file", "sql", "none"); !r.has(key+".type") || r.related(key+".type") {
		return // the rest depends on the type
	}
	for k, types := range sourceKeys {
		plural := map[bool]string{true: "s"}[strings.Contains(types, " ")]
		r.check(!strings.Contains(types, s.Type), key+"."+k, "key %s is for type%s %s, and this source has type %s: remove it",
			k, plural, strings.ReplaceAll(types, " ", " and "), s.Type)
	}
	const path = "the JSON file the reports come from, such as reports.json"
	const query = "a SELECT returning (server, count) for reports newer than the placeholder, such as SELECT server, COUNT(*) FROM stream_reports WHERE created_at >= ? GROUP BY server"
	switch s.Type {
	case "file":
		r.require(true, key, "path", path)
		r.check(strings.TrimSpace(s.Path) == "", key+".path", "must not be empty: "+path)
		r.oneOf(key+".format", s.Format, "counts", "events")
		r.check(s.MaxAge < 0, key+".max_age", notNeg)
	case "sql":
		r.require(true, key, "driver", "mysql, postgres or sqlite")
		r.oneOf(key+".driver", s.Driver, "mysql", "postgres", "sqlite")
		r.require(true, key, "query", query)
		r.check(strings.TrimSpace(s.Query) == "", key+".query", "must not be empty: "+query)
		r.dsn(key, s.Driver, "REPORTS_DSN")
	}
	r.check(s.Timeout <= 0, key+".timeout", positive)
}

// dsn checks where a database's DSN comes from: one of dsn_env, dsn_file
// and dsn (inline, for sqlite only).
func (r *reader) dsn(key, driver, env string) {
	var set []string
	for _, k := range []string{"dsn_env", "dsn_file", "dsn"} {
		if r.has(key + "." + k) {
			set = append(set, key+"."+k)
			r.check(strings.TrimSpace(r.val(key+"."+k).Value) == "", key+"."+k, "must not be empty: write the DSN's variable, file or (sqlite) database file")
		}
	}
	r.check(!envNameRE.MatchString(r.val(key+".dsn_env").Value), key+".dsn_env", envName, env)
	slices.SortFunc(set, func(a, b string) int { return r.line(a) - r.line(b) })
	switch {
	case len(set) == 0 && key == "reports.source":
		r.add(r.val(key).Line, key, "needs the database to read from: set dsn_env (an environment variable holding the DSN), dsn_file, or for sqlite dsn (the database file)")
	case len(set) == 0:
		r.report(key, "needs the database: set dsn_env (an environment variable holding the DSN), dsn_file, or for sqlite dsn (the database file)")
	case len(set) > 1:
		r.report(set[len(set)-1], "only one of dsn_env, dsn_file and dsn may be set: keep one")
	}
	r.check(driver != "sqlite", key+".dsn", "an inline DSN is allowed only for sqlite, where it is the database file: for %s put the DSN in an environment variable (dsn_env) or a file (dsn_file) so the password stays out of the config", driver)
}

func (cfg *Config) validateServers(r *reader, o LoadOptions) {
	const what = "list at least one server with name, url and component_id"
	if !o.AllowNoServers && !r.has("servers") {
		r.report("servers", "is required: %s", what)
	}
	r.check(!o.AllowNoServers && len(cfg.Servers) == 0, "servers", "is empty: %s", what)
	names, ids := map[string]int{}, map[int]int{}
	for i, s := range cfg.Servers {
		key := fmt.Sprintf("servers[%d]", i)
		s.validate(r, key)
		if j, dup := names[s.Name]; dup {
			r.check(s.Name != "", key+".name", "%q is also the name of servers[%d] on line %d: names must be unique", s.Name, j, r.line(fmt.Sprintf("servers[%d].name", j)))
		} else {
			names[s.Name] = i
		}
		if j, dup := ids[s.ComponentID]; dup {
			r.check(s.ComponentID > 0, key+".component_id", "%d is also the component of servers[%d] on line %d: each server needs its own Cachet component", s.ComponentID, j, r.line(fmt.Sprintf("servers[%d].component_id", j)))
		} else {
			ids[s.ComponentID] = i
		}
	}
}

func (s Server) validate(r *reader, key string) {
	const name = "name the server as it should appear in logs, such as Stream 14"
	r.require(s.Name == "", key, "name", name)
	r.require(s.URL == "", key, "url", "the URL to probe, such as https://s1.example.org/")
	r.require(s.ComponentID == 0, key, "component_id", "the id of the server's component in Cachet, such as 14")
	r.check(strings.TrimSpace(s.Name) == "", key+".name", "must not be empty: "+name)
	r.check(!isWebURL(s.URL), key+".url", "must be an absolute http or https URL such as https://s1.example.org/")
	r.check(s.ComponentID < 1, key+".component_id", atLeast1+": the id of the server's component in Cachet, such as 14")
	r.check(strings.TrimSpace(s.ReportsKey) == "", key+".reports_key", "must not be empty: leave it out to use the server's name")
	r.check(s.MetricID < 1, key+".metric_id", atLeast1+": the id of a Cachet metric")
	r.check(s.ReportsMetricID < 1, key+".reports_metric_id", atLeast1+": the id of a Cachet metric")
	r.check(true, key+".concurrency", "concurrency is global: set it under probe, not per server")
	s.Probe.validate(r, key)
	s.Confirm.validate(r, key+".confirm")
}

// validate checks each window: one-off (start and end) or weekly (with
// its time_zone), naming servers that exist.
func (m Maintenance) validate(r *reader, servers []Server) {
	names := map[string]bool{}
	for _, s := range servers {
		names[s.Name] = true
	}
	for i, w := range m.Windows {
		key := fmt.Sprintf("maintenance.windows[%d]", i)
		start, end := r.has(key+".start"), r.has(key+".end")
		switch {
		case (start || end) && w.Weekly != "":
			r.report(key, "has both start/end and weekly: a window is one-off (start and end) or weekly, not both")
		case start != end:
			r.report(key, "needs both start and end (RFC 3339 times such as 2026-11-30T02:00:00+01:00)")
		case start && !w.End.After(w.Start.Time):
			r.report(key+".end", "must be after start")
		case !start && w.Weekly == "":
			r.report(key, "needs start and end, or weekly (such as \"Tue 03:00-04:30\" with time_zone: Europe/Berlin)")
		case start:
			r.check(true, key+".time_zone", "is for weekly windows: start and end carry their own offsets")
		}
		for j, name := range w.Servers {
			r.check(!names[name], fmt.Sprintf("%s.servers[%d]", key, j), "%q is not the name of a server in this config", name)
		}
	}
}

// finish completes a valid config: relative paths against dir, the source
// keys of other types cleared, weekly windows' zones, and where secrets'
// names were written.
func (cfg *Config) finish(dir string, r *reader) {
	c, s, q := &cfg.Cachet, &cfg.Reports.Source, &cfg.State.SQL
	c.URL = strings.TrimRight(c.URL, "/")
	c.token, s.dsn, q.dsn = r.origin("cachet.token"), r.origin("reports.source.dsn"), r.origin("state.sql.dsn")
	if r.has("cachet.token_file") {
		c.TokenEnv = ""
	}
	if s.Type != "file" {
		s.Path, s.Format, s.MaxAge = "", "", 0
	}
	if s.Type != "sql" {
		s.Driver, s.DSN, s.DSNEnv, s.DSNFile, s.Query = "", "", "", "", ""
	}
	if s.Type == "none" {
		s.Timeout = 0
	}
	paths := []*string{&cfg.LockFile, &cfg.State.Path, &cfg.MetricsFile, &c.TokenFile, &s.Path, &s.DSNFile, &q.DSNFile, &s.DSN, &q.DSN}
	for _, p := range paths {
		uri := (p == &s.DSN || p == &q.DSN) && (strings.HasPrefix(*p, "file:") || strings.HasPrefix(*p, ":memory:")) // sqlite
		if *p != "" && !filepath.IsAbs(*p) && !uri {
			*p = filepath.Join(dir, *p)
		}
	}
	for i, w := range cfg.Maintenance.Windows {
		if w.Weekly != "" && w.TimeZone.Loc == nil {
			cfg.Maintenance.Windows[i].TimeZone = cfg.TimeZone
		}
	}
	for i, s := range cfg.Servers {
		cfg.Servers[i].ReportsKey = cmp.Or(s.ReportsKey, s.Name)
	}
}
