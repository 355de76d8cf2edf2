package state

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
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

// SQLOptions configures the shared SQL store; config checks the values.
type SQLOptions struct {
	Driver      string        // "mysql" (MariaDB too), "postgres" or "sqlite"
	DSN         string        // a secret, never in errors; for SQLite the file's path
	Timeout     time.Duration // bounds each call
	Vantage     string        // this prober, recorded as the one that saved
	TablePrefix string        // starts every table's name; "" is cachet_updater_
	ReadOnly    bool          // a dry run: writes nothing (SQLite: opens the file mode=ro)
}

// SQL is a Store in a database that several probers (vantages) share, one
// memory for them all, beside each vantage's latest observations:
//
//	cachet_updater_state         id (primary key, 1: the only row), document (the state's JSON)
//	cachet_updater_views         vantage, component_id (primary key together), server,
//	                             observed_at (UTC text: 2026-11-25 06:35:02.000000), outcome
//	                             (answered, timeout, error), status (the probe's alone, 1-4), detail
//
// Prepare creates them. The tables of versions before them (_schema, _meta,
// _components, _decisions, _observations) are not read: such a database
// starts with an empty memory, and they can be dropped. Lock is the
// decision lock: one run at a time decides and writes, whichever vantage it
// runs on.
type SQL struct {
	SQLOptions
	db       *sql.DB
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
	vantagePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	placeholder    = regexp.MustCompile(`\?`)
)

// CheckVantage reports whether name can name a vantage.
func CheckVantage(name string) error {
	if !vantagePattern.MatchString(name) {
		return fmt.Errorf("vantage name %q: use 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit (such as fra1)", name)
	}
	return nil
}

// OpenSQL connects once, so that a database that is down is reported here.
func OpenSQL(ctx context.Context, o SQLOptions) (*SQL, error) {
	o.TablePrefix = cmp.Or(o.TablePrefix, "cachet_updater_")
	s := &SQL{SQLOptions: o}
	hint := fmt.Sprintf("check that the %s database is running and reachable, and the DSN", o.Driver)
	err := s.call(ctx, "connecting to", 0, func(ctx context.Context) (err error) {
		switch o.Driver {
		case "mysql":
			var cfg *mysql.Config
			if cfg, err = mysql.ParseDSN(o.DSN); err == nil {
				// Its log would go past the run's; its COMMIT waits without ctx.
				cfg.Logger, cfg.ReadTimeout = &mysql.NopLogger{}, cmp.Or(cfg.ReadTimeout, o.Timeout)
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
			if s.db, err = sql.Open("sqlite", sqliteDSN(o.DSN, o.Timeout, o.ReadOnly)); err == nil { // the query connects
				err = s.db.QueryRowContext(ctx, `PRAGMA database_list`).Scan(new(int), new(string), &s.lockPath)
			}
			if err == nil && s.lockPath == "" {
				hint, err = "give the path of a database file", errors.New("the DSN names an in-memory or temporary database, which is gone when the run ends")
			}
			return err
		default:
			return errors.New("unknown driver: use mysql, postgres or sqlite")
		}
		if err == nil {
			err = s.db.PingContext(ctx)
		}
		return err
	})
	if err != nil {
		if s.db != nil {
			s.db.Close()
		}
		return nil, fmt.Errorf("%w; %s", err, hint)
	}
	s.lockPath += ".lock" // not the -decisionlock of earlier versions: a SQLite file, mode 0644
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
	}
	if readOnly && !strings.HasPrefix(base, "file:") {
		base = "file:" + (&url.URL{Path: base}).EscapedPath()
	}
	if !q.Has("_busy_timeout") && !q.Has("_timeout") {
		q.Set("_busy_timeout", strconv.FormatInt(timeout.Milliseconds(), 10))
	}
	q.Set("_txlock", cmp.Or(q.Get("_txlock"), "immediate"))
	return base + "?" + q.Encode()
}

func (s *SQL) String() string { return "state database (" + s.Driver + ")" }

// Close closes the connections.
func (s *SQL) Close() error { return s.db.Close() }

// Prepare creates the tables; a read-only store only checks they are there.
func (s *SQL) Prepare(ctx context.Context) error {
	return s.call(ctx, "preparing", 0, func(ctx context.Context) error {
		if s.tables(ctx) == nil {
			return nil // there: a user without CREATE may run
		} else if s.ReadOnly {
			return errors.New("it has no tables yet: a dry run creates none, a real run does")
		}
		text, opts := "TEXT", ""
		if s.Driver == "mysql" {
			text, opts = "LONGTEXT", " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
		}
		for _, ddl := range []string{
			`CREATE TABLE IF NOT EXISTS {p}state (id INTEGER NOT NULL PRIMARY KEY, document ` + text + ` NOT NULL)`,
			`CREATE TABLE IF NOT EXISTS {p}views (vantage VARCHAR(64) NOT NULL, component_id BIGINT NOT NULL,
	server TEXT NOT NULL, observed_at VARCHAR(32) NOT NULL, outcome VARCHAR(16) NOT NULL,
	status SMALLINT NOT NULL CHECK (status BETWEEN 1 AND 4), detail TEXT NOT NULL, PRIMARY KEY (vantage, component_id))`,
		} {
			// PostgreSQL may refuse one of two creating a table at once; the
			// second try finds it there.
			if _, err := s.db.ExecContext(ctx, s.q(ddl)+opts); err != nil {
				if _, err := s.db.ExecContext(ctx, s.q(ddl)+opts); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (s *SQL) tables(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, s.q(`SELECT 1 FROM {p}state, {p}views WHERE 1 = 0`))
	return err
}

// Load reads the state; no row yet is the first run. A document that is not
// valid (a person edited it) is an error with a nil state.
func (s *SQL) Load(ctx context.Context) (*State, error) {
	doc := `{"version": 1}` // no row yet: the first run
	err := s.call(ctx, "loading", 0, func(ctx context.Context) error {
		return s.db.QueryRowContext(ctx, s.q(`SELECT document FROM {p}state WHERE id = 1`)).Scan(&doc)
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	st, _, err := decode([]byte(doc))
	if err != nil && !errors.Is(err, ErrNewerVersion) {
		err = fmt.Errorf("%w; fix or delete that row", err)
	}
	if err != nil {
		return nil, fmt.Errorf("loading %s: table %sstate: %w", s, s.TablePrefix, err)
	}
	return st, nil
}

// Save replaces the saved state with st, in one transaction.
func (s *SQL) Save(ctx context.Context, st *State) error {
	data, err := encode(st, document{SavedBy: s.Vantage, SavedAt: time.Now().UTC()})
	if err != nil || s.ReadOnly {
		return fmt.Errorf("saving %s: %w (not written)", s, cmp.Or(err, errReadOnly))
	}
	return saved(s.write(ctx, "saving", []any{`DELETE FROM {p}state`}, []any{`INSERT INTO {p}state (id, document) VALUES (1, ?)`, string(data)}))
}

// Observe records vantage's observations (the caller checked its name),
// replacing its earlier ones of the same components, all or none. It needs
// no lock: each vantage writes its own rows.
func (s *SQL) Observe(ctx context.Context, vantage string, obs []Observation) error {
	upsert := " ON CONFLICT (vantage, component_id) DO UPDATE SET server = excluded.server, observed_at = excluded.observed_at, outcome = excluded.outcome, status = excluded.status, detail = excluded.detail"
	if s.Driver == "mysql" {
		upsert = " ON DUPLICATE KEY UPDATE server = VALUES(server), observed_at = VALUES(observed_at), outcome = VALUES(outcome), status = VALUES(status), detail = VALUES(detail)"
	}
	var stmts [][]any // a few hundred rows each
	for batch := range slices.Chunk(obs, 500) {
		stmt := []any{"INSERT INTO {p}views (vantage, component_id, server, observed_at, outcome, status, detail) VALUES " +
			strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", len(batch)-1) + "(?, ?, ?, ?, ?, ?, ?)" + upsert}
		for _, o := range batch {
			stmt = append(stmt, vantage, o.ComponentID, o.Server, o.At.UTC().Format(timeLayout), o.Outcome, int(o.Status), o.Detail)
		}
		stmts = append(stmts, stmt)
	}
	return s.write(ctx, "recording observations in", stmts...)
}

// Views returns every vantage's latest observation of each component, by
// component id, in vantage order, with its time as recorded: freshness (and
// a clock that is ahead) is quorum's rule.
func (s *SQL) Views(ctx context.Context) (map[int][]View, error) {
	all := map[int][]View{}
	return all, s.call(ctx, "reading observations from", 0, func(ctx context.Context) error {
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT component_id, vantage, observed_at, status, outcome, detail FROM {p}views`))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int
			var v View
			var at string
			if err := rows.Scan(&id, &v.Vantage, &at, &v.Status, &v.Outcome, &v.Detail); err != nil {
				return err
			}
			if v.At, err = time.Parse(timeLayout, at); err != nil {
				return fmt.Errorf("component %d: %w", id, err)
			}
			// Any program may write these rows: their texts are foreign.
			v.Vantage, v.Outcome, v.Detail = foreign.Text(v.Vantage), foreign.Text(v.Outcome), foreign.Text(v.Detail)
			i, _ := slices.BinarySearchFunc(all[id], v.Vantage, func(a View, b string) int { return strings.Compare(a.Vantage, b) })
			all[id] = slices.Insert(all[id], i, v)
		}
		return rows.Err()
	})
}

// Vantages lists the vantages that recorded observations, by name.
func (s *SQL) Vantages(ctx context.Context) ([]VantageInfo, error) {
	all, err := s.Views(ctx)
	by := map[string]VantageInfo{}
	for _, vs := range all {
		for _, v := range vs {
			info := by[v.Vantage]
			by[v.Vantage] = VantageInfo{Name: v.Vantage, Last: slices.MaxFunc([]time.Time{info.Last, v.At}, time.Time.Compare), Components: info.Components + 1}
		}
	}
	return slices.SortedFunc(maps.Values(by), func(a, b VantageInfo) int { return strings.Compare(a.Name, b.Name) }), err
}

// write runs statements (each a query and its arguments) in one
// transaction, committed unless ctx ended first: nothing half-written. A
// commit that got no answer wraps bounded.ErrInDoubt: it may have landed.
func (s *SQL) write(ctx context.Context, op string, stmts ...[]any) error {
	if s.ReadOnly {
		return fmt.Errorf("%s %s: %w", op, s, errReadOnly)
	}
	return s.call(ctx, op, 0, func(ctx context.Context) error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, st := range stmts {
			if _, err = tx.ExecContext(ctx, s.q(st[0].(string)), st[1:]...); err != nil {
				break
			}
		}
		if err = cmp.Or(err, ctx.Err()); err != nil {
			tx.Rollback()
			return err
		}
		if err = tx.Commit(); err != nil && !answered(err) {
			err = fmt.Errorf("the commit got no answer: %w (%w)", bounded.ErrInDoubt, err)
		}
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

// q puts the table prefix for {p} and, for PostgreSQL, numbers the ?s.
func (s *SQL) q(query string) string {
	query, n := strings.ReplaceAll(query, "{p}", s.TablePrefix), 0
	if s.Driver != "postgres" {
		return query
	}
	return placeholder.ReplaceAllStringFunc(query, func(string) string { n++; return "$" + strconv.Itoa(n) })
}

// Lock takes the decision lock, waiting at most wait for another run to
// release it (then an error wrapping ErrLockBusy), and returns its release.
// The lock is a session's, on a connection of its own: a run that dies
// releases it. MySQL: GET_LOCK('<prefix>decide@<database>'); PostgreSQL:
// an advisory lock on a hash of the schema and prefix; SQLite: flock(2) on
// <database file>.lock, so the database stays free for the others.
func (s *SQL) Lock(ctx context.Context, wait time.Duration) (release func(), err error) {
	err = s.call(ctx, "taking the decision lock in", wait, func(ctx context.Context) error {
		try := func() (err error) { release, err = LockFile(s.lockPath); return err }
		if s.Driver != "sqlite" {
			conn, err := s.db.Conn(ctx)
			if err != nil {
				return err
			}
			// Closed, not pooled: a session that may hold the lock serves no one else.
			release = sync.OnceFunc(func() { conn.Raw(func(any) error { return driver.ErrBadConn }); conn.Close() })
			query := map[string]string{"mysql": `SELECT GET_LOCK(LEFT(CONCAT(?, DATABASE()), 64), 0) = 1`,
				"postgres": `SELECT pg_try_advisory_lock(hashtext(current_schema() || '.' || $1))`}[s.Driver]
			try = func() (err error) {
				got := false
				if err = conn.QueryRowContext(ctx, query, s.TablePrefix+"decide@").Scan(&got); err == nil && !got {
					err = ErrLockBusy
				}
				return err
			}
		}
		for deadline := time.Now().Add(wait); ; time.Sleep(min(time.Until(deadline), 100*time.Millisecond)) {
			switch err := try(); {
			case ctx.Err() != nil:
				return ctx.Err()
			case !errors.Is(err, ErrLockBusy):
				return err
			case time.Now().After(deadline):
				return fmt.Errorf("%w (waited %s)", ErrLockBusy, wait)
			}
		}
	})
	if err != nil && release != nil {
		release()
		return nil, err
	}
	return release, err
}

// Check reports whether a run created the tables, and whether another run
// holds the decision lock now (not a fault): it takes and releases the lock
// at once, and changes nothing.
func (s *SQL) Check(ctx context.Context) (tables, lockBusy bool, err error) {
	tables = s.call(ctx, "", 0, s.tables) == nil
	release, err := s.Lock(ctx, 0)
	if err == nil {
		release()
	} else if lockBusy = errors.Is(err, ErrLockBusy); lockBusy {
		err = nil
	}
	return tables, lockBusy, err
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
	msg := fmt.Sprintf("%s %s: %s", op, s, reports.Redactor(s.DSN)(err.Error()))
	if ctx.Err() == nil && cctx.Err() != nil {
		msg += fmt.Sprintf(" (ran past the timeout of %s: is the database overloaded or unreachable?)", s.Timeout)
	}
	return &sqlError{msg, errors.Join(err, cctx.Err())}
}

// sqlError is a message with the secrets taken out.
type sqlError struct {
	msg string
	err error
}

func (e *sqlError) Error() string { return e.msg }
func (e *sqlError) Unwrap() error { return e.err }
