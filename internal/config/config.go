package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// Config is a loaded, validated config with every default applied.
type Config struct {
	Path       string // absolute path of the loaded file
	Cachet     Cachet
	Probe      Probe // the defaults block (effective, defaults applied)
	Reports    Reports
	LockFile   string // absolute
	RunTimeout time.Duration
	Servers    []Server // in file order, each with its effective Probe (defaults merged with overrides)
}

// Cachet says how to reach the Cachet API.
type Cachet struct {
	URL              string // as given, trailing slash trimmed
	TokenEnv         string // "" when TokenFile is set; default "CACHET_API_TOKEN"
	TokenFile        string // absolute, or ""
	Timeout          time.Duration
	Retries          int
	WriteConcurrency int
}

// Probe says how to probe a server and how to read the answer.
type Probe struct {
	Timeout         time.Duration
	Concurrency     int
	Method          string
	TLSSkipVerify   bool
	FollowRedirects bool
	Status          map[string]string // the mapping as written
	Codes           status.CodeMap    // parsed from Status
	OnTimeout       status.Status
	OnError         status.Status
	Slow            time.Duration
}

// Reports says where users' timeout reports come from and how they count.
type Reports struct {
	Window     time.Duration
	Thresholds status.Thresholds
	Source     Source
}

// Source is the reports source.
type Source struct {
	Type    string // "none", "file", "sql"
	Path    string // file: absolute
	Format  string // file: "counts" | "events"
	MaxAge  time.Duration
	Driver  string // sql: "mysql" | "postgres" | "sqlite"
	DSN     string // sql inline (sqlite only; absolute path)
	DSNEnv  string
	DSNFile string // absolute
	Query   string
	Timeout time.Duration
	Line    int // line of the source block, for messages
}

// Server is one probed server and its Cachet component.
type Server struct {
	Name        string
	URL         string
	ComponentID int
	ReportsKey  string
	Probe       Probe // effective
	Line        int   // line of the server's entry (its "- name:" line)
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
	DefaultSQLTimeout       = 5 * time.Second
	DefaultRunTimeout       = 5 * time.Minute
)

// DefaultProbe returns the probe defaults used when the probe block leaves a
// key out.
func DefaultProbe() Probe {
	m := map[string]string{"200-399": "operational"}
	codes, _ := status.ParseCodeMap(m) // a constant mapping that always parses
	return Probe{
		Timeout:         DefaultProbeTimeout,
		Concurrency:     DefaultProbeConcurrency,
		Method:          DefaultMethod,
		FollowRedirects: true,
		Status:          m,
		Codes:           codes,
		OnTimeout:       status.PerformanceIssues,
		OnError:         status.MajorOutage,
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

// Load reads the config file at path and validates it. It reads nothing
// else: the token and the DSN are read later by Config.Token and
// Source.ResolveDSN.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot open the config file: " + osReason(err) + ": check the path"}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read the config file: " + osReason(err)}
	}
	return Parse(path, data)
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

// Parse validates data as the config file at path. path is used in messages
// and to resolve relative paths; nothing is read from disk.
func Parse(path string, data []byte) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot make the config path absolute: " + err.Error()}
	}
	root, perr := parseYAML(path, data)
	if perr != nil {
		return nil, perr
	}
	d := &decoder{file: path, dir: filepath.Dir(abs)}
	cfg := d.config(root)
	if e := d.first(); e != nil {
		return nil, e
	}
	cfg.Path = abs
	if cfg.LockFile == "" {
		cfg.LockFile = DefaultLockFile(abs)
	}
	return cfg, nil
}

// DefaultLockFile returns the lock file used when lock_file is not set:
// one per config file, so two configs never block each other and the same
// config never runs twice at once.
func DefaultLockFile(absConfigPath string) string {
	base := filepath.Base(absConfigPath)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	sum := sha256.Sum256([]byte(absConfigPath))
	return filepath.Join(os.TempDir(), "cachet-updater-"+base+"-"+hex.EncodeToString(sum[:4])+".lock")
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
	// The YAML parser should not panic, but a config error must never crash
	// the cron job with a stack trace.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &Error{File: path, Msg: fmt.Sprintf("the YAML parser failed on this file (%v): check the file for unusual syntax", r)}
		}
	}()
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
