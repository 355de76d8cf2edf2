package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/proxer/cachet-updater/internal/suggest"
)

// reader holds what reading one file found: where each key was written and
// every problem.
type reader struct {
	file string
	at   map[string]pair // dotted key → where it was written
	// vals finds a dotted key by where its value is written; built when a
	// problem needs it (see find).
	vals map[[2]int]string
	errs []*Error
	// bad holds the keys with a problem, above the keys above them: a check
	// of a related key would only repeat the problem (see report).
	bad, above, hinted map[string]bool // hinted: keys a "did you mean" names
	fields             map[reflect.Type][]field
}

// pair is a key (nil for a list entry) and its value as written, aliases
// resolved, and the order it was walked in.
type pair struct {
	key, val *yaml.Node
	order    int
}

// field is a key of a struct type and the type of its value.
type field struct {
	name string
	typ  reflect.Type
}

// read decodes and checks data, the config file at path.
func read(path string, data []byte, o LoadOptions) (*Config, error) {
	r := &reader{file: path, at: make(map[string]pair, bytes.Count(data, []byte(":"))), bad: map[string]bool{}, above: map[string]bool{}, hinted: map[string]bool{},
		fields: map[reflect.Type][]field{}}
	cfg := defaults()
	root, typeErrs, err := r.decode(data, &cfg)
	if err != nil {
		return nil, err
	}
	r.walk(root, reflect.TypeFor[Config](), "")
	if list := r.at["servers"].val; list != nil && list.Kind == yaml.SequenceNode {
		cfg.Servers = make([]Server, 0, len(list.Content))
		for _, n := range list.Content {
			s, errs := cfg.server(resolve(n))
			cfg.Servers, typeErrs = append(cfg.Servers, s), append(typeErrs, errs...)
		}
	}
	for _, s := range typeErrs {
		r.typeError(s)
	}
	cfg.validate(r, o)
	if len(r.errs) > 0 {
		return nil, r.result()
	}
	abs, _ := filepath.Abs(path) // Parse made sure it can be
	cfg.finish(filepath.Dir(abs), r)
	return &cfg, nil
}

// UnmarshalYAML leaves the server alone: read decodes each server once the
// probe and confirm blocks are read (see server).
func (*Server) UnmarshalYAML(*yaml.Node) error { return nil }

// server decodes n on top of the probe and confirm blocks, so that the
// server inherits every key it does not set, and returns it with the value
// types' problems. A status mapping shared through an alias with the
// server before is not read again.
func (cfg *Config) server(n *yaml.Node) (Server, []string) {
	type plain Server // without UnmarshalYAML
	s := Server{Probe: cfg.Probe, Confirm: cfg.Confirm, Line: n.Line}
	if len(cfg.Servers) > 0 && hasKey(n, "status") {
		s.Probe.Status = cfg.Servers[len(cfg.Servers)-1].Probe.Status // kept if n's is the same node
	}
	var te *yaml.TypeError
	if err := n.Decode((*plain)(&s)); !errors.As(err, &te) {
		te = &yaml.TypeError{}
	}
	if s.ReportsKey == "" {
		s.ReportsKey = s.Name
	}
	return s, te.Errors
}

// decode reads data, one YAML document holding a mapping, into cfg and
// returns the mapping and yaml.v3's problems with values. A problem with
// the file as a whole is the error.
func (r *reader) decode(data []byte, cfg *Config) (*yaml.Node, []string, error) {
	fileErr := func(line int, msg string) error { return &Error{File: r.file, Line: line, Msg: msg} }
	const needs = ": it needs at least cachet.url and one server"
	if len(data) > MaxFileSize {
		return nil, nil, fileErr(0, fmt.Sprintf("the config file is larger than %d KiB: this is not a cachet-updater config; check the path", MaxFileSize>>10))
	}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if !utf8.Valid(line) {
			return nil, nil, fileErr(i+1, "the file is not valid UTF-8: save it as UTF-8")
		}
	}
	var doc, next yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil, fileErr(0, "the config file is empty or holds only comments"+needs)
	} else if err != nil {
		return nil, nil, r.syntaxError(data, err)
	}
	if err := dec.Decode(&next); err == nil {
		return nil, nil, fileErr(max(next.Line, 1), "the file holds more than one YAML document (separated by ---): keep only one")
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, r.syntaxError(data, err)
	}
	if len(doc.Content) == 0 || isNull(resolve(doc.Content[0])) {
		return nil, nil, fileErr(0, "the config file is empty"+needs)
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, nil, fileErr(root.Line, "the config must be a YAML mapping with the keys cachet, probe, reports, servers, ... at the top, not a "+kindName(root))
	}
	var te *yaml.TypeError
	if err := root.Decode(cfg); errors.As(err, &te) {
		return root, te.Errors, nil
	} else if err != nil {
		return nil, nil, fileErr(0, "YAML error: "+strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return root, nil, nil
}

// typeError turns one of yaml.v3's messages into a problem with its key.
// Those of the value types carry their node's place (see problem); the
// others the walk reports, with their keys.
func (r *reader) typeError(s string) {
	var line, l, c int
	fmt.Sscanf(s, "line %d:", &line)
	_, msg, _ := strings.Cut(s, ": ")
	if part := strings.SplitN(msg, "\x00", 3); len(part) == 3 {
		where := strings.SplitN(part[1], " ", 3)
		fmt.Sscan(where[0]+" "+where[1], &l, &c)
		r.add(line, join(r.find()[[2]int{l, c}], where[2]), "%s", part[2])
	} else if !strings.HasPrefix(msg, "cannot unmarshal") && !strings.Contains(msg, "already defined at line") {
		r.add(line, "", "yaml.v3 refused this line (%s): a bug in cachet-updater; please report it", msg)
	}
}

// unknown reports the key k at key, which no field of t takes, with the
// key it is probably a typo of (the same but for case, or at most 2 edits
// away).
func (r *reader) unknown(k *yaml.Node, key string, t reflect.Type) {
	var allowed []string
	best, dist := "", 3
	for _, f := range r.fieldsOf(t) {
		if f.name == "concurrency" && t == reflect.TypeFor[Server]() {
			continue // the probe block's only
		}
		allowed = append(allowed, f.name)
		if d := suggest.Distance(strings.ToLower(k.Value), f.name); d < dist {
			best, dist = f.name, d
		}
	}
	msg := fmt.Sprintf("unknown key %q", k.Value)
	if best != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", best)
		r.hinted[join(parentKey(key), best)] = true
	}
	msg += ": the keys allowed here are " + strings.Join(allowed, ", ")
	if key == "cachet.token" {
		msg = "inline tokens are refused; put the token in an environment variable (token_env) or a file readable only by this user (token_file) so it stays out of backups and version control"
	}
	r.add(k.Line, key, "%s", msg)
}

// field returns the type of the value of t's key name, or nil.
func (r *reader) field(t reflect.Type, name string) reflect.Type {
	for _, f := range r.fieldsOf(t) {
		if f.name == name {
			return f.typ
		}
	}
	return nil
}

// fieldsOf returns the keys of struct type t, from its fields' yaml tags.
func (r *reader) fieldsOf(t reflect.Type) []field {
	if fs, ok := r.fields[t]; ok || t == nil {
		return fs
	}
	var fs []field
	for i := range t.NumField() {
		name, opt, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if opt == "inline" {
			fs = append(fs, r.fieldsOf(t.Field(i).Type)...)
		} else if name != "-" && t.Field(i).IsExported() {
			fs = append(fs, field{name, t.Field(i).Type})
		}
	}
	r.fields[t] = fs
	return fs
}

// listHints say what a list holds, for messages.
var listHints = map[reflect.Type]string{
	reflect.TypeFor[Server](): `of servers, each starting with "- name:"`,
	reflect.TypeFor[WebURL](): "of URLs, such as [https://example.org/]",
	reflect.TypeFor[Window](): "of windows, each with servers and start/end or weekly",
	reflect.TypeFor[string](): "of server names, such as [Stream 1, Stream 2]",
}

// walk records where each key under n, a value of type t at key, was
// written, and reports what yaml.v3 reads too kindly or without the key: a
// value of the wrong kind or none, a whole number not in decimal digits
// (YAML reads 014 as octal 12), a boolean other than true or false (yaml.v3
// takes yes and on). Value types check their own node.
func (r *reader) walk(n *yaml.Node, t reflect.Type, key string) {
	want := yaml.ScalarNode
	switch t.Kind() {
	case reflect.Struct:
		want = yaml.MappingNode
	case reflect.Slice:
		want = yaml.SequenceNode
	}
	switch n = resolve(n); {
	case isNull(n):
		r.add(n.Line, key, "has no value: give it one, or delete it to use the default")
	case reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) && t != reflect.TypeFor[Server]():
	case n.Kind != want:
		what := map[yaml.Kind]string{yaml.ScalarNode: "a single value", yaml.MappingNode: "a mapping (key: value lines indented below it)"}[want]
		if want == yaml.SequenceNode {
			what = "a list " + listHints[t.Elem()]
		}
		r.add(n.Line, key, "must be %s, not a %s", what, kindName(n))
	case t.Kind() == reflect.Int:
		r.wholeNumber(n, key)
	case t.Kind() == reflect.Bool && n.ShortTag() != "!!bool":
		r.add(n.Line, key, "must be true or false")
	case want == yaml.SequenceNode:
		for i, item := range n.Content {
			r.record(key+"["+strconv.Itoa(i)+"]", nil, item)
			r.walk(item, t.Elem(), key+"["+strconv.Itoa(i)+"]")
		}
	case want == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			path := join(key, k.Value)
			if first, seen := r.at[path]; seen && first.key != nil {
				r.add(k.Line, path, "is set twice (first on line %d): keep one", first.key.Line)
				r.bad[key] = true // yaml.v3 decodes none of the mapping
			} else if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				r.add(k.Line, key, "each key must be a plain word: YAML merge keys (<<), lists and mappings are not keys here")
			} else if f := r.field(t, k.Value); f == nil {
				r.record(path, k, n.Content[i+1])
				r.unknown(k, path, t)
			} else {
				r.record(path, k, n.Content[i+1])
				r.walk(n.Content[i+1], f, path)
			}
		}
	}
}

// record notes that key was written at k (nil for a list entry) with the
// value vn, in a mapping of type in.
func (r *reader) record(key string, k, vn *yaml.Node) {
	r.at[key] = pair{k, resolve(vn), len(r.at)}
}

// find returns r.vals, built on first use. A node shared through an alias
// is found under the key walked first: where its anchor is.
func (r *reader) find() map[[2]int]string {
	if r.vals == nil {
		r.vals = map[[2]int]string{}
		keys := slices.SortedFunc(maps.Keys(r.at), func(a, b string) int { return r.at[a].order - r.at[b].order })
		for _, key := range slices.Backward(keys) { // the first walked wins
			r.vals[[2]int{r.at[key].val.Line, r.at[key].val.Column}] = key
		}
	}
	return r.vals
}

var decimal = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// wholeNumber reports a whole number written another way than in decimal
// digits (014, 0x10, 1e3, 12.0, "12"), with the number to write instead.
func (r *reader) wholeNumber(n *yaml.Node, key string) {
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
	case decimal.MatchString(v) && n.ShortTag() == "!!int":
	case strings.TrimLeft(v, "+-")[0] == '0' && strings.Trim(v, "+-01234567") == "":
		r.add(n.Line, key, "%s has a leading 0, which YAML reads as an octal number (%d): write %d", v, i, d)
	default:
		r.add(n.Line, key, "%s is not a decimal whole number: write %d", v, i)
	}
}

// add records a problem.
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

// result returns the problems in file order, those without a line last,
// each once (a value shared through an alias is reported for every use).
func (r *reader) result() error {
	sort.SliceStable(r.errs, func(i, j int) bool {
		a, b := r.errs[i].Line, r.errs[j].Line
		return a != 0 && (b == 0 || a < b)
	})
	seen := map[Error]bool{}
	var out Errors
	for _, e := range r.errs {
		if !seen[*e] {
			seen[*e] = true
			out = append(out, e)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
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
	parser := parserError.MatchString(msg)
	for i, l := range strings.Split(string(data), "\n") {
		// A scanner error is at or after the tab. For a parser error only an
		// indentation that starts with one counts: a tab after spaces may
		// be in a block scalar (a pasted SQL query).
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if !parser && line > 0 && i >= line && !strings.Contains(msg, "tab character") {
			break
		} else if strings.TrimSpace(l) != "" && (strings.HasPrefix(indent, "\t") || !parser && strings.Contains(indent, "\t")) {
			return &Error{File: r.file, Line: i + 1, Msg: "the line is indented with a tab: YAML allows only spaces for indentation; replace the tabs with spaces"}
		}
	}
	switch {
	case line == 0:
		return &Error{File: r.file, Msg: "YAML error: " + msg}
	case parser:
		return &Error{File: r.file, Line: line + 1, Msg: "YAML syntax error in the block that starts on this line: " + msg + ": look for a line in it indented differently from its neighbours, or an unclosed bracket or quote"}
	}
	return &Error{File: r.file, Line: line, Msg: "YAML syntax error: " + msg + ": check the indentation and quoting on this line and the one before it"}
}

// resolve follows aliases (*name) to the anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
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
