package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/proxer/cachet-updater/internal/status"
)

// MaxFileSize is the largest config file Load and Parse accept. A fleet of
// 10,000 servers is about 1 MiB; anything near this limit is a wrong file.
const MaxFileSize = 16 << 20

// The YAML keys are the fields' yaml tags; there is no other list of keys.
// The check tag holds the rules the checker applies to a field (see
// parseRules), hint what an operator should write there, and for (on
// Source) the source types a key belongs to. A new key is a field with its
// tags, its default in defaults() and its line in configs/example.yaml.

// Config is a loaded, validated config with every default applied.
type Config struct {
	// Path is the config file's absolute path with symlinks resolved, so
	// that one file has one Path whichever way it was named.
	Path   string `yaml:"-"`
	Cachet Cachet `yaml:"cachet" check:"required" hint:"set cachet.url to the Cachet API, such as https://status.example.org/api/v1"`
	// Probe is the probe block with the defaults applied.
	Probe   Probe   `yaml:"probe"`
	Reports Reports `yaml:"reports"`
	// LockFile is absolute, or "" when lock_file is not set: the caller
	// picks the default, from Path.
	LockFile   string   `yaml:"lock_file"`
	RunTimeout Duration `yaml:"run_timeout" check:"positive"`
	// TimeZone is the zone of incident texts' .Time, the table's times and
	// weekly maintenance windows without their own; default the machine's
	// local zone, as cron's.
	TimeZone TimeZone `yaml:"time_zone"`
	// State is where the memory between runs is kept.
	State   State   `yaml:"state"`
	Vantage Vantage `yaml:"vantage"`
	Quorum  Quorum  `yaml:"quorum"`
	// Confirm is the default of every server's confirmation.
	Confirm Confirm `yaml:"confirm"`
	// ManualHold bounds how long a status set by hand in Cachet is left
	// alone; 0 corrects it at once.
	ManualHold Duration `yaml:"manual_hold"`
	Guard      Guard    `yaml:"guard"`
	// Incidents open, update and resolve a Cachet incident per component.
	Incidents   Incidents   `yaml:"incidents"`
	Maintenance Maintenance `yaml:"maintenance"`
	// MetricsFile is a Prometheus textfile written after every run;
	// absolute, or "": none.
	MetricsFile string `yaml:"metrics_file" check:"nonempty" hint:"a .prom file in node_exporter's textfile collector folder"`
	// Servers are in file order, each with its effective Probe.
	Servers []Server `yaml:"servers" hint:"of servers, each starting with \"- name:\""`
}

// Cachet says how to reach the Cachet API.
type Cachet struct {
	// URL is as written, its trailing slash trimmed.
	URL string `yaml:"url" check:"required,url=https://status.example.org/api/v1" hint:"set it to the Cachet API, such as https://status.example.org/api/v1"`
	// TokenEnv is "" when TokenFile is set.
	TokenEnv string `yaml:"token_env" check:"envname=CACHET_API_TOKEN"`
	// TokenFile is absolute, or "".
	TokenFile        string   `yaml:"token_file" check:"nonempty" hint:"write the path of the file that holds the token"`
	Timeout          Duration `yaml:"timeout" check:"positive"`
	Retries          int      `yaml:"retries" check:"min=0"`
	WriteConcurrency int      `yaml:"write_concurrency" check:"min=1"`
	// API is the Cachet API: auto (asked once per run), v2 or v3.
	API string `yaml:"api" check:"oneof=auto v2 v3" hint:"auto, v2 (Cachet 2.x, /api/v1) or v3 (Cachet 3.x, /api)"`
	// TimeZone is the zone Cachet 3.x writes its times in (its app
	// timezone, APP_TIMEZONE; default UTC, Laravel's). 2.x is asked for UTC.
	TimeZone TimeZone `yaml:"time_zone"`

	token origin // where token_env or token_file was written
}

// Probe says how to probe a server and how to read the answer. Every key
// but concurrency may be set per server.
type Probe struct {
	Timeout         Duration `yaml:"timeout" check:"positive"`
	Concurrency     int      `yaml:"concurrency" check:"min=1"`
	Method          Method   `yaml:"method"`
	TLSSkipVerify   bool     `yaml:"tls_skip_verify"`
	FollowRedirects bool     `yaml:"follow_redirects"`
	// ProxyFromEnvironment sends probes through HTTPS_PROXY or HTTP_PROXY
	// (NO_PROXY honoured); without it the environment is ignored.
	ProxyFromEnvironment bool      `yaml:"proxy_from_environment"`
	Status               StatusMap `yaml:"status"`
	OnTimeout            Status    `yaml:"on_timeout"`
	OnError              Status    `yaml:"on_error"`
	Slow                 Duration  `yaml:"slow"`
	// ExpectBody, when set, must match the first 64 KiB of the body
	// (gzip decoded); a body that does not match is OnBodyMismatch.
	ExpectBody     Regexp `yaml:"expect_body"`
	OnBodyMismatch Status `yaml:"on_body_mismatch"`
	// CertExpiry: an https certificate expiring within it, or not valid
	// yet, is a warning (and OnCertExpiry, when set); 0 turns the check off.
	CertExpiry   Duration       `yaml:"cert_expiry"`
	OnCertExpiry OptionalStatus `yaml:"on_cert_expiry"`
}

// Reports says where users' timeout reports come from and how they count.
type Reports struct {
	Window     Duration   `yaml:"window" check:"positive"`
	Thresholds Thresholds `yaml:"thresholds"`
	Source     Source     `yaml:"source"`
}

// Thresholds are the report counts at which a status starts (inclusive).
type Thresholds struct {
	PerformanceIssues int `yaml:"performance_issues" check:"min=1" hint:"a report count of 0 would always trigger it"`
	PartialOutage     int `yaml:"partial_outage" check:"min=1" hint:"a report count of 0 would always trigger it"`
	MajorOutage       int `yaml:"major_outage" check:"min=1" hint:"a report count of 0 would always trigger it"`
}

// Source is the reports source. A key that does not belong to its type
// (the for tag) is an error, and its field is zero.
type Source struct {
	Type string `yaml:"type" check:"required,oneof=file sql none" hint:"file, sql or none"`
	// Path is absolute.
	Path   string   `yaml:"path" for:"file" check:"required,nonempty" hint:"the JSON file the reports come from, such as reports.json"`
	Format string   `yaml:"format" for:"file" check:"oneof=counts events"`
	MaxAge Duration `yaml:"max_age" for:"file"`
	Driver string   `yaml:"driver" for:"sql" check:"required,oneof=mysql postgres sqlite" hint:"mysql, postgres or sqlite"`
	// DSN is inline, for sqlite only: an absolute path or a file: URI.
	DSN    string `yaml:"dsn" for:"sql" check:"nonempty" hint:"the sqlite database file, such as reports.db"`
	DSNEnv string `yaml:"dsn_env" for:"sql" check:"envname=REPORTS_DSN"`
	// DSNFile is absolute.
	DSNFile string `yaml:"dsn_file" for:"sql" check:"nonempty" hint:"write the path of the file that holds the DSN"`
	Query   string `yaml:"query" for:"sql" check:"required,nonempty" hint:"a SELECT returning (server, count) for reports newer than the placeholder, such as SELECT server, COUNT(*) FROM stream_reports WHERE created_at >= ? GROUP BY server"`
	// Timeout bounds reading the file (a FIFO or a hung mount must not
	// hang the run), or connecting, querying and reading the rows.
	Timeout Duration `yaml:"timeout" for:"file sql" check:"positive"`
	// Line is the line of the source key, for messages.
	Line int `yaml:"-"`

	dsn origin // where dsn_env or dsn_file was written
}

// State says where the memory between runs is kept: a file (path) or a
// database that several probers share (sql).
type State struct {
	// Path is absolute, or "" when state.path is not set: the caller
	// picks the default, from Path.
	Path string `yaml:"path" check:"nonempty" hint:"write the path of the state file, such as /var/lib/cachet-updater/proxer.json"`
	// SQL, when its driver is set, replaces the file.
	SQL StateSQL `yaml:"sql"`
}

// StateSQL is a database several probers (vantages) share.
type StateSQL struct {
	Driver string `yaml:"driver" check:"required,oneof=mysql postgres sqlite" hint:"mysql, postgres or sqlite"`
	// DSN is inline, for sqlite only: an absolute path or a file: URI.
	DSN     string `yaml:"dsn" check:"nonempty" hint:"the sqlite database file, such as state.db"`
	DSNEnv  string `yaml:"dsn_env" check:"envname=CACHET_UPDATER_STATE_DSN"`
	DSNFile string `yaml:"dsn_file" check:"nonempty" hint:"write the path of the file that holds the DSN"`
	// Timeout bounds each call to the database.
	Timeout Duration `yaml:"timeout" check:"positive"`

	dsn origin // where dsn_env or dsn_file was written
}

// Set reports whether state.sql is configured.
func (s StateSQL) Set() bool { return s.Driver != "" }

// Vantage names this prober among several that share state.sql.
type Vantage struct {
	Name string `yaml:"name" check:"nonempty" hint:"a short name such as fra1 (letters, digits, ., - and _)"`
}

// Quorum says how many vantages must agree on a probe-based status.
type Quorum struct {
	// Probes: a probe-based status needs at least this many fresh
	// vantages seeing it at least that bad.
	Probes int `yaml:"probes" check:"min=1,max=64"`
	// Fresh: an observation older than this does not count.
	Fresh Duration `yaml:"fresh" check:"positive"`
}

// Confirm says how many runs in a row must show a change before it is
// published.
type Confirm struct {
	Worse  int `yaml:"worse" check:"min=1,max=16" hint:"1 publishes a worse status at once"`
	Better int `yaml:"better" check:"min=1,max=16" hint:"1 publishes a better status at once"`
	// MaxGap: a longer gap between two runs' decisions breaks the chain,
	// so a paused cron starts afresh.
	MaxGap Duration `yaml:"max_gap" check:"positive"`
}

// Guard keeps an outage of the machine that runs the probes off the page.
type Guard struct {
	// Canaries are URLs this machine must reach: when none of them
	// answers, the run publishes no status worse than Cachet's.
	Canaries []WebURL `yaml:"canaries" hint:"of URLs, such as [https://example.org/]"`
	// MaxFailing: when at least this share of the servers (and at least
	// 3) get no HTTP answer at all, the same.
	MaxFailing Share `yaml:"max_failing"`
}

// Incidents says whether and how this tool opens Cachet incidents.
type Incidents struct {
	Enabled bool `yaml:"enabled"`
	// OpenAt: a published status at least this bad opens an incident.
	OpenAt  Status `yaml:"open_at"`
	Visible bool   `yaml:"visible"`
	Notify  bool   `yaml:"notify"` // Cachet e-mails subscribers about the incident
	// Name, Message, Update and Resolved are text/templates over
	// TemplateData: the incident's name; its text when it opens; when its
	// status changes while open; when it is resolved.
	Name     Template `yaml:"name"`
	Message  Template `yaml:"message"`
	Update   Template `yaml:"update"`
	Resolved Template `yaml:"resolved"`
}

// Maintenance says when components are left alone for maintenance.
type Maintenance struct {
	// CachetSchedules says what a schedule in progress in Cachet puts
	// under maintenance.
	CachetSchedules Schedules `yaml:"cachet_schedules"`
	// MaxOpen: a schedule in progress without an end covers at most this
	// long after its start.
	MaxOpen Duration `yaml:"max_open" check:"positive"`
	Windows []Window `yaml:"windows" hint:"of windows, each with servers and start/end or weekly"`
}

// Window is a maintenance window: start and end, or weekly in its
// time_zone (the config's when it has none); servers left out means all.
type Window struct {
	Servers  []string `yaml:"servers"`
	Start    Time     `yaml:"start"`
	End      Time     `yaml:"end"`
	Weekly   Weekly   `yaml:"weekly"`
	TimeZone TimeZone `yaml:"time_zone"`
	// Line is the line of the window's entry, for messages.
	Line int `yaml:"-"`
}

// Server is one probed server and its Cachet component.
type Server struct {
	Name string `yaml:"name" check:"required,nonempty" hint:"name the server as it should appear in logs, such as Stream 14"`
	// URL may hold user:password@ for basic auth: print DisplayURL.
	URL         string `yaml:"url" check:"required,url=https://s1.example.org/" hint:"the URL to probe, such as https://s1.example.org/"`
	ComponentID int    `yaml:"component_id" check:"required,min=1" hint:"the id of the server's component in Cachet, such as 14"`
	ReportsKey  string `yaml:"reports_key" check:"nonempty" hint:"leave it out to use the server's name"`
	// Probe is effective: the probe block with this server's keys on top.
	Probe Probe `yaml:",inline"`
	// Confirm is effective: the confirm block with this server's on top.
	Confirm Confirm `yaml:"confirm"`
	// MetricID and ReportsMetricID are Cachet metrics that get this
	// server's latency (ms) and report count as a point per run; 0: none.
	MetricID        int `yaml:"metric_id" check:"min=1" hint:"the id of a Cachet metric"`
	ReportsMetricID int `yaml:"reports_metric_id" check:"min=1" hint:"the id of a Cachet metric"`
	// Line is the line of the server's entry (its "- name:" line).
	Line int `yaml:"-"`
}

// refuse explains why key is not allowed on a server although Probe has it.
func (Server) refuse(key string) string {
	if key == "concurrency" {
		return "concurrency is global: set it under probe, not per server"
	}
	return ""
}

func (Cachet) refuse(key string) string {
	if key == "token" {
		return "inline tokens are refused; put the token in an environment variable (token_env) or a file readable only by this user (token_file) so it stays out of backups and version control"
	}
	return ""
}

// DisplayURL returns the URL with a basic-auth password replaced by xxxxx,
// for output and logs.
func (s Server) DisplayURL() string { return redactURL(s.URL) }

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// Defaults that are not simply zero.
const (
	DefaultTokenEnv         = "CACHET_API_TOKEN"
	DefaultCachetTimeout    = 10 * time.Second
	DefaultRetries          = 3
	DefaultWriteConcurrency = 4
	DefaultProbeTimeout     = 10 * time.Second
	DefaultProbeConcurrency = 1500
	DefaultMethod           = "GET"
	DefaultWindow           = 2 * time.Hour
	DefaultMaxAge           = 15 * time.Minute
	DefaultSourceTimeout    = 5 * time.Second // file and sql sources
	DefaultRunTimeout       = 5 * time.Minute
	DefaultConfirm          = 2 // runs in a row, worse and better
	DefaultMaxGap           = 15 * time.Minute
	DefaultManualHold       = 2 * time.Hour
	DefaultMaxOpen          = 12 * time.Hour
	DefaultMaxFailing       = 100 // percent
	DefaultAPI              = "auto"
	DefaultQuorumFresh      = 10 * time.Minute
	DefaultCertExpiry       = 14 * 24 * time.Hour
	DefaultIncidentName     = "{{.Server}}: {{.Status}}"
	DefaultIncidentMessage  = "{{.Server}} has been {{.State}} since {{.Time.Format \"15:04 MST\"}}. We are looking into it."
	DefaultIncidentUpdate   = "{{.Server}} is now {{.State}} (it was {{.PreviousState}})."
	DefaultIncidentResolved = "{{.Server}} is working normally again."
)

// DefaultProbe returns the probe defaults used when the probe block leaves a
// key out.
func DefaultProbe() Probe {
	m, _ := NewStatusMap(map[string]string{"200-399": "operational"}) // a constant mapping that always parses
	return Probe{
		Timeout:         Duration(DefaultProbeTimeout),
		Concurrency:     DefaultProbeConcurrency,
		Method:          DefaultMethod,
		FollowRedirects: true,
		Status:          m,
		OnTimeout:       Status(status.PerformanceIssues),
		OnError:         Status(status.MajorOutage),
		OnBodyMismatch:  Status(status.MajorOutage),
		CertExpiry:      Duration(DefaultCertExpiry),
	}
}

// mustTemplate parses a constant template.
func mustTemplate(text string) Template {
	t, err := NewTemplate(text)
	if err != nil {
		panic("config: default template: " + err.Error())
	}
	return t
}

// defaults is the config that the file is decoded on top of. The source
// holds the defaults of every type; those not of the type chosen are
// cleared after decoding.
func defaults() Config {
	return Config{
		Cachet: Cachet{
			TokenEnv:         DefaultTokenEnv,
			Timeout:          Duration(DefaultCachetTimeout),
			Retries:          DefaultRetries,
			WriteConcurrency: DefaultWriteConcurrency,
			API:              DefaultAPI,
			TimeZone:         TimeZone{Loc: time.UTC},
		},
		Probe: DefaultProbe(),
		Reports: Reports{
			Window:     Duration(DefaultWindow),
			Thresholds: Thresholds{PerformanceIssues: 11, PartialOutage: 20, MajorOutage: 50}, // the original script's
			Source:     Source{Type: "none", Format: "counts", MaxAge: Duration(DefaultMaxAge), Timeout: Duration(DefaultSourceTimeout)},
		},
		RunTimeout: Duration(DefaultRunTimeout),
		TimeZone:   TimeZone{Loc: time.Local},
		Confirm:    Confirm{Worse: DefaultConfirm, Better: DefaultConfirm, MaxGap: Duration(DefaultMaxGap)},
		ManualHold: Duration(DefaultManualHold),
		Guard:      Guard{MaxFailing: Share{Percent: DefaultMaxFailing}},
		Incidents: Incidents{
			OpenAt: Status(status.PartialOutage), Visible: true,
			Name: mustTemplate(DefaultIncidentName), Message: mustTemplate(DefaultIncidentMessage),
			Update: mustTemplate(DefaultIncidentUpdate), Resolved: mustTemplate(DefaultIncidentResolved),
		},
		Maintenance: Maintenance{CachetSchedules: SchedulesNamed, MaxOpen: Duration(DefaultMaxOpen)},
		Quorum:      Quorum{Probes: 1, Fresh: Duration(DefaultQuorumFresh)},
		State:       State{SQL: StateSQL{Timeout: Duration(DefaultSourceTimeout)}},
	}
}

// Error is a load or validation error. Line is 0 when the error is about the
// file as a whole or about a missing top-level key; Key is the dotted path of
// the offending key (list entries indexed from 0, as in servers[0].url) or
// "" when the error is not about one key.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

// Error returns "file:line: key: msg", leaving out ":line" when Line is 0
// and "key: " when Key is "".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// MaxListed is how many problems an Errors message lists.
const MaxListed = 20

// Errors is every problem found in one config file, in file order (those
// without a line last). Load and Parse return it when there is more than one
// problem; errors.As finds the first as an *Error.
type Errors []*Error

// Error lists the problems one per line, at most MaxListed of them.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i == MaxListed {
			fmt.Fprintf(&b, "\n… and %d more", len(es)-MaxListed)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the problems, for errors.As and errors.Is.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sortErrors orders errs by line, those without a line last since a problem
// the operator can point at is the better one to fix first, and drops
// repeats (a value shared through an alias is reported once).
func sortErrors(errs []*Error) []*Error {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].Line, errs[j].Line
		if a == 0 || b == 0 {
			return b == 0 && a != 0
		}
		return a < b
	})
	out := errs[:0]
	for i, e := range errs {
		if i > 0 && *e == *errs[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// asError returns nil, the one error, or all of them.
func asError(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return Errors(errs)
}

// bugMsg starts the error for a file that passed every check but that
// yaml.v3 could not decode: the checker missed something.
const bugMsg = "this file passed the checks but could not be decoded (a bug in cachet-updater; please report it)"

// LoadOptions change what Load and Parse accept.
type LoadOptions struct {
	// AllowNoServers accepts a config without servers (or with an empty
	// list), for commands that only talk to Cachet. Everything that is in
	// the file is still checked.
	AllowNoServers bool
}

// Load reads the config file at path and validates it. It reads nothing
// else: the token and the DSN are read later by Config.Token and
// Source.ResolveDSN.
func Load(path string) (*Config, error) { return LoadOptions{}.Load(path) }

// Parse validates data as the config file at path; see LoadOptions.Parse.
func Parse(path string, data []byte) (*Config, error) { return LoadOptions{}.Parse(path, data) }

// LoadCachetOnly is Load for commands that need only the cachet block:
// servers may be missing.
func LoadCachetOnly(path string) (*Config, error) {
	return LoadOptions{AllowNoServers: true}.Load(path)
}

// Load reads the config file at path and validates it.
func (o LoadOptions) Load(path string) (*Config, error) {
	// A FIFO or a device would block the open or the read with no deadline.
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, &Error{File: path, Msg: "is not a regular file (" + fileKind(fi.Mode()) + "): point --config at the YAML file"}
	}
	data, err := readAtMost(path, MaxFileSize)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read the config file: " + osReason(err) + ": check the path"}
	}
	return o.Parse(path, data)
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "not a plain file"
}

// osReason drops the path from an *os.PathError, which the caller already
// names.
func osReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse validates data as the config file at path. path is used in messages,
// to resolve relative paths and for Config.Path; only path's symlinks are
// looked up on disk. The error is an *Error, or Errors when there is more
// than one problem.
func (o LoadOptions) Parse(path string, data []byte) (cfg *Config, err error) {
	abs, aerr := filepath.Abs(path)
	if aerr != nil {
		return nil, &Error{File: path, Msg: "cannot make the config path absolute: " + aerr.Error()}
	}
	// Neither yaml.v3 nor the checks should panic, but a config error must
	// never crash the cron job with a stack trace.
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, &Error{File: path, Msg: fmt.Sprintf("reading this file failed (%v): check the file for unusual syntax", r)}
		}
	}()
	root, perr := parseYAML(path, data)
	if perr != nil {
		return nil, perr
	}
	ck := newChecker(path)
	ck.walk(root, reflect.TypeFor[Config](), "", nil)
	cfg, derr := decode(root, ck.at)
	errs := append(ck.errs, related(ck.errs, validate(cfg, path, ck.at, o))...)
	if len(errs) == 0 && derr != nil {
		errs = append(errs, &Error{File: path, Msg: bugMsg + ": " + derr.Error()})
	}
	if len(errs) > 0 {
		return nil, asError(sortErrors(errs))
	}
	finish(cfg, filepath.Dir(abs), ck.at)
	cfg.Path = abs
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		cfg.Path = real
	}
	return cfg, nil
}

// parseYAML checks the raw bytes and returns the root mapping node of the
// single document in data.
func parseYAML(path string, data []byte) (root *yaml.Node, err *Error) {
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("the config file is larger than %d KiB: this is not a cachet-updater config; check the path", MaxFileSize>>10)}
	}
	if !utf8.Valid(data) {
		return nil, &Error{File: path, Line: invalidUTF8Line(data), Msg: "the file is not valid UTF-8: save it as UTF-8"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{File: path, Msg: "the config file is empty: it needs at least cachet.url and one server"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if e := dec.Decode(&doc); e != nil {
		if errors.Is(e, io.EOF) {
			return nil, &Error{File: path, Msg: "the config file holds only comments: it needs at least cachet.url and one server"}
		}
		return nil, syntaxError(path, data, e)
	}
	var next yaml.Node
	if e := dec.Decode(&next); e == nil {
		return nil, &Error{File: path, Line: docStartLine(next), Msg: "the file holds more than one YAML document (separated by ---): keep only one"}
	} else if !errors.Is(e, io.EOF) {
		return nil, syntaxError(path, data, e)
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: path, Msg: "the config file is empty: it needs at least cachet.url and one server"}
	}
	root = resolve(doc.Content[0])
	if isNull(root) {
		return nil, &Error{File: path, Msg: "the config file is empty: it needs at least cachet.url and one server"}
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: path, Line: root.Line, Msg: "the config must be a YAML mapping with the keys cachet, probe, reports, servers, ... at the top, not a " + kindName(root)}
	}
	return root, nil
}

func docStartLine(doc yaml.Node) int {
	if doc.Line > 0 {
		return doc.Line
	}
	if len(doc.Content) > 0 {
		return doc.Content[0].Line
	}
	return 0
}

func invalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size == 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return line
}

// syntaxError turns a yaml.v3 error ("yaml: line 3: did not find expected
// key") into an *Error with the line, and explains tab indentation, the
// most common cause.
//
// yaml.v3 reports scanner errors at the offending line, but parser errors
// ("did not find expected ...") at the line before the block that holds the
// problem, so those are reported at the block's first line and say so.
func syntaxError(path string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, e := strconv.Atoi(num); e == nil {
				line, msg = n, tail
			}
		}
	}
	parserErr := isParserError(msg)
	upTo := line
	if strings.Contains(msg, "tab character") {
		upTo = 0 // yaml.v3 names the line of the enclosing block here
	}
	if tab := firstTabIndent(data, upTo, parserErr); tab > 0 {
		return &Error{File: path, Line: tab, Msg: "the line is indented with a tab: YAML allows only spaces for indentation; replace the tabs with spaces"}
	}
	if parserErr && line > 0 {
		return &Error{File: path, Line: line + 1, Msg: "YAML syntax error in the block that starts on this line: " + msg + ": look for a line in it indented differently from its neighbours, or an unclosed bracket or quote"}
	}
	if line == 0 {
		return &Error{File: path, Msg: "YAML error: " + msg}
	}
	return &Error{File: path, Line: line, Msg: "YAML syntax error: " + msg + ": check the indentation and quoting on this line and the one before it"}
}

func isParserError(msg string) bool {
	for _, p := range []string{"did not find expected", "found duplicate %", "found incompatible YAML document", "found undefined tag handle"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// firstTabIndent returns the first line indented with a tab, or 0. For a
// scanner error at line it looks at the lines up to line (0: all); for a parser error,
// whose line is only the start of a block, it looks at the whole file but
// only at lines whose indentation starts with a tab, since a tab after spaces
// may be legitimate content of a block scalar (a pasted SQL query).
func firstTabIndent(data []byte, line int, parserErr bool) int {
	for i, l := range strings.Split(string(data), "\n") {
		if !parserErr && line > 0 && i+1 > line {
			break
		}
		text := strings.TrimLeft(l, " \t")
		if strings.TrimSpace(text) == "" {
			continue
		}
		indent := l[:len(l)-len(text)]
		if (parserErr && strings.HasPrefix(indent, "\t")) || (!parserErr && strings.Contains(indent, "\t")) {
			return i + 1
		}
	}
	return 0
}
