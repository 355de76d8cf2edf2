package state

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// backend is a database the SQL store's tests run against.
type backend struct {
	driver string
	dsn    string // "" when not available: the test is skipped
	skip   string
}

// backends returns SQLite (always, in a fresh file) and MariaDB and
// PostgreSQL when their DSNs are set (.ci/run sets them).
func backends(t testing.TB) []backend {
	return []backend{
		{driver: DriverSQLite, dsn: filepath.Join(t.TempDir(), "state.db")},
		{driver: DriverMySQL, dsn: os.Getenv("CU_TEST_MYSQL_DSN"),
			skip: "set CU_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/cachet_updater_test?parseTime=true&loc=UTC' to run against MariaDB; .ci/run does"},
		{driver: DriverPostgres, dsn: os.Getenv("CU_TEST_POSTGRES_DSN"),
			skip: "set CU_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/cachet_updater_test?sslmode=disable' to run against PostgreSQL; .ci/run does"},
	}
}

// forEachBackend runs fn as a subtest per backend, skipping those not set.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends(t) {
		t.Run(b.driver, func(t *testing.T) {
			if b.dsn == "" {
				t.Skip(b.skip)
			}
			fn(t, b)
		})
	}
}

// freshPrefix returns a table prefix no other test or CI run uses.
func freshPrefix() string { return fmt.Sprintf("cu_t%08x_", rand.Uint32()) }

const testTimeout = 20 * time.Second

// open opens a store on b's database with prefix, for vantage, and closes
// it when the test ends. It does not migrate.
func (b backend) open(t testing.TB, prefix, vantage string) *SQL {
	t.Helper()
	s, err := OpenSQL(context.Background(), SQLOptions{Driver: b.driver, DSN: b.dsn, Timeout: testTimeout, Vantage: vantage, TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fresh opens a migrated store with tables of its own, dropped when the test
// ends.
func (b backend) fresh(t testing.TB, vantage string) *SQL {
	t.Helper()
	s := b.open(t, freshPrefix(), vantage)
	t.Cleanup(func() { dropTables(t, s) })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func dropTables(t testing.TB, s *SQL) {
	t.Helper()
	for _, name := range []string{"observations", "decisions", "components", "meta", "schema"} {
		if _, err := s.db.Exec(`DROP TABLE IF EXISTS ` + s.table(name)); err != nil {
			t.Errorf("dropping %s: %v", s.table(name), err)
		}
	}
}

// sqlExec runs a statement written with ? placeholders on s's database.
func sqlExec(t testing.TB, s *SQL, query string, args ...any) {
	t.Helper()
	if _, err := s.db.Exec(s.q(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func checkError(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func checkNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}
