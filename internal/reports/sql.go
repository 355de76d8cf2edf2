package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	// Database drivers, registered as "mysql", "pgx" and "sqlite".
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// Drivers, as named in the configuration.
const (
	DriverMySQL    = "mysql"
	DriverPostgres = "postgres"
	DriverSQLite   = "sqlite"
)

// sqliteTimeLayout is the text form SQLite's datetime() produces.
const sqliteTimeLayout = "2006-01-02 15:04:05"

// SQLOptions configures a SQL source.
type SQLOptions struct {
	// Driver is DriverMySQL, DriverPostgres or DriverSQLite.
	Driver string
	// DSN is a secret: it never appears in errors, logs or String().
	DSN string
	// Query takes exactly one bind parameter, the window start (? for mysql
	// and sqlite, $1 for postgres), and returns rows of (key, count).
	Query string
	// Timeout bounds connect + query + reading rows; it must be longer than
	// 0 (the config's default is 5s).
	Timeout time.Duration
}

// SQL is a Source that runs one query per call to Counts.
//
// The query must return exactly two columns, a non-NULL key and a whole,
// non-negative count. Rows with the same key are summed. Keys without rows
// are absent from the map.
type SQL struct {
	driver  string // as configured: mysql, postgres, sqlite
	query   string
	timeout time.Duration
	db      *sql.DB
	secrets []string // scrubbed from every error message
}

// OpenSQL validates the options and prepares a connection pool. It does not
// connect: the first Counts does, within its timeout.
func OpenSQL(o SQLOptions) (*SQL, error) {
	s := &SQL{driver: o.Driver, query: o.Query, timeout: o.Timeout}
	var sqlDriver string
	switch o.Driver {
	case DriverMySQL:
		sqlDriver = "mysql"
	case DriverPostgres:
		sqlDriver = "pgx"
	case DriverSQLite:
		sqlDriver = "sqlite"
	default:
		return nil, fmt.Errorf("reading reports from sql: unknown driver %q: use %q, %q or %q",
			o.Driver, DriverMySQL, DriverPostgres, DriverSQLite)
	}
	s.secrets = dsnSecrets(o.Driver, o.DSN)
	if strings.TrimSpace(o.DSN) == "" {
		return nil, fmt.Errorf("reading reports from %s: the DSN is empty", s)
	}
	if strings.TrimSpace(o.Query) == "" {
		return nil, fmt.Errorf("reading reports from %s: the query is empty", s)
	}
	// A query without the placeholder would count every report ever made,
	// and some drivers ignore the extra argument without a word.
	if ph := placeholder(o.Driver); !strings.Contains(o.Query, ph) {
		return nil, fmt.Errorf("reading reports from %s: the query has no %s placeholder for the window start", s, ph)
	}
	if o.Timeout <= 0 {
		return nil, fmt.Errorf("reading reports from %s: the timeout must be longer than 0, not %s (reports.source.timeout)", s, o.Timeout)
	}
	db, err := sql.Open(sqlDriver, o.DSN)
	if err != nil {
		return nil, s.wrap(nil, err)
	}
	// One query per run: one connection, not kept long after it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(time.Minute)
	s.db = db
	return s, nil
}

func placeholder(driver string) string {
	if driver == DriverPostgres {
		return "$1"
	}
	return "?"
}

// String names the source: sql (driver).
func (s *SQL) String() string { return fmt.Sprintf("sql (%s)", s.driver) }

// Close closes the connection pool.
func (s *SQL) Close() error {
	if err := s.db.Close(); err != nil {
		return s.wrap(nil, err)
	}
	return nil
}

// Counts runs the query with the window start bound to its one parameter and
// returns the counts per key; duplicate keys are summed.
func (s *SQL) Counts(ctx context.Context, since time.Time) (map[string]int, error) {
	qctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	counts, err := s.run(qctx, since)
	if err != nil {
		if ctx.Err() == nil && errors.Is(qctx.Err(), context.DeadlineExceeded) {
			return nil, s.wrap(context.DeadlineExceeded,
				fmt.Errorf("the query ran past the timeout of %s (connect + query + reading rows): %w", s.timeout, err))
		}
		return nil, s.wrap(ctx.Err(), err)
	}
	return counts, nil
}

// windowArg is the bound value of the window start. SQLite has no time type:
// a time.Time bound there becomes text in another form that compares wrongly
// with what datetime() writes, so it gets that form.
func (s *SQL) windowArg(since time.Time) any {
	if s.driver == DriverSQLite {
		return since.UTC().Format(sqliteTimeLayout)
	}
	return since.UTC()
}

func (s *SQL) run(ctx context.Context, since time.Time) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, s.query, s.windowArg(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if len(cols) != 2 {
		return nil, fmt.Errorf("query must return 2 columns (key, count), got %d: %v", len(cols), cols)
	}
	counts := make(map[string]int)
	for row := 1; rows.Next(); row++ {
		var key sql.NullString
		var count any
		if err := rows.Scan(&key, &count); err != nil {
			return nil, fmt.Errorf("row %d: %w", row, err)
		}
		if !key.Valid {
			return nil, fmt.Errorf("row %d: key is NULL", row)
		}
		n, err := sqlCount(count)
		if err != nil {
			return nil, fmt.Errorf("row %d: count %s for key %q %w", row, describeSQLValue(count), key.String, err)
		}
		if counts[key.String] > math.MaxInt-n {
			return nil, fmt.Errorf("row %d: the sum of counts for key %q is too large", row, key.String)
		}
		counts[key.String] += n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return counts, nil
}

// sqlCount accepts the forms drivers return for an integer: int64 (COUNT(*)
// everywhere), text or bytes (MySQL's DECIMAL from SUM, PostgreSQL's numeric)
// and float64 (SQLite's REAL), as long as the value is whole.
func sqlCount(v any) (int, error) {
	switch v := v.(type) {
	case nil:
		return 0, errors.New("is NULL")
	case int64:
		if v < 0 {
			return 0, errNegative
		}
		if v > math.MaxInt {
			return 0, errTooLarge
		}
		return int(v), nil
	case float64:
		return wholeNumber(strconv.FormatFloat(v, 'f', -1, 64))
	case []byte:
		return wholeNumber(strings.TrimSpace(string(v)))
	case string:
		return wholeNumber(strings.TrimSpace(v))
	}
	return 0, errNotWhole
}

func describeSQLValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return strconv.Quote(string(v))
	case string:
		return strconv.Quote(v)
	case float64:
		return strconv.Quote(strconv.FormatFloat(v, 'f', -1, 64))
	case int64:
		return strconv.Quote(strconv.FormatInt(v, 10))
	}
	return strconv.Quote(fmt.Sprintf("%v", v))
}

// wrap returns an error naming the source and driver, with every secret
// scrubbed from err's text. Scrubbing means a fresh error: the driver's error
// is no longer reachable with errors.As, but kind (a context error, or nil)
// still is, so callers can tell a timeout from a failure.
func (s *SQL) wrap(kind error, err error) error {
	return &sqlError{
		msg:  fmt.Sprintf("reading reports from %s: %s", s, redact(err.Error(), s.secrets)),
		kind: kind,
	}
}

type sqlError struct {
	msg  string
	kind error
}

func (e *sqlError) Error() string { return e.msg }
func (e *sqlError) Unwrap() error { return e.kind }
