package config

import (
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// validator checks what spans fields, on the decoded config. at says where
// keys were written; a key that was not written has its default, which is
// valid on its own.
type validator struct {
	file string
	at   index
	errs []*Error
}

func (v *validator) report(line int, key, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// validate returns the problems that span fields. Some repeat what the
// checker found in another words (a bad threshold also breaks their order);
// related drops those.
func validate(cfg *Config, file string, at index, o LoadOptions) []*Error {
	v := &validator{file: file, at: at}
	v.cachet(cfg.Cachet)
	v.thresholds(cfg.Reports.Thresholds)
	v.source(cfg.Reports.Source)
	v.servers(cfg.Servers, o)
	v.bodyChecks(cfg)
	v.windows(cfg.Maintenance.Windows, cfg.Servers)
	v.sharedState(cfg)
	return v.errs
}

// vantageName is what a vantage's name may be: it is stored in the shared
// database and shown in tables.
var vantageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// sharedState checks state.sql against state.path, its DSN, and the
// vantage and quorum that only make sense with it.
func (v *validator) sharedState(cfg *Config) {
	const key = "state.sql"
	if v.at.has(key) && v.at.has("state.path") {
		v.report(v.at.keyLine(key), key, "state.path and state.sql are both set: a file or a shared database, keep one")
	}
	if n := cfg.Vantage.Name; n != "" && !vantageName.MatchString(n) {
		v.report(v.at.valLine("vantage.name"), "vantage.name", "%q: use 1 to 64 letters, digits, '.', '-' and '_', such as fra1", n)
	}
	if !v.at.has(key) {
		if v.at.has("quorum.probes") && cfg.Quorum.Probes > 1 {
			v.report(v.at.valLine("quorum.probes"), "quorum.probes", "is %d, but only state.sql lets several vantages share their observations: set state.sql, or 1", cfg.Quorum.Probes)
		}
		return
	}
	var set []string
	for _, k := range []string{"dsn_env", "dsn_file", "dsn"} {
		if v.at.has(key + "." + k) {
			set = append(set, k)
		}
	}
	switch {
	case len(set) == 0:
		v.report(v.at.keyLine(key), key, "needs the database: set dsn_env (an environment variable holding the DSN), dsn_file, or for sqlite dsn (the database file)")
	case len(set) > 1:
		v.report(v.at.keyLine(key+"."+set[len(set)-1]), key+"."+set[len(set)-1], "only one of dsn_env, dsn_file and dsn may be set: keep one")
	}
	if v.at.has(key+".dsn") && cfg.State.SQL.Driver != "sqlite" && cfg.State.SQL.Driver != "" {
		v.report(v.at.valLine(key+".dsn"), key+".dsn", "an inline DSN is allowed only for sqlite, where it is the database file: for %s put the DSN in an environment variable (dsn_env) or a file (dsn_file) so the password stays out of the config", cfg.State.SQL.Driver)
	}
}

// bodyChecks refuses expect_body on a HEAD probe: a HEAD answer has no body.
func (v *validator) bodyChecks(cfg *Config) {
	check := func(key string, p Probe, line int) {
		if p.ExpectBody.Re() != nil && p.Method == "HEAD" {
			v.report(v.lineOr(key+".expect_body", line), key+".expect_body", "a HEAD probe gets no body to match: use method GET, or remove expect_body")
		}
	}
	check("probe", cfg.Probe, v.at.valLine("probe"))
	for i, s := range cfg.Servers {
		key := "servers[" + strconv.Itoa(i) + "]"
		if v.at.has(key+".expect_body") || v.at.has(key+".method") {
			check(key, s.Probe, s.Line)
		}
	}
}

// windows checks each maintenance window: one-off (start and end) or
// weekly (with its time_zone), naming servers that exist.
func (v *validator) windows(ws []Window, servers []Server) {
	names := make(map[string]bool, len(servers))
	for _, s := range servers {
		names[s.Name] = true
	}
	for i, w := range ws {
		key := "maintenance.windows[" + strconv.Itoa(i) + "]"
		line := 0
		for _, k := range []string{"servers", "start", "end", "weekly", "time_zone"} {
			if l := v.at.keyLine(key + "." + k); l > 0 && (line == 0 || l < line) {
				line = l
			}
		}
		oneOff := v.at.has(key+".start") || v.at.has(key+".end")
		switch {
		case oneOff && w.Weekly != "":
			v.report(line, key, "has both start/end and weekly: a window is one-off (start and end) or weekly, not both")
		case oneOff && (!v.at.has(key+".start") || !v.at.has(key+".end")):
			v.report(line, key, "needs both start and end (RFC 3339 times such as 2026-11-30T02:00:00+01:00)")
		case oneOff && !w.End.After(w.Start.Time):
			v.report(v.lineOr(key+".end", line), key+".end", "must be after start")
		case !oneOff && w.Weekly == "":
			v.report(line, key, "needs start and end, or weekly (such as \"Tue 03:00-04:30\" with time_zone: Europe/Berlin)")
		case oneOff && v.at.has(key+".time_zone"):
			v.report(v.lineOr(key+".time_zone", line), key+".time_zone", "is for weekly windows: start and end carry their own offsets")
		}
		for j, name := range w.Servers {
			if !names[name] {
				at, l := key+".servers["+strconv.Itoa(j)+"]", line
				if list := v.at.val(key + ".servers"); list != nil && j < len(list.Content) {
					l = list.Content[j].Line
				}
				v.report(l, at, "%q is not the name of a server in this config", name)
			}
		}
	}
}

func (v *validator) cachet(c Cachet) {
	if u, err := url.Parse(c.URL); err == nil && u.User != nil {
		v.report(v.at.valLine("cachet.url"), "cachet.url", "must not hold a user name or password: Cachet takes the API token (token_env or token_file), and the URL is printed in logs; use a URL such as https://status.example.org/api/v1")
	}
	if v.at.has("cachet.token_env") && v.at.has("cachet.token_file") {
		v.report(v.at.keyLine("cachet.token_file"), "cachet.token_file", "token_env and token_file are both set: keep only one")
	}
}

func (v *validator) thresholds(t Thresholds) {
	if t.PerformanceIssues < t.PartialOutage && t.PartialOutage < t.MajorOutage {
		return
	}
	line := v.at.valLine("reports.thresholds") // the highest key written points at the problem best
	for _, f := range structOf(reflect.TypeFor[Thresholds]()).fields {
		if l := v.at.keyLine("reports.thresholds." + f.name); l > 0 {
			line = l
		}
	}
	d := defaults().Reports.Thresholds
	v.report(line, "reports.thresholds", "must increase strictly: performance_issues (%d) < partial_outage (%d) < major_outage (%d); unset keys keep their defaults (%d, %d, %d)",
		t.PerformanceIssues, t.PartialOutage, t.MajorOutage, d.PerformanceIssues, d.PartialOutage, d.MajorOutage)
}

// source checks the keys against the source's type, as the for tags say,
// and where an sql source gets its DSN.
func (v *validator) source(s Source) {
	const key = "reports.source"
	types := structOf(reflect.TypeFor[Source]()).byName["type"].rules.oneof
	if !v.at.has(key+".type") || !contains(types, s.Type) {
		return // the checker reported it; the rest depends on the type
	}
	for _, f := range structOf(reflect.TypeFor[Source]()).fields {
		path := key + "." + f.name
		switch {
		case f.only == nil:
		case v.at.has(path) && !contains(f.only, s.Type):
			v.report(v.at.keyLine(path), path, "key %s is for %s, and this source has type %s: remove it", f.name, typeList(f.only), s.Type)
		case !v.at.has(path) && contains(f.only, s.Type) && f.rules.required && !v.at.hinted[path]:
			v.report(v.at.valLine(key), path, "is required: %s", f.hint)
		}
	}
	if s.Type == "sql" {
		v.dsn(s)
	}
}

func typeList(types []string) string {
	if len(types) == 1 {
		return "type " + types[0]
	}
	return "types " + wordList(types, "and")
}

func (v *validator) dsn(s Source) {
	const key = "reports.source"
	var set []string
	for _, k := range []string{"dsn_env", "dsn_file", "dsn"} {
		if v.at.has(key + "." + k) {
			set = append(set, k)
		}
	}
	switch {
	case len(set) == 0:
		v.report(v.at.valLine(key), key, "needs the database to read from: set dsn_env (an environment variable holding the DSN), dsn_file, or for sqlite dsn (the database file)")
	case len(set) > 1:
		last := set[0]
		for _, k := range set[1:] {
			if v.at.keyLine(key+"."+k) > v.at.keyLine(key+"."+last) {
				last = k
			}
		}
		v.report(v.at.keyLine(key+"."+last), key+"."+last, "only one of dsn_env, dsn_file and dsn may be set: keep one")
	}
	if v.at.has(key+".dsn") && s.Driver != "sqlite" {
		v.report(v.at.valLine(key+".dsn"), key+".dsn", "an inline DSN is allowed only for sqlite, where it is the database file: for %s put the DSN in an environment variable (dsn_env) or a file (dsn_file) so the password stays out of the config", s.Driver)
	}
}

// servers checks that there are some, unless o allows none, and that
// names and component ids are unique.
func (v *validator) servers(servers []Server, o LoadOptions) {
	const what = "list at least one server with name, url and component_id"
	list := v.at.val("servers")
	switch {
	case o.AllowNoServers:
	case !v.at.has("servers"):
		v.report(0, "servers", "is required: %s", what)
	case list.Kind == yaml.SequenceNode && len(list.Content) == 0:
		v.report(list.Line, "servers", "is empty: %s", what)
	}
	names := map[string]int{} // name → index
	ids := map[int]int{}      // component id → index
	for i, s := range servers {
		at := "servers[" + strconv.Itoa(i) + "]."
		if j, dup := names[s.Name]; dup && s.Name != "" {
			v.report(v.lineOr(at+"name", s.Line), at+"name", "%q is also the name of servers[%d] on line %d: names must be unique",
				s.Name, j, v.lineOr("servers["+strconv.Itoa(j)+"].name", servers[j].Line))
		} else if !dup {
			names[s.Name] = i
		}
		if j, dup := ids[s.ComponentID]; dup && s.ComponentID > 0 {
			v.report(v.lineOr(at+"component_id", s.Line), at+"component_id", "%d is also the component of servers[%d] on line %d: each server needs its own Cachet component",
				s.ComponentID, j, v.lineOr("servers["+strconv.Itoa(j)+"].component_id", servers[j].Line))
		} else if !dup {
			ids[s.ComponentID] = i
		}
	}
}

// lineOr is the line of key's value, or line when the key was not recorded
// (a server entry that is an alias of another).
func (v *validator) lineOr(key string, line int) int {
	if l := v.at.valLine(key); l > 0 {
		return l
	}
	return line
}

// related returns the problems in later that are not about a key that a
// problem in earlier is about, nor about a key above or below one: a bad
// threshold would otherwise also be reported as thresholds out of order.
func related(earlier, later []*Error) []*Error {
	if len(earlier) == 0 {
		return later
	}
	bad := map[string]bool{}   // keys with a problem
	above := map[string]bool{} // those keys and every key above them
	for _, e := range earlier {
		bad[e.Key] = true
		for k := e.Key; k != ""; k = parentKey(k) {
			above[k] = true
		}
	}
	var out []*Error
	for _, e := range later {
		keep := !above[e.Key]
		for k := e.Key; keep && k != ""; k = parentKey(k) {
			keep = !bad[k]
		}
		if keep {
			out = append(out, e)
		}
	}
	return out
}

// parentKey returns the key above key: servers[3] for servers[3].url,
// servers for servers[3], "" for servers.
func parentKey(key string) string {
	i := strings.LastIndexAny(key, ".[")
	if i < 0 {
		return ""
	}
	return key[:i]
}
