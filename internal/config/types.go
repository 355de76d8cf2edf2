package config

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/proxer/cachet-updater/internal/maintenance"
	"github.com/proxer/cachet-updater/internal/status"
)

// A value is one of the small config types that read their own YAML node.
// parse returns every problem with the node, each with its line and a key
// relative to the value's own ("" for the value itself); the checker adds
// the file and the key path, UnmarshalYAML hands them to yaml.v3.
type value interface {
	parse(n *yaml.Node) []*Error
}

// unmarshal runs v.parse for UnmarshalYAML. Problems become a
// *yaml.TypeError, the one error yaml.v3 collects and decodes on after, so
// that one bad value does not hide the next.
func unmarshal(v value, n *yaml.Node) error {
	errs := v.parse(n)
	if len(errs) == 0 {
		return nil
	}
	te := &yaml.TypeError{}
	for _, e := range errs {
		msg := e.Msg
		if e.Key != "" {
			msg = e.Key + ": " + msg
		}
		te.Errors = append(te.Errors, fmt.Sprintf("line %d: %s", e.Line, msg))
	}
	return te
}

// problem is a one-item list of the problem with n.
func problem(n *yaml.Node, format string, args ...any) []*Error {
	return []*Error{{Line: n.Line, Msg: fmt.Sprintf(format, args...)}}
}

// scalar returns n's text, or a problem when n is a mapping or a list.
func scalar(n *yaml.Node) (string, []*Error) {
	if n.Kind != yaml.ScalarNode {
		return "", problem(n, "must be a single value, not a %s", kindName(n))
	}
	return n.Value, nil
}

// Duration is a config duration: a Go duration (90s, 1m30s, 2h) or days
// with d (14d, 1d12h). A bare number other than 0 is refused: "10" could
// mean seconds or minutes.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes d the way a config would: 14d, 2h, 1m30s, 500ms.
func (d Duration) String() string {
	const day = 24 * time.Hour
	t := time.Duration(d)
	if t != 0 && t%day == 0 {
		return strconv.FormatInt(int64(t/day), 10) + "d"
	}
	s := t.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error { return unmarshal(d, n) }

func (d *Duration) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	s := strings.TrimSpace(text)
	if _, err := strconv.ParseFloat(s, 64); err == nil && s != "0" {
		return problem(n, "%s is a bare number, not a duration: add a unit, such as %ss, %sm or %sd", s, s, s, s)
	}
	v, ok := parseDuration(s)
	if !ok {
		return problem(n, "%q is not a duration: write it like 10s, 1m30s, 2h or 14d", text)
	}
	*d = Duration(v)
	return nil
}

// parseDuration is time.ParseDuration with a leading day count: 14d, 1d12h,
// 1.5d, -1d.
func parseDuration(s string) (time.Duration, bool) {
	num, rest, found := strings.Cut(s, "d")
	if !found {
		v, err := time.ParseDuration(s)
		return v, err == nil
	}
	sign := 1.0
	if after, ok := strings.CutPrefix(num, "-"); ok {
		sign, num = -1, after
	} else {
		num = strings.TrimPrefix(num, "+")
	}
	days, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" || strings.ContainsAny(num, "eEnNiIxX_") {
		return 0, false
	}
	var tail time.Duration
	if rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, false
		}
		if tail, err = time.ParseDuration(rest); err != nil {
			return 0, false
		}
	}
	total := days*float64(24*time.Hour) + float64(tail)
	if total >= math.MaxInt64 {
		return 0, false
	}
	return time.Duration(sign * total), true
}

// Method is the HTTP method of a probe: GET or HEAD, in upper case
// whatever the case it was written in.
type Method string

// UnmarshalYAML implements yaml.Unmarshaler.
func (m *Method) UnmarshalYAML(n *yaml.Node) error { return unmarshal(m, n) }

func (m *Method) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	switch v := strings.ToUpper(strings.TrimSpace(text)); v {
	case "GET", "HEAD":
		*m = Method(v)
		return nil
	}
	return problem(n, "must be GET or HEAD, not %q", text)
}

// Status is a status name in the config: operational, performance_issues,
// partial_outage or major_outage.
type Status status.Status

// S returns s as a status.Status.
func (s Status) S() status.Status { return status.Status(s) }

// String returns the config name of s.
func (s Status) String() string { return status.Status(s).String() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Status) UnmarshalYAML(n *yaml.Node) error { return unmarshal(s, n) }

func (s *Status) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	st, err := status.Parse(strings.TrimSpace(text))
	if err != nil {
		return problem(n, "%v", err)
	}
	*s = Status(st)
	return nil
}

// maxStatusKeys bounds a status mapping; checking for overlaps is
// quadratic, and a real mapping has a handful of keys.
const maxStatusKeys = 200

// StatusMap maps HTTP status codes to statuses: keys are a code ("429"), a
// range ("200-299") or a class ("2xx"); the narrowest match wins. It is
// read-only, so servers share the default mapping safely. A mapping in the
// config replaces the one it overrides as a whole, never key by key.
type StatusMap struct {
	written map[string]string
	codes   status.CodeMap
}

// NewStatusMap builds a StatusMap from keys and status names as a config
// would write them.
func NewStatusMap(m map[string]string) (StatusMap, error) {
	codes, err := status.ParseCodeMap(m)
	if err != nil {
		return StatusMap{}, err
	}
	return StatusMap{written: copyMap(m), codes: codes}, nil
}

// Codes returns the parsed mapping.
func (m StatusMap) Codes() status.CodeMap { return m.codes }

// Map returns a copy of the mapping as written.
func (m StatusMap) Map() map[string]string { return copyMap(m.written) }

func copyMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// UnmarshalYAML implements yaml.Unmarshaler. It replaces m, where yaml.v3
// would merge a mapping into the map already there.
func (m *StatusMap) UnmarshalYAML(n *yaml.Node) error { return unmarshal(m, n) }

// parse checks the mapping key by key, so each problem carries the line of
// the key or value at fault.
func (m *StatusMap) parse(n *yaml.Node) []*Error {
	const example = `such as {"200-399": operational}`
	switch {
	case n.Kind != yaml.MappingNode:
		return problem(n, "must be a mapping of HTTP codes to statuses, %s", example)
	case len(n.Content) == 0:
		return problem(n, "is empty: map at least one code, %s", example)
	case len(n.Content)/2 > maxStatusKeys:
		return problem(n, "has %d keys, more than %d: use ranges (200-299) and classes (2xx) instead of single codes", len(n.Content)/2, maxStatusKeys)
	}
	written := map[string]string{}
	lines := map[string]int{}
	var order []string
	var errs []*Error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode || isNull(v) {
			errs = append(errs, &Error{Line: k.Line, Msg: `each entry must be a code, range or class followed by a status, such as "429": partial_outage`})
			continue
		}
		if first, dup := lines[k.Value]; dup {
			errs = append(errs, &Error{Line: k.Line, Key: k.Value, Msg: fmt.Sprintf("is set twice (first on line %d): keep one", first)})
			continue
		}
		lines[k.Value] = k.Line
		if _, _, err := status.ParseCodeKey(k.Value); err != nil {
			errs = append(errs, &Error{Line: k.Line, Msg: err.Error()})
			continue
		}
		name := strings.TrimSpace(v.Value)
		if _, err := status.Parse(name); err != nil {
			errs = append(errs, &Error{Line: v.Line, Key: k.Value, Msg: err.Error()})
			continue
		}
		written[k.Value] = name
		order = append(order, k.Value)
	}
	if errs != nil {
		return errs
	}
	sm, err := NewStatusMap(written)
	if err != nil {
		return []*Error{{Line: overlapLine(n, order, lines), Msg: err.Error()}}
	}
	*m = sm
	return nil
}

// overlapLine finds the first key, in file order, that overlaps an earlier
// key of the same width, so the overlap error points at it.
func overlapLine(n *yaml.Node, order []string, lines map[string]int) int {
	for j, b := range order {
		blo, bhi, _ := status.ParseCodeKey(b)
		for _, a := range order[:j] {
			alo, ahi, _ := status.ParseCodeKey(a)
			if ahi-alo == bhi-blo && alo <= bhi && blo <= ahi {
				return lines[b]
			}
		}
	}
	return n.Line
}

// Share is a part of a whole written as a percentage, 1% to 100%, or off.
type Share struct {
	Percent int // 1..100; 0: off
}

// Off reports whether the share is turned off.
func (s Share) Off() bool { return s.Percent == 0 }

// String writes s the way a config would: 80% or off.
func (s Share) String() string {
	if s.Off() {
		return "off"
	}
	return strconv.Itoa(s.Percent) + "%"
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Share) UnmarshalYAML(n *yaml.Node) error { return unmarshal(s, n) }

func (s *Share) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	t := strings.TrimSpace(text)
	if t == "off" {
		*s = Share{}
		return nil
	}
	num, ok := strings.CutSuffix(t, "%")
	p, err := strconv.Atoi(strings.TrimSpace(num))
	if !ok || err != nil || p < 1 || p > 100 {
		return problem(n, "%q is not a share: write a percentage from 1%% to 100%%, such as 80%%, or off", text)
	}
	*s = Share{Percent: p}
	return nil
}

// WebURL is an absolute http or https URL, as written.
type WebURL string

// UnmarshalYAML implements yaml.Unmarshaler.
func (u *WebURL) UnmarshalYAML(n *yaml.Node) error { return unmarshal(u, n) }

func (u *WebURL) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	if !isWebURL(strings.TrimSpace(text)) {
		return problem(n, "must be an absolute http or https URL such as https://example.org/")
	}
	*u = WebURL(strings.TrimSpace(text))
	return nil
}

// Regexp is a Go (RE2) regular expression, as written.
type Regexp struct {
	re *regexp.Regexp
}

// Re returns the compiled expression; nil when none was set.
func (r Regexp) Re() *regexp.Regexp { return r.re }

// String returns the expression as written.
func (r Regexp) String() string {
	if r.re == nil {
		return ""
	}
	return r.re.String()
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Regexp) UnmarshalYAML(n *yaml.Node) error { return unmarshal(r, n) }

func (r *Regexp) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	if text == "" {
		return problem(n, "is empty: write a regular expression the body must match, such as '\"status\": *\"ok\"'")
	}
	re, err := regexp.Compile(text)
	if err != nil {
		return problem(n, "is not a regular expression (Go RE2 syntax): %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	r.re = re
	return nil
}

// OptionalStatus is a status name, or none.
type OptionalStatus struct {
	Set    bool
	Status status.Status
}

// String writes it the way a config would.
func (s OptionalStatus) String() string {
	if !s.Set {
		return "none"
	}
	return s.Status.String()
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *OptionalStatus) UnmarshalYAML(n *yaml.Node) error { return unmarshal(s, n) }

func (s *OptionalStatus) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	name := strings.TrimSpace(text)
	if name == "none" {
		*s = OptionalStatus{}
		return nil
	}
	st, err := status.Parse(name)
	if err != nil {
		return problem(n, "%v, or none", err)
	}
	*s = OptionalStatus{Set: true, Status: st}
	return nil
}

// Template is a text/template for incident texts, checked when loaded by
// running it on sample values.
type Template struct {
	text string
	t    *template.Template
}

// TemplateData are the fields an incident template may use.
type TemplateData struct {
	Server      string // the server's name
	Component   string // the component's name in Cachet
	ComponentID int
	Status      string // the published status, in Cachet's words: "Partial Outage"
	StatusName  string // its config name: partial_outage
	State       string // in plain words: "partly unavailable"
	Previous    string // the status before, in Cachet's words
	// PreviousState is the status before in plain words.
	PreviousState string
	Rule          string // the rule that decided
	URL           string // the probed URL, password as xxxxx
	Time          time.Time
}

// NewTemplate parses text as a Template.
func NewTemplate(text string) (Template, error) {
	t, err := template.New("incident").Option("missingkey=error").Parse(text)
	if err != nil {
		return Template{}, err
	}
	if err := t.Execute(io.Discard, TemplateData{Server: "s", Component: "c", Status: "Partial Outage", Time: time.Now()}); err != nil {
		return Template{}, err
	}
	return Template{text: text, t: t}, nil
}

// Execute renders the template.
func (t Template) Execute(d TemplateData) (string, error) {
	var b strings.Builder
	if err := t.t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// String returns the template as written.
func (t Template) String() string { return t.text }

// UnmarshalYAML implements yaml.Unmarshaler.
func (t *Template) UnmarshalYAML(n *yaml.Node) error { return unmarshal(t, n) }

func (t *Template) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	nt, err := NewTemplate(text)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "template: incident:")
		if _, field, ok := strings.Cut(msg, "can't evaluate field "); ok {
			field, _, _ = strings.Cut(field, " ")
			msg = "there is no field ." + field
		}
		return problem(n, "is not a valid template: %s; the fields are .Server, .Component, .ComponentID, .Status, .StatusName, .State, .Previous, .PreviousState, .Rule, .URL and .Time", msg)
	}
	*t = nt
	return nil
}

// Weekly is a weekly maintenance window as written: "Tue 03:00-04:30".
// Its time zone is the window's time_zone, applied by the caller.
type Weekly string

// UnmarshalYAML implements yaml.Unmarshaler.
func (w *Weekly) UnmarshalYAML(n *yaml.Node) error { return unmarshal(w, n) }

func (w *Weekly) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	if _, err := maintenance.ParseWeekly(text, time.UTC); err != nil {
		return problem(n, "%v", err)
	}
	*w = Weekly(strings.TrimSpace(text))
	return nil
}

// Schedules is maintenance.cachet_schedules: what a Cachet schedule in
// progress covers. true and false, its earlier values, read as named and
// off.
type Schedules string

// The values of maintenance.cachet_schedules.
const (
	// SchedulesNamed: on 3.x the components Cachet lists for the schedule;
	// on 2.4, whose schedules list none, the servers it names.
	SchedulesNamed Schedules = "named"
	SchedulesAll   Schedules = "all" // every server
	SchedulesOff   Schedules = "off" // schedules are not read
)

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Schedules) UnmarshalYAML(n *yaml.Node) error { return unmarshal(s, n) }

func (s *Schedules) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	var b bool
	switch v := Schedules(strings.ToLower(strings.TrimSpace(text))); {
	case v == SchedulesNamed || v == SchedulesAll || v == SchedulesOff:
		*s = v
	case n.ShortTag() == "!!bool" && n.Decode(&b) == nil:
		*s = map[bool]Schedules{true: SchedulesNamed, false: SchedulesOff}[b]
	default:
		return problem(n, "must be named (a schedule covers the servers it names; on Cachet 3.x, the components it lists), all (every server) or off, not %q", text)
	}
	return nil
}

// TimeZone is an IANA time zone name such as Europe/Berlin.
type TimeZone struct {
	Loc *time.Location
}

// String returns the zone's name.
func (z TimeZone) String() string {
	if z.Loc == nil {
		return ""
	}
	return z.Loc.String()
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (z *TimeZone) UnmarshalYAML(n *yaml.Node) error { return unmarshal(z, n) }

func (z *TimeZone) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	loc, err := time.LoadLocation(strings.TrimSpace(text))
	if err != nil || strings.TrimSpace(text) == "" || strings.EqualFold(strings.TrimSpace(text), "local") {
		return problem(n, "%q is not a time zone: write an IANA name such as Europe/Berlin or UTC", text)
	}
	*z = TimeZone{Loc: loc}
	return nil
}

// Time is an RFC 3339 time: 2026-11-30T02:00:00+01:00.
type Time struct {
	time.Time
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (t *Time) UnmarshalYAML(n *yaml.Node) error { return unmarshal(t, n) }

func (t *Time) parse(n *yaml.Node) []*Error {
	text, errs := scalar(n)
	if errs != nil {
		return errs
	}
	tm, err := time.Parse(time.RFC3339, strings.TrimSpace(text))
	if err != nil {
		return problem(n, "%q is not an RFC 3339 time: write it like 2026-11-30T02:00:00+01:00 (with its offset, or Z for UTC)", text)
	}
	*t = Time{tm}
	return nil
}
