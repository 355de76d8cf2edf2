package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// SchemaVersion is the database schema this code reads and writes. A change
// that an older build would misread adds a migration and bumps it: an older
// build then refuses the database instead of guessing.
const SchemaVersion = 1

// migrations[v-1] takes the schema from version v-1 to v. Each statement can
// run twice: MySQL commits each one at once, so a migration cut short is run
// again from its start.
var migrations = []struct {
	note  string
	stmts []string
}{
	{"components, decisions, observations, meta", []string{
		`CREATE TABLE IF NOT EXISTS {p}meta (
	name  {name} NOT NULL PRIMARY KEY,
	value {text} NOT NULL
){opts}`,
		`CREATE TABLE IF NOT EXISTS {p}components (
	component_id {id} NOT NULL PRIMARY KEY,
	server       {text} NOT NULL,
	last_status  SMALLINT NOT NULL DEFAULT 0 CHECK (last_status BETWEEN 0 AND 4),
	last_at      {time} NULL,
	hold_status  SMALLINT NULL CHECK (hold_status BETWEEN 1 AND 4),
	hold_since   {time} NULL,
	incident_id     {id} NULL,
	incident_status SMALLINT NULL CHECK (incident_status BETWEEN 1 AND 4)
){opts}`,
		`CREATE TABLE IF NOT EXISTS {p}decisions (
	component_id {id} NOT NULL,
	seq          SMALLINT NOT NULL,
	decided_at   {time} NULL,
	status       SMALLINT NOT NULL CHECK (status BETWEEN 1 AND 4),
	PRIMARY KEY (component_id, seq)
){opts}`,
		`CREATE TABLE IF NOT EXISTS {p}observations (
	vantage      {name} NOT NULL,
	component_id {id} NOT NULL,
	server       {text} NOT NULL,
	observed_at  {time} NOT NULL,
	outcome      {name} NOT NULL,
	status       SMALLINT NOT NULL CHECK (status BETWEEN 1 AND 4),
	detail       {text} NOT NULL,
	PRIMARY KEY (vantage, component_id){obsindex}
){opts}`,
		`{createindex}`,
	}},
}

// ddl fills a statement template in for the driver and the prefix.
func (s *SQL) ddl(stmt string) string {
	types := map[string][]string{ // mysql, postgres, sqlite
		"{id}":   {"BIGINT", "bigint", "INTEGER"},
		"{name}": {"VARCHAR(64)", "varchar(64)", "TEXT"},
		"{text}": {"TEXT", "text", "TEXT"},
		"{time}": {"DATETIME(6)", "timestamptz", "TEXT"},
		"{opts}": {" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin", "", ""},
		// MySQL has no CREATE INDEX IF NOT EXISTS: its index is in the table.
		"{obsindex}":    {",\n\tKEY {p}observations_component (component_id)", "", ""},
		"{createindex}": {"", "CREATE INDEX IF NOT EXISTS {p}observations_component ON {p}observations (component_id)", "CREATE INDEX IF NOT EXISTS {p}observations_component ON {p}observations (component_id)"},
	}
	i := map[string]int{DriverMySQL: 0, DriverPostgres: 1, DriverSQLite: 2}[s.driver]
	for k, v := range types {
		stmt = strings.ReplaceAll(stmt, k, v[i])
	}
	return strings.ReplaceAll(stmt, "{p}", s.prefix)
}

// schemaTable is the one table every version has, created before the rest.
func (s *SQL) schemaTable() string {
	return s.ddl(`CREATE TABLE IF NOT EXISTS {p}schema (
	version     INTEGER NOT NULL PRIMARY KEY,
	migrated_at {time} NOT NULL,
	note        {text} NOT NULL
){opts}`)
}

// Migrate brings the database's schema to SchemaVersion. A database at that
// version is only read; one at a newer version is refused (ErrNewerSchema);
// a read-only store only checks the version.
// Concurrent callers take turns on a migration lock, each re-reading the
// version once it holds it.
func (s *SQL) Migrate(ctx context.Context) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	v, err := s.schemaVersion(cctx, s.db)
	if err != nil {
		return s.fail("migrating", ctx, cctx, err)
	}
	if err := s.checkVersion(v); err != nil || v == SchemaVersion {
		return err
	}
	if s.readOnly {
		return fmt.Errorf("%s has schema version %d, this cachet-updater uses %d: a dry run creates and migrates nothing; a real run does", s, v, SchemaVersion)
	}
	newer := 0 // set when another process migrated further meanwhile
	err = s.withMigrationLock(cctx, func(ex execer) error {
		v, err := s.schemaVersion(cctx, ex)
		if err != nil || v >= SchemaVersion {
			newer = v
			return err
		}
		return s.migrate(cctx, ex, v)
	})
	if err != nil {
		return s.fail("migrating", ctx, cctx, err)
	}
	return s.checkVersion(newer)
}

func (s *SQL) checkVersion(v int) error {
	if v > SchemaVersion {
		return fmt.Errorf("%s has schema version %d, but this cachet-updater knows only version %d: %w; upgrade cachet-updater on every prober (the database was left as it is)",
			s, v, SchemaVersion, ErrNewerSchema)
	}
	return nil
}

// migrate applies the migrations after version from.
func (s *SQL) migrate(ctx context.Context, ex execer, from int) error {
	if _, err := ex.ExecContext(ctx, s.schemaTable()); err != nil {
		return fmt.Errorf("creating %s: %w", s.table("schema"), err)
	}
	for v := from + 1; v <= SchemaVersion; v++ {
		m := migrations[v-1]
		for _, stmt := range m.stmts {
			if stmt = s.ddl(stmt); stmt == "" {
				continue
			}
			if _, err := ex.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("schema version %d: %w", v, err)
			}
		}
		if _, err := ex.ExecContext(ctx, s.q(`INSERT INTO `+s.table("schema")+` (version, migrated_at, note) VALUES (?, ?, ?)`),
			v, s.timeArg(time.Now()), m.note); err != nil {
			return fmt.Errorf("recording schema version %d: %w", v, err)
		}
	}
	return nil
}

// SchemaVersion returns the database's schema version: 0 before the first
// migration.
func (s *SQL) SchemaVersion(ctx context.Context) (int, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	v, err := s.schemaVersion(cctx, s.db)
	if err != nil {
		return 0, s.fail("reading the schema version of", ctx, cctx, err)
	}
	return v, nil
}

func (s *SQL) schemaVersion(ctx context.Context, ex execer) (int, error) {
	var exists string
	switch s.driver {
	case DriverMySQL:
		exists = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?`
	case DriverPostgres:
		exists = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	default:
		exists = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	}
	var n int
	if err := ex.QueryRowContext(ctx, s.q(exists), s.table("schema")).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	var v int
	err := ex.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+s.table("schema")).Scan(&v)
	return v, err
}

// withMigrationLock runs fn while holding the migration lock: on MySQL,
// whose DDL commits at once, a named lock on a connection of its own; on
// PostgreSQL and SQLite, whose DDL is transactional, a transaction (with an
// advisory lock on PostgreSQL, a write lock on SQLite).
func (s *SQL) withMigrationLock(ctx context.Context, fn func(ex execer) error) error {
	if s.driver == DriverMySQL {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer discard(conn)
		wait := time.Until(deadlineOf(ctx))
		if err := poll(ctx, wait, func() (bool, error) { return s.mysqlTryLock(ctx, conn, "migrate") }); err != nil {
			if errors.Is(err, ErrLockBusy) {
				return fmt.Errorf("another process has been migrating for %s: %w", s.timeout, err)
			}
			return err
		}
		return fn(conn)
	}
	return s.inTx(ctx, nil, func(tx *sql.Tx) error {
		if s.driver == DriverPostgres {
			key, err := s.pgLockKey(ctx, tx, "migrate")
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// mysqlTryLock tries once to take the named lock what on conn. The name is
// the prefix's and the database's: GET_LOCK's names are the server's.
func (s *SQL) mysqlTryLock(ctx context.Context, conn *sql.Conn, what string) (bool, error) {
	var got sql.NullInt64
	err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(LEFT(CONCAT(?, COALESCE(DATABASE(), '')), 64), 0)`, s.prefix+what+"@").Scan(&got)
	if err != nil {
		return false, err
	}
	if !got.Valid {
		return false, errors.New("GET_LOCK returned NULL")
	}
	return got.Int64 == 1, nil
}

// pgLockKey is the advisory lock key for what: advisory locks are the
// database's, so the key is the prefix's and the schema's.
func (s *SQL) pgLockKey(ctx context.Context, ex execer, what string) (int64, error) {
	var schema sql.NullString
	if err := ex.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return 0, err
	}
	h := fnv.New64a()
	h.Write([]byte("cachet-updater " + what + " " + schema.String + "." + s.prefix))
	return int64(h.Sum64()), nil
}

// Health is what Check found.
type Health struct {
	// Schema is the database's schema version: 0 before the first run;
	// below SchemaVersion: the next run migrates.
	Schema int
	// LockBusy: another run holds the decision lock now (not a fault).
	LockBusy bool
}

// Check connects, reads the schema version (a newer one than SchemaVersion
// is an error wrapping ErrNewerSchema) and takes and releases the decision
// lock at once. It changes nothing.
func (s *SQL) Check(ctx context.Context) (Health, error) {
	var h Health
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return h, err
	}
	h.Schema = v
	if err := s.checkVersion(v); err != nil {
		return h, err
	}
	unlock, err := s.Lock(ctx, 0)
	switch {
	case errors.Is(err, ErrLockBusy):
		h.LockBusy = true
	case err != nil:
		return h, err
	default:
		unlock()
	}
	return h, nil
}
