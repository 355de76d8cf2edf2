package state

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"github.com/proxer/cachet-updater/internal/bounded"
	"github.com/proxer/cachet-updater/internal/foreign"
	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/status"
)

// backend is a database the SQL store's tests run against.
type backend struct {
	driver, dsn string // dsn "": not available, the test is skipped
	skip        string
}

// backends returns SQLite (always, in a fresh file), and MariaDB and
// PostgreSQL when their DSNs are set (.ci/run sets them).
func backends(t testing.TB) []backend {
	return []backend{
		{driver: "sqlite", dsn: filepath.Join(t.TempDir(), "state.db")},
		{driver: "mysql", dsn: os.Getenv("CU_TEST_MYSQL_DSN"),
			skip: "set CU_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/cachet_updater_test?parseTime=true&loc=UTC' to run against MariaDB; .ci/run does"},
		{driver: "postgres", dsn: os.Getenv("CU_TEST_POSTGRES_DSN"),
			skip: "set CU_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/cachet_updater_test?sslmode=disable' to run against PostgreSQL; .ci/run does"},
	}
}

// forEachBackend runs fn as a subtest (or sub-benchmark) per backend,
// skipping those not set.
func forEachBackend[T interface {
	testing.TB
	Run(string, func(T)) bool
}](t T, fn func(t T, b backend)) {
	for _, b := range backends(t) {
		t.Run(b.driver, func(t T) {
			if b.dsn == "" {
				t.Skip(b.skip)
			}
			fn(t, b)
		})
	}
}

const testTimeout = 20 * time.Second

// open opens a store on b's database with tables named after prefix ("":
// a fresh one, its tables dropped when the test ends), for vantage. It does
// not prepare.
func (b backend) open(t testing.TB, prefix, vantage string, readOnly bool) *SQL {
	t.Helper()
	fresh := prefix == ""
	if fresh {
		prefix = fmt.Sprintf("cu_t%08x_", rand.Uint32())
	}
	s, err := OpenSQL(context.Background(), SQLOptions{Driver: b.driver, DSN: b.dsn, Timeout: testTimeout, Vantage: vantage, TablePrefix: prefix, ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer s.Close()
		if !fresh {
			return
		}
		for _, name := range []string{"views", "state"} {
			if _, err := s.db.Exec(`DROP TABLE IF EXISTS ` + prefix + name); err != nil {
				t.Errorf("dropping %s%s: %v", prefix, name, err)
			}
		}
	})
	return s
}

// fresh opens a prepared store with tables of its own.
func (b backend) fresh(t testing.TB, vantage string) *SQL {
	t.Helper()
	s := b.open(t, "", vantage, false)
	if err := s.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// exec runs a statement on s's database, with s's table prefix for {p}.
func sqlExec(t testing.TB, s *SQL, query string) {
	t.Helper()
	if _, err := s.db.Exec(strings.ReplaceAll(query, "{p}", s.TablePrefix)); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestSQLPrepare: probers started together all create the tables of an
// empty database; a read-only store (a dry run) creates none.
func TestSQLPrepare(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		first := b.open(t, "", "", false)
		ro := b.open(t, first.TablePrefix, "", true)
		checkError(t, ro.Prepare(ctx), "preparing state database ("+b.driver+"): it has no tables yet: a dry run creates none, a real run does")
		if tables, busy, err := first.Check(ctx); err != nil || tables || busy {
			t.Errorf("Check before = %v, %v, %v; want no tables", tables, busy, err)
		}
		var wg sync.WaitGroup
		for range 4 {
			s := b.open(t, first.TablePrefix, "", false)
			wg.Go(func() {
				if err := s.Prepare(ctx); err != nil {
					t.Errorf("Prepare: %v", err)
				}
			})
		}
		wg.Wait()
		if err := first.Prepare(ctx); err != nil {
			t.Errorf("Prepare again: %v", err)
		}
		if err := ro.Prepare(ctx); err != nil {
			t.Errorf("read-only Prepare after: %v", err)
		}
		if tables, busy, err := first.Check(ctx); err != nil || !tables || busy {
			t.Errorf("Check after = %v, %v, %v", tables, busy, err)
		}
	})
}

// TestSQLPrepareWithoutCreate: once the tables are there, a database user
// without the CREATE privilege runs (the docs' privileges).
func TestSQLPrepareWithoutCreate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.driver == "sqlite" {
			t.Skip("SQLite has no users")
		}
		owner := b.fresh(t, "")
		tables := owner.TablePrefix + "state, " + owner.TablePrefix + "views"
		plain := b
		switch b.driver {
		case "mysql":
			cfg, err := mysql.ParseDSN(b.dsn)
			if err != nil {
				t.Fatal(err)
			}
			sqlExec(t, owner, "CREATE USER IF NOT EXISTS 'cu_plain'@'%'")
			sqlExec(t, owner, "GRANT SELECT, INSERT, UPDATE, DELETE ON "+cfg.DBName+".* TO 'cu_plain'@'%'")
			cfg.User, cfg.Passwd = "cu_plain", ""
			plain.dsn = cfg.FormatDSN()
		case "postgres":
			sqlExec(t, owner, "DO $$BEGIN CREATE ROLE cu_plain LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$")
			sqlExec(t, owner, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
			sqlExec(t, owner, "GRANT USAGE ON SCHEMA public TO cu_plain")
			sqlExec(t, owner, "GRANT SELECT, INSERT, UPDATE, DELETE ON "+tables+" TO cu_plain")
			u, err := url.Parse(b.dsn)
			if err != nil {
				t.Fatal(err)
			}
			u.User = url.User("cu_plain")
			plain.dsn = u.String()
		}
		s := plain.open(t, owner.TablePrefix, "fra1", false)
		if err := s.Prepare(context.Background()); err != nil {
			t.Fatalf("Prepare as a user without CREATE: %v", err)
		}
		if err := s.Save(context.Background(), &State{}); err != nil {
			t.Fatalf("Save as a user without CREATE: %v", err)
		}
	})
}

// TestSQLRoundTrip: what the file store keeps, the database keeps the
// same, and the next Save replaces all of it.
func TestSQLRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, f, ctx := b.fresh(t, "fra1"), newFile(t), context.Background()
		first, err := s.Load(ctx)
		fileFirst, ferr := f.Load(ctx)
		if err != nil || ferr != nil || !reflect.DeepEqual(first, fileFirst) {
			t.Fatalf("first run: Load = %+v, %v; the file's %+v, %v", first, err, fileFirst, ferr)
		}
		want := sample()
		c := want.Component(17, "Ström 4 ✓ '\"; --") // any name, nanoseconds
		c.Record(Decision{At: t0.Add(1234567891), Status: status.Operational}, 0)
		z := want.Component(18, "") // times not known stay not known
		z.Record(Decision{Status: status.PartialOutage}, 0)
		z.Hold, z.Last = &Hold{Status: status.PartialOutage}, status.Operational
		for _, store := range []Store{s, f} {
			if err := store.Save(ctx, want); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Load(ctx)
		fromFile, ferr := f.Load(ctx)
		if err != nil || ferr != nil || !reflect.DeepEqual(got, fromFile) || !reflect.DeepEqual(got, want) {
			t.Errorf("Load after Save: %v, %v\n  sql %+v\n file %+v", err, ferr, got, fromFile)
		}
		want.Prune(func(id int) bool { return id != 14 })
		want.Components[15].Hold, want.TokenProvedAt = nil, time.Time{}
		if err := s.Save(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Load(ctx); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("after the second Save: %+v, %v\nwant %+v", got, err, want)
		}
		var doc string
		if err := s.db.QueryRow(`SELECT document FROM ` + s.TablePrefix + `state`).Scan(&doc); err != nil || !strings.Contains(doc, `"saved_by": "fra1"`) {
			t.Errorf("the row: %s, %v; want the vantage that saved it", doc, err)
		}
		if s.String() != "state database ("+b.driver+")" {
			t.Errorf("String() = %q", s.String())
		}
	})
}

// TestSQLLoadRefuses: a row a person broke, or a newer cachet-updater
// wrote, is named and left as it is; nothing is guessed.
func TestSQLLoadRefuses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.fresh(t, "fra1")
		for doc, want := range map[string]string{
			`{"version": 1, "components": {"14": {"last": 9}}}`: "loading state database (" + b.driver + "): table " + s.TablePrefix + `state: component 14: {"server":"","last":9}: want statuses 1-4 (last: 0-4) and a positive incident id; fix or delete that row`,
			`{"version": 2, "components": []}`:                  "loading state database (" + b.driver + "): table " + s.TablePrefix + "state: format version 2, but this cachet-updater knows only version 1",
		} {
			sqlExec(t, s, `DELETE FROM {p}state`)
			sqlExec(t, s, `INSERT INTO {p}state (id, document) VALUES (1, '`+doc+`')`)
			st, err := s.Load(context.Background())
			checkError(t, err, want)
			if st != nil || strings.Contains(doc, `"version": 2`) != errors.Is(err, ErrNewerVersion) {
				t.Errorf("Load = %+v, %v", st, err)
			}
		}
	})
}

// TestSQLWritesRefused: a bad state is not saved, a read-only store (a dry
// run) writes nothing, and a batch of observations the database refuses
// records none.
func TestSQLWritesRefused(t *testing.T) {
	b := backends(t)[0]
	s := b.fresh(t, "fra1")
	ro := b.open(t, s.TablePrefix, "fra1", true)
	ctx := context.Background()
	checkError(t, s.Save(ctx, &State{Components: map[int]*Component{14: {Last: 7}}}), "saving state database (sqlite): component 14: ", "(not written)")
	checkError(t, ro.Save(ctx, sample()), "saving state database (sqlite): a read-only store (dry run) writes nothing")
	good := Observation{ComponentID: 14, Server: "Stream 1", At: t0, Outcome: "timeout", Status: status.MajorOutage, Detail: "timeout after 10s"}
	checkError(t, ro.Observe(ctx, "fra1", []Observation{good}), "a read-only store (dry run) writes nothing")
	bad := good
	bad.ComponentID, bad.Status = 15, status.Unknown // the table's CHECK refuses it
	checkError(t, s.Observe(ctx, "fra1", []Observation{good, bad}), "recording observations in state database (sqlite): ", "CHECK constraint failed")
	if v, err := s.Vantages(ctx); err != nil || len(v) != 0 {
		t.Errorf("Vantages = %+v, %v; want none", v, err)
	}
	if st, err := s.Load(ctx); err != nil || len(st.Components) != 0 {
		t.Errorf("Load = %+v, %v; want the first run's", st, err)
	}
}

// fleetObservations returns n components' ids and observations at at; every
// 100th is down, shifted by offset.
func fleetObservations(n int, at time.Time, offset int) ([]int, []Observation) {
	ids := make([]int, n)
	obs := make([]Observation, n)
	for i := range n {
		id := i + 1
		st, outcome, detail := status.Operational, "answered", "HTTP 200 in 12ms"
		if (id+offset)%100 == 0 {
			st, outcome, detail = status.MajorOutage, "timeout", "timeout after 10s"
		}
		ids[i] = id
		obs[i] = Observation{ComponentID: id, Server: "server " + string(rune('a'+i%26)), At: at, Outcome: outcome, Status: st, Detail: detail}
	}
	return ids, obs
}

// TestSQLObservations: each vantage's latest view per component, in
// vantage order; times as recorded (in UTC, even one a year ahead: whether
// it counts is quorum's rule), the texts as foreign ones.
func TestSQLObservations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, ctx := b.fresh(t, "fra1"), context.Background()
		kiritimati := time.FixedZone("UTC+14", 14*3600)
		old := []Observation{{ComponentID: 14, At: t0.Add(-time.Hour), Outcome: "timeout", Status: status.MajorOutage}}
		if err := s.Observe(ctx, "fra1", old); err != nil {
			t.Fatal(err)
		}
		long := "x" + strings.Repeat("é", foreign.Max)
		ahead := t0.AddDate(1, 0, 0)
		for _, v := range []struct {
			name string
			at   time.Time
			sts  []status.Status
		}{
			{"fra1", t0.In(kiritimati), []status.Status{status.Operational, status.MajorOutage}}, // replaces its rows of an hour ago
			{"Ams1", t0.Add(-time.Minute), []status.Status{status.PartialOutage, status.Operational, status.Operational}},
			{"nyc1", ahead, []status.Status{status.Operational}},
		} {
			var obs []Observation
			for i, st := range v.sts {
				obs = append(obs, Observation{ComponentID: 14 + i, Server: "s", At: v.at, Outcome: "answered", Status: st, Detail: long})
			}
			if err := b.open(t, s.TablePrefix, v.name, false).Observe(ctx, v.name, obs); err != nil { // as from its own machine
				t.Fatal(err)
			}
		}
		var text string
		if err := s.db.QueryRow(`SELECT observed_at FROM ` + s.TablePrefix + `views WHERE vantage = 'fra1' AND component_id = 14`).Scan(&text); err != nil || text != "2026-11-25 06:35:02.000000" {
			t.Errorf("observed_at reads %q, %v; want UTC", text, err)
		}
		views, err := s.Views(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cut := foreign.Text(long)
		if !utf8.ValidString(cut) || len(cut) > foreign.Max+20 {
			t.Errorf("a long detail reads %q", cut)
		}
		view := func(vantage string, at time.Time, st status.Status) View {
			return View{Vantage: vantage, At: at, Status: st, Outcome: "answered", Detail: cut}
		}
		want := map[int][]View{
			14: {view("Ams1", t0.Add(-time.Minute), status.PartialOutage), view("fra1", t0, status.Operational), view("nyc1", ahead, status.Operational)},
			15: {view("Ams1", t0.Add(-time.Minute), status.Operational), view("fra1", t0, status.MajorOutage)},
			16: {view("Ams1", t0.Add(-time.Minute), status.Operational)},
		}
		if !reflect.DeepEqual(views, want) {
			t.Errorf("Views =\n %+v\nwant\n %+v", views, want)
		}
		vantages, err := s.Vantages(ctx)
		wantV := []VantageInfo{{"Ams1", t0.Add(-time.Minute), 3}, {"fra1", t0, 2}, {"nyc1", ahead, 1}}
		if err != nil || !reflect.DeepEqual(vantages, wantV) {
			t.Errorf("Vantages = %+v, %v; want %+v", vantages, err, wantV)
		}
	})
}

func TestSQLViewsManyComponents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.fresh(t, "fra1")
		ids, obs := fleetObservations(1200, t0, 0)
		if err := s.Observe(context.Background(), "fra1", obs); err != nil {
			t.Fatal(err)
		}
		views, err := s.Views(context.Background())
		if err != nil || len(views) != len(ids) || len(views[1200]) != 1 || views[1200][0].Status != status.MajorOutage {
			t.Errorf("Views of %d components: %d, %v; last %+v", len(ids), len(views), err, views[1200])
		}
	})
}

func TestOpenSQLRefusesBadOptions(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	tests := []struct {
		o    SQLOptions
		want string
	}{
		{SQLOptions{Driver: "oracle", DSN: "x", Timeout: time.Second}, `connecting to state database (oracle): unknown driver: use mysql, postgres or sqlite`},
		{SQLOptions{Driver: "mysql", DSN: "cu:s3cret@nowhere", Timeout: time.Second}, "connecting to state database (mysql): invalid DSN"},
		{SQLOptions{Driver: "sqlite", DSN: ":memory:", Timeout: time.Second}, "connecting to state database (sqlite): the DSN names an in-memory or temporary database, which is gone when the run ends; give the path of a database file"},
		{SQLOptions{Driver: "sqlite", DSN: db, Timeout: time.Second, ReadOnly: true}, "a dry run creates no database file: check the path, or let a real run create it"},
	}
	for _, tc := range tests {
		s, err := OpenSQL(context.Background(), tc.o)
		if err == nil {
			s.Close()
		}
		checkError(t, err, tc.want)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused or read-only open created the database: %v", err)
	}
}

func TestSQLiteDSN(t *testing.T) {
	for _, tc := range []struct {
		in       string
		readOnly bool
		want     string
	}{
		{"/var/lib/cu/state.db", false, "/var/lib/cu/state.db?_busy_timeout=5000&_txlock=immediate"},
		{"/var/lib/cu/my state.db", true, "file:/var/lib/cu/my%20state.db?_busy_timeout=5000&_txlock=immediate&mode=ro"},
		{"file:state.db?mode=rwc", true, "file:state.db?_busy_timeout=5000&_txlock=immediate&mode=ro"},
		{"state.db?_busy_timeout=100", false, "state.db?_busy_timeout=100&_txlock=immediate"},
		{"state.db?_txlock=deferred&_timeout=1", false, "state.db?_timeout=1&_txlock=deferred"},
	} {
		if got := sqliteDSN(tc.in, 5*time.Second, tc.readOnly); got != tc.want {
			t.Errorf("sqliteDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSQLLock: one holder at a time, across stores (as across machines);
// the others get ErrLockBusy after their wait, or the lock as soon as it is
// let go within it. Meanwhile the holder loads and saves and the others
// record their observations as usual.
func TestSQLLock(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		fra := b.fresh(t, "fra1")
		ams := b.open(t, fra.TablePrefix, "ams1", false)
		unlock, err := fra.Lock(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		const wait = 300 * time.Millisecond
		start := time.Now()
		_, err = ams.Lock(ctx, wait)
		checkError(t, err, "taking the decision lock in state database ("+b.driver+"): another run holds the lock (waited 300ms)")
		if waited := time.Since(start); !errors.Is(err, ErrLockBusy) || waited < wait {
			t.Errorf("Lock = %v after %s, want ErrLockBusy after %s", err, waited, wait)
		}
		if _, busy, err := ams.Check(ctx); err != nil || !busy {
			t.Errorf("Check while held = %v, %v; want the lock busy", busy, err)
		}
		_, obs := fleetObservations(10, t0, 0)
		if err := ams.Observe(ctx, "ams1", obs); err != nil {
			t.Errorf("Observe by another vantage while the lock is held: %v", err)
		}
		if err := fra.Save(ctx, sample()); err != nil {
			t.Errorf("Save by the holder: %v", err)
		}
		time.AfterFunc(200*time.Millisecond, unlock)
		again, err := ams.Lock(ctx, testTimeout)
		if err != nil {
			t.Fatalf("Lock while the holder lets go: %v", err)
		}
		unlock() // twice is harmless
		if _, err := ams.Lock(ctx, 0); !errors.Is(err, ErrLockBusy) {
			t.Errorf("a second Lock by the holder's store: %v, want ErrLockBusy", err)
		}
		again()
		if _, busy, err := fra.Check(ctx); err != nil || busy {
			t.Errorf("Check after unlock = %v, %v", busy, err)
		}
		// A canceled context ends the wait.
		unlock, err = fra.Lock(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		if _, err = ams.Lock(cctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Errorf("Lock = %v, want context.Canceled", err)
		}
	})
}

// TestSQLLockReleasedWhenHolderDies: a run killed while holding the lock
// does not keep the others from deciding.
func TestSQLLockReleasedWhenHolderDies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.fresh(t, "fra1")
		kill := holder(t, "sql "+b.driver+" "+s.TablePrefix+" "+b.dsn)
		if _, err := s.Lock(context.Background(), 0); !errors.Is(err, ErrLockBusy) {
			t.Fatalf("Lock while the helper holds it: %v, want ErrLockBusy", err)
		}
		kill()
		unlock, err := s.Lock(context.Background(), testTimeout)
		if err != nil {
			t.Fatalf("Lock after the holder died: %v", err)
		}
		unlock()
	})
}

// TestSQLiteLockKeepsDatabaseFree: the SQLite lock is a file beside the
// database, so a Save by a store that does not hold it commits at once.
func TestSQLiteLockKeepsDatabaseFree(t *testing.T) {
	b := backends(t)[0]
	fra := b.fresh(t, "fra1")
	unlock, err := fra.Lock(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := os.Stat(b.dsn + ".lock"); err != nil {
		t.Errorf("lock file: %v", err)
	}
	ams, err := OpenSQL(context.Background(), SQLOptions{Driver: b.driver, DSN: b.dsn, Timeout: 500 * time.Millisecond, TablePrefix: fra.TablePrefix})
	if err != nil {
		t.Fatal(err)
	}
	defer ams.Close()
	if err := ams.Save(context.Background(), sample()); err != nil {
		t.Errorf("Save while another store holds the lock: %v", err)
	}
}

// TestSQLiteSaveBusy: a Save that cannot get the database within its
// timeout changes nothing and says why.
func TestSQLiteSaveBusy(t *testing.T) {
	b := backends(t)[0]
	direct := b.fresh(t, "fra1")
	before := bigState(10, status.Operational)
	if err := direct.Save(context.Background(), before); err != nil {
		t.Fatal(err)
	}
	tx, err := direct.db.Begin() // immediate: it holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenSQL(context.Background(), SQLOptions{Driver: b.driver, DSN: b.dsn, Timeout: 300 * time.Millisecond, TablePrefix: direct.TablePrefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkError(t, s.Save(context.Background(), bigState(20, status.MajorOutage)), "saving state database (sqlite): ", "(the previous state is unchanged)")
	tx.Rollback()
	if after, err := direct.Load(context.Background()); err != nil || !reflect.DeepEqual(after, before) {
		t.Errorf("after the failed Save: %d components, %v; want the previous %d", len(after.Components), err, len(before.Components))
	}
}

func checkNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}

// TestSQLDatabaseDown: a database that does not answer is a clear error
// naming the driver, without the DSN or its password.
func TestSQLDatabaseDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String() // nothing listens there once closed
	l.Close()
	for driver, dsn := range map[string]string{
		"mysql":    "cu:s3cret-pw@tcp(" + addr + ")/cachet?parseTime=true",
		"postgres": "postgres://cu:s3cret-pw@" + addr + "/cachet?sslmode=disable&connect_timeout=5",
		"sqlite":   filepath.Join(t.TempDir(), "no", "such", "dir", "state.db"),
	} {
		_, err := OpenSQL(context.Background(), SQLOptions{Driver: driver, DSN: dsn, Timeout: testTimeout})
		hint := "check that the " + driver + " database is running and reachable, and the DSN"
		if driver == "sqlite" {
			hint = "unable to open database file (14); check that the database file's directory exists and that this user may write there"
		}
		checkError(t, err, "connecting to state database ("+driver+"): ", hint)
		checkNoSecret(t, err, dsn, "s3cret-pw")
	}
}

// proxy forwards loopback connections to a database, and fails in one of
// two ways. cutAfter: once armed, having forwarded that many bytes from the
// clients it closes every connection and refuses new ones (the database
// goes away mid-statement). holdCommit: once a client sent COMMIT it holds
// the database's answers back and closes the connection after holdCommit
// (the commit lands, its answer never arrives).
type proxy struct {
	l          net.Listener
	upstream   string
	cutAfter   int64
	holdCommit time.Duration
	armed      atomic.Bool
	sent       atomic.Int64
	mu         sync.Mutex
	conns      []net.Conn
}

// viaProxy returns b's DSN pointed at a proxy p to the database.
func viaProxy(t *testing.T, b backend, p *proxy) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.l = l
	t.Cleanup(p.close)
	var dsn string
	if b.driver == "mysql" {
		cfg, err := mysql.ParseDSN(b.dsn)
		if err != nil {
			t.Fatal(err)
		}
		p.upstream, cfg.Addr = cfg.Addr, l.Addr().String()
		dsn = cfg.FormatDSN()
	} else {
		u, err := url.Parse(b.dsn)
		if err != nil {
			t.Fatal(err)
		}
		p.upstream, u.Host = u.Host, l.Addr().String()
		dsn = u.String()
	}
	go p.serve()
	return dsn
}

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		var committed atomic.Bool
		go p.pipe(up, c, true, &committed)
		go p.pipe(c, up, false, &committed)
	}
}

func (p *proxy) pipe(dst, src net.Conn, fromClient bool, committed *atomic.Bool) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && fromClient && p.cutAfter > 0 && p.armed.Load() && p.sent.Add(int64(n)) > p.cutAfter {
			p.close()
			return
		}
		if n > 0 && fromClient && p.holdCommit > 0 && strings.Contains(strings.ToLower(string(buf[:n])), "commit") && !committed.Swap(true) {
			time.AfterFunc(p.holdCommit, func() { src.Close(); dst.Close() })
		}
		if n > 0 && (fromClient || !committed.Load()) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.l.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// bigState is a state large enough that saving it takes many packets.
func bigState(n int, st status.Status) *State {
	s := &State{TokenProvedAt: t0}
	for id := 1; id <= n; id++ {
		c := s.Component(id, fmt.Sprintf("server %d", id))
		c.Record(Decision{At: t0.Add(-3 * time.Minute), Status: st}, 0)
		c.Record(Decision{At: t0, Status: st}, 0)
		c.Last, c.LastAt = st, t0
	}
	return s
}

// TestSQLSaveWithoutAnswer: the database goes away in the middle of a
// Save: the error says so and the previous state is whole. Or the database
// commits a Save but its answer never comes back within the timeout: Save
// must not say the previous state is unchanged, but that it may have been
// saved.
func TestSQLSaveWithoutAnswer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.driver == "sqlite" {
			t.Skip("a file does not go away, and answers its commit; TestSQLiteSaveBusy covers a Save that cannot finish")
		}
		direct := b.fresh(t, "fra1")
		before := bigState(2000, status.Operational)
		if err := direct.Save(context.Background(), before); err != nil {
			t.Fatal(err)
		}
		open := func(p *proxy, timeout time.Duration) (*SQL, string) {
			dsn := viaProxy(t, b, p)
			s, err := OpenSQL(context.Background(), SQLOptions{Driver: b.driver, DSN: dsn, Timeout: timeout, TablePrefix: direct.TablePrefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s, dsn
		}

		cut := &proxy{cutAfter: 64 << 10}
		s, dsn := open(cut, testTimeout)
		cut.armed.Store(true)
		err := s.Save(context.Background(), bigState(3000, status.MajorOutage))
		checkError(t, err, "saving state database ("+b.driver+"): ", "(the previous state is unchanged)")
		checkNoSecret(t, err, dsn)
		if cut.sent.Load() <= cut.cutAfter {
			t.Fatalf("the proxy forwarded only %d bytes: Save did not reach the cut", cut.sent.Load())
		}
		if after, err := direct.Load(context.Background()); err != nil || !reflect.DeepEqual(after, before) {
			t.Errorf("after the broken Save: %d components, %v; want the previous %d", len(after.Components), err, len(before.Components))
		}

		s, dsn = open(&proxy{holdCommit: 3 * time.Second}, time.Second)
		want := bigState(5, status.MajorOutage)
		err = s.Save(context.Background(), want)
		got, lerr := direct.Load(context.Background())
		if lerr != nil || len(got.Components) != len(want.Components) {
			t.Fatalf("the commit did not land (%v): the proxy did not hold its answer back; Save said %v", lerr, err)
		}
		if err != nil && (!errors.Is(err, bounded.ErrInDoubt) || strings.Contains(err.Error(), "unchanged") || !strings.Contains(err.Error(), "may have been saved")) {
			t.Errorf("the state was saved, but Save says: %v", err)
		}
		checkNoSecret(t, err, dsn)
	})
}

// BenchmarkDecisionRound is one round of a three-prober fleet of 1,000
// servers: each vantage records its observations, then the deciding run
// reads every component's views and applies the quorum to each.
func BenchmarkDecisionRound(b *testing.B) {
	forEachBackend(b, func(b *testing.B, be backend) {
		ctx, at := context.Background(), time.Now()
		fra := be.fresh(b, "fra1")
		stores := map[string]*SQL{"fra1": fra, "ams1": be.open(b, fra.TablePrefix, "ams1", false), "nyc1": be.open(b, fra.TablePrefix, "nyc1", false)}
		var ids []int
		obs := map[string][]Observation{}
		for i, name := range []string{"fra1", "ams1", "nyc1"} {
			ids, obs[name] = fleetObservations(1000, at, i)
		}
		for b.Loop() {
			for name, s := range stores {
				if err := s.Observe(ctx, name, obs[name]); err != nil {
					b.Fatal(err)
				}
			}
			views, err := fra.Views(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for _, id := range ids { // every 100th is down at one vantage only, shifted per vantage
				if st, _, ok := quorum.Decide(views[id], 2, 10*time.Minute, at); !ok || st == status.MajorOutage {
					b.Fatalf("component %d: %s, %v by quorum", id, st, ok)
				}
			}
		}
	})
}

// BenchmarkSQL saves, loads and locks the state of a 10,000-server fleet
// (two decisions each), as a run does once each.
func BenchmarkSQL(b *testing.B) {
	forEachBackend(b, func(b *testing.B, be backend) {
		s, st, ctx := be.fresh(b, "fra1"), fleetState(10000, 2), context.Background()
		b.Run("Save10000", func(b *testing.B) {
			for b.Loop() {
				if err := s.Save(ctx, st); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Load10000", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Load(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Lock", func(b *testing.B) {
			for b.Loop() {
				unlock, err := s.Lock(ctx, time.Second)
				if err != nil {
					b.Fatal(err)
				}
				unlock()
			}
		})
	})
}
