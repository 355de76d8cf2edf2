package status

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// CodeRule maps an inclusive range of HTTP status codes to a Status. Key is
// the config key it came from ("429", "200-299" or "2xx").
type CodeRule struct {
	Key    string
	Lo, Hi int
	Status Status
}

// CodeMap maps HTTP status codes to statuses; the narrowest matching rule
// wins. Build it with ParseCodeMap.
type CodeMap struct {
	rules []CodeRule // narrowest first
}

var codeKey = regexp.MustCompile(`^\s*(?:([1-5])xx|(\d{3})(?:\s*-\s*(\d{3}))?)\s*$`)

// ParseCodeKey parses one key: a code ("429"), an inclusive range
// ("200-299") or a class ("2xx"), with codes from 100 to 599.
func ParseCodeKey(key string) (lo, hi int, err error) {
	switch m := codeKey.FindStringSubmatch(strings.ToLower(key)); {
	case m == nil:
	case m[1] != "":
		lo = int(m[1][0]-'0') * 100
		return lo, lo + 99, nil
	default:
		lo, _ = strconv.Atoi(m[2])
		hi, _ = strconv.Atoi(cmp.Or(m[3], m[2]))
		if lo > hi && hi >= 100 && lo <= 599 {
			return 0, 0, fmt.Errorf("status key %q: the range runs backwards, write it low-high", key)
		} else if lo >= 100 && hi <= 599 && lo <= hi {
			return lo, hi, nil
		}
	}
	return 0, 0, fmt.Errorf("status key %q: want a code (429), a range (200-299) or a class (1xx to 5xx), with codes from 100 to 599", key)
}

// ParseCodeMap builds a CodeMap from config keys and status names. Two rules
// of the same width that overlap would make the winner arbitrary: an error.
func ParseCodeMap(m map[string]string) (CodeMap, error) {
	var rules []CodeRule
	for _, k := range slices.Sorted(maps.Keys(m)) {
		lo, hi, err := ParseCodeKey(k)
		if err != nil {
			return CodeMap{}, err
		}
		st, err := Parse(m[k])
		if err != nil {
			return CodeMap{}, fmt.Errorf("status key %q: %w", k, err)
		}
		for _, o := range rules {
			if o.Hi-o.Lo == hi-lo && o.Lo <= hi && lo <= o.Hi {
				return CodeMap{}, fmt.Errorf("status keys %q and %q overlap and are equally specific: narrow one of them", o.Key, k)
			}
		}
		rules = append(rules, CodeRule{Key: k, Lo: lo, Hi: hi, Status: st})
	}
	slices.SortStableFunc(rules, func(a, b CodeRule) int { return (a.Hi - a.Lo) - (b.Hi - b.Lo) })
	return CodeMap{rules: rules}, nil
}

// Lookup returns the narrowest rule that contains code.
func (m CodeMap) Lookup(code int) (CodeRule, bool) {
	for _, r := range m.rules {
		if code >= r.Lo && code <= r.Hi {
			return r, true
		}
	}
	return CodeRule{}, false
}
