package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

func TestSQLMigrateTwice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.fresh(t, "fra1") // migrated once
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		v, err := s.SchemaVersion(context.Background())
		if err != nil || v != SchemaVersion {
			t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, SchemaVersion)
		}
		var rows int
		if err := s.db.QueryRow(`SELECT COUNT(*) FROM ` + s.table("schema")).Scan(&rows); err != nil || rows != SchemaVersion {
			t.Errorf("%s has %d rows (%v), want one per version", s.table("schema"), rows, err)
		}
		h, err := s.Check(context.Background())
		if err != nil || h != (Health{Schema: SchemaVersion}) {
			t.Errorf("Check = %+v, %v", h, err)
		}
	})
}

// TestSQLMigrateConcurrently: probers started together all migrate the same
// empty database.
func TestSQLMigrateConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		prefix := freshPrefix()
		stores := make([]*SQL, 4)
		for i := range stores {
			stores[i] = b.open(t, prefix, "")
		}
		t.Cleanup(func() { dropTables(t, stores[0]) })
		if v, err := stores[0].SchemaVersion(context.Background()); err != nil || v != 0 {
			t.Fatalf("before: SchemaVersion = %d, %v; want 0", v, err)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(stores))
		for i, s := range stores {
			wg.Go(func() { errs[i] = s.Migrate(context.Background()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate %d: %v", i, err)
			}
		}
		var rows int
		if err := stores[0].db.QueryRow(`SELECT COUNT(*) FROM ` + stores[0].table("schema")).Scan(&rows); err != nil || rows != 1 {
			t.Errorf("%d schema rows (%v), want 1", rows, err)
		}
	})
}

func TestSQLNewerSchemaRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.fresh(t, "fra1")
		sqlExec(t, s, `INSERT INTO `+s.table("schema")+` (version, migrated_at, note) VALUES (?, ?, ?)`, SchemaVersion+1, s.timeArg(t0), "from the future")
		err := s.Migrate(context.Background())
		checkError(t, err, "state database ("+b.driver+") has schema version 2, but this cachet-updater knows only version 1",
			"upgrade cachet-updater")
		if !errors.Is(err, ErrNewerSchema) {
			t.Errorf("errors.Is(%v, ErrNewerSchema) = false", err)
		}
		h, err := s.Check(context.Background())
		if !errors.Is(err, ErrNewerSchema) || h.Schema != 2 {
			t.Errorf("Check = %+v, %v; want schema 2 and ErrNewerSchema", h, err)
		}
	})
}

// TestSQLRoundTrip: what the file store keeps, the database keeps the same.
func TestSQLRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.fresh(t, "fra1")
		f := newFile(t)
		ctx := context.Background()

		first, err := s.Load(ctx)
		fileFirst, ferr := f.Load(ctx)
		if err != nil || ferr != nil || !reflect.DeepEqual(first, fileFirst) {
			t.Fatalf("first run: Load = %+v, %v; the file's %+v, %v", first, err, fileFirst, ferr)
		}

		want := sample()
		c := want.Component(17, "Ström 4 ✓") // microseconds survive; any name
		c.Record(Decision{At: t0.Add(1234567 * time.Microsecond), Status: status.Operational}, 0)
		z := want.Component(18, "") // times not known stay not known
		z.Record(Decision{Status: status.PartialOutage}, 0)
		z.Hold = &Hold{Status: status.PartialOutage}
		z.Last = status.Operational
		for _, store := range []Store{s, f} {
			if err := store.Save(ctx, want); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fromFile, err := f.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, fromFile) || !reflect.DeepEqual(got, want) {
			t.Errorf("Load after Save:\n  sql %s\n file %s\n want %s", dump(got), dump(fromFile), dump(want))
		}

		// The next Save replaces everything: pruned components, a cleared
		// hold and token time are gone.
		want.Prune(func(id int) bool { return id != 14 })
		want.Components[15].Hold = nil
		want.TokenProvedAt = time.Time{}
		if err := s.Save(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Load(ctx); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("after the second Save: %s, %v\nwant %s", dump(got), err, dump(want))
		}
		if s.String() != "state database ("+b.driver+")" {
			t.Errorf("String() = %q", s.String())
		}
	})
}

// dump shows a state with its components, not their addresses.
func dump(st *State) string {
	if st == nil {
		return "<nil>"
	}
	out := "token " + st.TokenProvedAt.String() + ";"
	for id, c := range st.Components {
		out += " " + reflect.ValueOf(id).String() + ":" + c.Server
		for _, d := range c.History {
			out += " " + d.At.String() + "=" + d.Status.String()
		}
		if c.Hold != nil {
			out += " hold " + c.Hold.Status.String() + " since " + c.Hold.Since.String()
		}
		if c.Incident != nil {
			out += fmt.Sprintf(" incident %d at %s", c.Incident.ID, c.Incident.Status)
		}
		out += " last " + c.Last.String() + " at " + c.LastAt.String() + ";"
	}
	return out
}

// TestSQLTimesAreUTC: a person reading the tables sees UTC, whatever the
// DSN's time zone.
func TestSQLTimesAreUTC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.driver == DriverMySQL {
			b.dsn = withMySQLLoc(t, b.dsn, "Pacific/Kiritimati")
		}
		s := b.fresh(t, "fra1")
		kiritimati := time.FixedZone("UTC+14", 14*3600)
		st := &State{}
		st.Component(14, "Stream 1").Record(Decision{At: t0.In(kiritimati), Status: status.MajorOutage}, 0)
		if err := s.Save(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		text := map[string]string{
			DriverMySQL:    `SELECT CAST(decided_at AS CHAR) FROM ` + s.table("decisions"),
			DriverPostgres: `SELECT to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM ` + s.table("decisions"),
			DriverSQLite:   `SELECT decided_at FROM ` + s.table("decisions"),
		}[b.driver]
		var got string
		if err := s.db.QueryRow(text).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := "2026-11-25 06:35:02.000000"; got != want {
			t.Errorf("decided_at reads %q, want %q (UTC)", got, want)
		}
		loaded, err := s.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if at := loaded.Components[14].History[0].At; !at.Equal(t0) || at.Location() != time.UTC {
			t.Errorf("loaded %s, want %s in UTC", at, t0)
		}
	})
}

// TestSQLLoadBadRow: rows a person broke are named, and nothing is guessed.
func TestSQLLoadBadRow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.fresh(t, "fra1")
		if err := s.Save(context.Background(), sample()); err != nil {
			t.Fatal(err)
		}
		sqlExec(t, s, `INSERT INTO `+s.table("decisions")+` (component_id, seq, decided_at, status) VALUES (?, ?, ?, ?)`, 99, 1, s.timeArg(t0), 1)
		st, err := s.Load(context.Background())
		checkError(t, err, "loading state database ("+b.driver+"): table "+s.table("decisions")+": decisions for component_id 99, which is not in "+s.table("components")+"; delete them")
		if st != nil {
			t.Errorf("Load returned a state with its error: %+v", st)
		}
	})
}

func TestSQLSaveRefusesBadState(t *testing.T) {
	s := backends(t)[0].fresh(t, "fra1")
	st := &State{Components: map[int]*Component{14: {Last: status.Status(7)}}}
	checkError(t, s.Save(context.Background(), st), "saving state database (sqlite): component 14: last status 7 is not 0-4 (not written)")
	checkError(t, s.Save(context.Background(), nil), "saving state database (sqlite): no state")
}

func TestSQLObservations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.fresh(t, "fra1")
		ctx := context.Background()
		obs := func(at time.Time, statuses ...status.Status) []Observation {
			var out []Observation
			for i, st := range statuses {
				out = append(out, Observation{ComponentID: 14 + i, Server: "s" + string(rune('a'+i)), At: at, Outcome: "answered", Status: st, Detail: "HTTP 200 in 12ms"})
			}
			return out
		}
		if err := s.Observe(ctx, "fra1", obs(t0.Add(-time.Hour), status.MajorOutage, status.MajorOutage)); err != nil {
			t.Fatal(err)
		}
		// Each vantage from a store of its own, as on its own machine.
		for _, v := range []struct {
			name string
			at   time.Time
			sts  []status.Status
		}{
			{"fra1", t0, []status.Status{status.Operational, status.MajorOutage}}, // replaces its rows of an hour ago
			{"ams1", t0.Add(-time.Minute), []status.Status{status.PartialOutage, status.Operational, status.Operational}},
			{"nyc1", t0.Add(-2 * time.Minute), []status.Status{status.Operational}},
		} {
			other := b.open(t, s.prefix, v.name)
			if err := other.Observe(ctx, v.name, obs(v.at, v.sts...)); err != nil {
				t.Fatal(err)
			}
		}
		views, err := s.Views(ctx, []int{14, 15, 16, 99})
		if err != nil {
			t.Fatal(err)
		}
		view := func(vantage string, at time.Time, st status.Status) View {
			return View{Vantage: vantage, At: at, Status: st, Outcome: "answered", Detail: "HTTP 200 in 12ms"}
		}
		want := map[int][]View{
			14: {view("ams1", t0.Add(-time.Minute), status.PartialOutage), view("fra1", t0, status.Operational), view("nyc1", t0.Add(-2*time.Minute), status.Operational)},
			15: {view("ams1", t0.Add(-time.Minute), status.Operational), view("fra1", t0, status.MajorOutage)},
			16: {view("ams1", t0.Add(-time.Minute), status.Operational)},
		}
		if !reflect.DeepEqual(views, want) {
			t.Errorf("Views =\n %v\nwant\n %v", views, want)
		}

		vantages, err := s.Vantages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantV := []VantageInfo{{"ams1", t0.Add(-time.Minute), 3}, {"fra1", t0, 2}, {"nyc1", t0.Add(-2 * time.Minute), 1}}
		if !reflect.DeepEqual(vantages, wantV) {
			t.Errorf("Vantages = %+v, want %+v", vantages, wantV)
		}
		if n, err := s.ForgetVantage(ctx, "ams1"); err != nil || n != 3 {
			t.Errorf("ForgetVantage = %d, %v; want 3", n, err)
		}
		if vantages, err := s.Vantages(ctx); err != nil || len(vantages) != 2 {
			t.Errorf("after ForgetVantage: %+v, %v", vantages, err)
		}
	})
}

// TestSQLObserveRefusesBadInput: nothing of a bad batch is recorded.
func TestSQLObserveRefusesBadInput(t *testing.T) {
	s := backends(t)[0].fresh(t, "fra1")
	good := Observation{ComponentID: 14, Server: "Stream 1", At: t0, Outcome: "timeout", Status: status.MajorOutage, Detail: "timeout after 10s"}
	tests := []struct {
		name    string
		vantage string
		mutate  func(*Observation)
		want    string
	}{
		{"no vantage", "", func(*Observation) {}, `vantage name ""`},
		{"vantage with a space", "fra 1", func(*Observation) {}, `vantage name "fra 1"`},
		{"status 0", "fra1", func(o *Observation) { o.Status = status.Unknown }, "component 15 (Stream 2): status 0 is not 1-4 (nothing recorded)"},
		{"no time", "fra1", func(o *Observation) { o.At = time.Time{} }, "component 15 (Stream 2): no time"},
		{"a sentence as outcome", "fra1", func(o *Observation) { o.Outcome = "timed out" }, `outcome "timed out" is not a short lower-case word`},
		{"id 0", "fra1", func(o *Observation) { o.ComponentID = 0 }, "component id 0: ids are positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := good
			bad.ComponentID, bad.Server = 15, "Stream 2"
			tc.mutate(&bad)
			checkError(t, s.Observe(context.Background(), tc.vantage, []Observation{good, bad}), "recording observations in state database (sqlite): ", tc.want)
			if v, err := s.Vantages(context.Background()); err != nil || len(v) != 0 {
				t.Errorf("Vantages = %+v, %v; want none", v, err)
			}
		})
	}
}

// TestSQLObserveLongDetail: a detail is cut at a character boundary.
func TestSQLObserveLongDetail(t *testing.T) {
	s := backends(t)[0].fresh(t, "fra1")
	long := ""
	for len(long) < 2*maxDetail {
		long += "é"
	}
	o := Observation{ComponentID: 14, Server: "s", At: t0, Outcome: "error", Status: status.MajorOutage, Detail: "x" + long}
	if err := s.Observe(context.Background(), "fra1", []Observation{o, o}); err != nil { // the same component twice: the last counts
		t.Fatal(err)
	}
	views, err := s.Views(context.Background(), []int{14})
	if err != nil {
		t.Fatal(err)
	}
	if d := views[14][0].Detail; len(d) != maxDetail-1 || d[:3] != "xé" {
		t.Errorf("detail of %d bytes starting %q, want %d", len(d), d[:3], maxDetail-1)
	}
}

func TestSQLViewsManyComponents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.fresh(t, "fra1")
		ids, obs := fleetObservations(1200, t0, 0)
		if err := s.Observe(context.Background(), "fra1", obs); err != nil {
			t.Fatal(err)
		}
		views, err := s.Views(context.Background(), ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(views) != len(ids) || len(views[1200]) != 1 || views[1200][0].Status != status.MajorOutage {
			t.Errorf("Views of %d components: %d, last %+v", len(ids), len(views), views[1200])
		}
	})
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

func TestOpenSQLRefusesBadOptions(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	tests := []struct {
		name string
		o    SQLOptions
		want string
	}{
		{"unknown driver", SQLOptions{Driver: "oracle", DSN: "x", Timeout: time.Second}, `state database: unknown driver "oracle": use "mysql", "postgres" or "sqlite"`},
		{"empty DSN", SQLOptions{Driver: DriverMySQL, DSN: " ", Timeout: time.Second}, "state database (mysql): the DSN is empty"},
		{"no timeout", SQLOptions{Driver: DriverSQLite, DSN: db}, "state database (sqlite): the timeout must be longer than 0, not 0s"},
		{"bad prefix", SQLOptions{Driver: DriverSQLite, DSN: db, Timeout: time.Second, TablePrefix: "x; DROP TABLE y"}, `table prefix "x; DROP TABLE y": use up to 32 lower-case letters`},
		{"bad vantage", SQLOptions{Driver: DriverSQLite, DSN: db, Timeout: time.Second, Vantage: "fra1/a"}, `vantage name "fra1/a": use 1 to 64 letters`},
		{"in memory", SQLOptions{Driver: DriverSQLite, DSN: ":memory:", Timeout: time.Second}, "state database (sqlite): the DSN names an in-memory or temporary database, which is gone when the run ends: give the path of a database file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenSQL(context.Background(), tc.o)
			if err == nil {
				s.Close()
			}
			checkError(t, err, tc.want)
		})
	}
}

func TestSQLiteDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/var/lib/cu/state.db", "/var/lib/cu/state.db?_busy_timeout=5000&_txlock=immediate"},
		{"file:state.db?mode=rwc", "file:state.db?mode=rwc&_busy_timeout=5000&_txlock=immediate"},
		{"state.db?_busy_timeout=100", "state.db?_busy_timeout=100&_txlock=immediate"},
		{"state.db?_txlock=deferred&_timeout=1", "state.db?_txlock=deferred&_timeout=1"},
	}
	for _, tc := range tests {
		if got := sqliteDSN(tc.in, 5*time.Second, false); got != tc.want {
			t.Errorf("sqliteDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
