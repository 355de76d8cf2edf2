package reports

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // for Pacific/Kiritimati on machines without a zone database

	"github.com/go-sql-driver/mysql"
)

// mysqlTable returns the test DSN and a fresh table stream_reports-like table
// with a DATETIME and a TIMESTAMP column, dropped when the test ends.
func mysqlTable(t *testing.T) (dsn, table string, db *sql.DB) {
	t.Helper()
	dsn = os.Getenv("CU_TEST_MYSQL_DSN")
	if dsn == "" {
		t.Skip("set CU_TEST_MYSQL_DSN=root@tcp(127.0.0.1:3306)/test?parseTime=true&loc=UTC to run against MariaDB; .ci/run does")
	}
	// The admin handle writes in a UTC session, whatever the server's zone.
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Loc = time.UTC
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	db, err = sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	table = tableName()
	exec(t, db, `CREATE TABLE `+table+` (
		server     VARCHAR(64) NULL,
		created_at DATETIME    NOT NULL,
		created_ts TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP
	)`)
	t.Cleanup(func() { exec(t, db, `DROP TABLE `+table) })
	return dsn, table, db
}

// withMySQLParams returns dsn with loc and session variables changed.
func withMySQLParams(t *testing.T, dsn string, loc *time.Location, params map[string]string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Loc = loc
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	for k, v := range params {
		cfg.Params[k] = v
	}
	return cfg.FormatDSN()
}

func TestMySQLWindow(t *testing.T) {
	dsn, table, db := mysqlTable(t)
	at := func(d time.Duration) string { return testSince.Add(d).UTC().Format("2006-01-02 15:04:05") }
	exec(t, db, `INSERT INTO `+table+` (server, created_at, created_ts) VALUES
		('s14', ?, ?), ('s15', ?, ?), ('s14', ?, ?)`,
		at(0), at(0), at(-time.Second), at(-time.Second), at(time.Hour), at(time.Hour))

	kiritimati, err := time.LoadLocation("Pacific/Kiritimati") // UTC+14
	if err != nil {
		t.Fatal(err)
	}
	utcSession := map[string]string{"time_zone": "'+00:00'"}
	datetimeQuery := `SELECT server, COUNT(*) FROM {table} WHERE created_at >= ? GROUP BY server`
	timestampQuery := `SELECT server, COUNT(*) FROM {table} WHERE created_ts >= ? GROUP BY server`
	runSQLCases(t, DriverMySQL, withMySQLParams(t, dsn, time.UTC, nil), table, []sqlCase{
		{name: "DATETIME edge with loc=UTC", query: datetimeQuery, since: testSince, want: map[string]int{"s14": 2}},
		{name: "DATETIME one second earlier", query: datetimeQuery, since: testSince.Add(-time.Second), want: map[string]int{"s14": 2, "s15": 1}},
		{name: "since given in another zone", query: datetimeQuery, since: testSince.In(kiritimati), want: map[string]int{"s14": 2}},
		{name: "empty window", query: datetimeQuery, since: testNow.Add(time.Hour), want: map[string]int{}},
	})
	// loc other than the zone the DATETIME column is written in moves the
	// window: here by 14 hours, so nothing is in it.
	runSQLCases(t, DriverMySQL, withMySQLParams(t, dsn, kiritimati, nil), table, []sqlCase{
		{name: "DATETIME with the wrong loc", query: datetimeQuery, since: testSince, want: map[string]int{}},
	})
	// TIMESTAMP goes through the session time_zone, which the DSN sets.
	runSQLCases(t, DriverMySQL, withMySQLParams(t, dsn, time.UTC, utcSession), table, []sqlCase{
		{name: "TIMESTAMP edge with time_zone +00:00", query: timestampQuery, since: testSince, want: map[string]int{"s14": 2}},
	})
	runSQLCases(t, DriverMySQL, withMySQLParams(t, dsn, time.UTC, map[string]string{"time_zone": "'+13:00'"}), table, []sqlCase{
		{name: "TIMESTAMP with the wrong time_zone", query: timestampQuery, since: testSince, want: map[string]int{"s14": 2, "s15": 1}},
	})
}

// The README's MySQL query bounds the window above by the database's clock.
func TestMySQLFutureRowsBound(t *testing.T) {
	dsn, table, db := mysqlTable(t)
	exec(t, db, `INSERT INTO `+table+` (server, created_at) VALUES
		('s14', UTC_TIMESTAMP()), ('s14', '2099-01-01 00:00:00'), ('s15', UTC_TIMESTAMP() + INTERVAL 4 MINUTE)`)
	query := `SELECT server, COUNT(*) FROM {table}
		WHERE created_at >= ? AND created_at <= UTC_TIMESTAMP() + INTERVAL 5 MINUTE
		GROUP BY server`
	runSQLCases(t, DriverMySQL, withMySQLParams(t, dsn, time.UTC, nil), table, []sqlCase{
		{name: "bounded", query: query, since: time.Now().Add(-2 * time.Hour), want: map[string]int{"s14": 1, "s15": 1}},
	})
}

func TestMySQLShapes(t *testing.T) {
	dsn, table, db := mysqlTable(t)
	exec(t, db, `INSERT INTO `+table+` (server, created_at) VALUES ('s14', ?), ('s14', ?), (NULL, ?)`,
		"2026-11-25 05:00:00", "2026-11-25 05:00:01", "2026-11-25 05:00:02")
	runSQLCases(t, DriverMySQL, dsn, table, []sqlCase{
		{name: "no rows for a server", query: `SELECT server, COUNT(*) FROM {table} WHERE created_at >= ? AND server IS NOT NULL GROUP BY server`,
			since: testSince, want: map[string]int{"s14": 2}},
		{name: "SUM is a DECIMAL", query: `SELECT server, SUM(1) FROM {table} WHERE created_at >= ? AND server IS NOT NULL GROUP BY server`,
			since: testSince, want: map[string]int{"s14": 2}},
		{name: "duplicate keys are summed", query: `SELECT server, 1 FROM {table} WHERE created_at >= ? AND server IS NOT NULL`,
			since: testSince, want: map[string]int{"s14": 2}},
		{name: "3 columns", query: `SELECT server, COUNT(*), MAX(created_at) FROM {table} WHERE created_at >= ? GROUP BY server`,
			wantErr: "query must return 2 columns (key, count), got 3: [server COUNT(*) MAX(created_at)]"},
		{name: "NULL key", query: `SELECT server, COUNT(*) FROM {table} WHERE created_at >= ? GROUP BY server ORDER BY server IS NULL`,
			wantErr: "row 2: key is NULL"},
		{name: "fractional count", query: `SELECT server, 2.5 FROM {table} WHERE created_at >= ? AND server IS NOT NULL`,
			wantErr: `row 1: count "2.5" for key "s14" is not a whole number`},
		{name: "text count", query: `SELECT server, 'abc' FROM {table} WHERE created_at >= ? AND server IS NOT NULL`,
			wantErr: `row 1: count "abc" for key "s14" is not a whole number`},
		{name: "negative count", query: `SELECT server, -COUNT(*) FROM {table} WHERE created_at >= ? AND server IS NOT NULL GROUP BY server`,
			wantErr: `row 1: count "-2" for key "s14" is negative`},
		{name: "unknown table", query: `SELECT server, COUNT(*) FROM nope_` + table + ` WHERE created_at >= ? GROUP BY server`,
			wantErr: "nope_" + table + "' doesn't exist"},
	})
}

func TestMySQLTimeout(t *testing.T) {
	dsn, _, _ := mysqlTable(t)
	checkTimeout(t, DriverMySQL, dsn, `SELECT 's14', SLEEP(3) FROM DUAL WHERE ? IS NOT NULL`)
}

func TestMySQLConnectErrors(t *testing.T) {
	dsn := os.Getenv("CU_TEST_MYSQL_DSN")
	if dsn == "" {
		t.Skip("set CU_TEST_MYSQL_DSN=root@tcp(127.0.0.1:3306)/test?parseTime=true&loc=UTC to run against MariaDB; .ci/run does")
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = "root", "hunter2-secret"
	wrongPassword := cfg.FormatDSN()
	cfg.Addr = "127.0.0.1:1" // nothing listens on port 1
	down := cfg.FormatDSN()
	for _, tt := range []struct {
		name, dsn, want string
	}{
		{"database down", down, "connection refused"},
		{"wrong password", wrongPassword, "Access denied for user 'root'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sqlCounts(context.Background(), DriverMySQL, tt.dsn, "SELECT 's14', 1 FROM DUAL WHERE ? IS NOT NULL", 5*time.Second)
			checkError(t, err, "reading reports from sql (mysql): ", tt.want)
			checkNoSecret(t, err, "hunter2-secret", tt.dsn)
			if strings.Contains(err.Error(), "127.0.0.1:1)") {
				t.Errorf("error %q quotes the DSN", err)
			}
		})
	}
}
