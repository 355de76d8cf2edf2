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
			src := &SQL{Driver: driver, DSN: dsn, Query: strings.ReplaceAll(tc.query, "{table}", table), Timeout: 10 * time.Second}
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
	_, err := sqlCounts(context.Background(), DriverSQLite, dsn, sqliteQuery, 5*time.Second)
	checkError(t, err, "reading reports from sql (sqlite): ", "unable to open database file")
	checkNoSecret(t, err, dsn)
}

func TestSQLiteCancelled(t *testing.T) {
	path, _ := sqliteDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := sqlCounts(ctx, DriverSQLite, path, sqliteQuery, 5*time.Second)
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "timeout") {
		t.Errorf("error %v: want context.Canceled, not a timeout", err)
	}
}

// sqlCounts runs query once through an SQL source.
func sqlCounts(ctx context.Context, driver, dsn, query string, timeout time.Duration) (map[string]int, error) {
	return (&SQL{Driver: driver, DSN: dsn, Query: query, Timeout: timeout}).Counts(ctx, testSince)
}

// checkTimeout runs a query that sleeps 3s with a timeout of 500ms.
func checkTimeout(t *testing.T, driver, dsn, query string) {
	t.Helper()
	start := time.Now()
	_, err := sqlCounts(context.Background(), driver, dsn, query, 500*time.Millisecond)
	if elapsed := time.Since(start); elapsed > 2500*time.Millisecond {
		t.Errorf("Counts took %s with a 500ms timeout", elapsed)
	}
	checkError(t, err, "reading reports from sql ("+driver+"): ", "the query ran past the timeout of 500ms")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not match context.DeadlineExceeded", err)
	}
}

func TestSQLErrors(t *testing.T) {
	tests := []struct {
		src  SQL
		want string
	}{
		{SQL{Driver: "oracle", DSN: "/x.db", Query: "q"}, `reading reports from sql (oracle): unknown driver "oracle": use "mysql", "postgres" or "sqlite"`},
		{SQL{Driver: "pgx", DSN: "/x.db", Query: "q"}, `unknown driver "pgx"`},
		{SQL{Driver: DriverMySQL, Query: "q"}, "reading reports from sql (mysql): the DSN is empty"},
		{SQL{Driver: DriverPostgres, DSN: "postgres://db/x"}, "reading reports from sql (postgres): the query has no $1 placeholder"},
		{SQL{Driver: DriverSQLite, DSN: "/x.db", Query: "SELECT 1, 2"}, "reading reports from sql (sqlite): the query has no ? placeholder for the window start"},
		{SQL{Driver: DriverMySQL, DSN: "/x", Query: "SELECT 1, 2"}, "the query has no ? placeholder"},
		{SQL{Driver: DriverPostgres, DSN: "/x", Query: "SELECT 1, ?"}, "the query has no $1 placeholder"},
		{SQL{Driver: DriverMySQL, DSN: "root:hunter2-secret@tcp(db:3306", Query: "q ?"}, "reading reports from sql (mysql): invalid DSN"},
		{SQL{Driver: DriverPostgres, DSN: "postgres://u:hunter2-secret@db:notaport/x", Query: "q $1"}, "reading reports from sql (postgres): "},
		{SQL{Driver: DriverPostgres, DSN: "host=db password='hunter2-secret' sslmode=bogus", Query: "q $1"}, "reading reports from sql (postgres): "},
		// The config refuses a zero timeout: the query ends at once, and says so.
		{SQL{Driver: DriverSQLite, DSN: "/x.db", Query: sqliteQuery}, "reading reports from sql (sqlite): the query ran past the timeout of 0s"},
	}
	for _, tt := range tests {
		if tt.src.Timeout == 0 && tt.src.Query != sqliteQuery {
			tt.src.Timeout = 5 * time.Second
		}
		_, err := tt.src.Counts(context.Background(), testSince)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s, %q: error = %v, want %q", tt.src.Driver, tt.src.DSN, err, tt.want)
		}
		checkNoSecret(t, err, "hunter2-secret")
		if len(tt.src.DSN) > 3 {
			checkNoSecret(t, err, tt.src.DSN)
		}
	}
	if got := (&SQL{Driver: DriverPostgres, DSN: "postgres://u:hunter2-secret@db/x"}).String(); got != "sql (postgres)" {
		t.Errorf("String = %q", got)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		dsn, secret string
	}{
		{"root:hunter2-secret@tcp(db:3306)/proxer?parseTime=true", "hunter2-secret"},
		{"root:p@ss/w:rd@tcp(db:3306)/proxer", "p@ss/w:rd"},
		{"root:hunter2-secret@tcp(db:3306", "hunter2-secret"}, // unparsable
		{"postgres://u:hunter2%2Fsecret@db:5432/x?sslmode=disable", "hunter2/secret"},
		{"postgres://u:hunter2%2Fsecret@db:5432/x?sslmode=disable", "hunter2%2Fsecret"},
		{"postgres://u:hunter2-secret@db:bad/x", "hunter2-secret"},
		{"host=db user=u password=hunter2-secret dbname=x", "hunter2-secret"},
		{`host=db password='hunter2 s\'ecret' dbname=x`, `hunter2 s'ecret`},
		{"postgres://u@db/x?password=hunter2-secret", "hunter2-secret"},
		{"postgres://u:hunter2-secret@db", "hunter2-secret"}, // no path
	}
	for _, tt := range tests {
		msg := Redactor(tt.dsn)("failed: " + tt.secret + " in " + tt.dsn)
		if strings.Contains(msg, tt.secret) || strings.Contains(msg, tt.dsn) || !strings.HasPrefix(msg, "failed: ") {
			t.Errorf("redact for %s left %q", tt.dsn, msg)
		}
	}
}
