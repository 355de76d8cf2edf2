package state

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
	"modernc.org/sqlite"

	"github.com/proxer/cachet-updater/internal/bounded"
	"github.com/proxer/cachet-updater/internal/foreign"
	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/reports"
	"github.com/proxer/cachet-updater/internal/status"
)

// ErrLockBusy is matched by the error of a lock another run holds.
var ErrLockBusy = errors.New("another run holds the lock")

// SQLOptions configures the shared SQL store.
type SQLOptions struct {
	Driver      string        // "mysql" (MariaDB too), "postgres" or "sqlite"
	DSN         string        // a secret, never in errors; for SQLite the file's path
	Timeout     time.Duration // bounds each call
	Vantage     string        // this prober, recorded as the one that saved; "" to only read
	TablePrefix string        // starts every table's name; "" is cachet_updater_
	ReadOnly    bool          // a dry run: writes nothing (SQLite: opens the file mode=ro)
}

// SQL is a Store in a database that several probers (vantages) share, one
// memory for them all, beside each vantage's latest observations:
//
//	cachet_updater_state         id (primary key, 1: the only row), document (the state's JSON)
//	cachet_updater_observations  vantage, component_id (primary key together), server,
//	                             observed_at (UTC text: 2026-11-25 06:35:02.000000), outcome
//	                             (answered, timeout, error), status (the probe's alone, 1-4), detail
//
// Prepare creates them. Lock is the decision lock: one run at a time
// decides and writes, whichever vantage it runs on.
type SQL struct {
	SQLOptions
	db       *sql.DB
	redact   func(string) string
	lockPath string // SQLite's, beside the database file
}

// Observation is what one vantage's probe of one server saw.
type Observation struct {
	ComponentID int
	Server      string
	At          time.Time
	Outcome     string        // quorum.Answered, quorum.TimedOut or quorum.Failed
	Status      status.Status // the status from the probe alone, 1–4
	Detail      string        // for people: "HTTP 200 in 12ms"
}

// View is one vantage's latest observation of a server.
type View = quorum.View

// VantageInfo is one vantage for the vantages command.
type VantageInfo struct {
	Name       string
	Last       time.Time // its newest observation
	Components int       // how many components it observed
}

// timeLayout keeps times as text that sorts as time does, in every database.
const timeLayout = "2006-01-02 15:04:05.000000"

var (
	prefixPattern  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	vantagePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	outcomePattern = regexp.MustCompile(`^[a-z][a-z_]{0,15}$`)
	placeholder    = regexp.MustCompile(`\?`)
)

// CheckVantage reports whether name can name a vantage.
func CheckVantage(name string) error {
	if !vantagePattern.MatchString(name) {
		return fmt.Errorf("vantage name %q: use 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit (such as fra1)", name)
	}
	return nil
}

// OpenSQL checks the options and connects once, so that a database that is
// down is reported here.
func OpenSQL(ctx context.Context, o SQLOptions) (*SQL, error) {
	o.TablePrefix = cmp.Or(o.TablePrefix, "cachet_updater_")
	s := &SQL{SQLOptions: o, redact: reports.Redactor(o.Driver, o.DSN)}
	var err error
	switch {
	case o.Driver != "mysql" && o.Driver != "postgres" && o.Driver != "sqlite":
		return nil, fmt.Errorf("state database: unknown driver %q: use \"mysql\", \"postgres\" or \"sqlite\"", o.Driver)
	case strings.TrimSpace(o.DSN) == "":
		err = errors.New("the DSN is empty")
	case o.Timeout <= 0:
		err = fmt.Errorf("the timeout must be longer than 0, not %s", o.Timeout)
	case !prefixPattern.MatchString(o.TablePrefix):
		err = fmt.Errorf("table prefix %q: use up to 32 lower-case letters, digits and '_', starting with a letter", o.TablePrefix)
	case o.Vantage != "":
		err = CheckVantage(o.Vantage)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	hint := fmt.Sprintf("check that the %s database is running and reachable, and the DSN", o.Driver)
	switch o.Driver {
	case "mysql":
		var cfg *mysql.Config
		if cfg, err = mysql.ParseDSN(o.DSN); err == nil {
			cfg.Logger = &mysql.NopLogger{} // its log would go past the run's logger
			var conn driver.Connector
			if conn, err = mysql.NewConnector(cfg); err == nil {
				s.db = sql.OpenDB(conn)
			}
		}
	case "postgres":
		s.db, err = sql.Open("pgx", o.DSN)
	case "sqlite":
		hint = "check that the database file's directory exists and that this user may write there"
		if o.ReadOnly {
			hint = "a dry run creates no database file: check the path, or let a real run create it"
		}
		s.db, err = sql.Open("sqlite", sqliteDSN(o.DSN, o.Timeout, o.ReadOnly))
	}
	if err == nil {
		err = s.call(ctx, "connecting to", 0, func(ctx context.Context) error {
			if err := s.db.PingContext(ctx); err != nil || o.Driver != "sqlite" {
				return err
			}
			var seq int
			var name string
			return s.db.QueryRowContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &s.lockPath)
		})
	}
	switch {
	case err != nil:
		err = fmt.Errorf("%w; %s", err, hint)
	case o.Driver == "sqlite" && s.lockPath == "":
		err = fmt.Errorf("%s: the DSN names an in-memory or temporary database, which is gone when the run ends: give the path of a database file", s)
	}
	if err != nil {
		if s.db != nil {
			s.db.Close()
		}
		return nil, err
	}
	s.lockPath += "-decisionlock"
	return s, nil
}

// sqliteDSN adds a busy timeout (writers of other processes wait for each
// other) and immediate write transactions (two writers never deadlock),
// unless the DSN sets them; readOnly opens the file read-only, as a file:
// URI (SQLite ignores mode on a plain name, and would create the file).
func sqliteDSN(dsn string, timeout time.Duration, readOnly bool) string {
	base, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return dsn // the driver names the problem
	}
	if readOnly {
		q.Set("mode", "ro")
		if !strings.HasPrefix(base, "file:") {
			base = "file:" + (&url.URL{Path: base}).EscapedPath()
		}
	}
	if !q.Has("_busy_timeout") && !q.Has("_timeout") {
		q.Set("_busy_timeout", strconv.FormatInt(timeout.Milliseconds(), 10))
	}
	if !q.Has("_txlock") {
		q.Set("_txlock", "immediate")
	}
	return base + "?" + q.Encode()
}

// String names the store for messages.
func (s *SQL) String() string { return fmt.Sprintf("state database (%s)", s.Driver) }

// Close closes the connections.
func (s *SQL) Close() error { return s.db.Close() }

// Prepare creates the tables (CREATE TABLE IF NOT EXISTS); a read-only
// store only checks that they are there.
func (s *SQL) Prepare(ctx context.Context) error {
	return s.call(ctx, "preparing", 0, func(ctx context.Context) error {
		if s.ReadOnly {
			if s.tables(ctx) != nil {
				return errors.New("it has no tables yet: a dry run creates none, a real run does")
			}
			return nil
		}
		text, opts := "TEXT", ""
		if s.Driver == "mysql" {
			text, opts = "LONGTEXT", " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
		}
		for _, ddl := range []string{
			`CREATE TABLE IF NOT EXISTS {p}state (id INTEGER NOT NULL PRIMARY KEY, document ` + text + ` NOT NULL)`,
			`CREATE TABLE IF NOT EXISTS {p}observations (vantage VARCHAR(64) NOT NULL, component_id BIGINT NOT NULL,
	server TEXT NOT NULL, observed_at VARCHAR(32) NOT NULL, outcome VARCHAR(16) NOT NULL,
	status SMALLINT NOT NULL CHECK (status BETWEEN 1 AND 4), detail TEXT NOT NULL, PRIMARY KEY (vantage, component_id))`,
		} {
			ddl = strings.ReplaceAll(ddl, "{p}", s.TablePrefix) + opts
			// PostgreSQL may refuse one of two processes creating a table at
			// once; the second try finds it there.
			if _, err := s.db.ExecContext(ctx, ddl); err != nil {
				if _, err := s.db.ExecContext(ctx, ddl); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (s *SQL) tables(ctx context.Context) error {
	var n int
	return s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+s.TablePrefix+`state`).Scan(&n)
}

// Load reads the state; no row yet is the first run. A document that is not
// valid (a person edited it) is an error with a nil state.
func (s *SQL) Load(ctx context.Context) (*State, error) {
	var doc string
	err := s.call(ctx, "loading", 0, func(ctx context.Context) error {
		err := s.db.QueryRowContext(ctx, `SELECT document FROM `+s.TablePrefix+`state WHERE id = 1`).Scan(&doc)
		if errors.Is(err, sql.ErrNoRows) {
			doc, err = `{"version": 1}`, nil // the first run
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	st, _, err := decode([]byte(doc))
	switch {
	case errors.Is(err, ErrNewerVersion):
		return nil, fmt.Errorf("loading %s: its document has %w", s, err)
	case err != nil:
		return nil, fmt.Errorf("loading %s: table %sstate: %w; fix or delete that row", s, s.TablePrefix, err)
	}
	return st, nil
}

// Save replaces the saved state with st, in one transaction.
func (s *SQL) Save(ctx context.Context, st *State) error {
	data, err := encode(st, document{SavedBy: s.Vantage, SavedAt: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("saving %s: %w (not written)", s, err)
	}
	return saved(s.write(ctx, "saving", func(ctx context.Context, tx *sql.Tx) error {
		return s.upsert(ctx, tx, "state", []string{"id", "document"}, 1, [][]any{{1, string(data)}})
	}))
}

// saved says what a Save that failed left behind.
func saved(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bounded.ErrInDoubt):
		return fmt.Errorf("%w; the state may have been saved or not: the next run reads whichever is there", err)
	}
	return fmt.Errorf("%w (the previous state is unchanged)", err)
}

// Observe records vantage's observations, replacing its earlier ones of the
// same components. It needs no lock: each vantage writes its own rows.
func (s *SQL) Observe(ctx context.Context, vantage string, obs []Observation) error {
	rows := make([][]any, len(obs))
	for i, o := range obs {
		if o.ComponentID < 1 || !published(o.Status) || o.At.IsZero() || !outcomePattern.MatchString(o.Outcome) {
			return fmt.Errorf("recording observations in %s: component %d (%s): want a positive id, a status 1-4, a time and an outcome such as %s, not %d, %s, %q (nothing recorded)",
				s, o.ComponentID, o.Server, quorum.Answered, o.Status, o.At, o.Outcome)
		}
		rows[i] = []any{vantage, o.ComponentID, o.Server, o.At.UTC().Format(timeLayout), o.Outcome, int(o.Status), o.Detail}
	}
	if err := CheckVantage(vantage); err != nil {
		return fmt.Errorf("recording observations in %s: %w", s, err)
	}
	return s.write(ctx, "recording observations in", func(ctx context.Context, tx *sql.Tx) error {
		return s.upsert(ctx, tx, "observations", []string{"vantage", "component_id", "server", "observed_at", "outcome", "status", "detail"}, 2, rows)
	})
}

// Views returns every vantage's latest observation of each of the
// components ids, in vantage order, with its time as recorded: freshness
// (and a clock that is ahead) is quorum's rule.
func (s *SQL) Views(ctx context.Context, ids []int) (map[int][]View, error) {
	views := make(map[int][]View, len(ids))
	for _, id := range ids {
		views[id] = nil
	}
	err := s.call(ctx, "reading observations from", 0, func(ctx context.Context) error {
		return s.query(ctx, `SELECT component_id, vantage, observed_at, status, outcome, detail FROM {p}observations`, func(scan func(...any) error) error {
			var id int
			var v View
			var at string
			err := scan(&id, &v.Vantage, &at, &v.Status, &v.Outcome, &v.Detail)
			if vs, ok := views[id]; ok && err == nil {
				v.At, err = time.Parse(timeLayout, at)
				// Any program may write these rows: their texts are foreign.
				v.Vantage, v.Outcome, v.Detail = foreign.Text(v.Vantage), foreign.Text(v.Outcome), foreign.Text(v.Detail)
				views[id] = append(vs, v)
			}
			return err
		})
	})
	for id, vs := range views {
		if len(vs) == 0 {
			delete(views, id)
		}
		slices.SortFunc(vs, func(a, b View) int { return strings.Compare(a.Vantage, b.Vantage) })
	}
	return views, err
}

// Vantages lists the vantages that recorded observations, by name.
func (s *SQL) Vantages(ctx context.Context) ([]VantageInfo, error) {
	var out []VantageInfo
	err := s.call(ctx, "listing the vantages in", 0, func(ctx context.Context) error {
		return s.query(ctx, `SELECT vantage, MAX(observed_at), COUNT(*) FROM {p}observations GROUP BY vantage`, func(scan func(...any) error) error {
			var v VantageInfo
			var last string
			err := scan(&v.Name, &last, &v.Components)
			if err == nil {
				v.Last, err = time.Parse(timeLayout, last)
			}
			v.Name = foreign.Text(v.Name)
			out = append(out, v)
			return err
		})
	})
	slices.SortFunc(out, func(a, b VantageInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}

// query calls row for each row of q ({p}: the table prefix).
func (s *SQL) query(ctx context.Context, q string, row func(scan func(...any) error) error) error {
	rows, err := s.db.QueryContext(ctx, strings.ReplaceAll(q, "{p}", s.TablePrefix))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return fmt.Errorf("a row that is not an observation: %w", err)
		}
	}
	return rows.Err()
}

// write runs fn in one transaction, committed unless ctx ended first:
// nothing half-written. A commit that got no answer, in time or at all,
// wraps bounded.ErrInDoubt: it may have landed.
func (s *SQL) write(ctx context.Context, op string, fn func(context.Context, *sql.Tx) error) error {
	if s.ReadOnly {
		return fmt.Errorf("%s %s: a read-only store (dry run) writes nothing", op, s)
	}
	return s.call(ctx, op, 0, func(ctx context.Context) error {
		_, err := bounded.Commit(ctx, grace, func(point func() bool) (struct{}, error) {
			tx, err := s.db.BeginTx(ctx, nil)
			if err != nil {
				return struct{}{}, err
			}
			if err = fn(ctx, tx); err == nil {
				err = ctx.Err()
			}
			if err != nil || !point() {
				tx.Rollback()
				return struct{}{}, cmp.Or(err, ctx.Err())
			}
			if err = tx.Commit(); err != nil && !answered(err) {
				err = fmt.Errorf("the commit got no answer: %w (%w)", bounded.ErrInDoubt, err)
			}
			return struct{}{}, err
		})
		return err
	})
}

// answered reports whether err is the database's own answer, not the lack
// of one.
func answered(err error) bool {
	_, my := errors.AsType[*mysql.MySQLError](err)
	_, pg := errors.AsType[*pgconn.PgError](err)
	_, lite := errors.AsType[*sqlite.Error](err)
	return my || pg || lite
}

// upsert inserts rows into table, replacing those with the same key (the
// first nkey columns), a few hundred rows a statement.
func (s *SQL) upsert(ctx context.Context, tx *sql.Tx, table string, cols []string, nkey int, rows [][]any) error {
	var set []string
	for _, c := range cols[nkey:] {
		if s.Driver == "mysql" {
			set = append(set, c+" = VALUES("+c+")")
		} else {
			set = append(set, c+" = excluded."+c)
		}
	}
	conflict := " ON CONFLICT (" + strings.Join(cols[:nkey], ", ") + ") DO UPDATE SET "
	if s.Driver == "mysql" {
		conflict = " ON DUPLICATE KEY UPDATE "
	}
	one := "(?" + strings.Repeat(", ?", len(cols)-1) + ")"
	for len(rows) > 0 {
		n := min(len(rows), 500)
		var args []any
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		q := "INSERT INTO " + s.TablePrefix + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
			one + strings.Repeat(", "+one, n-1) + conflict + strings.Join(set, ", ")
		if s.Driver == "postgres" {
			i := 0
			q = placeholder.ReplaceAllStringFunc(q, func(string) string { i++; return "$" + strconv.Itoa(i) })
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// Lock takes the decision lock, waiting at most wait for another run to
// release it (then an error wrapping ErrLockBusy), and returns its release.
// The lock is a session's, on a connection of its own: a run that dies
// releases it. MySQL: GET_LOCK('<prefix>decide@<database>'); PostgreSQL:
// an advisory lock on a hash of the schema and prefix; SQLite: flock(2) on
// <database file>-decisionlock, so the database stays free for the others.
func (s *SQL) Lock(ctx context.Context, wait time.Duration) (func(), error) {
	var release func()
	err := s.call(ctx, "taking the decision lock in", wait, func(ctx context.Context) error {
		if s.Driver == "sqlite" {
			return poll(ctx, wait, func() (bool, error) {
				l, err := LockFile(s.lockPath)
				release = func() { l.Release() }
				if errors.Is(err, ErrLockBusy) {
					return false, nil
				}
				return err == nil, err
			})
		}
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		// Closed, not returned to the pool: a session that may hold the
		// lock must serve no one else.
		release = func() { conn.Raw(func(any) error { return driver.ErrBadConn }); conn.Close() }
		try := `SELECT GET_LOCK(LEFT(CONCAT(?, DATABASE()), 64), 0) = 1`
		if s.Driver == "postgres" {
			try = `SELECT pg_try_advisory_lock(hashtext(current_schema() || '.' || $1))`
		}
		err = poll(ctx, wait, func() (got bool, err error) {
			return got, conn.QueryRowContext(ctx, try, s.TablePrefix+"decide@").Scan(&got)
		})
		if err != nil {
			release()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(release) }, nil
}

// poll calls try every 100 ms until it returns true, wait has passed
// (ErrLockBusy) or ctx ends.
func poll(ctx context.Context, wait time.Duration, try func() (bool, error)) error {
	deadline := time.Now().Add(wait)
	for {
		if got, err := try(); got || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (waited %s)", ErrLockBusy, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(time.Until(deadline), 100*time.Millisecond)):
		}
	}
}

// Health is what Check found.
type Health struct {
	Tables   bool // a run has created the tables
	LockBusy bool // another run holds the decision lock now (not a fault)
}

// Check looks for the tables and takes and releases the decision lock at
// once; it changes nothing.
func (s *SQL) Check(ctx context.Context) (Health, error) {
	h := Health{Tables: s.call(ctx, "", 0, s.tables) == nil}
	unlock, err := s.Lock(ctx, 0)
	if h.LockBusy = errors.Is(err, ErrLockBusy); err == nil {
		unlock()
	} else if !h.LockBusy {
		return h, err
	}
	return h, nil
}

// call runs fn within the timeout (plus wait) and names what failed, with
// the DSN's secrets taken out of the driver's message.
func (s *SQL) call(ctx context.Context, op string, wait time.Duration, fn func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, s.Timeout+wait)
	defer cancel()
	err := fn(cctx)
	if err == nil {
		return nil
	}
	e := &sqlError{msg: fmt.Sprintf("%s %s: %s", op, s, s.redact(err.Error()))}
	switch {
	case ctx.Err() != nil:
		e.kinds = append(e.kinds, ctx.Err())
	case cctx.Err() != nil:
		e.msg += fmt.Sprintf(" (ran past the timeout of %s: is the database overloaded or unreachable?)", s.Timeout)
		e.kinds = append(e.kinds, cctx.Err())
	}
	for _, k := range []error{ErrLockBusy, bounded.ErrInDoubt} {
		if errors.Is(err, k) {
			e.kinds = append(e.kinds, k)
		}
	}
	return e
}

// sqlError is a message with the secrets taken out, and the kinds a caller
// may match with errors.Is.
type sqlError struct {
	msg   string
	kinds []error
}

func (e *sqlError) Error() string   { return e.msg }
func (e *sqlError) Unwrap() []error { return e.kinds }
