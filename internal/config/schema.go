package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/proxer/cachet-updater/internal/status"
)

func topKeys() []string {
	return []string{"cachet", "probe", "reports", "lock_file", "run_timeout", "servers"}
}

func cachetKeys() []string {
	return []string{"url", "token_env", "token_file", "timeout", "retries", "write_concurrency"}
}

// probeKeys are the keys of the probe block; all but concurrency may be
// overridden per server.
func probeKeys() []string {
	return []string{"timeout", "concurrency", "method", "tls_skip_verify", "follow_redirects", "status", "on_timeout", "on_error", "slow"}
}

func serverKeys() []string {
	keys := []string{"name", "url", "component_id", "reports_key"}
	for _, k := range probeKeys() {
		if k != "concurrency" {
			keys = append(keys, k)
		}
	}
	return keys
}

func reportsKeys() []string { return []string{"window", "thresholds", "source"} }

func thresholdKeys() []string {
	return []string{"performance_issues", "partial_outage", "major_outage"}
}

func fileSourceKeys() []string { return []string{"path", "format", "max_age"} }

func sqlSourceKeys() []string {
	return []string{"driver", "dsn_env", "dsn_file", "dsn", "query", "timeout"}
}

func sourceKeys() []string {
	return append(append([]string{"type"}, fileSourceKeys()...), sqlSourceKeys()...)
}

func (d *decoder) config(root *yaml.Node) *Config {
	cfg := &Config{
		Cachet: Cachet{
			TokenEnv:         DefaultTokenEnv,
			Timeout:          DefaultCachetTimeout,
			Retries:          DefaultRetries,
			WriteConcurrency: DefaultWriteConcurrency,
		},
		Probe:      DefaultProbe(),
		Reports:    Reports{Window: DefaultWindow, Thresholds: status.DefaultThresholds(), Source: Source{Type: "none"}},
		RunTimeout: DefaultRunTimeout,
	}
	top, ok := d.mapping(root, "", topKeys(), nil)
	if !ok {
		return cfg
	}
	if v := top.val("cachet"); v != nil {
		d.cachet(v, &cfg.Cachet)
	} else if !top.has("cachet") {
		d.errf(nil, "cachet", "is required: set cachet.url to the Cachet API, such as https://status.example.org/api/v1")
	}
	if v := top.val("probe"); v != nil {
		if pf, ok := d.mapping(v, "probe", probeKeys(), nil); ok {
			cfg.Probe = d.probe(pf, cfg.Probe)
		}
	}
	if v := top.val("reports"); v != nil {
		d.reports(v, &cfg.Reports)
	}
	if v := top.str("lock_file", &cfg.LockFile); v != nil && cfg.LockFile != "" {
		cfg.LockFile = d.abs(cfg.LockFile)
	}
	v := top.duration("run_timeout", &cfg.RunTimeout, "5m")
	top.positive("run_timeout", v, cfg.RunTimeout, "5m")
	switch v := top.val("servers"); {
	case v != nil:
		cfg.Servers = d.servers(v, cfg.Probe)
	case !top.has("servers"):
		d.errf(nil, "servers", "is required: list at least one server with name, url and component_id")
	}
	return cfg
}

// abs resolves p against the config file's folder.
func (d *decoder) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.dir, p)
}

func (d *decoder) cachet(n *yaml.Node, c *Cachet) {
	f, ok := d.mapping(n, "cachet", cachetKeys(), func(key string) string {
		if key == "token" {
			return "inline tokens are refused; put the token in an environment variable (token_env) or a file readable only by this user (token_file) so it stays out of backups and version control"
		}
		return ""
	})
	if !ok {
		return
	}
	if v := f.str("url", &c.URL); v != nil {
		if msg := checkURL(c.URL, "https://status.example.org/api/v1"); msg != "" {
			d.errf(v, f.key("url"), "%s", msg)
		}
		c.URL = strings.TrimRight(c.URL, "/")
	}
	f.required("url", "set it to the Cachet API, such as https://status.example.org/api/v1")
	if f.has("token_env") && f.has("token_file") {
		d.errf(f.keyNode("token_file"), f.key("token_file"), "token_env and token_file are both set: keep only one")
	}
	if v := f.str("token_env", &c.TokenEnv); v != nil && !validEnvName(c.TokenEnv) {
		d.errf(v, f.key("token_env"), "must be the name of an environment variable (letters, digits and _), such as %s, not the token itself", DefaultTokenEnv)
	}
	if v := f.str("token_file", &c.TokenFile); v != nil {
		if strings.TrimSpace(c.TokenFile) == "" {
			d.errf(v, f.key("token_file"), "must be a file path: write the path of the file that holds the token")
		} else {
			c.TokenFile = d.abs(c.TokenFile)
			c.TokenEnv = ""
		}
	}
	v := f.duration("timeout", &c.Timeout, "10s")
	f.positive("timeout", v, c.Timeout, "10s")
	v = f.integer("retries", &c.Retries, "3")
	f.atLeast("retries", v, c.Retries, 0)
	v = f.integer("write_concurrency", &c.WriteConcurrency, "4")
	f.atLeast("write_concurrency", v, c.WriteConcurrency, 1)
}

// checkURL returns why s is not an absolute http(s) URL with a host, or "".
func checkURL(s, example string) string {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return "must be an absolute http or https URL such as " + example
	}
	if u.User != nil {
		return "must not hold a user name or password: the URL ends up in logs; use " + example
	}
	return ""
}

func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, r := range s {
		if !(r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// probe applies the probe keys in f on top of base and returns the result.
// Server mappings pass through here too; their own keys are ignored.
func (d *decoder) probe(f *fields, base Probe) Probe {
	p := base
	p.Status = copyMap(base.Status)
	v := f.duration("timeout", &p.Timeout, "10s")
	f.positive("timeout", v, p.Timeout, "10s")
	v = f.integer("concurrency", &p.Concurrency, "1000")
	f.atLeast("concurrency", v, p.Concurrency, 1)
	if v := f.str("method", &p.Method); v != nil {
		p.Method = strings.ToUpper(strings.TrimSpace(p.Method))
		if p.Method != "GET" && p.Method != "HEAD" {
			d.errf(v, f.key("method"), "must be GET or HEAD, not %q", v.Value)
		}
	}
	f.boolean("tls_skip_verify", &p.TLSSkipVerify)
	f.boolean("follow_redirects", &p.FollowRedirects)
	if v := f.val("status"); v != nil {
		if m, codes, ok := d.statusMap(v, f.key("status")); ok {
			p.Status, p.Codes = m, codes
		}
	}
	d.statusName(f, "on_timeout", &p.OnTimeout)
	d.statusName(f, "on_error", &p.OnError)
	v = f.duration("slow", &p.Slow, "2s")
	f.nonNegative("slow", v, p.Slow)
	return p
}

func (d *decoder) statusName(f *fields, key string, dst *status.Status) {
	var name string
	v := f.str(key, &name)
	if v == nil {
		return
	}
	st, err := status.Parse(strings.TrimSpace(name))
	if err != nil {
		d.errf(v, f.key(key), "%v", err)
		return
	}
	*dst = st
}

// maxStatusKeys bounds a status mapping; checking for overlaps is
// quadratic, and a real mapping has a handful of keys.
const maxStatusKeys = 200

// parsedStatus is a status mapping already checked, kept so that one
// anchored mapping shared by many servers (status: *m) is checked once.
type parsedStatus struct {
	m     map[string]string
	codes status.CodeMap
	ok    bool
}

// statusMap checks a status mapping key by key, so each error carries the
// line of the key or value at fault.
func (d *decoder) statusMap(n *yaml.Node, path string) (map[string]string, status.CodeMap, bool) {
	n = resolve(n)
	if p, seen := d.statusCache[n]; seen {
		return copyMap(p.m), p.codes, p.ok
	}
	m, codes, ok := d.checkStatusMap(n, path)
	if d.statusCache == nil {
		d.statusCache = map[*yaml.Node]parsedStatus{}
	}
	d.statusCache[n] = parsedStatus{m: m, codes: codes, ok: ok}
	return copyMap(m), codes, ok
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (d *decoder) checkStatusMap(n *yaml.Node, path string) (map[string]string, status.CodeMap, bool) {
	if n.Kind != yaml.MappingNode {
		d.errf(n, path, "must be a mapping of HTTP codes to statuses, such as {\"200-399\": operational}")
		return nil, status.CodeMap{}, false
	}
	if len(n.Content) == 0 {
		d.errf(n, path, "is empty: map at least one code, such as {\"200-399\": operational}")
		return nil, status.CodeMap{}, false
	}
	if len(n.Content)/2 > maxStatusKeys {
		d.errf(n, path, "has %d keys, more than %d: use ranges (200-299) and classes (2xx) instead of single codes", len(n.Content)/2, maxStatusKeys)
		return nil, status.CodeMap{}, false
	}
	m := map[string]string{}
	lines := map[string]int{}
	var order []string
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode || isNull(v) {
			d.errf(k, path, "each entry must be a code, range or class followed by a status, such as \"429\": partial_outage")
			ok = false
			continue
		}
		if first, dup := lines[k.Value]; dup {
			d.errf(k, path+"."+k.Value, "is set twice (first on line %d): keep one", first)
			ok = false
			continue
		}
		lines[k.Value] = k.Line
		if _, _, err := status.ParseCodeKey(k.Value); err != nil {
			d.errf(k, path, "%v", err)
			ok = false
			continue
		}
		if _, err := status.Parse(strings.TrimSpace(v.Value)); err != nil {
			d.errf(v, path+"."+k.Value, "%v", err)
			ok = false
			continue
		}
		m[k.Value] = strings.TrimSpace(v.Value)
		order = append(order, k.Value)
	}
	if !ok {
		return nil, status.CodeMap{}, false
	}
	codes, err := status.ParseCodeMap(m)
	if err != nil {
		d.errf(overlapNode(n, order, lines), path, "%v", err)
		return nil, status.CodeMap{}, false
	}
	return m, codes, true
}

// overlapNode finds the first key, in file order, that overlaps an earlier
// key of the same width, so the overlap error points at it.
func overlapNode(n *yaml.Node, order []string, lines map[string]int) *yaml.Node {
	for j, b := range order {
		blo, bhi, _ := status.ParseCodeKey(b)
		for _, a := range order[:j] {
			alo, ahi, _ := status.ParseCodeKey(a)
			if ahi-alo == bhi-blo && alo <= bhi && blo <= ahi {
				return &yaml.Node{Line: lines[b]}
			}
		}
	}
	return n
}

func (d *decoder) reports(n *yaml.Node, r *Reports) {
	f, ok := d.mapping(n, "reports", reportsKeys(), nil)
	if !ok {
		return
	}
	v := f.duration("window", &r.Window, "2h")
	f.positive("window", v, r.Window, "2h")
	if v := f.val("thresholds"); v != nil {
		d.thresholds(v, &r.Thresholds)
	}
	if v := f.val("source"); v != nil {
		r.Source = d.source(f.keyNode("source"), v)
	}
}

func (d *decoder) thresholds(n *yaml.Node, t *status.Thresholds) {
	f, ok := d.mapping(n, "reports.thresholds", thresholdKeys(), nil)
	if !ok {
		return
	}
	bad := false
	for _, k := range []struct {
		name string
		dst  *int
	}{
		{"performance_issues", &t.PerformanceIssues},
		{"partial_outage", &t.PartialOutage},
		{"major_outage", &t.MajorOutage},
	} {
		v := f.integer(k.name, k.dst, "20")
		if v == nil && f.has(k.name) {
			bad = true
		}
		if v != nil && *k.dst < 1 {
			d.errf(v, f.key(k.name), "must be at least 1: a report count of 0 would always trigger it")
			bad = true
		}
	}
	if bad {
		return
	}
	if t.PerformanceIssues >= t.PartialOutage || t.PartialOutage >= t.MajorOutage {
		at := f.node
		for _, k := range []string{"major_outage", "partial_outage", "performance_issues"} {
			if f.has(k) {
				at = f.keyNode(k)
				break
			}
		}
		d.errf(at, "reports.thresholds", "must increase strictly: performance_issues (%d) < partial_outage (%d) < major_outage (%d); unset keys keep their defaults (11, 20, 50)",
			t.PerformanceIssues, t.PartialOutage, t.MajorOutage)
	}
}

func (d *decoder) source(keyNode, n *yaml.Node) Source {
	s := Source{Line: keyNode.Line}
	f, ok := d.mapping(n, "reports.source", sourceKeys(), nil)
	if !ok {
		return s
	}
	if v := f.str("type", &s.Type); v != nil {
		s.Type = strings.TrimSpace(s.Type)
		switch s.Type {
		case "file", "sql", "none":
		default:
			d.errf(v, f.key("type"), "must be file, sql or none, not %q", v.Value)
			return s
		}
	} else {
		f.required("type", "file, sql or none")
		return s
	}
	for _, k := range fileSourceKeys() {
		if f.has(k) && s.Type != "file" {
			d.errf(f.keyNode(k), f.key(k), "key %s is for type file, and this source has type %s: remove it", k, s.Type)
		}
	}
	for _, k := range sqlSourceKeys() {
		if f.has(k) && s.Type != "sql" {
			d.errf(f.keyNode(k), f.key(k), "key %s is for type sql, and this source has type %s: remove it", k, s.Type)
		}
	}
	switch s.Type {
	case "file":
		d.fileSource(f, &s)
	case "sql":
		d.sqlSource(f, &s)
	}
	return s
}

func (d *decoder) fileSource(f *fields, s *Source) {
	s.Format, s.MaxAge = "counts", DefaultMaxAge
	if v := f.str("path", &s.Path); v != nil {
		if strings.TrimSpace(s.Path) == "" {
			d.errf(v, f.key("path"), "must be a file path, such as reports.json")
		} else {
			s.Path = d.abs(s.Path)
		}
	}
	f.required("path", "the JSON file the reports come from, such as reports.json")
	if v := f.str("format", &s.Format); v != nil && s.Format != "counts" && s.Format != "events" {
		d.errf(v, f.key("format"), "must be counts or events, not %q", v.Value)
	}
	v := f.duration("max_age", &s.MaxAge, "15m")
	f.nonNegative("max_age", v, s.MaxAge)
}

func (d *decoder) sqlSource(f *fields, s *Source) {
	s.Timeout = DefaultSQLTimeout
	if v := f.str("driver", &s.Driver); v != nil {
		switch s.Driver {
		case "mysql", "postgres", "sqlite":
		default:
			d.errf(v, f.key("driver"), "must be mysql, postgres or sqlite, not %q", v.Value)
		}
	}
	f.required("driver", "mysql, postgres or sqlite")
	set := 0
	for _, k := range []string{"dsn_env", "dsn_file", "dsn"} {
		if f.has(k) {
			set++
			if set == 2 {
				d.errf(f.keyNode(k), f.key(k), "only one of dsn_env, dsn_file and dsn may be set: keep one")
			}
		}
	}
	if set == 0 {
		d.errf(f.node, "reports.source", "needs the database to read from: set dsn_env (an environment variable holding the DSN), dsn_file, or for sqlite dsn (the database file)")
	}
	if v := f.str("dsn_env", &s.DSNEnv); v != nil && !validEnvName(s.DSNEnv) {
		d.errf(v, f.key("dsn_env"), "must be the name of an environment variable (letters, digits and _), such as REPORTS_DSN, not the DSN itself")
	}
	if v := f.str("dsn_file", &s.DSNFile); v != nil {
		if strings.TrimSpace(s.DSNFile) == "" {
			d.errf(v, f.key("dsn_file"), "must be a file path: write the path of the file that holds the DSN")
		} else {
			s.DSNFile = d.abs(s.DSNFile)
		}
	}
	if v := f.str("dsn", &s.DSN); v != nil {
		switch {
		case s.Driver != "sqlite" && s.Driver != "":
			s.DSN = ""
			d.errf(v, f.key("dsn"), "an inline DSN is allowed only for sqlite, where it is the database file: for %s put the DSN in an environment variable (dsn_env) or a file (dsn_file) so the password stays out of the config", s.Driver)
		case strings.TrimSpace(s.DSN) == "":
			d.errf(v, f.key("dsn"), "must be the sqlite database file, such as reports.db")
		default:
			s.DSN = d.sqlitePath(s.DSN)
		}
	}
	if v := f.str("query", &s.Query); v != nil && strings.TrimSpace(s.Query) == "" {
		d.errf(v, f.key("query"), "must not be empty: write the SELECT that returns server and count")
	}
	f.required("query", "a SELECT returning (server, count) for reports newer than the placeholder, such as SELECT server, COUNT(*) FROM stream_reports WHERE created_at >= ? GROUP BY server")
	v := f.duration("timeout", &s.Timeout, "5s")
	f.positive("timeout", v, s.Timeout, "5s")
}

// sqlitePath resolves a sqlite file name against the config's folder; URI
// forms (file:...) and :memory: are left alone.
func (d *decoder) sqlitePath(dsn string) string {
	if strings.HasPrefix(dsn, "file:") || strings.HasPrefix(dsn, ":memory:") {
		return dsn
	}
	return d.abs(dsn)
}

func (d *decoder) servers(n *yaml.Node, defaults Probe) []Server {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "servers", "must be a list of servers, each starting with \"- name:\", not a %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		d.errf(n, "servers", "is empty: list at least one server with name, url and component_id")
		return nil
	}
	servers := make([]Server, 0, len(n.Content))
	names := map[string]int{}     // name → index
	ids := map[int]int{}          // component id → index
	lines := map[int]*yaml.Node{} // index → the node of the name / id, for messages
	idLines := map[int]*yaml.Node{}
	for i, item := range n.Content {
		s, nameNode, idNode := d.server(resolve(item), fmt.Sprintf("servers[%d]", i), defaults)
		if nameNode != nil {
			if j, dup := names[s.Name]; dup {
				d.errf(nameNode, fmt.Sprintf("servers[%d].name", i), "%q is also the name of servers[%d] on line %d: names must be unique", s.Name, j, lines[j].Line)
			} else {
				names[s.Name], lines[i] = i, nameNode
			}
		}
		if idNode != nil {
			if j, dup := ids[s.ComponentID]; dup {
				d.errf(idNode, fmt.Sprintf("servers[%d].component_id", i), "%d is also the component of servers[%d] on line %d: each server needs its own Cachet component", s.ComponentID, j, idLines[j].Line)
			} else {
				ids[s.ComponentID], idLines[i] = i, idNode
			}
		}
		servers = append(servers, s)
	}
	return servers
}

// server decodes one list entry and returns the nodes of its valid name and
// component id for the uniqueness checks.
func (d *decoder) server(n *yaml.Node, path string, defaults Probe) (s Server, nameNode, idNode *yaml.Node) {
	s.Line = n.Line
	f, ok := d.mapping(n, path, serverKeys(), func(key string) string {
		if key == "concurrency" {
			return "concurrency is global: set it under probe, not per server"
		}
		return ""
	})
	if !ok {
		return s, nil, nil
	}
	if v := f.str("name", &s.Name); v != nil {
		if strings.TrimSpace(s.Name) == "" {
			d.errf(v, f.key("name"), "must not be empty: name the server as it should appear in logs, such as Stream 14")
		} else {
			nameNode = v
		}
	}
	f.required("name", "name the server as it should appear in logs, such as Stream 14")
	if v := f.str("url", &s.URL); v != nil {
		if msg := checkURL(s.URL, "https://s1.example.org/"); msg != "" {
			d.errf(v, f.key("url"), "%s", msg)
		}
	}
	f.required("url", "the URL to probe, such as https://s1.example.org/")
	if v := f.integer("component_id", &s.ComponentID, "14"); v != nil {
		if s.ComponentID < 1 {
			d.errf(v, f.key("component_id"), "must be at least 1: use the id of the server's component in Cachet")
		} else {
			idNode = v
		}
	}
	f.required("component_id", "the id of the server's component in Cachet, such as 14")
	s.ReportsKey = s.Name
	if v := f.str("reports_key", &s.ReportsKey); v != nil && s.ReportsKey == "" {
		d.errf(v, f.key("reports_key"), "must not be empty: leave it out to use the server's name")
	}
	s.Probe = d.probe(f, defaults)
	return s, nameNode, idNode
}
