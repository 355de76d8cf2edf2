// Package config reads the cachet-updater YAML file into the types the run
// uses, with every default applied and every problem reported at once.
//
// yaml.v3 parses the file into a tree; a walk of the tree beside the
// types (their yaml tags are the keys) decodes it on top of the defaults
// and records where each key was written. It reports unknown keys (with
// "did you mean"), keys set twice, values of the wrong kind or none, whole
// numbers not in decimal digits (YAML reads 014 as octal 12), booleans
// other than true and false, and numbers and durations out of range. The
// value types (Duration, Status, StatusMap, ...) read their own node. The
// validate methods check required keys and what spans keys. Each problem
// is an *Error with the file, the line and the dotted key, list entries
// indexed from 0:
//
//	configs/fleet.yaml:12: servers[3].url: must be an absolute http or https URL such as https://s1.example.org/
//
// Each server is decoded on top of the probe and confirm blocks, so it
// inherits every key it does not set (a status mapping is replaced whole).
//
// Secrets (the Cachet token, MySQL and PostgreSQL DSNs) come from an
// environment variable or a file, read when the caller asks (Config.Token,
// Source.ResolveDSN); no error or warning holds one. Relative paths resolve
// against the folder of the config's path as given; Config.Path is absolute
// with symlinks resolved.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

// MaxFileSize is the largest config file Load and Parse accept. A fleet of
// 10,000 servers is about 1 MiB; anything near this limit is a wrong file.
const MaxFileSize = 16 << 20

// Config is a loaded, validated config with every default applied.
type Config struct {
	// Path is the config file's absolute path with symlinks resolved.
	Path    string  `yaml:"-"`
	Cachet  Cachet  `yaml:"cachet"`
	Probe   Probe   `yaml:"probe"`
	Reports Reports `yaml:"reports"`
	// LockFile is absolute, or "": the caller derives it from Path.
	LockFile   string   `yaml:"lock_file"`
	RunTimeout Duration `yaml:"run_timeout"`
	// TimeZone is that of incident texts, the table and weekly windows
	// without their own; default the machine's, as cron's.
	TimeZone TimeZone `yaml:"time_zone"`
	State    State    `yaml:"state"`
	Vantage  Vantage  `yaml:"vantage"`
	Quorum   Quorum   `yaml:"quorum"`
	// Confirm is the default of every server's.
	Confirm Confirm `yaml:"confirm"`
	// ManualHold bounds how long a status set by hand in Cachet is left
	// alone; 0 corrects it at once.
	ManualHold  Duration    `yaml:"manual_hold"`
	Guard       Guard       `yaml:"guard"`
	Incidents   Incidents   `yaml:"incidents"`
	Maintenance Maintenance `yaml:"maintenance"`
	// MetricsFile is a Prometheus textfile written after every run;
	// absolute, or "": none.
	MetricsFile string `yaml:"metrics_file"`
	// Servers are in file order, each with its effective Probe and Confirm.
	Servers []Server `yaml:"servers"`
}

// Cachet says how to reach the Cachet API.
type Cachet struct {
	URL              string   `yaml:"url"` // its trailing slash trimmed
	TokenEnv         string   `yaml:"token_env"`
	TokenFile        string   `yaml:"token_file"` // absolute; then TokenEnv is ""
	Timeout          Duration `yaml:"timeout"`
	Retries          int      `yaml:"retries"`
	WriteConcurrency int      `yaml:"write_concurrency"`
	API              string   `yaml:"api"` // auto, v2 or v3
	// TimeZone is the one Cachet 3.x writes its times in (APP_TIMEZONE).
	TimeZone TimeZone `yaml:"time_zone"`

	token origin // where token_env or token_file was written
}

// Probe says how to probe a server and read the answer. Every key but
// concurrency may be set per server.
type Probe struct {
	Timeout         Duration `yaml:"timeout"`
	Concurrency     int      `yaml:"concurrency"`
	Method          Method   `yaml:"method"`
	TLSSkipVerify   bool     `yaml:"tls_skip_verify"`
	FollowRedirects bool     `yaml:"follow_redirects"`
	// ProxyFromEnvironment sends probes through HTTPS_PROXY or HTTP_PROXY.
	ProxyFromEnvironment bool      `yaml:"proxy_from_environment"`
	Status               StatusMap `yaml:"status"`
	OnTimeout            Status    `yaml:"on_timeout"`
	OnError              Status    `yaml:"on_error"`
	Slow                 Duration  `yaml:"slow"`
	// ExpectBody, when set, must match the first 64 KiB of the body.
	ExpectBody     Regexp `yaml:"expect_body"`
	OnBodyMismatch Status `yaml:"on_body_mismatch"`
	// CertExpiry: a certificate expiring within it, or not valid yet, is a
	// warning (and OnCertExpiry, when set); 0 turns the check off.
	CertExpiry   Duration       `yaml:"cert_expiry"`
	OnCertExpiry OptionalStatus `yaml:"on_cert_expiry"`
}

// Reports says where users' timeout reports come from and how they count.
type Reports struct {
	Window     Duration   `yaml:"window"`
	Thresholds Thresholds `yaml:"thresholds"`
	Source     Source     `yaml:"source"`
}

// Thresholds are the report counts at which a status starts (inclusive).
type Thresholds struct {
	PerformanceIssues int `yaml:"performance_issues"`
	PartialOutage     int `yaml:"partial_outage"`
	MajorOutage       int `yaml:"major_outage"`
}

// Source is the reports source; the keys of other types are zero.
type Source struct {
	Type    string   `yaml:"type"` // file, sql or none
	Path    string   `yaml:"path"` // absolute
	Format  string   `yaml:"format"`
	MaxAge  Duration `yaml:"max_age"`
	Driver  string   `yaml:"driver"`
	DSN     string   `yaml:"dsn"` // inline, sqlite only: a path or a file: URI
	DSNEnv  string   `yaml:"dsn_env"`
	DSNFile string   `yaml:"dsn_file"` // absolute
	Query   string   `yaml:"query"`
	// Timeout bounds reading the file, or connecting, querying and reading.
	Timeout Duration `yaml:"timeout"`

	dsn origin
}

// sourceKeys are the source types each key belongs to.
var sourceKeys = map[string]string{"path": "file", "format": "file", "max_age": "file",
	"driver": "sql", "dsn": "sql", "dsn_env": "sql", "dsn_file": "sql", "query": "sql", "timeout": "file sql"}

// State says where the memory between runs is kept: a file, or a database
// several probers share.
type State struct {
	Path string   `yaml:"path"` // absolute, or "": the caller derives it
	SQL  StateSQL `yaml:"sql"`
}

// StateSQL is a database several probers (vantages) share.
type StateSQL struct {
	Driver  string   `yaml:"driver"`
	DSN     string   `yaml:"dsn"` // inline, sqlite only
	DSNEnv  string   `yaml:"dsn_env"`
	DSNFile string   `yaml:"dsn_file"`
	Timeout Duration `yaml:"timeout"` // of each call to the database

	dsn origin
}

// Set reports whether state.sql is configured.
func (s StateSQL) Set() bool { return s.Driver != "" }

// Vantage names this prober among several that share state.sql.
type Vantage struct {
	Name string `yaml:"name"`
}

// Quorum: a probe-based status needs at least Probes vantages, seen within
// Fresh, seeing it at least that bad.
type Quorum struct {
	Probes int      `yaml:"probes"`
	Fresh  Duration `yaml:"fresh"`
}

// Confirm says how many runs in a row must show a change before it is
// published; a gap longer than MaxGap between two runs breaks the chain.
type Confirm struct {
	Worse  int      `yaml:"worse"`
	Better int      `yaml:"better"`
	MaxGap Duration `yaml:"max_gap"`
}

// Guard keeps an outage of the probing machine off the page: when none of
// the canaries answer, or at least MaxFailing of the servers (and 3) get no
// answer at all, no status worse than Cachet's is published.
type Guard struct {
	Canaries   []WebURL `yaml:"canaries"`
	MaxFailing Share    `yaml:"max_failing"`
}

// Incidents says whether and how Cachet incidents are opened: when the
// published status is at least OpenAt. The texts are templates over
// TemplateData.
type Incidents struct {
	Enabled  bool     `yaml:"enabled"`
	OpenAt   Status   `yaml:"open_at"`
	Visible  bool     `yaml:"visible"`
	Notify   bool     `yaml:"notify"`
	Name     Template `yaml:"name"`
	Message  Template `yaml:"message"`
	Update   Template `yaml:"update"`
	Resolved Template `yaml:"resolved"`
}

// Maintenance says when components are left alone: a Cachet schedule in
// progress (one without an end covers MaxOpen), or a window.
type Maintenance struct {
	CachetSchedules Schedules `yaml:"cachet_schedules"`
	MaxOpen         Duration  `yaml:"max_open"`
	Windows         []Window  `yaml:"windows"`
}

// Window is a maintenance window: start and end, or weekly in its
// time_zone (the config's when it has none); no servers means all.
type Window struct {
	Servers  []string `yaml:"servers"`
	Start    Time     `yaml:"start"`
	End      Time     `yaml:"end"`
	Weekly   Weekly   `yaml:"weekly"`
	TimeZone TimeZone `yaml:"time_zone"`
}

// Server is one probed server and its Cachet component.
type Server struct {
	Name string `yaml:"name"`
	// URL may hold user:password@ for basic auth: print DisplayURL.
	URL         string `yaml:"url"`
	ComponentID int    `yaml:"component_id"`
	ReportsKey  string `yaml:"reports_key"` // default Name
	// Probe and Confirm are effective: the blocks with this server's keys on top.
	Probe   Probe   `yaml:",inline"`
	Confirm Confirm `yaml:"confirm"`
	// MetricID and ReportsMetricID are Cachet metrics that get the latency
	// (ms) and the report count as a point per run; 0: none.
	MetricID        int `yaml:"metric_id"`
	ReportsMetricID int `yaml:"reports_metric_id"`
	Line            int `yaml:"-"` // of the server's entry
}

// DisplayURL returns the URL with a basic-auth password replaced by xxxxx.
func (s Server) DisplayURL() string {
	if u, err := url.Parse(s.URL); err == nil {
		return u.Redacted()
	}
	return "(an unparsable URL)"
}

// Defaults that other packages or messages name.
const (
	DefaultTokenEnv      = "CACHET_API_TOKEN"
	DefaultAPI           = "auto"
	DefaultSourceTimeout = 5 * time.Second // file and sql sources, state.sql
)

// DefaultProbe returns the probe block's defaults.
func DefaultProbe() Probe { return defaults().Probe }

// defaults is the config a file is decoded on top of. The source holds the
// defaults of every type; finish clears those of the others.
func defaults() Config {
	tmpl := func(text string) Template { t, _ := NewTemplate(text); return t } // constants that parse
	codes, _ := NewStatusMap(map[string]string{"200-399": "operational"})
	return Config{
		Cachet: Cachet{TokenEnv: DefaultTokenEnv, Timeout: Duration(10 * time.Second), Retries: 3, WriteConcurrency: 4, API: DefaultAPI,
			TimeZone: TimeZone{Loc: time.UTC}},
		Probe: Probe{Timeout: Duration(10 * time.Second), Concurrency: 1500, Method: "GET", FollowRedirects: true, Status: codes,
			OnTimeout: Status(status.PerformanceIssues), OnError: Status(status.MajorOutage), OnBodyMismatch: Status(status.MajorOutage),
			CertExpiry: Duration(14 * 24 * time.Hour)},
		Reports: Reports{Window: Duration(2 * time.Hour), Thresholds: Thresholds{PerformanceIssues: 11, PartialOutage: 20, MajorOutage: 50}, /* the original script's */
			Source: Source{Type: "none", Format: "counts", MaxAge: Duration(15 * time.Minute), Timeout: Duration(DefaultSourceTimeout)}},
		RunTimeout: Duration(5 * time.Minute),
		TimeZone:   TimeZone{Loc: time.Local},
		State:      State{SQL: StateSQL{Timeout: Duration(DefaultSourceTimeout)}},
		Quorum:     Quorum{Probes: 1, Fresh: Duration(10 * time.Minute)},
		Confirm:    Confirm{Worse: 2, Better: 2, MaxGap: Duration(15 * time.Minute)},
		ManualHold: Duration(2 * time.Hour),
		Guard:      Guard{MaxFailing: Share{Percent: 100}},
		Incidents: Incidents{OpenAt: Status(status.PartialOutage), Visible: true,
			Name:    tmpl("{{.Server}}: {{.Status}}"),
			Message: tmpl("{{.Server}} has been {{.State}} since {{.Time.Format \"15:04 MST\"}}. We are looking into it."),
			Update:  tmpl("{{.Server}} is now {{.State}} (it was {{.PreviousState}})."), Resolved: tmpl("{{.Server}} is working normally again.")},
		Maintenance: Maintenance{CachetSchedules: SchedulesNamed, MaxOpen: Duration(12 * time.Hour)},
	}
}

// Error is a problem with a config file. Line is 0 when it is about the
// file as a whole or a missing top-level key; Key is the dotted path of the
// key (servers[0].url), or "".
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

// Error returns "file:line: key: msg", without ":line" when Line is 0 and
// "key: " when Key is "".
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		s += ": " + e.Key
	}
	return s + ": " + e.Msg
}

// MaxListed is how many problems an Errors message lists.
const MaxListed = 20

// Errors is every problem in one file, in file order (those without a line
// last); errors.As finds the first as an *Error.
type Errors []*Error

// Error lists the problems one per line, at most MaxListed of them.
func (es Errors) Error() string {
	s := errors.Join(es.Unwrap()[:min(len(es), MaxListed)]...).Error()
	if len(es) > MaxListed {
		s += fmt.Sprintf("\n… and %d more", len(es)-MaxListed)
	}
	return s
}

// Unwrap returns the problems, for errors.As and errors.Is.
func (es Errors) Unwrap() []error {
	var out []error
	for _, e := range es {
		out = append(out, e)
	}
	return out
}

// Load reads the config file at path and validates it. Secrets are read
// later, by Config.Token and Source.ResolveDSN.
func Load(path string) (*Config, error) { return load(path, false) }

// LoadCachetOnly is Load for commands that need only the cachet block: a
// config without servers is accepted, what is in the file still checked.
func LoadCachetOnly(path string) (*Config, error) { return load(path, true) }

func load(path string, cachetOnly bool) (*Config, error) {
	data, err := readFile(path, MaxFileSize)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error() + ": point --config at the YAML file"}
	}
	return parse(path, data, cachetOnly)
}

// Parse validates data as the config file at path. path is used in
// messages, to resolve relative paths and for Config.Path; only its
// symlinks are looked up on disk. The error is an *Error, or Errors when
// there is more than one problem.
func Parse(path string, data []byte) (*Config, error) { return parse(path, data, false) }

// readFile reads the regular file at path, or its first limit+1 bytes. A
// FIFO or a device would block the open or the read with no deadline.
func readFile(path string, limit int64) ([]byte, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		kind := map[os.FileMode]string{os.ModeDir: "a directory", os.ModeNamedPipe: "a named pipe"}[fi.Mode().Type()]
		return nil, fmt.Errorf("is not a regular file (%s)", cmp.Or(kind, "not a plain file"))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Unwrap(err) // the *os.PathError's reason: the caller names the path
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}
