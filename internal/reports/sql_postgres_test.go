package reports

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"testing"
	"time"
)

// postgresTable returns the test DSN and a fresh table with a TIMESTAMP and
// a TIMESTAMPTZ column, dropped when the test ends.
func postgresTable(t *testing.T) (dsn, table string, db *sql.DB) {
	t.Helper()
	dsn = postgresDSN(t)
	db, err := sql.Open("pgx", withPostgresParams(t, dsn, map[string]string{"timezone": "UTC"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	table = tableName()
	exec(t, db, `CREATE TABLE `+table+` (
		server     TEXT,
		created_at TIMESTAMP   NOT NULL,
		created_tz TIMESTAMPTZ NOT NULL DEFAULT now()
	)`)
	t.Cleanup(func() { exec(t, db, `DROP TABLE `+table) })
	return dsn, table, db
}

func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("CU_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("set CU_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run against PostgreSQL; .ci/run does")
	}
	return dsn
}

// withPostgresParams returns the URL dsn with query parameters set.
func withPostgresParams(t *testing.T, dsn string, params map[string]string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("CU_TEST_POSTGRES_DSN must be a postgres:// URL: %v", err)
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func TestPostgresWindow(t *testing.T) {
	dsn, table, db := postgresTable(t)
	// created_at holds UTC wall-clock times, created_tz instants.
	at := func(d time.Duration) string { return testSince.Add(d).UTC().Format("2006-01-02 15:04:05") }
	exec(t, db, `INSERT INTO `+table+` (server, created_at, created_tz) VALUES
		('s14', $1, $2), ('s15', $3, $4), ('s14', $5, $6)`,
		at(0), testSince, at(-time.Second), testSince.Add(-time.Second), at(time.Hour), testSince.Add(time.Hour))

	tsQuery := `SELECT server, COUNT(*) FROM {table} WHERE created_at >= $1 GROUP BY server`
	tzQuery := `SELECT server, COUNT(*) FROM {table} WHERE created_tz >= $1 GROUP BY server`
	// A query that casts the parameter compares the TIMESTAMP column as an
	// instant in the session TimeZone.
	castQuery := `SELECT server, COUNT(*) FROM {table} WHERE created_at >= $1::timestamptz GROUP BY server`
	edge := map[string]int{"s14": 2}
	for _, tt := range []struct {
		timezone string
		cast     map[string]int
	}{
		{"UTC", edge},
		// 14 hours ahead: with the cast, the TIMESTAMP values read as
		// instants 14 hours earlier, and all fall out of the window.
		{"Pacific/Kiritimati", map[string]int{}},
	} {
		t.Run("timezone="+tt.timezone, func(t *testing.T) {
			runSQLCases(t, DriverPostgres, withPostgresParams(t, dsn, map[string]string{"timezone": tt.timezone}), table, []sqlCase{
				{name: "TIMESTAMPTZ edge", query: tzQuery, since: testSince, want: edge},
				{name: "TIMESTAMPTZ one second earlier", query: tzQuery, since: testSince.Add(-time.Second), want: map[string]int{"s14": 2, "s15": 1}},
				{name: "TIMESTAMP edge", query: tsQuery, since: testSince, want: edge},
				{name: "TIMESTAMP one second earlier", query: tsQuery, since: testSince.Add(-time.Second), want: map[string]int{"s14": 2, "s15": 1}},
				{name: "TIMESTAMP with a cast", query: castQuery, since: testSince, want: tt.cast},
			})
		})
	}
}

// The README's PostgreSQL query bounds the window above by the database's
// clock.
func TestPostgresFutureRowsBound(t *testing.T) {
	dsn, table, db := postgresTable(t)
	exec(t, db, `INSERT INTO `+table+` (server, created_at, created_tz) VALUES
		('s14', now(), now()), ('s14', now(), '2099-01-01 00:00:00Z'), ('s15', now(), now() + interval '4 minutes')`)
	query := `SELECT server, COUNT(*) FROM {table}
		WHERE created_tz >= $1 AND created_tz <= now() + interval '5 minutes'
		GROUP BY server`
	runSQLCases(t, DriverPostgres, dsn, table, []sqlCase{
		{name: "bounded", query: query, since: time.Now().Add(-2 * time.Hour), want: map[string]int{"s14": 1, "s15": 1}},
	})
}

func TestPostgresShapes(t *testing.T) {
	dsn, table, db := postgresTable(t)
	exec(t, db, `INSERT INTO `+table+` (server, created_at) VALUES ('s14', '2026-11-25 05:00:00'), ('s14', '2026-11-25 05:00:01'), (NULL, '2026-11-25 05:00:02')`)
	runSQLCases(t, DriverPostgres, dsn, table, []sqlCase{
		{name: "empty window", query: `SELECT server, COUNT(*) FROM {table} WHERE created_tz >= $1 GROUP BY server`,
			since: time.Now().Add(time.Hour), want: map[string]int{}},
		{name: "no rows for a server", query: `SELECT server, COUNT(*) FROM {table} WHERE created_at >= $1 AND server IS NOT NULL GROUP BY server`,
			since: testSince, want: map[string]int{"s14": 2}},
		{name: "SUM of bigint is numeric", query: `SELECT server, SUM(1::bigint) FROM {table} WHERE created_at >= $1 AND server IS NOT NULL GROUP BY server`,
			since: testSince, want: map[string]int{"s14": 2}},
		{name: "whole numeric and float", query: `SELECT 's14', 2.0 WHERE $1::timestamptz IS NOT NULL UNION ALL SELECT 's15', 3::float8`,
			since: testSince, want: map[string]int{"s14": 2, "s15": 3}},
		{name: "duplicate keys are summed", query: `SELECT server, 1 FROM {table} WHERE created_at >= $1 AND server IS NOT NULL`,
			since: testSince, want: map[string]int{"s14": 2}},
		{name: "3 columns", query: `SELECT server, COUNT(*), MAX(created_at) FROM {table} WHERE created_at >= $1 GROUP BY server`,
			wantErr: "query must return 2 columns (key, count), got 3: [server count max]"},
		{name: "NULL key", query: `SELECT server, COUNT(*) FROM {table} WHERE created_at >= $1 GROUP BY server ORDER BY server NULLS LAST`,
			wantErr: "row 2: key is NULL"},
		{name: "fractional count", query: `SELECT server, 2.5 FROM {table} WHERE created_at >= $1 AND server IS NOT NULL`,
			wantErr: `row 1: count "2.5" for key "s14" is not a whole number`},
		{name: "text count", query: `SELECT server, 'abc' FROM {table} WHERE created_at >= $1 AND server IS NOT NULL`,
			wantErr: `row 1: count "abc" for key "s14" is not a whole number`},
		{name: "negative count", query: `SELECT server, -COUNT(*) FROM {table} WHERE created_at >= $1 AND server IS NOT NULL GROUP BY server`,
			wantErr: `row 1: count "-2" for key "s14" is negative`},
		{name: "unknown table", query: `SELECT server, COUNT(*) FROM nope_` + table + ` WHERE created_at >= $1 GROUP BY server`,
			wantErr: `relation "nope_` + table + `" does not exist`},
	})
}

func TestPostgresTimeout(t *testing.T) {
	dsn := postgresDSN(t)
	checkTimeout(t, DriverPostgres, dsn, `SELECT 's14', 1 FROM pg_sleep(3) WHERE $1::timestamptz IS NOT NULL`)
}

func TestPostgresConnectErrors(t *testing.T) {
	dsn := postgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "hunter2-secret")
	withPassword := *u
	down := withPassword
	down.Host = "127.0.0.1:1" // nothing listens on port 1
	// Trust authentication takes any password, so a missing database stands
	// in for a refused login.
	noDB := withPassword
	noDB.Path = "/nonexistent_" + tableName()
	for _, tt := range []struct {
		name, dsn, want string
	}{
		{"database down", down.String(), "connection refused"},
		{"nonexistent database", noDB.String(), `database "` + noDB.Path[1:] + `" does not exist`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sqlCounts(context.Background(), DriverPostgres, tt.dsn, "SELECT 's14', 1 WHERE $1::timestamptz IS NOT NULL", 5*time.Second)
			checkError(t, err, "reading reports from sql (postgres): ", tt.want)
			checkNoSecret(t, err, "hunter2-secret", tt.dsn)
		})
	}
}
