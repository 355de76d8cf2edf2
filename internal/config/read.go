package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/proxer/cachet-updater/internal/maintenance"
)

// reader decodes one file: it walks the YAML tree beside the Go types (their
// yaml tags are the keys), sets each value, and notes where each key was
// written and every problem, so that all are reported at once with their
// keys. yaml.v3's own decoding would read 014 as 12 and yes as true, and
// name no key in its errors.
type reader struct {
	file   string
	cfg    *Config
	at     map[string]pair // dotted key → where it was written
	errs   []*Error
	budget int // values left to walk: aliases must not multiply the work
	// bad holds the keys with a problem (or named by a "did you mean"),
	// above every key above one of them: a check of a related key would
	// only repeat the problem (see related).
	bad, above map[string]bool
	fields     map[reflect.Type][]field
	shared     map[[2]any]reflect.Value // value types decoded from an anchored node, by node and type
}

// pair is the line of a key (of a list entry: its value) and its value,
// aliases resolved.
type pair struct {
	line int
	val  *yaml.Node
}

type field struct {
	name  string
	index []int
}

// parse reads, checks and completes data, the config file at path;
// cachetOnly accepts a config without servers.
func parse(path string, data []byte, cachetOnly bool) (cfg *Config, err error) {
	defer func() { // a config error must never crash the cron job with a stack trace
		if p := recover(); p != nil {
			cfg, err = nil, &Error{File: path, Msg: fmt.Sprintf("reading this file failed (%v): check the file for unusual syntax", p)}
		}
	}()
	r := &reader{file: path, at: map[string]pair{}, budget: 2*len(data) + 1<<20, bad: map[string]bool{}, above: map[string]bool{},
		fields: map[reflect.Type][]field{}, shared: map[[2]any]reflect.Value{}}
	root, err := r.document(data)
	if err != nil {
		return nil, err
	}
	// Servers start from the probe and confirm blocks, wherever those are written.
	pairs, last := slices.Collect(slices.Chunk(root.Content, 2)), map[string]int{"servers": 1}
	slices.SortStableFunc(pairs, func(a, b []*yaml.Node) int { return last[a[0].Value] - last[b[0].Value] })
	root.Content = slices.Concat(pairs...)
	c := defaults()
	r.cfg = &c
	if r.walk(root, reflect.ValueOf(&c).Elem(), ""); r.budget < 0 {
		return nil, &Error{File: path, Msg: "the aliases (*name) in this file expand to too many values: write the values out"}
	}
	if c.validate(r, cachetOnly); len(r.errs) > 0 {
		return nil, r.result()
	}
	c.Path, _ = filepath.Abs(path)
	c.finish(filepath.Dir(c.Path), r)
	if real, err := filepath.EvalSymlinks(c.Path); err == nil {
		c.Path = real
	}
	return &c, nil
}

// document reads data, one YAML document holding a mapping, and returns the
// mapping. A problem with the file as a whole is the error.
func (r *reader) document(data []byte) (*yaml.Node, error) {
	fileErr := func(line int, msg string) error { return &Error{File: r.file, Line: line, Msg: msg} }
	if len(data) > MaxFileSize {
		return nil, fileErr(0, fmt.Sprintf("the config file is larger than %d KiB: this is not a cachet-updater config; check the path", MaxFileSize>>10))
	}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if !utf8.Valid(line) {
			return nil, fileErr(i+1, "the file is not valid UTF-8: save it as UTF-8")
		}
	}
	var doc, next yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, r.syntaxError(data, err)
	}
	if err := dec.Decode(&next); err == nil {
		return nil, fileErr(max(next.Line, 1), "the file holds more than one YAML document (separated by ---): keep only one")
	} else if !errors.Is(err, io.EOF) {
		return nil, r.syntaxError(data, err)
	}
	if len(doc.Content) == 0 || isNull(resolve(doc.Content[0])) {
		return nil, fileErr(0, "the config file is empty or holds only comments: it needs at least cachet.url and one server")
	}
	if root := resolve(doc.Content[0]); root.Kind != yaml.MappingNode {
		return nil, fileErr(root.Line, "the config must be a YAML mapping with the keys cachet, probe, reports, servers, ... at the top, not a "+kindName(root))
	}
	return resolve(doc.Content[0]), nil
}

// walk decodes n into v, the value at key. It refuses what yaml.v3 reads
// too kindly: a value of the wrong kind or none, a whole number not in
// decimal digits, a boolean other than true or false (yaml.v3 takes yes).
// Value types read their own node.
func (r *reader) walk(n *yaml.Node, v reflect.Value, key string) {
	n = resolve(n)
	t, want := v.Type(), cmp.Or(map[reflect.Kind]yaml.Kind{reflect.Struct: yaml.MappingNode, reflect.Slice: yaml.SequenceNode}[v.Kind()], yaml.ScalarNode)
	u, custom := v.Addr().Interface().(yaml.Unmarshaler)
	if r.budget--; !custom {
		r.budget -= len(n.Content) // a value type's anchored node is read once (see shared)
	}
	switch {
	case r.budget < 0:
	case isNull(n) || n.Kind == yaml.ScalarNode && t.Kind() == reflect.String && strings.TrimSpace(n.Value) == "" && key != "lock_file":
		r.add(n.Line, key, "has no value: give it one, or delete it to use the default")
	case custom && r.shared[[2]any{n, t}].IsValid(): // a node shared through an alias is read once
		v.Set(r.shared[[2]any{n, t}])
	case custom:
		var e *Error
		if err := u.UnmarshalYAML(n); errors.As(err, &e) {
			r.add(e.Line, join(key, e.Key), "%s", e.Msg)
		} else if err != nil {
			r.add(n.Line, key, "%s", err)
		}
		if n.Anchor != "" { // a status mapping of 200 keys may be shared by 10,000 servers
			r.shared[[2]any{n, t}] = reflect.ValueOf(v.Interface())
		}
	case n.Kind != want:
		what := map[yaml.Kind]string{yaml.ScalarNode: "a single value", yaml.MappingNode: "a mapping (key: value lines indented below it)",
			yaml.SequenceNode: `a list (lines starting with "- ", or [a, b])`}[want]
		r.add(n.Line, key, "must be %s, not a %s", what, kindName(n))
	case t.Kind() == reflect.Int:
		v.SetInt(r.wholeNumber(n, key))
	case t.Kind() == reflect.Bool && n.ShortTag() != "!!bool":
		r.add(n.Line, key, "must be true or false")
	case t.Kind() == reflect.Bool:
		v.SetBool(strings.EqualFold(n.Value, "true"))
	case t.Kind() == reflect.String:
		v.SetString(n.Value)
	case want == yaml.SequenceNode:
		v.Set(reflect.MakeSlice(t, len(n.Content), len(n.Content)))
		for i, item := range n.Content {
			k, e := key+"["+strconv.Itoa(i)+"]", v.Index(i)
			r.at[k] = pair{resolve(item).Line, resolve(item)}
			if s, ok := e.Addr().Interface().(*Server); ok {
				*s = Server{Probe: r.cfg.Probe, Confirm: r.cfg.Confirm, Line: resolve(item).Line}
			}
			r.walk(item, e, k)
		}
	default:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			path, fs := join(key, k.Value), r.fieldsOf(t)
			f := slices.IndexFunc(fs, func(f field) bool { return f.name == k.Value })
			if first, seen := r.at[path]; seen {
				r.add(k.Line, path, "is set twice (first on line %d): keep one", first.line)
			} else if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				r.add(k.Line, key, "each key must be a plain word: YAML merge keys (<<), lists and mappings are not keys here")
			} else if r.at[path] = (pair{k.Line, resolve(n.Content[i+1])}); f < 0 {
				r.unknown(k, path, t)
			} else {
				r.walk(n.Content[i+1], v.FieldByIndex(fs[f].index), path)
			}
		}
	}
	if (t == reflect.TypeFor[int]() || t == reflect.TypeFor[Duration]()) && !r.bad[key] && r.budget >= 0 {
		r.limit(v, n.Line, key)
	}
}

// ranges are those of the whole numbers and durations that may be other
// than at least 1 (a duration: longer than 0), by the key's last part.
var ranges = map[string][2]int64{"retries": {0, math.MaxInt64}, "manual_hold": {0, math.MaxInt64}, "slow": {0, math.MaxInt64},
	"cert_expiry": {0, math.MaxInt64}, "max_age": {0, math.MaxInt64}, "worse": {1, 16}, "better": {1, 16}, "probes": {1, 64}}

func (r *reader) limit(v reflect.Value, line int, key string) {
	lim := cmp.Or(ranges[key[strings.LastIndexByte(key, '.')+1:]], [2]int64{1, math.MaxInt64})
	duration := v.Type() == reflect.TypeFor[Duration]()
	switch x := v.Int(); {
	case x >= lim[0] && x <= lim[1]:
	case duration && lim[0] == 0:
		r.add(line, key, "must not be negative: use 0 to turn it off")
	case duration:
		r.add(line, key, "must be longer than 0, such as 10s, 5m or 2h")
	case lim[1] < math.MaxInt64:
		r.add(line, key, "must be from %d to %d", lim[0], lim[1])
	default:
		r.add(line, key, "must be at least %d", lim[0])
	}
}

// unknown reports the key k at key, which no field of t takes, with the
// key it is probably a typo of.
func (r *reader) unknown(k *yaml.Node, key string, t reflect.Type) {
	var allowed []string
	for _, f := range r.fieldsOf(t) {
		if f.name != "concurrency" || t != reflect.TypeFor[Server]() { // the probe block's only
			allowed = append(allowed, f.name)
		}
	}
	msg := fmt.Sprintf("unknown key %q", k.Value)
	if best := Closest(k.Value, allowed, 1); len(best) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", best[0])
		r.bad[join(parentKey(key), best[0])] = true // not also "is required"
	}
	msg += ": the keys allowed here are " + strings.Join(allowed, ", ")
	if key == "cachet.token" {
		msg = "inline tokens are refused; put the token in an environment variable (token_env) or a file readable only by this user (token_file) so it stays out of backups and version control"
	}
	r.add(k.Line, key, "%s", msg)
}

// fieldsOf returns the keys of struct type t, from its fields' yaml tags.
func (r *reader) fieldsOf(t reflect.Type) []field {
	if fs, ok := r.fields[t]; ok {
		return fs
	}
	var fs []field
	for i := range t.NumField() {
		name, opt, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if opt == "inline" {
			for _, f := range r.fieldsOf(t.Field(i).Type) {
				fs = append(fs, field{f.name, append([]int{i}, f.index...)})
			}
		} else if name != "-" && t.Field(i).IsExported() {
			fs = append(fs, field{name, []int{i}})
		}
	}
	r.fields[t] = fs
	return fs
}

// wholeNumber returns n as a whole number, or reports it when it is not
// written in decimal digits (014, 0x10, 1e3, 12.0, "12"), with the number to
// write instead: YAML reads 014 as octal 12.
func (r *reader) wholeNumber(n *yaml.Node, key string) int64 {
	v, quoted := n.Value, n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	i, err := strconv.ParseInt(v, 0, 64)
	if f, ferr := strconv.ParseFloat(v, 64); err != nil && ferr == nil && math.Abs(f) < 1<<53 && f == math.Trunc(f) {
		i, err = int64(f), nil
	}
	d, _ := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		r.add(n.Line, key, "must be a whole number in decimal digits, such as 14")
	case quoted:
		r.add(n.Line, key, "%q is quoted, which makes it text: write %d without quotes", v, i)
	case strconv.FormatInt(i, 10) == v && n.ShortTag() == "!!int":
		return i
	case strings.TrimLeft(v, "+-")[0] == '0' && strings.Trim(v, "+-01234567") == "":
		r.add(n.Line, key, "%s has a leading 0, which YAML reads as an octal number (%d): write %d", v, i, d)
	default:
		r.add(n.Line, key, "%s is not a decimal whole number: write %d", v, i)
	}
	return 0
}

func (r *reader) add(line int, key, format string, args ...any) {
	r.errs = append(r.errs, &Error{File: r.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
	r.bad[key] = true
	for k := key; k != ""; {
		k = parentKey(k)
		r.above[k] = true
	}
}

// related reports whether key, a key above it or one below it has a
// problem.
func (r *reader) related(key string) bool {
	for k := key; !r.above[key]; k = parentKey(k) {
		if r.bad[k] || k == "" {
			return r.bad[k]
		}
	}
	return true
}

// result returns the problems in file order, those without a line last.
func (r *reader) result() error {
	slices.SortStableFunc(r.errs, func(a, b *Error) int { return cmp.Compare(uint(a.Line-1), uint(b.Line-1)) }) // 0 (none) is the largest
	if len(r.errs) == 1 {
		return r.errs[0]
	}
	return Errors(r.errs)
}

var parserError = regexp.MustCompile(`^(did not find expected|found duplicate %|found incompatible YAML document|found undefined tag handle)`)

// syntaxError turns a yaml.v3 syntax error ("yaml: line 3: did not find
// expected key") into an *Error with the line, and explains tab
// indentation, the most common cause. yaml.v3 reports a parser error at
// the line before the block that holds the problem, so it points at the
// block's first line and says so.
func (r *reader) syntaxError(data []byte, err error) error {
	msg, line := strings.TrimPrefix(err.Error(), "yaml: "), 0
	if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
		_, msg, _ = strings.Cut(msg, ": ")
	}
	lines := strings.Split(string(data), "\n")
	for i := 0; line > 0 && i <= line && i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "\t") {
			return &Error{File: r.file, Line: i + 1, Msg: "the line is indented with a tab: YAML allows only spaces for indentation; replace the tabs with spaces"}
		}
	}
	switch {
	case line == 0:
		return &Error{File: r.file, Msg: "YAML error: " + msg}
	case parserError.MatchString(msg):
		return &Error{File: r.file, Line: line + 1, Msg: "YAML syntax error in the block that starts on this line: " + msg + ": look for a line in it indented differently from its neighbours, or an unclosed bracket or quote"}
	}
	return &Error{File: r.file, Line: line, Msg: "YAML syntax error: " + msg + ": check the indentation and quoting on this line and the one before it"}
}

func resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	return map[yaml.Kind]string{yaml.MappingNode: "mapping", yaml.SequenceNode: "list", yaml.ScalarNode: "single value"}[n.Kind]
}

func join(key, sub string) string {
	if key == "" || sub == "" {
		return key + sub
	}
	return key + "." + sub
}

// parentKey returns the key above key: servers[3] for servers[3].url,
// servers for servers[3], "" for servers.
func parentKey(key string) string { return key[:max(strings.LastIndexAny(key, ".["), 0)] }

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
	if r.has("reports.source") {
		cfg.Reports.Source.validate(r)
	}
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
		key := fmt.Sprintf("servers[%d]", i)
		r.require(key, "name", "name the server as it should appear in logs, such as Stream 14")
		r.require(key, "url", "the URL to probe, such as https://s1.example.org/")
		r.require(key, "component_id", "the id of the server's component in Cachet, such as 14")
		r.check(!isWebURL(s.URL), key+".url", "must be an absolute http or https URL such as https://s1.example.org/")
		r.check(true, key+".concurrency", "concurrency is global: set it under probe, not per server")
		s.Probe.validate(r, key)
		unique(s.Name, i, "name", "%q is also the name of servers[%d] on line %d: names must be unique")
		unique(s.ComponentID, i, "component_id", "%d is also the component of servers[%d] on line %d: each server needs its own Cachet component")
	}
	for i, u := range cfg.Guard.Canaries {
		r.check(!isWebURL(string(u)), fmt.Sprintf("guard.canaries[%d]", i), "must be an absolute http or https URL such as https://example.org/")
	}
	cfg.Maintenance.validate(r, seen)
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

// validate checks each window: one-off (start and end) or weekly (with
// its time_zone), naming servers that exist (servers holds their names).
func (m Maintenance) validate(r *reader, servers map[any]int) {
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
			_, known := servers[name]
			r.check(!known, fmt.Sprintf("%s.servers[%d]", key, j), "%q is not the name of a server in this config", name)
		}
	}
}

// finish completes a valid config: relative paths against dir, the
// defaults of the other source types cleared, weekly windows' zones,
// reports keys, and where secrets' names were written.
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

// Closest returns up to n of candidates that are close enough to word to
// be a typo of it (a case-insensitive match, a distance of at most 2 edits,
// or, for words of 4 or more characters, one containing the other), the
// closest first; ties keep the candidates' order.
func Closest(word string, candidates []string, n int) []string {
	w, dist := strings.ToLower(word), map[string]int{}
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if d := distance(w, lc); d <= 2 {
			dist[c] = d
		} else if len(w) >= 4 && len(lc) >= 4 && (strings.Contains(lc, w) || strings.Contains(w, lc)) {
			dist[c] = 3
		}
	}
	found := slices.DeleteFunc(slices.Clone(candidates), func(c string) bool { _, ok := dist[c]; return !ok })
	slices.SortStableFunc(found, func(a, b string) int { return dist[a] - dist[b] })
	return found[:min(n, len(found))]
}

// distance is the Levenshtein distance between a and b, in bytes; words
// longer than 64 bytes are "far" (1<<30): the work is quadratic, and
// nothing a person types as a name or key is this long.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
