package config

import (
	"fmt"
	suggestion "github.com/proxer/cachet-updater/internal/suggest"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// checker walks the YAML tree beside the Go types it is decoded into and
// reports everything wrong with it, each problem with its line and dotted
// key: unknown, repeated and empty keys, values of the wrong kind, and the
// rules in the fields' check tags. It also records where each key was
// written, for the checks that span fields and for messages.
//
// It runs before yaml.v3 decodes the tree because yaml.v3 stops at the first
// error a value reports and knows no key paths.
type checker struct {
	file    string
	errs    []*Error
	at      index
	structs map[reflect.Type]*structInfo
	parsed  map[parsedKey]reflect.Value // mappings already parsed: one shared through an alias is parsed once
}

type parsedKey struct {
	n *yaml.Node
	t reflect.Type
}

// index says where keys were written, by dotted key (servers[3].url).
type index struct {
	written map[string]pair
	hinted  map[string]bool // keys that an unknown key's "did you mean" names
}

// pair is a key and its value as written, aliases resolved.
type pair struct{ key, val *yaml.Node }

func (ix index) has(key string) bool { return ix.written[key].key != nil }

// val returns the value node of key, or nil.
func (ix index) val(key string) *yaml.Node { return ix.written[key].val }

func (ix index) keyLine(key string) int {
	if n := ix.written[key].key; n != nil {
		return n.Line
	}
	return 0
}

func (ix index) valLine(key string) int {
	if n := ix.written[key].val; n != nil {
		return n.Line
	}
	return 0
}

func newChecker(file string) *checker {
	return &checker{
		file:    file,
		at:      index{written: map[string]pair{}, hinted: map[string]bool{}},
		structs: map[reflect.Type]*structInfo{},
		parsed:  map[parsedKey]reflect.Value{},
	}
}

func (c *checker) report(line int, key, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// walk checks n as a value of type t at key; f is the field it decodes into
// (nil for the top and for list entries).
func (c *checker) walk(n *yaml.Node, t reflect.Type, key string, f *fieldInfo) {
	n = resolve(n)
	if isValue(t) {
		c.value(n, t, key, f)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		c.mapping(n, t, key)
	case reflect.Slice:
		c.list(n, t, key, f)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.report(n.Line, key, "must be a single value, not a %s", kindName(n))
			return
		}
		c.rules(n, reflect.ValueOf(n.Value), key, f)
	case reflect.Int:
		i, msg := wholeNumber(n, withHint(f))
		if msg != "" {
			c.report(n.Line, key, "%s", msg)
			return
		}
		c.rules(n, reflect.ValueOf(i), key, f)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			c.report(n.Line, key, "must be true or false")
		}
	default:
		panic(fmt.Sprintf("config: no check for %s at %s", t, key))
	}
}

// decimal is how a whole number is written. YAML also reads 014 (as octal
// 12), 0x10 and 1e3 as numbers: an id read that way is another component.
var decimal = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// wholeNumber reads n as a whole number in decimal digits. Otherwise it
// returns the problem: for a number written another way (014, 0x10, 1e3,
// 12.0, "12") with the number to write instead.
func wholeNumber(n *yaml.Node, hint string) (int, string) {
	v, quoted := n.Value, n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	if n.Kind != yaml.ScalarNode {
		return 0, "must be a whole number" + hint
	}
	t := v
	if quoted {
		t = strconv.Quote(v)
	}
	other := func(i int64) (int, string) { return 0, fmt.Sprintf("%s is not a decimal whole number: write %d", t, i) }
	if i, err := strconv.Atoi(v); err == nil {
		switch {
		case quoted:
			return 0, fmt.Sprintf("%s is quoted, which makes it text: write %d without quotes", t, i)
		case decimal.MatchString(v) && n.ShortTag() == "!!int":
			return i, ""
		case strings.TrimLeft(v, "+-")[0] == '0':
			octal := ""
			if o, err := strconv.ParseInt(v, 8, 64); err == nil {
				octal = fmt.Sprintf(", which YAML reads as an octal number (%d)", o)
			}
			return 0, fmt.Sprintf("%s has a leading 0%s: write %d", t, octal, i)
		}
		return other(int64(i))
	}
	if i, err := strconv.ParseInt(v, 0, 0); err == nil {
		return other(i)
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return other(int64(f))
	}
	return 0, "must be a whole number" + hint
}

// isValue reports whether t is one of the small types that parse their own
// node.
func isValue(t reflect.Type) bool { return reflect.PointerTo(t).Implements(reflect.TypeFor[value]()) }

func withHint(f *fieldInfo) string {
	if f == nil || f.hint == "" {
		return ""
	}
	return ": " + f.hint
}

// value parses n as one of the small types, whose problems carry their own
// lines and sub-keys. A mapping (a status mapping that many servers may
// share through an alias) is parsed once.
func (c *checker) value(n *yaml.Node, t reflect.Type, key string, f *fieldInfo) {
	pk := parsedKey{n, t}
	v, seen := c.parsed[pk]
	if !seen {
		p := reflect.New(t)
		errs := p.Interface().(value).parse(n)
		for _, e := range errs {
			c.report(e.Line, join(key, e.Key), "%s", e.Msg)
		}
		if len(errs) == 0 {
			v = p.Elem()
		}
		if n.Kind != yaml.ScalarNode {
			c.parsed[pk] = v
		}
	}
	if v.IsValid() {
		c.rules(n, v, key, f)
	}
}

func (c *checker) list(n *yaml.Node, t reflect.Type, key string, f *fieldInfo) {
	if n.Kind != yaml.SequenceNode {
		c.report(n.Line, key, "must be a list %s, not a %s", f.hint, kindName(n))
		return
	}
	for i, item := range n.Content {
		c.walk(item, t.Elem(), key+"["+strconv.Itoa(i)+"]", nil)
	}
}

// mapping checks that n is a mapping whose keys are the fields of t, each
// set once and to a value, and that t's required keys are there.
func (c *checker) mapping(n *yaml.Node, t reflect.Type, key string) {
	if n.Kind != yaml.MappingNode {
		c.report(n.Line, key, "must be a mapping (key: value lines indented below it), not a %s", kindName(n))
		return
	}
	info := c.structOf(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			c.report(k.Line, key, "a key must be a plain word, not a %s", kindName(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			c.report(k.Line, key, "YAML merge keys (<<) are not supported: write the keys out")
			continue
		}
		name, path := k.Value, join(key, k.Value)
		if first := keyNode(n.Content[:i], name); first != nil {
			c.report(k.Line, path, "is set twice (first on line %d): keep one", first.Line)
			continue
		}
		if msg := info.refuse(name); msg != "" {
			c.report(k.Line, path, "%s", msg)
			continue
		}
		fi := info.byName[name]
		if fi == nil {
			msg, hint := unknownKey(name, info.allowed)
			if hint != "" {
				c.at.hinted[join(key, hint)] = true
			}
			c.report(k.Line, path, "%s", msg)
			continue
		}
		c.at.written[path] = pair{k, v}
		if isNull(v) {
			c.report(v.Line, path, "has no value: give it one, or delete the line to use the default")
			continue
		}
		c.walk(v, fi.typ, path, fi)
	}
	line := n.Line
	if key == "" {
		line = 0 // a missing top-level key has no line to point at
	}
	for _, fi := range info.fields {
		path := join(key, fi.name)
		if fi.rules.required && fi.only == nil && keyNode(n.Content, fi.name) == nil && !c.at.hinted[path] {
			c.report(line, path, "is required: %s", fi.hint)
		}
	}
}

// keyNode returns the first key node named name in the mapping content
// pairs, or nil. Config mappings have a handful of keys: a scan beats a map.
func keyNode(pairs []*yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(pairs); i += 2 {
		if k := resolve(pairs[i]); k.Kind == yaml.ScalarNode && k.Value == name {
			return k
		}
	}
	return nil
}

// rules applies the field's check tag to its parsed value v.
func (c *checker) rules(n *yaml.Node, v reflect.Value, key string, f *fieldInfo) {
	if f == nil {
		return
	}
	r := f.rules
	if d, ok := v.Interface().(Duration); ok {
		switch {
		case r.positive && d <= 0:
			c.report(n.Line, key, "must be longer than 0, such as 10s, 5m or 2h")
		case d < 0:
			c.report(n.Line, key, "must not be negative: use 0 to turn it off")
		}
		return
	}
	if r.min != nil && v.Kind() == reflect.Int && v.Int() < int64(*r.min) {
		c.report(n.Line, key, "must be at least %d%s", *r.min, withHint(f))
	}
	if r.max != nil && v.Kind() == reflect.Int && v.Int() > int64(*r.max) {
		c.report(n.Line, key, "must be at most %d", *r.max)
	}
	if v.Kind() != reflect.String {
		return
	}
	s := v.String()
	switch {
	case r.nonempty && strings.TrimSpace(s) == "":
		c.report(n.Line, key, "must not be empty%s", withHint(f))
	case r.oneof != nil && !contains(r.oneof, s):
		c.report(n.Line, key, "must be %s, not %q", wordList(r.oneof, "or"), s)
	case r.url != "" && !isWebURL(s):
		c.report(n.Line, key, "must be an absolute http or https URL such as %s", r.url)
	case r.envname != "" && !validEnvName(s):
		c.report(n.Line, key, "must be the name of an environment variable (letters, digits and _), such as %s, not the secret itself", r.envname)
	}
}

// isWebURL reports whether s is an absolute http(s) URL with a host.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != ""
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

// wordList writes "a, b or c" (conj "or") or "a, b and c".
func wordList(items []string, conj string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unknownKey returns the message for an unknown key and the allowed key it
// is probably a typo of, or "".
func unknownKey(name string, allowed []string) (msg, hint string) {
	msg = fmt.Sprintf("unknown key %q", name)
	if hint = suggest(name, allowed); hint != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", hint)
	}
	return msg + ": the keys allowed here are " + strings.Join(allowed, ", "), hint
}

// suggest returns the allowed key closest to name when it is close enough to
// be a typo: the same but for case, or at most 2 edits away. (Keys are
// short: a part of one is no typo of it, unlike a server's name.)
func suggest(name string, allowed []string) string {
	best, bestDist := "", 3
	for _, a := range allowed {
		if strings.EqualFold(a, name) {
			return a
		}
		if dist := suggestion.Distance(strings.ToLower(name), a); dist < bestDist {
			best, bestDist = a, dist
		}
	}
	return best
}

// resolve follows aliases (*name) to the anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	}
	return "node"
}

func join(path, key string) string {
	switch {
	case path == "":
		return key
	case key == "":
		return path
	}
	return path + "." + key
}
