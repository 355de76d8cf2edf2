package status

import (
	"fmt"
	"sort"
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
	rules []CodeRule // sorted narrowest first
}

// ParseCodeKey parses one mapping key: a code ("429"), an inclusive range
// ("200-299") or a class ("2xx"). Codes must lie in 100..599.
func ParseCodeKey(key string) (lo, hi int, err error) {
	k := strings.TrimSpace(key)
	switch {
	case len(k) == 3 && strings.EqualFold(k[1:], "xx"):
		d := int(k[0] - '0')
		if d < 1 || d > 5 {
			return 0, 0, fmt.Errorf("status key %q: a class must be 1xx to 5xx", key)
		}
		return d * 100, d*100 + 99, nil
	case strings.Contains(k, "-"):
		a, b, _ := strings.Cut(k, "-")
		if lo, err = parseCode(key, a); err != nil {
			return 0, 0, err
		}
		if hi, err = parseCode(key, b); err != nil {
			return 0, 0, err
		}
		if lo > hi {
			return 0, 0, fmt.Errorf("status key %q: the range runs backwards, write it low-high", key)
		}
		return lo, hi, nil
	default:
		lo, err = parseCode(key, k)
		return lo, lo, err
	}
}

func parseCode(key, s string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil || len(s) != 3 || n < 100 || n > 599 {
		return 0, fmt.Errorf("status key %q: want a code (429), a range (200-299) or a class (2xx) with codes from 100 to 599", key)
	}
	return n, nil
}

// ParseCodeMap builds a CodeMap from config keys and status names. Two rules
// of the same width that overlap would make the winner arbitrary, so they are
// an error.
func ParseCodeMap(m map[string]string) (CodeMap, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rules := make([]CodeRule, 0, len(m))
	for _, k := range keys {
		lo, hi, err := ParseCodeKey(k)
		if err != nil {
			return CodeMap{}, err
		}
		st, err := Parse(m[k])
		if err != nil {
			return CodeMap{}, fmt.Errorf("status key %q: %w", k, err)
		}
		r := CodeRule{Key: k, Lo: lo, Hi: hi, Status: st}
		for _, o := range rules {
			if o.Hi-o.Lo == r.Hi-r.Lo && o.Lo <= r.Hi && r.Lo <= o.Hi {
				return CodeMap{}, fmt.Errorf("status keys %q and %q overlap and are equally specific: narrow one of them", o.Key, k)
			}
		}
		rules = append(rules, r)
	}
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Hi-rules[i].Lo < rules[j].Hi-rules[j].Lo })
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
