package cli

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// setSource replaces the fixture's file source with the given keys of
// reports.source and returns the new config text.
func (f *fixture) setSource(keys string) string {
	f.t.Helper()
	cfg, err := os.ReadFile(f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	text := strings.Replace(string(cfg), "    type: file\n    path: reports.json\n    max_age: 0s", keys, 1)
	if text == string(cfg) {
		f.t.Fatal("the fixture config changed shape")
	}
	if err := os.WriteFile(f.cfg, []byte(text), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return text
}

// TestRunWithSQLiteSource runs the job with report counts from a real
// SQLite database and checks that the output says where they came from.
func TestRunWithSQLiteSource(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	dbPath := filepath.Join(f.dir, "reports.db")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE stream_reports (server TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT (datetime('now')))`); err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().Add(-3 * time.Hour).Format("2006-01-02 15:04:05")
	for i := 0; i < 25; i++ {
		if _, err := db.Exec(`INSERT INTO stream_reports (server) VALUES ('s2')`); err != nil {
			t.Fatal(err)
		}
		// Outside the 2h window: must not count.
		if _, err := db.Exec(`INSERT INTO stream_reports (server, created_at) VALUES ('s1', ?)`, old); err != nil {
			t.Fatal(err)
		}
	}
	text := f.setSource(`    type: sql
    driver: sqlite
    dsn: reports.db
    query: SELECT server, COUNT(*) FROM stream_reports WHERE created_at >= ? GROUP BY server
    timeout: 5s`)
	r := f.run(context.Background(), "run", "--dry-run", "--only", "Stream 1", "--only", "Stream 2")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, s := range []string{`25 (key "s2", from sql (sqlite))`, `0 (key "s1", from sql (sqlite))`, "25 reports ≥ 20 → partial_outage"} {
		if !strings.Contains(r.out, s) {
			t.Errorf("output lacks %q:\n%s", s, r.out)
		}
	}

	// A broken query: decided from the probes alone, exit 1, nothing down
	// because of it.
	if err := os.WriteFile(f.cfg, []byte(strings.Replace(text, "FROM stream_reports", "FROM no_such_table", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	r = f.run(context.Background(), "run")
	if r.code != ExitFailed || !strings.Contains(r.out, "sql (sqlite)") {
		t.Fatalf("broken query: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if f.status(2) != 1 || f.status(3) != 4 {
		t.Errorf("statuses: 2=%d 3=%d", f.status(2), f.status(3))
	}
}

// TestRunDSNNeverShown points a MySQL source at a closed loopback port with a
// password in the DSN: the run goes on from the probes, exits 1, names the
// driver, and never prints the password.
func TestRunDSNNeverShown(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	f.setSource(`    type: sql
    driver: mysql
    dsn_env: TEST_REPORTS_DSN
    query: SELECT server, COUNT(*) FROM stream_reports WHERE created_at >= ? GROUP BY server
    timeout: 2s`)
	const password = "hunter2-very-secret"
	var out, errb strings.Builder
	env := Env{Out: &out, Err: &errb, Now: time.Now, IsTerminal: func(io.Writer) bool { return false }, Version: "test",
		Getenv: func(k string) string {
			switch k {
			case "TEST_CACHET_TOKEN":
				return testToken
			case "TEST_REPORTS_DSN":
				return "reporter:" + password + "@tcp(127.0.0.1:1)/proxer?parseTime=true&loc=UTC"
			}
			return ""
		}}
	code := Execute([]string{"run", "--config", f.cfg, "--log-level", "debug"}, env)
	all := out.String() + errb.String()
	if code != ExitFailed || !strings.Contains(all, "sql (mysql)") {
		t.Fatalf("exit %d\n%s", code, all)
	}
	if strings.Contains(all, password) {
		t.Fatalf("the DSN password leaked:\n%s", all)
	}
	if f.status(3) != 4 {
		t.Error("the run must go on from the probes")
	}
}
