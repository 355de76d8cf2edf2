package config

import (
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// decode decodes the checked tree with yaml.v3 on top of the defaults; a key
// left out keeps its default. Each server is decoded on its own, on top of
// the probe block, so that it inherits every probe key it does not set.
//
// The error is the first yaml.v3 reported; the checker has reported it
// already, with its key, unless the checker missed something.
func decode(root *yaml.Node, at index) (*Config, error) {
	cfg := defaults()
	err := without(root, "servers").Decode(&cfg)
	cfg.Reports.Source.Line = at.keyLine("reports.source")
	list := at.val("servers")
	if list == nil || list.Kind != yaml.SequenceNode {
		return &cfg, err
	}
	statuses := map[*yaml.Node]StatusMap{}
	cfg.Servers = make([]Server, 0, len(list.Content))
	for _, item := range list.Content {
		s, serr := decodeServer(resolve(item), Server{Probe: cfg.Probe, Confirm: cfg.Confirm}, statuses)
		if err == nil {
			err = serr
		}
		cfg.Servers = append(cfg.Servers, s)
	}
	return &cfg, err
}

// decodeServer decodes one servers entry on top of defaults (the probe and
// confirm blocks). Its
// status mapping is parsed once per node, since 10,000 servers may share one
// anchored mapping (status: *m) that yaml.v3 would parse for each.
func decodeServer(n *yaml.Node, defaults Server, statuses map[*yaml.Node]StatusMap) (Server, error) {
	s := defaults
	s.Line = n.Line
	if n.Kind != yaml.MappingNode {
		return s, nil // the checker reported it
	}
	err := without(n, "status").Decode(&s)
	if sn := valueOf(n, "status"); sn != nil {
		sm, seen := statuses[sn]
		if !seen {
			if serr := sm.UnmarshalYAML(sn); serr != nil && err == nil {
				err = serr
			}
			statuses[sn] = sm
		}
		s.Probe.Status = sm
	}
	if s.ReportsKey == "" {
		s.ReportsKey = s.Name
	}
	return s, err
}

// without returns mapping n without the pairs of key, leaving n alone.
func without(n *yaml.Node, key string) *yaml.Node {
	if valueOf(n, key) == nil {
		return n
	}
	c := *n
	c.Content = make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolve(n.Content[i]).Value != key {
			c.Content = append(c.Content, n.Content[i], n.Content[i+1])
		}
	}
	return &c
}

// valueOf returns the value of key in mapping n, aliases resolved, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolve(n.Content[i]).Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

// finish completes a valid config: relative paths against dir, the source
// keys of other types cleared, weekly windows' zones, and where secrets'
// names were written.
func finish(cfg *Config, dir string, at index) {
	c := &cfg.Cachet
	c.URL = strings.TrimRight(c.URL, "/")
	if at.has("cachet.token_file") {
		c.token = originOf(at, "cachet.token_file", c.TokenFile)
		c.TokenFile, c.TokenEnv = absIn(dir, c.TokenFile), ""
	} else if at.has("cachet.token_env") {
		c.token = originOf(at, "cachet.token_env", c.TokenEnv)
	}
	if cfg.LockFile != "" {
		cfg.LockFile = absIn(dir, cfg.LockFile)
	}
	if cfg.State.Path != "" {
		cfg.State.Path = absIn(dir, cfg.State.Path)
	}
	if q := &cfg.State.SQL; q.Set() {
		switch {
		case q.DSNFile != "":
			q.dsn = originOf(at, "state.sql.dsn_file", q.DSNFile)
			q.DSNFile = absIn(dir, q.DSNFile)
		case q.DSNEnv != "":
			q.dsn = originOf(at, "state.sql.dsn_env", q.DSNEnv)
		case q.DSN != "" && !strings.HasPrefix(q.DSN, "file:") && !strings.HasPrefix(q.DSN, ":memory:"):
			q.DSN = absIn(dir, q.DSN)
		}
	}
	if cfg.MetricsFile != "" {
		cfg.MetricsFile = absIn(dir, cfg.MetricsFile)
	}
	for i := range cfg.Maintenance.Windows {
		if w := &cfg.Maintenance.Windows[i]; w.Weekly != "" && w.TimeZone.Loc == nil {
			w.TimeZone = cfg.TimeZone
		}
	}
	s := &cfg.Reports.Source
	clearOtherTypes(s)
	if s.Path != "" {
		s.Path = absIn(dir, s.Path)
	}
	if s.DSNFile != "" {
		s.dsn = originOf(at, "reports.source.dsn_file", s.DSNFile)
		s.DSNFile = absIn(dir, s.DSNFile)
	} else if s.DSNEnv != "" {
		s.dsn = originOf(at, "reports.source.dsn_env", s.DSNEnv)
	}
	if s.DSN != "" && !strings.HasPrefix(s.DSN, "file:") && !strings.HasPrefix(s.DSN, ":memory:") {
		s.DSN = absIn(dir, s.DSN) // a sqlite file; URI forms are left alone
	}
}

// clearOtherTypes zeroes the source fields whose keys belong to other
// source types: their defaults mean nothing for this one.
func clearOtherTypes(s *Source) {
	v := reflect.ValueOf(s).Elem()
	for _, f := range structOf(v.Type()).fields {
		if f.only != nil && !contains(f.only, s.Type) {
			fv := v.FieldByIndex(f.index)
			fv.Set(reflect.Zero(fv.Type()))
		}
	}
}

// absIn resolves p against dir.
func absIn(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}
