package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/proxer/cachet-updater/internal/reports"
)

// The drivers, named as in the configuration (the same as the report
// source's).
const (
	DriverMySQL    = reports.DriverMySQL
	DriverPostgres = reports.DriverPostgres
	DriverSQLite   = reports.DriverSQLite
)

// DefaultTablePrefix starts the name of every table the store uses.
const DefaultTablePrefix = "cachet_updater_"

// Errors that SQL's methods wrap (match with errors.Is).
var (
	// ErrLockBusy: another run holds the decision lock.
	ErrLockBusy = errors.New("another run holds the decision lock")
	// ErrNewerSchema: the database was migrated by a newer cachet-updater.
	ErrNewerSchema = errors.New("the schema is newer than this cachet-updater knows")
	// ErrUnavailable: the database could not be reached, or the connection
	// broke.
	ErrUnavailable = errors.New("the database is unavailable")
	// ErrInDoubt: a commit was sent but got no answer (the connection broke
	// or the timeout passed while it waited): it may have landed.
	ErrInDoubt = errors.New("the commit got no answer: the state may have been saved or not")
)

// SQLOptions configures the shared SQL store.
type SQLOptions struct {
	// Driver is DriverMySQL (MariaDB too), DriverPostgres or DriverSQLite.
	Driver string
	// DSN is a secret: it never appears in errors or String(). For SQLite it
	// is the database file's path.
	DSN string
	// Timeout bounds each call (connect and statements); it must be longer
	// than 0.
	Timeout time.Duration
	// Vantage is this prober's name, recorded as the one that saved the
	// state and, on PostgreSQL, in the session's application_name. It may be
	// empty for commands that only read.
	Vantage string
	// TablePrefix starts every table's name; "" is DefaultTablePrefix. Two
	// fleets can share one database with two prefixes.
	TablePrefix string
	// ReadOnly is for a dry run: Migrate creates and migrates nothing, it
	// only checks the schema version; SQLite opens the file read-only (and
	// creates none). The caller writes nothing else.
	ReadOnly bool
}

// SQL is a Store in a MySQL/MariaDB, PostgreSQL or SQLite database that
// several probers (vantages) share: the state, each vantage's latest
// observations, and a lock that lets one run at a time decide. Call Migrate
// once after OpenSQL. Its methods are safe for concurrent use.
//
// # Tables
//
// With the default prefix (times are UTC, to the microsecond; statuses are
// Cachet's numbers, 1 operational … 4 major outage):
//
//	cachet_updater_schema        version (primary key), migrated_at, note: one row per migration applied
//	cachet_updater_meta          name (primary key), value: token_proved_at, saved_at, saved_by
//	cachet_updater_components    component_id (primary key), server, last_status (0: not known),
//	                             last_at, hold_status (NULL: no hold), hold_since
//	cachet_updater_decisions     component_id, seq (1 = oldest), decided_at, status;
//	                             primary key (component_id, seq)
//	cachet_updater_observations  vantage, component_id, server, observed_at, outcome
//	                             (answered, timeout, error), status (the probe's alone), detail;
//	                             primary key (vantage, component_id), index on component_id
//
// A NULL time is one not known. Times are DATETIME(6) on MySQL, timestamptz on PostgreSQL and text
// "2006-01-02 15:04:05.000000" on SQLite; meta values are text (times as
// RFC 3339). On MySQL the tables are InnoDB, utf8mb4 with a binary
// collation, and the DSN's parseTime and loc are set by the store.
//
// # Migrations
//
// Migrate brings the schema to SchemaVersion: it creates what is missing and
// records each version applied; a database already at that version is only
// read. A database at a newer version is refused (ErrNewerSchema): upgrade
// this tool. Two processes migrating at once take turns on a migration lock.
//
// # The decision lock
//
// Lock lets one run at a time decide and write, whichever vantage it runs on:
// MySQL GET_LOCK, PostgreSQL a session advisory lock, each on a connection of
// its own; SQLite an immediate transaction on a companion file,
// <database>-decisionlock, so that the other probers can still record their
// observations and the holder's Save commits at once. The lock is the
// session's: a run that dies releases it with its connection.
type SQL struct {
	driver   string
	prefix   string
	vantage  string
	timeout  time.Duration
	readOnly bool
	db       *sql.DB
	redact   func(string) string
	// lockPath is SQLite's companion lock file; "" for the other drivers.
	lockPath string
}

var _ Store = (*SQL)(nil)

var (
	prefixPattern  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	vantagePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// CheckVantage reports whether name can name a vantage: 1 to 64 letters,
// digits, dots, dashes and underscores, starting with a letter or digit.
func CheckVantage(name string) error {
	if !vantagePattern.MatchString(name) {
		return fmt.Errorf("vantage name %q: use 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit (such as fra1)", name)
	}
	return nil
}

// OpenSQL checks the options, opens a connection pool and connects once
// (within o.Timeout), so that a database that is down is reported here.
func OpenSQL(ctx context.Context, o SQLOptions) (*SQL, error) {
	s := &SQL{driver: o.Driver, prefix: o.TablePrefix, vantage: o.Vantage, timeout: o.Timeout, readOnly: o.ReadOnly,
		redact: reports.Redactor(o.DSN)}
	if s.prefix == "" {
		s.prefix = DefaultTablePrefix
	}
	if err := s.checkOptions(o); err != nil {
		return nil, err
	}
	db, err := s.openDB(o.DSN)
	if err != nil {
		return nil, s.fail("opening", ctx, ctx, err)
	}
	s.db = db
	// A lock connection and a working one at least; a run needs no more.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	db.SetConnMaxLifetime(time.Minute)
	if err := s.connect(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *SQL) checkOptions(o SQLOptions) error {
	switch o.Driver {
	case DriverMySQL, DriverPostgres, DriverSQLite:
	default:
		return fmt.Errorf("state database: unknown driver %q: use %q, %q or %q", o.Driver, DriverMySQL, DriverPostgres, DriverSQLite)
	}
	if strings.TrimSpace(o.DSN) == "" {
		return fmt.Errorf("%s: the DSN is empty", s)
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("%s: the timeout must be longer than 0, not %s", s, o.Timeout)
	}
	if !prefixPattern.MatchString(s.prefix) {
		return fmt.Errorf("%s: table prefix %q: use up to 32 lower-case letters, digits and '_', starting with a letter", s, s.prefix)
	}
	if o.Vantage != "" {
		if err := CheckVantage(o.Vantage); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// openDB opens the pool with what the store relies on: times read as UTC
// time.Time on MySQL, a name for the session on PostgreSQL, a busy timeout
// and immediate write transactions on SQLite.
func (s *SQL) openDB(dsn string) (*sql.DB, error) {
	switch s.driver {
	case DriverMySQL:
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, err
		}
		cfg.ParseTime, cfg.Loc = true, time.UTC
		if cfg.ReadTimeout == 0 {
			cfg.ReadTimeout = s.timeout // the driver's COMMIT waits for its answer without ctx
		}
		// The driver's own log goes to stderr, past the run's logger; what
		// it would say comes back as the error this store reports.
		cfg.Logger = &mysql.NopLogger{}
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(conn), nil
	case DriverPostgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, err
		}
		if _, set := cfg.RuntimeParams["application_name"]; !set {
			name := "cachet-updater"
			if s.vantage != "" {
				name += " " + s.vantage
			}
			cfg.RuntimeParams["application_name"] = name
		}
		return stdlib.OpenDB(*cfg), nil
	default:
		return sql.Open("sqlite", sqliteDSN(dsn, s.timeout, s.readOnly))
	}
}

// sqliteDSN adds a busy timeout (writers from other processes wait for
// each other instead of failing) and immediate write transactions (two
// writers never deadlock upgrading a read lock), unless the DSN sets them;
// readOnly opens the file read-only, as a file: URI (SQLite ignores mode
// on a plain name and would create a missing file).
func sqliteDSN(dsn string, timeout time.Duration, readOnly bool) string {
	base, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return dsn // the driver names the problem
	}
	var add []string
	if readOnly {
		if !strings.HasPrefix(base, "file:") {
			base = "file:" + (&url.URL{Path: base}).EscapedPath()
		}
		add = append(add, "mode=ro")
	}
	if !q.Has("_busy_timeout") && !q.Has("_timeout") {
		add = append(add, "_busy_timeout="+strconv.FormatInt(timeout.Milliseconds(), 10))
	}
	if !q.Has("_txlock") {
		add = append(add, "_txlock=immediate")
	}
	if len(add) == 0 {
		return dsn
	}
	if query != "" {
		add = append([]string{query}, add...)
	}
	return base + "?" + strings.Join(add, "&")
}

// connect pings the database; for SQLite it also finds the file, which the
// lock's companion file is named after.
func (s *SQL) connect(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.db.PingContext(cctx); err != nil {
		return s.fail("connecting to", ctx, cctx, err)
	}
	if s.driver != DriverSQLite {
		return nil
	}
	var seq int
	var name, file string
	if err := s.db.QueryRowContext(cctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		return s.fail("connecting to", ctx, cctx, err)
	}
	if file == "" {
		return fmt.Errorf("%s: the DSN names an in-memory or temporary database, which is gone when the run ends: give the path of a database file", s)
	}
	s.lockPath = file + "-decisionlock"
	return nil
}

// String names the store for messages: "state database (mysql)".
func (s *SQL) String() string { return fmt.Sprintf("state database (%s)", s.driver) }

// Close closes the connection pool.
func (s *SQL) Close() error {
	if err := s.db.Close(); err != nil {
		return s.fail("closing", context.Background(), context.Background(), err)
	}
	return nil
}

// table returns the full name of one of the store's tables.
func (s *SQL) table(name string) string { return s.prefix + name }

// call returns the context for one call: ctx bounded by the timeout.
func (s *SQL) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// sqlError carries a message with the secrets scrubbed (the driver's error
// is no longer reachable) and the kinds a caller may test with errors.Is.
type sqlError struct {
	msg   string
	kinds []error
}

func (e *sqlError) Error() string   { return e.msg }
func (e *sqlError) Unwrap() []error { return e.kinds }

// fail returns err, from a call that ran with cctx inside ctx, as an error
// naming what failed and the store, with the DSN and passwords scrubbed and
// a hint for the usual causes.
func (s *SQL) fail(op string, ctx, cctx context.Context, err error) error {
	e := &sqlError{msg: fmt.Sprintf("%s %s: %s", op, s, s.redact(err.Error()))}
	switch {
	case ctx.Err() != nil:
		e.kinds = append(e.kinds, ctx.Err())
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		e.msg += fmt.Sprintf(" (ran past the timeout of %s; is the database overloaded or unreachable?)", s.timeout)
		e.kinds = append(e.kinds, context.DeadlineExceeded)
	case unavailable(err) && s.driver == DriverSQLite && s.readOnly:
		e.msg += "; a dry run creates no database file: check the path, or let a real run create it"
		e.kinds = append(e.kinds, ErrUnavailable)
	case unavailable(err) && s.driver == DriverSQLite:
		e.msg += "; check that the database file's directory exists and that this user may write there"
		e.kinds = append(e.kinds, ErrUnavailable)
	case unavailable(err):
		e.msg += fmt.Sprintf("; check that the %s database is running and reachable, and the DSN", s.driver)
		e.kinds = append(e.kinds, ErrUnavailable)
	}
	for _, k := range []error{ErrLockBusy, ErrNewerSchema, ErrUnavailable, ErrInDoubt} {
		if errors.Is(err, k) {
			e.kinds = append(e.kinds, k)
		}
	}
	return e
}

// unavailable reports whether err means the database could not be reached
// or the connection broke, rather than a statement failing.
func unavailable(err error) bool {
	var opErr *net.OpError
	var connErr *pgconn.ConnectError
	var liteErr *sqlite.Error
	switch {
	case errors.As(err, &opErr), errors.As(err, &connErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &liteErr):
		return liteErr.Code()&0xff == sqlite3.SQLITE_CANTOPEN
	}
	return false
}
