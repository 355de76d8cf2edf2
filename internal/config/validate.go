package config

import (
	"cmp"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/proxer/cachet-updater/internal/maintenance"
)

// The validate methods check what spans keys, and what a key's type does
// not say (the walk checks kinds, numbers' ranges and empty values). A key
// that was not written has its default, which is valid, so most checks are
// about written keys only.

const envName = "must be the name of an environment variable (letters, digits and _), such as %s, not the secret itself"

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
func (r *reader) val(key string) *yaml.Node { return cmp.Or(r.at[key].val, &yaml.Node{}) }

func (r *reader) line(key string) int {
	for ; key != "" && !r.has(key); key = parentKey(key) {
	}
	return r.at[key].line
}

// require reports the key name of the mapping at parent when it is
// missing, at the mapping's first line, unless an unknown key there is
// probably its typo.
func (r *reader) require(parent, name, hint string) {
	if key := join(parent, name); !r.has(key) && !r.related(key) {
		r.add(r.val(parent).Line, key, "is required: %s", hint)
	}
}

func (r *reader) oneOf(key, s string, words ...string) {
	last := len(words) - 1
	r.check(!slices.Contains(words, s), key, "must be %s or %s, not %q", strings.Join(words[:last], ", "), words[last], s)
}

func (cfg *Config) validate(r *reader, cachetOnly bool) {
	const api = "the Cachet API, such as https://status.example.org/api/v1"
	c, t := cfg.Cachet, cfg.Reports.Thresholds
	r.require("", "cachet", "set cachet.url to "+api)
	r.require("cachet", "url", "set it to "+api)
	u, err := url.Parse(c.URL)
	r.check(!isWebURL(c.URL), "cachet.url", "must be an absolute http or https URL such as https://status.example.org/api/v1")
	r.check(err == nil && u.User != nil, "cachet.url", "must not hold a user name or password: Cachet takes the API token (token_env or token_file), and the URL is printed in logs; use a URL such as https://status.example.org/api/v1")
	r.check(!envNameRE.MatchString(c.TokenEnv), "cachet.token_env", envName, DefaultTokenEnv)
	r.check(r.has("cachet.token_env"), "cachet.token_file", "token_env and token_file are both set: keep only one")
	r.oneOf("cachet.api", c.API, "auto", "v2", "v3")
	cfg.Probe.validate(r, "probe")
	if n := r.val("reports.thresholds"); !r.related("reports.thresholds") && !(t.PerformanceIssues < t.PartialOutage && t.PartialOutage < t.MajorOutage) {
		d := defaults().Reports.Thresholds
		r.add(n.Content[len(n.Content)-2].Line, "reports.thresholds", // the last key written points at the problem best
			"must increase strictly: performance_issues (%d) < partial_outage (%d) < major_outage (%d); unset keys keep their defaults (%d, %d, %d)",
			t.PerformanceIssues, t.PartialOutage, t.MajorOutage, d.PerformanceIssues, d.PartialOutage, d.MajorOutage)
	}
	cfg.Reports.Source.validate(r)
	r.check(r.has("state.path"), "state.sql", "state.path and state.sql are both set: a file or a shared database, keep one")
	if r.has("state.sql") {
		r.require("state.sql", "driver", "mysql, postgres or sqlite")
		r.oneOf("state.sql.driver", cfg.State.SQL.Driver, "mysql", "postgres", "sqlite")
		r.dsn("state.sql", cfg.State.SQL.Driver, "CACHET_UPDATER_STATE_DSN", r.line("state.sql"))
	}
	r.check(!vantageName.MatchString(cfg.Vantage.Name), "vantage.name", "%q: use 1 to 64 letters, digits, '.', '-' and '_', such as fra1", cfg.Vantage.Name)
	r.check(!r.has("state.sql") && cfg.Quorum.Probes > 1, "quorum.probes", "is %d, but only state.sql lets several vantages share their observations: set state.sql, or 1", cfg.Quorum.Probes)
	const what = "list at least one server with name, url and component_id"
	if !cachetOnly {
		r.require("", "servers", what)
		r.check(len(cfg.Servers) == 0, "servers", "is empty: %s", what)
	}
	seen := map[any]int{} // names and component ids
	unique := func(v any, i int, sub, format string) {
		if j, dup := seen[v]; dup {
			r.check(true, fmt.Sprintf("servers[%d].%s", i, sub), format, v, j, r.line(fmt.Sprintf("servers[%d].%s", j, sub)))
		} else {
			seen[v] = i
		}
	}
	for i, s := range cfg.Servers {
		s.validate(r, fmt.Sprintf("servers[%d]", i))
		unique(s.Name, i, "name", "%q is also the name of servers[%d] on line %d: names must be unique")
		unique(s.ComponentID, i, "component_id", "%d is also the component of servers[%d] on line %d: each server needs its own Cachet component")
	}
	for i, u := range cfg.Guard.Canaries {
		r.check(!isWebURL(string(u)), fmt.Sprintf("guard.canaries[%d]", i), "must be an absolute http or https URL such as https://example.org/")
	}
	cfg.Maintenance.validate(r, cfg.Servers)
}

// validate checks the probe block (key "probe") or a server's probe keys
// (key "servers[3]").
func (p Probe) validate(r *reader, key string) {
	if p.ExpectBody.Re() != nil && p.Method == "HEAD" && (r.has(key+".expect_body") || r.has(key+".method")) {
		r.report(key+".expect_body", "a HEAD probe gets no body to match: use method GET, or remove expect_body")
	}
}

func (s Source) validate(r *reader) {
	const key = "reports.source"
	if !r.has(key) {
		return
	}
	r.require(key, "type", "file, sql or none")
	if r.oneOf(key+".type", s.Type, "file", "sql", "none"); !r.has(key+".type") || r.related(key+".type") {
		return // the rest depends on the type
	}
	for k, types := range sourceKeys {
		r.check(!strings.Contains(types, s.Type), key+"."+k, "is for a source of type %s, and this one has type %s: remove it", strings.ReplaceAll(types, " ", " or "), s.Type)
	}
	switch s.Type {
	case "file":
		r.require(key, "path", "the JSON file the reports come from, such as reports.json")
		r.oneOf(key+".format", s.Format, "counts", "events")
	case "sql":
		r.require(key, "driver", "mysql, postgres or sqlite")
		r.oneOf(key+".driver", s.Driver, "mysql", "postgres", "sqlite")
		r.require(key, "query", "a SELECT returning (server, count) for reports newer than the placeholder, such as SELECT server, COUNT(*) FROM stream_reports WHERE created_at >= ? GROUP BY server")
		r.dsn(key, s.Driver, "REPORTS_DSN", r.val(key).Line)
	}
}

// dsn checks where a database's DSN comes from: one of dsn_env, dsn_file
// and dsn (inline, for sqlite only).
func (r *reader) dsn(key, driver, env string, line int) {
	set := slices.DeleteFunc([]string{key + ".dsn_env", key + ".dsn_file", key + ".dsn"}, func(k string) bool { return !r.has(k) })
	switch {
	case len(set) == 0:
		r.add(line, key, "needs the database: set dsn_env (an environment variable holding the DSN), dsn_file, or for sqlite dsn (the database file)")
	case len(set) > 1:
		r.report(set[len(set)-1], "only one of dsn_env, dsn_file and dsn may be set: keep one")
	}
	r.check(!envNameRE.MatchString(r.val(key+".dsn_env").Value), key+".dsn_env", envName, env)
	r.check(driver != "sqlite", key+".dsn", "an inline DSN is allowed only for sqlite, where it is the database file: for %s put the DSN in an environment variable (dsn_env) or a file (dsn_file) so the password stays out of the config", driver)
}

func (s Server) validate(r *reader, key string) {
	r.require(key, "name", "name the server as it should appear in logs, such as Stream 14")
	r.require(key, "url", "the URL to probe, such as https://s1.example.org/")
	r.require(key, "component_id", "the id of the server's component in Cachet, such as 14")
	r.check(!isWebURL(s.URL), key+".url", "must be an absolute http or https URL such as https://s1.example.org/")
	r.check(true, key+".concurrency", "concurrency is global: set it under probe, not per server")
	s.Probe.validate(r, key)
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
		_, err := maintenance.ParseWeekly(string(w.Weekly), time.UTC)
		r.check(err != nil, key+".weekly", "%v", err)
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
	if s.Type != "file" { // the defaults of the other types' keys
		s.Format, s.MaxAge = "", 0
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
