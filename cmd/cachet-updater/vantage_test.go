package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/state"
)

// sharedDB is a database for one test: the state.sql block of a config,
// the environment that holds its DSN.
type sharedDB struct {
	name  string
	block string // the config's state: block
	env   []string
	dsn   string // for opening it from the test
}

// sharedDBs are the databases the vantage tests run against: SQLite always,
// MariaDB and PostgreSQL when CU_TEST_MYSQL_DSN / CU_TEST_POSTGRES_DSN are
// set, each in a database (MySQL) or schema (PostgreSQL) of its own.
func sharedDBs(t *testing.T, dir string) []sharedDB {
	t.Helper()
	lite := filepath.Join(dir, "state.db")
	dbs := []sharedDB{{name: "sqlite", block: "state:\n  sql:\n    driver: sqlite\n    dsn: " + lite + "\n", dsn: lite}}
	suffix := func() string {
		b := make([]byte, 4)
		rand.Read(b)
		return hex.EncodeToString(b)
	}
	if dsn := os.Getenv("CU_TEST_MYSQL_DSN"); dsn != "" {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		name := "cu_vantages_" + suffix()
		if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatalf("mysql: %v", err)
		}
		t.Cleanup(func() { db.Exec("DROP DATABASE " + name); db.Close() })
		own := strings.Replace(dsn, "/cachet_updater_test?", "/"+name+"?", 1)
		if own == dsn {
			t.Fatalf("CU_TEST_MYSQL_DSN does not name the database cachet_updater_test: %s", dsn)
		}
		dbs = append(dbs, sharedDB{name: "mysql", block: "state:\n  sql:\n    driver: mysql\n    dsn_env: STATE_DSN\n", env: []string{"STATE_DSN=" + own}, dsn: own})
	} else {
		t.Log("CU_TEST_MYSQL_DSN is not set: the MariaDB case is skipped")
	}
	if dsn := os.Getenv("CU_TEST_POSTGRES_DSN"); dsn != "" {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		name := "cu_vantages_" + suffix()
		if _, err := db.Exec("CREATE SCHEMA " + name); err != nil {
			t.Fatalf("postgres: %v", err)
		}
		t.Cleanup(func() { db.Exec("DROP SCHEMA " + name + " CASCADE"); db.Close() })
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", name)
		u.RawQuery = q.Encode()
		dbs = append(dbs, sharedDB{name: "postgres", block: "state:\n  sql:\n    driver: postgres\n    dsn_env: STATE_DSN\n", env: []string{"STATE_DSN=" + u.String()}, dsn: u.String()})
	} else {
		t.Log("CU_TEST_POSTGRES_DSN is not set: the PostgreSQL case is skipped")
	}
	return dbs
}

// vantageWorld is a Cachet emulator, a healthy and a failing server, and a
// config per vantage and view.
type vantageWorld struct {
	t      *testing.T
	bin    string
	dir    string
	cachet *cachettest.Server
	ok     string
	fail   string
	db     sharedDB
}

// config writes the config of vantage seeing each component's server as
// ok or failing (urls: component id → "ok"/"fail") and returns its path.
func (w *vantageWorld) config(vantage string, urls map[int]string, extra string) string {
	w.t.Helper()
	var servers strings.Builder
	for id := 1; id <= len(urls); id++ {
		u := w.ok
		if urls[id] == "fail" {
			u = w.fail
		}
		fmt.Fprintf(&servers, "  - name: Stream %d\n    url: %s/\n    component_id: %d\n", id, u, id)
	}
	path := filepath.Join(w.dir, vantage+"-"+suffixOf(urls)+".yaml")
	text := fmt.Sprintf(`cachet:
  url: %s
  retries: 0
lock_file: %s.lock
vantage:
  name: %s
%squorum:
  probes: 2
  fresh: 3s
confirm:
  worse: 1
  better: 1
manual_hold: 0s
reports:
  source:
    type: none
%sservers:
%s`, w.cachet.URL(), filepath.Join(w.dir, vantage), vantage, w.db.block, extra, servers.String())
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path
}

func suffixOf(urls map[int]string) string {
	var b strings.Builder
	for id := 1; id <= len(urls); id++ {
		b.WriteString(urls[id][:1])
	}
	return b.String()
}

// run runs the binary and returns its exit code and output.
func (w *vantageWorld) run(args ...string) (int, string) {
	w.t.Helper()
	cmd := exec.Command(w.bin, args...)
	cmd.Env = append(append(os.Environ(), "CACHET_API_TOKEN=tok"), w.db.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		w.t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

func (w *vantageWorld) mustRun(want int, args ...string) string {
	w.t.Helper()
	code, out := w.run(args...)
	if code != want {
		w.t.Fatalf("%v: exit %d, want %d\n%s", args, code, want, out)
	}
	return out
}

func (w *vantageWorld) writesTo(id int) int {
	n := 0
	for _, r := range w.cachet.Writes() {
		if r.Path == fmt.Sprintf("/api/v1/components/%d", id) {
			n++
		}
	}
	return n
}

// TestVantages runs three vantage processes with configs of their own
// against one shared database and the Cachet emulator, with quorum.probes 2.
func TestVantages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	for _, db := range sharedDBs(t, dir) {
		t.Run(db.name, func(t *testing.T) {
			ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
			defer ok.Close()
			failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
			defer failing.Close()
			fake := cachettest.New("tok")
			defer fake.Close()
			fake.Add(cachettest.Component{ID: 1, Name: "Stream 1", Status: 1, Enabled: true})
			fake.Add(cachettest.Component{ID: 2, Name: "Stream 2", Status: 1, Enabled: true})
			w := &vantageWorld{t: t, bin: bin, dir: t.TempDir(), cachet: fake, ok: ok.URL, fail: failing.URL, db: db}
			okBoth := map[int]string{1: "ok", 2: "ok"}
			fail1 := map[int]string{1: "fail", 2: "ok"}

			// Unreachable from one vantage only: not published.
			w.mustRun(0, "run", "--config", w.config("ams1", okBoth, ""))
			w.mustRun(0, "run", "--config", w.config("nyc1", okBoth, ""))
			out := w.mustRun(0, "run", "--config", w.config("fra1", fail1, ""))
			if n := w.writesTo(1); n != 0 {
				t.Fatalf("one vantage's failure was published (%d writes):\n%s", n, out)
			}
			out = w.mustRun(0, "run", "--dry-run", "--only", "Stream 1", "--config", w.config("fra1", fail1, ""))
			for _, v := range []string{"vantage fra1", "vantage ams1", "vantage nyc1"} {
				if !strings.Contains(out, v) {
					t.Errorf("--only does not show %s's view:\n%s", v, out)
				}
			}
			out = w.mustRun(0, "vantages", "--config", w.config("fra1", fail1, ""))
			for _, v := range []string{"fra1 (this one)", "ams1", "nyc1"} {
				if !strings.Contains(out, v) {
					t.Errorf("vantages does not list %s:\n%s", v, out)
				}
			}

			// A vantage that stops running: its views age out (fresh: 3s),
			// and one vantage alone is no quorum.
			time.Sleep(3100 * time.Millisecond)
			out = w.mustRun(0, "run", "--config", w.config("fra1", fail1, ""))
			if n := w.writesTo(1); n != 0 {
				t.Fatalf("a failure seen by one fresh vantage was published:\n%s", out)
			}
			if out := w.mustRun(0, "run", "--dry-run", "--config", w.config("fra1", fail1, "")); !strings.Contains(out, "(stale)") || !strings.Contains(out, "(no quorum)") {
				t.Errorf("the table does not show the stale views and the missing quorum:\n%s", out)
			}
			if out := w.mustRun(0, "vantages", "--config", w.config("fra1", fail1, "")); !strings.Contains(out, "STALE") {
				t.Errorf("vantages does not flag the stale vantages:\n%s", out)
			}

			// Seen from two: published, once.
			out = w.mustRun(0, "run", "--config", w.config("ams1", fail1, ""))
			if n := w.writesTo(1); n != 1 {
				t.Fatalf("two vantages' failure: %d writes, want 1:\n%s", n, out)
			}
			if !strings.Contains(out, "ams1 503, fra1 503, nyc1 200 (stale)") {
				t.Errorf("the table does not show the views:\n%s", out)
			}

			// Two vantages deciding at the same moment: one write, one
			// incident per component.
			fail2 := map[int]string{1: "fail", 2: "fail"}
			incidents := "incidents:\n  enabled: true\n"
			cfgs := []string{w.config("fra1", fail2, incidents), w.config("ams1", fail2, incidents)}
			var wg sync.WaitGroup
			for _, c := range cfgs {
				wg.Go(func() {
					if code, out := w.run("run", "--config", c); code != 0 {
						t.Errorf("exit %d:\n%s", code, out)
					}
				})
			}
			wg.Wait()
			if n := w.writesTo(2); n > 1 {
				t.Errorf("%d writes to component 2 from two vantages deciding at once, want at most 1", n)
			}
			w.mustRun(0, "run", "--config", cfgs[0]) // whichever ran first, the views are both there now
			if n := w.writesTo(2); n != 1 {
				t.Errorf("%d writes to component 2, want 1", n)
			}
			c, _ := fake.Component(2)
			if c.Status != 4 {
				t.Errorf("component 2 is %d, want 4", c.Status)
			}
			perComponent := map[int]int{}
			for _, inc := range fake.Incidents() {
				perComponent[inc.ComponentID]++
			}
			if perComponent[1] != 1 || perComponent[2] != 1 {
				t.Errorf("incidents per component: %v, want one each for 1 and 2", perComponent)
			}

			out = w.mustRun(0, "check", "--config", cfgs[0])
			if !strings.Contains(out, "its tables are there") || !strings.Contains(out, "the decision lock can be taken") {
				t.Errorf("check:\n%s", out)
			}
		})
	}
}

// TestVantagesDatabaseDown: with the database unreachable, a quorum of two
// writes nothing; a quorum of one decides from this vantage's probes. Both
// exit 1 with a clear error.
func TestVantagesDatabaseDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer failing.Close()
	fake := cachettest.New("tok")
	defer fake.Close()
	fake.Add(cachettest.Component{ID: 1, Name: "Stream 1", Status: 1, Enabled: true})
	down := sharedDB{name: "down", block: "state:\n  sql:\n    driver: mysql\n    dsn_env: STATE_DSN\n    timeout: 2s\n",
		env: []string{"STATE_DSN=cu:s3cret-pw@tcp(127.0.0.1:1)/x"}}
	w := &vantageWorld{t: t, bin: bin, dir: dir, cachet: fake, fail: failing.URL, ok: failing.URL, db: down}

	out := w.mustRun(1, "run", "--config", w.config("fra1", map[int]string{1: "fail"}, ""))
	if w.writesTo(1) != 0 || !strings.Contains(out, "state database (mysql)") || !strings.Contains(out, "this vantage alone decides nothing") {
		t.Errorf("quorum 2, database down:\n%s", out)
	}
	if strings.Contains(out, "s3cret-pw") {
		t.Fatalf("the DSN's password is in the output:\n%s", out)
	}
	cfg := w.config("fra1", map[int]string{1: "fail"}, "")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(data), "probes: 2", "probes: 1", 1)), 0o600)
	out = w.mustRun(1, "run", "--config", cfg)
	if w.writesTo(1) != 1 || !strings.Contains(out, "state database (mysql)") {
		t.Errorf("quorum 1, database down: %d writes\n%s", w.writesTo(1), out)
	}
}

// TestVantagesDryRun: a dry run reads the other vantages' views and writes
// nothing to the database: no tables, no observations (its vote must not
// count for a real run), no decision lock.
func TestVantagesDryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	for _, db := range sharedDBs(t, dir) {
		t.Run(db.name, func(t *testing.T) {
			failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
			defer failing.Close()
			fake := cachettest.New("tok")
			defer fake.Close()
			fake.Add(cachettest.Component{ID: 1, Name: "Stream 1", Status: 1, Enabled: true})
			w := &vantageWorld{t: t, bin: bin, dir: t.TempDir(), cachet: fake, ok: failing.URL, fail: failing.URL, db: db}
			// The views stay fresh for the whole test: no timing in it.
			config := func(vantage string) string {
				path := w.config(vantage, map[int]string{1: "fail"}, "")
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(strings.Replace(string(data), "fresh: 3s", "fresh: 1h", 1)), 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			}
			open := func() *state.SQL {
				s, err := state.OpenSQL(context.Background(), state.SQLOptions{Driver: db.name, DSN: db.dsn, Timeout: 5 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}

			// Before the first real run: no tables are created (for
			// SQLite, no file).
			out := w.mustRun(1, "run", "--dry-run", "--config", config("laptop"))
			if _, err := os.Stat(db.dsn); db.name == "sqlite" && err == nil {
				t.Errorf("the dry run created the SQLite database:\n%s", out)
			} else if h, err := open().Check(context.Background()); db.name != "sqlite" && (err != nil || h.Tables) {
				t.Errorf("after the dry run: %+v, %v; want no tables:\n%s", h, err, out)
			}

			w.mustRun(0, "run", "--config", config("fra1"))
			unlock, err := open().Lock(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			out = w.mustRun(0, "run", "--dry-run", "--config", config("laptop"))
			unlock()
			if !strings.Contains(out, "would update") || !strings.Contains(out, "fra1 503, laptop 503") {
				t.Errorf("the dry run (with fra1's view and its own) does not say it would publish the outage:\n%s", out)
			}
			if out := w.mustRun(0, "vantages", "--config", config("fra1")); strings.Contains(out, "laptop") {
				t.Errorf("the dry run's observations were recorded:\n%s", out)
			}
			// The only real vantage, quorum.probes 2: nothing published.
			out = w.mustRun(0, "run", "--config", config("fra1"))
			if n := w.writesTo(1); n != 0 {
				t.Errorf("a dry run's vote was counted: %d writes\n%s", n, out)
			}
		})
	}
}

// TestVantagesClockAhead: views dated a year ahead (a prober's clock is
// wrong) do not count as fresh for ever: they do not outvote the live
// vantage, and the run names the vantage whose clock is ahead.
func TestVantagesClockAhead(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	for _, db := range sharedDBs(t, dir) {
		t.Run(db.name, func(t *testing.T) {
			ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
			defer ok.Close()
			fake := cachettest.New("tok")
			defer fake.Close()
			fake.Add(cachettest.Component{ID: 1, Name: "Stream 1", Status: 1, Enabled: true})
			w := &vantageWorld{t: t, bin: bin, dir: t.TempDir(), cachet: fake, ok: ok.URL, fail: ok.URL, db: db}
			cfg := w.config("fra1", map[int]string{1: "ok"}, "")
			w.mustRun(0, "run", "--config", cfg) // creates the tables

			s, err := state.OpenSQL(context.Background(), state.SQLOptions{Driver: db.name, DSN: db.dsn, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ahead := time.Now().AddDate(1, 0, 0)
			for _, v := range []string{"ams1", "nyc1"} {
				obs := []state.Observation{{ComponentID: 1, Server: "Stream 1", At: ahead, Outcome: "error", Status: 4, Detail: "refused"}}
				if err := s.Observe(context.Background(), v, obs); err != nil {
					t.Fatal(err)
				}
			}
			out := w.mustRun(0, "run", "--config", cfg)
			if n := w.writesTo(1); n != 0 {
				t.Errorf("views a year ahead were counted: %d writes\n%s", n, out)
			}
			for _, v := range []string{"ams1", "nyc1"} {
				if !strings.Contains(out, `"vantage":"`+v+`"`) || !strings.Contains(out, "its clock is ahead") {
					t.Errorf("the run does not warn about %s's clock:\n%s", v, out)
				}
			}
		})
	}
}
