package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks the YAML node tree and collects every error with its line;
// Parse reports the first one in file order.
type decoder struct {
	file string
	dir  string // absolute folder of the config file
	errs []*Error

	statusCache map[*yaml.Node]parsedStatus
}

func (d *decoder) errf(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// first returns the error with the lowest line; errors without a line (a
// missing top-level key) come last, since a problem the operator can point
// at is the better one to fix first.
func (d *decoder) first() *Error {
	if len(d.errs) == 0 {
		return nil
	}
	sort.SliceStable(d.errs, func(i, j int) bool {
		a, b := d.errs[i].Line, d.errs[j].Line
		if a == 0 || b == 0 {
			return b == 0 && a != 0
		}
		return a < b
	})
	return d.errs[0]
}

// resolve follows aliases (*name) to the anchored node. The schema has a
// fixed depth, so following aliases cannot blow up.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
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
	if path == "" {
		return key
	}
	return path + "." + key
}

// entry is one key: value pair of a mapping.
type entry struct {
	key, val *yaml.Node
}

// fields is a checked mapping: every key in it is allowed, appears once and
// has a non-null value.
type fields struct {
	d    *decoder
	path string     // dotted path of the mapping, "" at the top
	node *yaml.Node // the mapping, for the line of "missing key" errors
	m    map[string]entry
}

// refuser returns a message when key must be refused with a reason of its
// own, or "".
type refuser func(key string) string

// mapping checks that n is a mapping whose keys are all in allowed (or
// refused with a reason by refuse), each set once and to a value.
func (d *decoder) mapping(n *yaml.Node, path string, allowed []string, refuse refuser) (*fields, bool) {
	n = resolve(n)
	f := &fields{d: d, path: path, node: n, m: map[string]entry{}}
	if n.Kind != yaml.MappingNode {
		d.errf(n, path, "must be a mapping (key: value lines indented below it), not a %s", kindName(n))
		return f, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errf(k, path, "a key must be a plain word, not a %s", kindName(k))
			continue
		}
		name := k.Value
		if k.Tag == "!!merge" {
			d.errf(k, path, "YAML merge keys (<<) are not supported: write the keys out")
			continue
		}
		key := join(path, name)
		if prev, dup := f.m[name]; dup {
			d.errf(k, key, "is set twice (first on line %d): keep one", prev.key.Line)
			continue
		}
		if refuse != nil {
			if msg := refuse(name); msg != "" {
				d.errf(k, key, "%s", msg)
				continue
			}
		}
		if !contains(allowed, name) {
			d.errf(k, key, "%s", unknownKey(name, allowed))
			continue
		}
		if isNull(v) {
			d.errf(v, key, "has no value: give it one, or delete the line to use the default")
			f.m[name] = entry{key: k}
			continue
		}
		f.m[name] = entry{key: k, val: v}
	}
	return f, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func unknownKey(name string, allowed []string) string {
	msg := fmt.Sprintf("unknown key %q", name)
	if s := suggest(name, allowed); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + ": the keys allowed here are " + strings.Join(allowed, ", ")
}

// suggest returns the allowed key closest to name when it is close enough to
// be a typo.
func suggest(name string, allowed []string) string {
	best, bestDist := "", 3
	for _, a := range allowed {
		if strings.EqualFold(a, name) {
			return a
		}
		if dist := editDistance(strings.ToLower(name), a); dist < bestDist {
			best, bestDist = a, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
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

// has reports whether key was written, with or without a valid value.
func (f *fields) has(key string) bool {
	_, ok := f.m[key]
	return ok
}

// val returns the value node of key, or nil when it is absent or null.
func (f *fields) val(key string) *yaml.Node { return f.m[key].val }

// keyNode returns the key node of key, or the mapping when it is absent.
func (f *fields) keyNode(key string) *yaml.Node {
	if e, ok := f.m[key]; ok {
		return e.key
	}
	return f.node
}

func (f *fields) key(key string) string { return join(f.path, key) }

// scalar returns the value node of key when it is a single value.
func (f *fields) scalar(key string) *yaml.Node {
	v := f.val(key)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.ScalarNode {
		f.d.errf(v, f.key(key), "must be a single value, not a %s", kindName(v))
		return nil
	}
	return v
}

// str sets *dst from key and returns the value node, or nil when the key is
// absent or invalid. Any scalar is taken as its text.
func (f *fields) str(key string, dst *string) *yaml.Node {
	v := f.scalar(key)
	if v != nil {
		*dst = v.Value
	}
	return v
}

func (f *fields) boolean(key string, dst *bool) *yaml.Node {
	v := f.scalar(key)
	if v == nil {
		return nil
	}
	var b bool
	if v.Tag != "!!bool" || v.Decode(&b) != nil {
		f.d.errf(v, f.key(key), "must be true or false")
		return nil
	}
	*dst = b
	return v
}

func (f *fields) integer(key string, dst *int, example string) *yaml.Node {
	v := f.scalar(key)
	if v == nil {
		return nil
	}
	var n int
	if v.Tag != "!!int" || v.Decode(&n) != nil {
		f.d.errf(v, f.key(key), "must be a whole number such as %s", example)
		return nil
	}
	*dst = n
	return v
}

func (f *fields) duration(key string, dst *time.Duration, example string) *yaml.Node {
	v := f.scalar(key)
	if v == nil {
		return nil
	}
	s := strings.TrimSpace(v.Value)
	if _, err := strconv.ParseFloat(s, 64); err == nil && s != "0" {
		f.d.errf(v, f.key(key), "%s is a bare number, not a duration: add a unit, such as %s", s, example)
		return nil
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		f.d.errf(v, f.key(key), "%q is not a duration: write it like 10s, 1m30s or 2h", v.Value)
		return nil
	}
	*dst = dur
	return v
}

// positive reports a non-positive duration at v.
func (f *fields) positive(key string, v *yaml.Node, dur time.Duration, example string) {
	if v != nil && dur <= 0 {
		f.d.errf(v, f.key(key), "must be longer than 0, such as %s", example)
	}
}

func (f *fields) nonNegative(key string, v *yaml.Node, dur time.Duration) {
	if v != nil && dur < 0 {
		f.d.errf(v, f.key(key), "must not be negative: use 0 to turn it off")
	}
}

func (f *fields) atLeast(key string, v *yaml.Node, n, lo int) {
	if v != nil && n < lo {
		f.d.errf(v, f.key(key), "must be at least %d", lo)
	}
}

// required reports that key is missing, at the line of the mapping.
func (f *fields) required(key, what string) {
	if !f.has(key) {
		f.d.errf(f.node, f.key(key), "is required: %s", what)
	}
}
