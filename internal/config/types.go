package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/proxer/cachet-updater/internal/status"
)

// The value types read their own node; a problem is an error, or an *Error
// with a line and a key inside the node (see reader.walk).

// decode reads n, a single value, into *v with parse. When parse fails,
// the problem is format with the text as written, or without a format the
// error.
func decode[T any](n *yaml.Node, v *T, parse func(string) (T, error), format string) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a single value, not a %s", kindName(n))
	}
	x, err := parse(strings.TrimSpace(n.Value))
	if err != nil && format != "" {
		return fmt.Errorf(format, n.Value)
	} else if err == nil {
		*v = x
	}
	return err
}

// errRefused is the error of a parse that refuses its text.
var errRefused = errors.New("refused")

// Duration is a Go duration (90s, 1m30s, 2h) or one that starts with days
// (14d, 1d12h). A bare number other than 0 is refused: seconds or minutes?
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes d the way a config would: 14d, 2h, 1m30s, 500ms.
func (d Duration) String() string {
	if t := time.Duration(d); t != 0 && t%(24*time.Hour) == 0 {
		return fmt.Sprint(int64(t/(24*time.Hour))) + "d"
	}
	return strings.Replace(strings.Replace(d.D().String(), "m0s", "m", 1), "h0m", "h", 1)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	err := decode(n, d, parseDuration, "%q is not a duration: write it like 10s, 1m30s, 2h or 14d")
	if _, ferr := strconv.ParseFloat(n.Value, 64); err != nil && ferr == nil {
		return fmt.Errorf("%s is a bare number, not a duration: add a unit, such as %[1]ss, %[1]sm or %[1]sd", strings.TrimSpace(n.Value))
	}
	return err
}

var days = regexp.MustCompile(`^([-+]?)([0-9]+(?:\.[0-9]+)?)d(([0-9].*)?)$`)

// parseDuration is time.ParseDuration with a leading day count: 14d, 1d12h.
func parseDuration(s string) (Duration, error) {
	m := days.FindStringSubmatch(s)
	if m == nil {
		v, err := time.ParseDuration(s)
		return Duration(v), err
	}
	n, _ := strconv.ParseFloat(m[2], 64)
	tail, err := time.ParseDuration(cmp.Or(m[3], "0"))
	total := n*float64(24*time.Hour) + float64(tail)
	if err != nil || total >= 1<<63 { // beyond time.Duration
		return 0, errRefused
	}
	if m[1] == "-" {
		total = -total
	}
	return Duration(total), nil
}

// Method is GET or HEAD, in upper case however it was written.
type Method string

// UnmarshalYAML implements yaml.Unmarshaler.
func (m *Method) UnmarshalYAML(n *yaml.Node) error {
	return decode(n, m, func(s string) (Method, error) {
		if s = strings.ToUpper(s); s != "GET" && s != "HEAD" {
			return "", errRefused
		}
		return Method(s), nil
	}, "must be GET or HEAD, not %q")
}

// Status is a status name: operational, performance_issues, partial_outage
// or major_outage.
type Status status.Status

// S returns s as a status.Status.
func (s Status) S() status.Status { return status.Status(s) }

// String returns the config name of s.
func (s Status) String() string { return status.Status(s).String() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Status) UnmarshalYAML(n *yaml.Node) error {
	return decode(n, s, func(t string) (Status, error) { st, err := status.Parse(t); return Status(st), err }, "")
}

// OptionalStatus is a status name, or none (0).
type OptionalStatus status.Status

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *OptionalStatus) UnmarshalYAML(n *yaml.Node) error {
	return decode(n, s, func(t string) (OptionalStatus, error) {
		st, err := status.Parse(t)
		if err != nil && t != "none" {
			return 0, fmt.Errorf("%w, or none", err)
		}
		return OptionalStatus(st), nil
	}, "")
}

// maxStatusKeys bounds a status mapping: the overlap check is quadratic.
const maxStatusKeys = 200

// StatusMap maps HTTP status codes to statuses: keys are a code ("429"), a
// range ("200-299") or a class ("2xx"); the narrowest match wins. It is
// read-only, so servers share one safely.
type StatusMap struct {
	codes status.CodeMap
}

// NewStatusMap builds a StatusMap from keys and status names as a config
// would write them.
func NewStatusMap(m map[string]string) (StatusMap, error) {
	codes, err := status.ParseCodeMap(m)
	return StatusMap{codes}, err
}

// Codes returns the parsed mapping.
func (m StatusMap) Codes() status.CodeMap { return m.codes }

// UnmarshalYAML implements yaml.Unmarshaler: it replaces m, where yaml.v3
// would merge into the map there. A problem has the line of its entry.
func (m *StatusMap) UnmarshalYAML(n *yaml.Node) error {
	const example = `such as {"200-399": operational}`
	switch {
	case n.Kind != yaml.MappingNode:
		return fmt.Errorf("must be a mapping of HTTP codes to statuses, %s", example)
	case len(n.Content) == 0:
		return fmt.Errorf("is empty: map at least one code, %s", example)
	case len(n.Content)/2 > maxStatusKeys:
		return fmt.Errorf("has %d keys, more than %d: use ranges (200-299) and classes (2xx) instead of single codes", len(n.Content)/2, maxStatusKeys)
	}
	written := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if _, dup := written[k.Value]; dup {
			return &Error{Line: k.Line, Key: k.Value, Msg: "is set twice: keep one"}
		}
		written[k.Value] = strings.TrimSpace(resolve(n.Content[i+1]).Value)
	}
	sm, err := NewStatusMap(written)
	// Point at the first entry, in file order, that makes the mapping fail.
	for i, prefix := 0, map[string]string{}; err != nil; i += 2 {
		k := resolve(n.Content[i])
		prefix[k.Value] = written[k.Value]
		if _, err := status.ParseCodeMap(prefix); err != nil {
			return &Error{Line: k.Line, Msg: err.Error()}
		}
	}
	*m = sm
	return nil
}

// Share is a part of a whole: a percentage from 1% to 100%, or off (0).
type Share struct {
	Percent int
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
func (s *Share) UnmarshalYAML(n *yaml.Node) error {
	return decode(n, s, func(t string) (Share, error) {
		num, pct := strings.CutSuffix(t, "%")
		p, err := strconv.Atoi(strings.TrimSpace(num))
		if t != "off" && (!pct || err != nil || p < 1 || p > 100) {
			return Share{}, errRefused
		}
		return Share{p}, nil
	}, "%q is not a share: write a percentage from 1%% to 100%%, such as 80%%, or off")
}

// WebURL is an absolute http or https URL, as written.
type WebURL string

// isWebURL reports whether s is an absolute http(s) URL with a host.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != ""
}

// Regexp is a Go (RE2) regular expression.
type Regexp struct {
	re *regexp.Regexp
}

// Re returns the compiled expression; nil when none was set.
func (r Regexp) Re() *regexp.Regexp { return r.re }

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Regexp) UnmarshalYAML(n *yaml.Node) error {
	return decode(n, &r.re, func(s string) (*regexp.Regexp, error) {
		re, err := regexp.Compile(n.Value)
		if n.Value == "" {
			err = fmt.Errorf(`is empty: write a regular expression the body must match, such as '"status": *"ok"'`)
		} else if err != nil {
			err = fmt.Errorf("is not a regular expression (Go RE2 syntax): %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		return re, err
	}, "")
}

// Template is a text/template for incident texts, checked when read by
// running it on sample values.
type Template struct {
	text string
	t    *template.Template
}

// TemplateData are the fields an incident template may use.
type TemplateData struct {
	Server        string // the server's name
	Component     string // the component's name in Cachet
	ComponentID   int
	Status        string // the published status, in Cachet's words: "Partial Outage"
	StatusName    string // its config name: partial_outage
	State         string // in plain words: "partly unavailable"
	Previous      string // the status before, in Cachet's words
	PreviousState string // the status before, in plain words
	Rule          string // the rule that decided
	URL           string // the probed URL, password as xxxxx
	Time          time.Time
}

// NewTemplate parses text as a Template.
func NewTemplate(text string) (Template, error) {
	t, err := template.New("incident").Option("missingkey=error").Parse(text)
	if err == nil {
		err = t.Execute(io.Discard, TemplateData{Server: "s", Component: "c", Status: "Partial Outage", Time: time.Now()})
	}
	return Template{text: text, t: t}, err
}

// Execute renders the template.
func (t Template) Execute(d TemplateData) (string, error) {
	var b strings.Builder
	err := t.t.Execute(&b, d)
	return b.String(), err
}

// String returns the template as written.
func (t Template) String() string { return t.text }

// UnmarshalYAML implements yaml.Unmarshaler.
func (t *Template) UnmarshalYAML(n *yaml.Node) error {
	return decode(n, t, func(string) (Template, error) {
		nt, err := NewTemplate(n.Value)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "template: incident:")
			if _, field, ok := strings.Cut(msg, "can't evaluate field "); ok {
				msg = "there is no field ." + strings.Fields(field)[0]
			}
			err = fmt.Errorf("is not a valid template: %s; the fields are .Server, .Component, .ComponentID, .Status, .StatusName, .State, .Previous, .PreviousState, .Rule, .URL and .Time", msg)
		}
		return nt, err
	}, "")
}

// Weekly is a weekly maintenance window as written: "Tue 03:00-04:30". Its
// zone is the window's time_zone.
type Weekly string

// Schedules is maintenance.cachet_schedules: what a Cachet schedule in
// progress covers. true and false, its earlier values, read as named and off.
type Schedules string

// The values of maintenance.cachet_schedules.
const (
	// SchedulesNamed: on 3.x the components the schedule lists; on 2.4,
	// whose schedules list none, the servers it names.
	SchedulesNamed Schedules = "named"
	SchedulesAll   Schedules = "all" // every server
	SchedulesOff   Schedules = "off" // schedules are not read
)

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Schedules) UnmarshalYAML(n *yaml.Node) error {
	return decode(n, s, func(t string) (Schedules, error) {
		v := Schedules(strings.ToLower(t))
		if n.ShortTag() == "!!bool" {
			v = map[Schedules]Schedules{"true": SchedulesNamed, "false": SchedulesOff}[v]
		}
		if v != SchedulesNamed && v != SchedulesAll && v != SchedulesOff {
			return "", errRefused
		}
		return v, nil
	}, "must be named (a schedule covers the servers it names; on Cachet 3.x, the components it lists), all (every server) or off, not %q")
}

// TimeZone is an IANA time zone such as Europe/Berlin.
type TimeZone struct {
	Loc *time.Location
}

// String returns the zone's name.
func (z TimeZone) String() string { return z.Loc.String() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (z *TimeZone) UnmarshalYAML(n *yaml.Node) error {
	return decode(n, &z.Loc, func(s string) (*time.Location, error) {
		if s == "" || strings.EqualFold(s, "local") {
			return nil, errRefused
		}
		return time.LoadLocation(s)
	}, "%q is not a time zone: write an IANA name such as Europe/Berlin or UTC")
}

// Time is an RFC 3339 time: 2026-11-30T02:00:00+01:00.
type Time struct {
	time.Time
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (t *Time) UnmarshalYAML(n *yaml.Node) error {
	return decode(n, &t.Time, func(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) },
		"%q is not an RFC 3339 time: write it like 2026-11-30T02:00:00+01:00 (with its offset, or Z for UTC)")
}
