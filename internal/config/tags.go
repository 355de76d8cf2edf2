package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// fieldInfo is one YAML key of a struct, read from its field's tags.
type fieldInfo struct {
	name  string // the yaml tag
	index []int  // for reflect.Value.FieldByIndex (inline structs add a step)
	typ   reflect.Type
	rules rules
	hint  string   // what to write there, for messages
	only  []string // the for tag: the source types the key belongs to; nil for all
}

// structInfo is the keys of a struct type, inline structs included.
type structInfo struct {
	fields  []*fieldInfo // in field order
	byName  map[string]*fieldInfo
	allowed []string // fields' names without the refused ones, for messages
	refuse  func(key string) string
}

// refuser is a struct whose mapping refuses some keys with a reason of its
// own, such as a key its inline struct has but that is not allowed there.
type refuser interface {
	refuse(key string) string
}

func (c *checker) structOf(t reflect.Type) *structInfo {
	if info, ok := c.structs[t]; ok {
		return info
	}
	info := structOf(t)
	c.structs[t] = info
	return info
}

// structOf reads t's fields. A tag it cannot read is a bug in this package,
// caught by the tests, so it panics.
func structOf(t reflect.Type) *structInfo {
	info := &structInfo{byName: map[string]*fieldInfo{}, refuse: func(string) string { return "" }}
	if r, ok := reflect.Zero(t).Interface().(refuser); ok {
		info.refuse = r.refuse
	}
	info.add(t, nil)
	for _, f := range info.fields {
		if info.refuse(f.name) == "" {
			info.allowed = append(info.allowed, f.name)
		}
	}
	return info
}

func (info *structInfo) add(t reflect.Type, index []int) {
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || name == "-" {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		if opts == "inline" {
			info.add(sf.Type, idx)
			continue
		}
		if name == "" {
			panic(fmt.Sprintf("config: field %s.%s has no yaml tag", t.Name(), sf.Name))
		}
		r, err := parseRules(sf.Tag.Get("check"))
		if err != nil {
			panic(fmt.Sprintf("config: field %s.%s: %v", t.Name(), sf.Name, err))
		}
		f := &fieldInfo{name: name, index: idx, typ: sf.Type, rules: r, hint: sf.Tag.Get("hint")}
		if only := sf.Tag.Get("for"); only != "" {
			f.only = strings.Fields(only)
		}
		info.fields = append(info.fields, f)
		info.byName[name] = f
	}
}

// rules is a check tag: comma-separated rules, some with a parameter.
//
//	required        the key must be written (for a Source key: when the source has its type)
//	positive        a Duration must be longer than 0 (any other Duration must not be negative)
//	min=N           an int must be at least N
//	max=N           an int must be at most N
//	nonempty        a string must not be empty or blank
//	oneof=a b c     a string must be one of these words
//	url=EXAMPLE     a string must be an absolute http(s) URL; EXAMPLE shows one
//	envname=EXAMPLE a string must be an environment variable's name
type rules struct {
	required, positive, nonempty bool
	min, max                     *int
	oneof                        []string
	url, envname                 string
}

func parseRules(tag string) (rules, error) {
	var r rules
	if tag == "" {
		return r, nil
	}
	for _, rule := range strings.Split(tag, ",") {
		name, arg, _ := strings.Cut(rule, "=")
		switch name {
		case "required":
			r.required = true
		case "positive":
			r.positive = true
		case "nonempty":
			r.nonempty = true
		case "min":
			n, err := strconv.Atoi(arg)
			if err != nil {
				return r, fmt.Errorf("check rule %q: want min=N", rule)
			}
			r.min = &n
		case "max":
			n, err := strconv.Atoi(arg)
			if err != nil {
				return r, fmt.Errorf("check rule %q: want max=N", rule)
			}
			r.max = &n
		case "oneof":
			r.oneof = strings.Fields(arg)
		case "url":
			r.url = arg
		case "envname":
			r.envname = arg
		default:
			return r, fmt.Errorf("unknown check rule %q", rule)
		}
	}
	return r, nil
}
