// Package reports reads how many timeout reports users sent about each
// server in the window: a [Source] returns counts per key, from a [File] or
// an [SQL] query; what the counts mean is decided elsewhere.
//
// Time zones in SQL sources: the window start is bound in UTC. MySQL/MariaDB
// DATETIME columns are compared in the DSN's loc (use parseTime=true&loc=UTC
// and store UTC; for TIMESTAMP add time_zone=%27%2B00%3A00%27). PostgreSQL
// TIMESTAMPTZ compares exactly; a TIMESTAMP column must hold UTC wall-clock
// times (put timezone=UTC in the DSN). SQLite has no time type: store UTC
// text as datetime('now') writes it; the window start is bound in that form.
package reports

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	// Database drivers, registered as "mysql", "pgx" and "sqlite".
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/rs/zerolog"
	_ "modernc.org/sqlite"

	"github.com/proxer/cachet-updater/internal/bounded"
)

// Source reads report counts per key for reports created at or after since.
// A key absent from the map has no reports in the window. Type none has no
// Source: callers hold a nil one and decide from the probes alone.
type Source interface {
	Counts(ctx context.Context, since time.Time) (map[string]int, error)
	// String names the source, e.g. `file "/etc/x/reports.json"` or
	// `sql (mysql)`; it never holds a DSN.
	String() string
}

// File formats and SQL drivers, as the configuration names them.
const (
	FormatCounts   = "counts"
	FormatEvents   = "events"
	DriverMySQL    = "mysql"
	DriverPostgres = "postgres"
	DriverSQLite   = "sqlite"
)

// maxSize caps the bytes read: a larger file is an error, not a cut read.
const maxSize = 32 << 20

// MaxClockSkew is how far ahead of this machine's clock a report, or the
// file's modification time, may be: clocks a little apart are normal, a
// writer in the wrong time zone or year is not.
const MaxClockSkew = 5 * time.Minute

// File is a Source that reads a regular file on every call to Counts.
//
// Format counts is a JSON object of whole, non-negative counts
// ({"s14": 12, "s15": 0}) that already holds the window's counts: since is
// ignored. A duplicate key is an error. Format events holds one report per
// line, `key,RFC 3339 time` (a key,time header, blank lines and # comments
// skipped); the lines at or after since count, except those dated more than
// MaxClockSkew ahead, which are left out with a warning.
type File struct {
	Path   string
	Format string // FormatCounts (also when empty) or FormatEvents
	// MaxAge, when positive, refuses a file last written longer ago (or
	// more than MaxClockSkew in the future): its writer has probably stopped.
	MaxAge  time.Duration
	Timeout time.Duration                       // bounds stat, open and read together; must be > 0
	Now     func() time.Time                    // nil: time.Now
	Log     zerolog.Logger                      // one warning per read that left out reports dated in the future
	open    func(name string) (*os.File, error) // nil: os.OpenFile; tests make it block, or swap in a FIFO
}

func (f *File) String() string { return fmt.Sprintf("file %q", f.Path) }

// parsed is a file's counts and the reports left out for being dated in
// the future: how many, and the first as an example.
type parsed struct {
	counts    map[string]int
	future    int
	futureKey string
	futureAt  time.Time
}

// Counts reads the file. It returns when the read is done, ctx ends or the
// timeout passes: a read blocked in the kernel (a hung network mount),
// where no context reaches, is left behind.
func (f *File) Counts(ctx context.Context, since time.Time) (map[string]int, error) {
	rctx, cancel := context.WithTimeoutCause(ctx, f.Timeout,
		fmt.Errorf("did not answer within the timeout of %s (a FIFO or a hung network mount?): %w", f.Timeout, context.DeadlineExceeded))
	defer cancel()
	now := time.Now()
	if f.Now != nil {
		now = f.Now()
	}
	p, err := bounded.Do(rctx, func() (parsed, error) { return f.read(now, since) })
	if err != nil {
		return nil, fmt.Errorf("reading reports from %s: %w", f, cmp.Or(context.Cause(rctx), err))
	}
	if p.future > 0 {
		f.Log.Warn().Str("source", f.String()).Int("ignored", p.future).Str("key", p.futureKey).Time("at", p.futureAt).Msgf("ignored reports dated in the future (more than %s ahead of this machine's clock): check the clock and time zone of the writer", MaxClockSkew)
	}
	return p.counts, nil
}

func (f *File) read(now, since time.Time) (parsed, error) {
	info, err := os.Stat(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return parsed{}, fmt.Errorf("%w: check the path, and the process that should write it", os.ErrNotExist)
	} else if err := regular(info, err); err != nil {
		return parsed{}, err
	}
	open := f.open
	if open == nil {
		open = openNonblocking
	}
	file, err := open(f.Path)
	if err != nil {
		return parsed{}, err
	}
	defer file.Close()
	// The path may have changed since the stat: the open file is what counts.
	if info, err = file.Stat(); regular(info, err) != nil {
		return parsed{}, regular(info, err)
	}
	// A modification time in the future would hide a stopped writer until then.
	at := info.ModTime().UTC().Format(time.RFC3339)
	if ahead, age := info.ModTime().Sub(now), now.Sub(info.ModTime()); f.MaxAge > 0 && ahead > MaxClockSkew {
		return parsed{}, fmt.Errorf("was modified in the future (at %s, %s ahead of this machine's clock): check the clocks of this machine and of the one that writes it", at, ahead.Round(time.Second))
	} else if f.MaxAge > 0 && age > f.MaxAge {
		return parsed{}, fmt.Errorf("is too old: last written %s ago (at %s), over the max_age of %s; check the process that writes it", age.Round(time.Second), at, f.MaxAge)
	}
	var data []byte
	if info.Size() <= maxSize { // a file that grows meanwhile is cut at maxSize+1
		data, err = io.ReadAll(io.LimitReader(file, maxSize+1))
	}
	if err != nil {
		return parsed{}, err
	} else if info.Size() > maxSize || len(data) > maxSize {
		return parsed{}, fmt.Errorf("is larger than the limit of %d MiB: check the path and what writes the file", maxSize>>20)
	}
	// A wrong path (a database, an archive) gets a clear message.
	if i := bytes.IndexFunc(data, func(r rune) bool { return r == 0 || r == '\uFFFD' }); i >= 0 {
		return parsed{}, fmt.Errorf("looks binary: a NUL byte or invalid UTF-8 at offset %d; expected a text file", i)
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")) // the BOM some Windows editors write
	switch f.Format {
	case "", FormatCounts:
		return parseCounts(filepath.Base(f.Path), data)
	case FormatEvents:
		return parseEvents(filepath.Base(f.Path), data, since, now.Add(MaxClockSkew))
	}
	return parsed{}, fmt.Errorf("has an unknown format %q: use %q or %q", f.Format, FormatCounts, FormatEvents)
}

// openNonblocking opens name for reading without waiting for a writer, as
// opening a FIFO swapped in after the stat would.
func openNonblocking(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// regular returns err, or why info is not a regular file: opening a FIFO
// waits for a writer, and a device or socket is never what an exporter writes.
func regular(info os.FileInfo, err error) error {
	if err != nil || info.Mode().IsRegular() {
		return err
	}
	t := info.Mode().Type()
	what := map[os.FileMode]string{os.ModeDir: "a directory", os.ModeNamedPipe: "a named pipe (FIFO)", os.ModeSocket: "a socket",
		os.ModeDevice: "a device", os.ModeDevice | os.ModeCharDevice: "a device"}[t]
	return fmt.Errorf("is %s, not a regular file: point reports.source.path at the file the exporter writes", cmp.Or(what, "of type "+t.String()))
}

// parseCounts reads the object token by token: json.Unmarshal keeps the
// last of two duplicate keys, and a duplicate is a bug in the writer.
func parseCounts(name string, data []byte) (parsed, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	p := parsed{counts: map[string]int{}}
	tok, err := dec.Token()
	if tok != json.Delim('{') {
		err = fmt.Errorf(`expected a JSON object like {"s14": 12}, found %.20q`, bytes.TrimSpace(data))
	}
	for err == nil && dec.More() {
		var value json.RawMessage
		if tok, err = dec.Token(); err == nil {
			err = dec.Decode(&value)
		}
		k, _ := tok.(string) // the decoder yields only strings as keys
		n, werr := whole(string(value))
		if _, dup := p.counts[k]; dup && err == nil {
			err = fmt.Errorf("key %q appears more than once", k)
		} else if werr != nil && err == nil {
			err = fmt.Errorf("key %q: count %.40s %w", k, value, werr)
		}
		p.counts[k] = n
	}
	if err == nil {
		_, err = dec.Token() // the closing brace
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); err == nil && len(rest) > 0 {
		err = fmt.Errorf("%.20q after the JSON object: expected the end of the file", rest)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		err = errors.New("truncated JSON: the file ends before the object is closed")
	} else if _, ok := err.(*json.SyntaxError); ok {
		err = fmt.Errorf("invalid JSON: %w", err)
	}
	if err != nil {
		return parsed{}, fmt.Errorf("%s:%d: %w", name, 1+bytes.Count(data[:dec.InputOffset()], []byte("\n")), err)
	}
	return p, nil
}

// parseEvents counts, per key, the lines dated at or after since and not
// after until. A line after until is dated in the future: counting it would
// keep the report in every window until that time comes.
func parseEvents(name string, data []byte, since, until time.Time) (parsed, error) {
	p := parsed{counts: map[string]int{}}
	seen := false
	for i, line := range bytes.Split(data, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) == 0 || line[0] == '#' {
			continue
		}
		key, ts, _ := strings.Cut(string(line), ",")
		key, ts = strings.TrimSpace(key), strings.TrimSpace(ts)
		t, err := time.Parse(time.RFC3339, ts)
		header := !seen && strings.EqualFold(key, "key") && strings.EqualFold(ts, "time")
		seen = true
		switch {
		case header:
		case key == "" || err != nil:
			return parsed{}, fmt.Errorf("%s:%d: expected key,time with an RFC 3339 time (%s), got %q", name, i+1, time.RFC3339, line)
		case t.After(until):
			if p.future == 0 {
				p.futureKey, p.futureAt = key, t
			}
			p.future++
		case !t.Before(since):
			p.counts[key]++
		}
	}
	return p, nil
}

// whole parses s as a whole, non-negative number: 12, 12.0 and 1.2e1 alike. The error reads after "count 12.5 ".
func whole(s string) (int, error) {
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange), f != math.Trunc(f):
		return 0, errors.New("is not a whole number")
	case f < 0:
		return 0, errors.New("is negative")
	case f > 1<<53: // past float64's whole numbers
		return 0, errors.New("is too large")
	}
	return int(f), nil
}

// SQL is a Source that runs one query per call to Counts, connecting
// within Timeout. The query has one bind parameter, the window start (? for
// mysql and sqlite, $1 for postgres), and returns two columns: a non-NULL
// key and a whole, non-negative count (an integer, a DECIMAL, a whole
// REAL). Rows with the same key are summed.
type SQL struct {
	Driver  string // DriverMySQL, DriverPostgres or DriverSQLite
	DSN     string // a secret: never in errors, logs or String()
	Query   string
	Timeout time.Duration // bounds connect + query + reading rows
}

func (s *SQL) String() string { return fmt.Sprintf("sql (%s)", s.Driver) }

// Counts runs the query with the window start bound to its parameter. Its
// errors are scrubbed of the DSN; only a context error stays reachable with
// errors.Is.
func (s *SQL) Counts(ctx context.Context, since time.Time) (map[string]int, error) {
	qctx, cancel := context.WithTimeoutCause(ctx, s.Timeout,
		fmt.Errorf("the query ran past the timeout of %s (connect + query + reading rows): %w", s.Timeout, context.DeadlineExceeded))
	defer cancel()
	// The driver's error is not wrapped: its text may hold the DSN.
	counts, err := s.query(qctx, since)
	if err == nil {
		return counts, nil
	} else if cause := context.Cause(qctx); cause != nil {
		return nil, fmt.Errorf("reading reports from %s: %w: %s", s, cause, Redactor(s.DSN)(err.Error()))
	}
	return nil, fmt.Errorf("reading reports from %s: %s", s, Redactor(s.DSN)(err.Error()))
}

func (s *SQL) query(ctx context.Context, since time.Time) (map[string]int, error) {
	driver, ok := map[string]string{DriverMySQL: "mysql", DriverPostgres: "pgx", DriverSQLite: "sqlite"}[s.Driver]
	var arg any = since.UTC()
	ph := cmp.Or(map[string]string{DriverPostgres: "$1"}[s.Driver], "?")
	if s.Driver == DriverSQLite {
		arg = since.UTC().Format(time.DateTime) // the text form datetime() writes
	}
	switch {
	case !ok:
		return nil, fmt.Errorf("unknown driver %q: use %q, %q or %q", s.Driver, DriverMySQL, DriverPostgres, DriverSQLite)
	case strings.TrimSpace(s.DSN) == "": // pgx would take the PG* environment's database
		return nil, errors.New("the DSN is empty")
	case !strings.Contains(s.Query, ph):
		// Without it every report ever made counts, and some drivers
		// ignore the extra argument without a word.
		return nil, fmt.Errorf("the query has no %s placeholder for the window start", ph)
	}
	db, err := sql.Open(driver, s.DSN)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, s.Query, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if cols, _ := rows.Columns(); len(cols) != 2 {
		return nil, fmt.Errorf("query must return 2 columns (key, count), got %d: %v", len(cols), cols)
	}
	counts := map[string]int{}
	for row := 1; rows.Next(); row++ {
		var key, count sql.NullString // database/sql turns numbers into text
		if err := rows.Scan(&key, &count); err != nil {
			return nil, fmt.Errorf("row %d: %w", row, err)
		}
		n, err := whole(strings.TrimSpace(count.String))
		switch {
		case !key.Valid:
			return nil, fmt.Errorf("row %d: key is NULL", row)
		case !count.Valid:
			return nil, fmt.Errorf("row %d: count NULL for key %q is NULL", row, key.String)
		case err != nil:
			return nil, fmt.Errorf("row %d: count %q for key %q %w", row, count.String, key.String, err)
		case counts[key.String] > math.MaxInt-n:
			return nil, fmt.Errorf("row %d: the sum of counts for key %q is too large", row, key.String)
		}
		counts[key.String] += n
	}
	return counts, rows.Err()
}

// Redactor returns a function that removes the DSN and every password in
// it from a message: for the other stores that open the same databases.
func Redactor(dsn string) func(string) string {
	// user:password@ of a URL, or of a MySQL DSN split as its driver does:
	// at the last '/', then the last '@' before it, then the first ':'.
	_, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		rest = dsn
	}
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	_, pass, _ := strings.Cut(rest[:max(strings.LastIndexByte(rest, '@'), 0)], ":")
	secrets := []string{dsn, pass}
	// password=... and sslpassword=... in PostgreSQL's key=value form,
	// quoted or not, and in a URL's query.
	for _, m := range regexp.MustCompile(`(?i)\b(?:ssl)?password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]*)`).FindAllStringSubmatch(dsn, -1) {
		quoted := strings.TrimSuffix(strings.TrimPrefix(m[1], "'"), "'")
		secrets = append(secrets, m[1], quoted, strings.ReplaceAll(quoted, `\'`, `'`))
	}
	for _, s := range secrets { // range does not see what the loop appends
		u, _ := url.QueryUnescape(s)
		secrets = append(secrets, u, url.QueryEscape(s), url.PathEscape(s))
	}
	// Longest first: a password inside the DSN must not leave the rest behind.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for _, s := range slices.DeleteFunc(secrets, func(s string) bool { return s == "" }) {
		pairs = append(pairs, s, "[redacted]")
	}
	return strings.NewReplacer(pairs...).Replace
}
