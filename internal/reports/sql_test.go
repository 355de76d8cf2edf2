package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sqlCase is one query against a prepared table; {table} in query is replaced
// with the test's table name.
type sqlCase struct {
	name    string
	query   string
	since   time.Time
	want    map[string]int
	wantErr string
}

// runSQLCases runs each case through a fresh SQL source on dsn.
func runSQLCases(t *testing.T, driver, dsn, table string, cases []sqlCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := OpenSQL(SQLOptions{Driver: driver, DSN: dsn, Query: strings.ReplaceAll(tc.query, "{table}", table), Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got, err := src.Counts(context.Background(), tc.since)
			if tc.wantErr != "" {
				checkError(t, err, "reading reports from sql ("+driver+"): ", tc.wantErr)
				checkNoSecret(t, err, dsn)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("Counts = %v, want %v", got, tc.want)
			}
		})
	}
}

func checkNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}

func tableName() string { return fmt.Sprintf("reports_%016x", rand.Uint64()) }

func exec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// sqliteDB creates a database file with a stream_reports table and returns
// its path and a handle for inserting.
func sqliteDB(t *testing.T) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "reports.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	exec(t, db, `CREATE TABLE stream_reports (
		server     TEXT NOT NULL,
		created_at TEXT NOT NULL DEFAULT (datetime('now'))
	)`)
	return path, db
}

const (
	sqliteQuery    = `SELECT server, COUNT(*) FROM stream_reports WHERE created_at >= ? GROUP BY server`
	sqliteQueryS17 = `SELECT server, COUNT(*) FROM stream_reports WHERE created_at >= ? AND server = 's17' GROUP BY server`
)

func TestSQLiteWindow(t *testing.T) {
	path, db := sqliteDB(t)
	// Written by SQLite's datetime(), at the edge and one second before.
	exec(t, db, `INSERT INTO stream_reports (server, created_at) VALUES
		('s14', datetime(?, 'unixepoch')), ('s15', datetime(?, 'unixepoch'))`,
		testSince.Unix(), testSince.Unix()-1)
	// Written as the formatted string by a program.
	exec(t, db, `INSERT INTO stream_reports (server, created_at) VALUES (?, ?), (?, ?), (?, ?)`,
		"s14", testSince.UTC().Format("2006-01-02 15:04:05"),
		"s16", testSince.Add(-time.Second).UTC().Format("2006-01-02 15:04:05"),
		"s16", testNow.UTC().Format("2006-01-02 15:04:05"))
	// And with datetime('now'), as the web application would.
	exec(t, db, `INSERT INTO stream_reports (server) VALUES ('s17'), ('s17')`)
	realNow := time.Now()

	runSQLCases(t, DriverSQLite, "file:"+path+"?mode=ro", "", []sqlCase{
		{name: "edges", query: sqliteQuery, since: testSince, want: map[string]int{"s14": 2, "s16": 1, "s17": 2}},
		// The same instant given in a far-off zone is the same window.
		{name: "since in another zone", query: sqliteQuery, since: testSince.In(time.FixedZone("UTC+14", 14*3600)), want: map[string]int{"s14": 2, "s16": 1, "s17": 2}},
		{name: "one second earlier", query: sqliteQuery, since: testSince.Add(-time.Second), want: map[string]int{"s14": 2, "s15": 1, "s16": 2, "s17": 2}},
		{name: "datetime now in window", query: sqliteQueryS17, since: realNow.Add(-2 * time.Hour), want: map[string]int{"s17": 2}},
		{name: "datetime now after window start", query: sqliteQueryS17, since: realNow.Add(time.Minute), want: map[string]int{}},
	})
}

// The README's SQLite query bounds the window above by the database's clock,
// so rows dated in the future (a writer with a wrong clock or zone) stay out.
func TestSQLiteFutureRowsBound(t *testing.T) {
	path, db := sqliteDB(t)
	exec(t, db, `INSERT INTO stream_reports (server) VALUES ('s14')`)
	exec(t, db, `INSERT INTO stream_reports (server, created_at) VALUES ('s14', '2099-01-01 00:00:00'), ('s15', datetime('now', '+4 minutes'))`)
	query := `SELECT server, COUNT(*) FROM stream_reports
		WHERE created_at >= ? AND created_at <= datetime('now', '+5 minutes')
		GROUP BY server`
	runSQLCases(t, DriverSQLite, "file:"+path+"?mode=ro", "", []sqlCase{
		{name: "bounded", query: query, since: time.Now().Add(-2 * time.Hour), want: map[string]int{"s14": 1, "s15": 1}},
	})
}

func TestSQLiteShapes(t *testing.T) {
	path, db := sqliteDB(t)
	exec(t, db, `INSERT INTO stream_reports (server, created_at) VALUES ('s14', '2026-11-25 05:00:00')`)
	dsn := "file:" + path + "?mode=ro"
	runSQLCases(t, DriverSQLite, dsn, "", []sqlCase{
		{name: "empty window", query: sqliteQuery, since: testNow, want: map[string]int{}},
		{name: "duplicate keys are summed", query: `SELECT 's14', 2 WHERE ? <> '' UNION ALL SELECT 's14', 3 UNION ALL SELECT 's15', 0`,
			want: map[string]int{"s14": 5, "s15": 0}},
		{name: "count as text or whole real", query: `SELECT 's14', '12' WHERE ? <> '' UNION ALL SELECT 's15', 3.0`,
			want: map[string]int{"s14": 12, "s15": 3}},
		{name: "integer key", query: `SELECT 14, 1 WHERE ? <> ''`, want: map[string]int{"14": 1}},
		{name: "3 columns", query: `SELECT server, COUNT(*), 1 AS extra FROM stream_reports WHERE created_at >= ? GROUP BY server`,
			wantErr: "query must return 2 columns (key, count), got 3: [server COUNT(*) extra]"},
		{name: "1 column", query: `SELECT server FROM stream_reports WHERE created_at >= ?`,
			wantErr: "query must return 2 columns (key, count), got 1: [server]"},
		{name: "NULL key", query: `SELECT 's14', 1 WHERE ? <> '' UNION ALL SELECT NULL, 1`, wantErr: "row 2: key is NULL"},
		{name: "NULL count", query: `SELECT 's14', NULL WHERE ? <> ''`, wantErr: `row 1: count NULL for key "s14" is NULL`},
		{name: "text count", query: `SELECT 's14', 'abc' WHERE ? <> ''`, wantErr: `row 1: count "abc" for key "s14" is not a whole number`},
		{name: "fractional count", query: `SELECT 's14', 2.5 WHERE ? <> ''`, wantErr: `row 1: count "2.5" for key "s14" is not a whole number`},
		{name: "negative count", query: `SELECT 's14', -1 WHERE ? <> ''`, wantErr: `row 1: count "-1" for key "s14" is negative`},
		{name: "missing table", query: `SELECT server, COUNT(*) FROM nope WHERE created_at >= ? GROUP BY server`, wantErr: "no such table: nope"},
	})
}

func TestSQLiteMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.db")
	// mode=ro keeps SQLite from creating an empty database in its place.
	dsn := "file:" + path + "?mode=ro"
	src, err := OpenSQL(SQLOptions{Driver: DriverSQLite, DSN: dsn, Query: sqliteQuery, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = src.Counts(context.Background(), testSince)
	checkError(t, err, "reading reports from sql (sqlite): ", "unable to open database file")
	checkNoSecret(t, err, dsn)
}

func TestSQLiteCancelled(t *testing.T) {
	path, _ := sqliteDB(t)
	src, err := OpenSQL(SQLOptions{Driver: DriverSQLite, DSN: path, Query: sqliteQuery, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = src.Counts(ctx, testSince)
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "timeout") {
		t.Errorf("error %v: want context.Canceled, not a timeout", err)
	}
}

func TestOpenSQLErrors(t *testing.T) {
	tests := []struct {
		opts SQLOptions
		want string
	}{
		{SQLOptions{Driver: "oracle", DSN: "x", Query: "q"}, `reading reports from sql: unknown driver "oracle": use "mysql", "postgres" or "sqlite"`},
		{SQLOptions{Driver: "pgx", DSN: "x", Query: "q"}, `unknown driver "pgx"`},
		{SQLOptions{Driver: DriverMySQL, Query: "q"}, "reading reports from sql (mysql): the DSN is empty"},
		{SQLOptions{Driver: DriverPostgres, DSN: "postgres://db/x"}, "reading reports from sql (postgres): the query is empty"},
		{SQLOptions{Driver: DriverSQLite, DSN: "/x.db", Query: "SELECT 1, 2"}, "reading reports from sql (sqlite): the query has no ? placeholder for the window start"},
		{SQLOptions{Driver: DriverMySQL, DSN: "/x", Query: "SELECT 1, 2"}, "the query has no ? placeholder"},
		{SQLOptions{Driver: DriverPostgres, DSN: "/x", Query: "SELECT 1, ?"}, "the query has no $1 placeholder"},
		{SQLOptions{Driver: DriverMySQL, DSN: "root:hunter2-secret@tcp(db:3306", Query: "q ?"}, "reading reports from sql (mysql): invalid DSN"},
		{SQLOptions{Driver: DriverPostgres, DSN: "postgres://u:hunter2-secret@db:notaport/x", Query: "q $1"}, "reading reports from sql (postgres): "},
		{SQLOptions{Driver: DriverPostgres, DSN: "host=db password='hunter2-secret' sslmode=bogus", Query: "q $1"}, "reading reports from sql (postgres): "},
	}
	for _, tt := range tests {
		tt.opts.Timeout = 5 * time.Second
		src, err := OpenSQL(tt.opts)
		if err == nil {
			// Some drivers parse the DSN only when connecting.
			_, err = src.Counts(context.Background(), testSince)
			src.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("OpenSQL(%s, %q) error = %v, want %q", tt.opts.Driver, tt.opts.DSN, err, tt.want)
		}
		checkNoSecret(t, err, "hunter2-secret")
		if len(tt.opts.DSN) > 3 {
			checkNoSecret(t, err, tt.opts.DSN)
		}
	}
}

// The config sets the timeout (default 5s); a zero here is a bug in the
// caller, and a query without a deadline could hang the run.
func TestOpenSQLNeedsTimeout(t *testing.T) {
	for _, timeout := range []time.Duration{0, -time.Second} {
		src, err := OpenSQL(SQLOptions{Driver: DriverSQLite, DSN: "/x.db", Query: sqliteQuery, Timeout: timeout})
		if err == nil {
			src.Close()
		}
		checkError(t, err, "reading reports from sql (sqlite): ", "the timeout must be longer than 0")
	}
}

func TestSQLString(t *testing.T) {
	src, err := OpenSQL(SQLOptions{Driver: DriverPostgres, DSN: "postgres://u:hunter2-secret@db/x", Query: "q $1", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got := src.String(); got != "sql (postgres)" {
		t.Errorf("String = %q", got)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		driver, dsn string
		secret      string
	}{
		{DriverMySQL, "root:hunter2-secret@tcp(db:3306)/proxer?parseTime=true", "hunter2-secret"},
		{DriverMySQL, "root:p@ss/w:rd@tcp(db:3306)/proxer", "p@ss/w:rd"},
		{DriverMySQL, "root:hunter2-secret@tcp(db:3306", "hunter2-secret"}, // unparsable
		{DriverPostgres, "postgres://u:hunter2%2Fsecret@db:5432/x?sslmode=disable", "hunter2/secret"},
		{DriverPostgres, "postgres://u:hunter2%2Fsecret@db:5432/x?sslmode=disable", "hunter2%2Fsecret"},
		{DriverPostgres, "postgres://u:hunter2-secret@db:bad/x", "hunter2-secret"},
		{DriverPostgres, "host=db user=u password=hunter2-secret dbname=x", "hunter2-secret"},
		{DriverPostgres, `host=db password='hunter2 s\'ecret' dbname=x`, `hunter2 s'ecret`},
		{DriverPostgres, "postgres://u@db/x?password=hunter2-secret", "hunter2-secret"},
	}
	for _, tt := range tests {
		msg := redact("failed: "+tt.secret+" in "+tt.dsn, dsnSecrets(tt.driver, tt.dsn))
		if strings.Contains(msg, tt.secret) || strings.Contains(msg, tt.dsn) || !strings.HasPrefix(msg, "failed: ") {
			t.Errorf("redact for %s left %q", tt.dsn, msg)
		}
	}
}
