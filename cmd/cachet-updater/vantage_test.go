package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
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

// vantageWorld is a Cachet emulator with two components, a healthy and a
// failing server, one shared database and a config per vantage and view.
type vantageWorld struct {
	t        *testing.T
	dir      string
	cachet   *cachettest.Server
	ok, fail string
	fresh    string // quorum.fresh
	db       sharedDB
}

// forEachDB runs test against SQLite, and MariaDB and PostgreSQL when
// CU_TEST_MYSQL_DSN / CU_TEST_POSTGRES_DSN are set (each in a database or
// schema of its own).
func forEachDB(t *testing.T, test func(t *testing.T, w *vantageWorld)) {
	lite := filepath.Join(t.TempDir(), "state.db")
	dbs := []sharedDB{{name: "sqlite", block: "state:\n  sql:\n    driver: sqlite\n    dsn: " + lite + "\n", dsn: lite}}
	for _, d := range []struct{ driver, env string }{{"mysql", "CU_TEST_MYSQL_DSN"}, {"postgres", "CU_TEST_POSTGRES_DSN"}} {
		dsn := os.Getenv(d.env)
		if dsn == "" {
			t.Logf("%s is not set: the %s case is skipped", d.env, d.driver)
			continue
		}
		db, err := sql.Open(map[string]string{"mysql": "mysql", "postgres": "pgx"}[d.driver], dsn)
		if err != nil {
			t.Fatal(err)
		}
		name := "cu_vantages_" + strings.ToLower(rand.Text()[:8])
		own := strings.Replace(dsn, "/cachet_updater_test?", "/"+name+"?", 1)
		create, drop := "CREATE DATABASE "+name, "DROP DATABASE "+name
		if d.driver == "postgres" {
			u, _ := url.Parse(dsn)
			q := u.Query()
			q.Set("search_path", name)
			u.RawQuery = q.Encode()
			own, create, drop = u.String(), "CREATE SCHEMA "+name, "DROP SCHEMA "+name+" CASCADE"
		}
		if _, err := db.Exec(create); err != nil || own == dsn {
			t.Fatalf("%s: %v (the DSN must name the database cachet_updater_test)", d.driver, err)
		}
		t.Cleanup(func() { db.Exec(drop); db.Close() })
		dbs = append(dbs, sharedDB{name: d.driver, block: "state:\n  sql:\n    driver: " + d.driver + "\n    dsn_env: STATE_DSN\n", env: []string{"STATE_DSN=" + own}, dsn: own})
	}
	for _, db := range dbs {
		t.Run(db.name, func(t *testing.T) {
			test(t, &vantageWorld{t: t, dir: t.TempDir(), cachet: emulator(t, 2), ok: serve(t, answer(200)), fail: serve(t, answer(503)), fresh: "5s", db: db})
		})
	}
}

// config writes the config of vantage seeing the servers of components 1,
// 2, ... as views says ("of": 1 fails, 2 is ok) and returns its path.
func (w *vantageWorld) config(vantage, views, extra string) string {
	w.t.Helper()
	var servers strings.Builder
	for i, v := range views {
		u := map[rune]string{'o': w.ok, 'f': w.fail}[v]
		fmt.Fprintf(&servers, "  - {name: Stream %d, url: %s/, component_id: %d}\n", i+1, u, i+1)
	}
	path := filepath.Join(w.dir, vantage+"-"+views+".yaml")
	text := fmt.Sprintf("cachet: {url: %s, retries: 0}\nlock_file: %s.lock\nvantage: {name: %s}\n%squorum: {probes: 2, fresh: %s}\nconfirm: {worse: 1, better: 1}\nmanual_hold: 0s\nreports: {source: {type: none}}\n%sservers:\n%s",
		w.cachet.URL(), filepath.Join(w.dir, vantage), vantage, w.db.block, w.fresh, extra, servers.String())
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// run runs cachet-updater and returns its output; its exit code must be
// want.
func (w *vantageWorld) run(want int, args ...string) string {
	w.t.Helper()
	cmd := command(args, w.db.env...)
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil {
		w.t.Fatal(err)
	}
	if code := cmd.ProcessState.ExitCode(); code != want {
		w.t.Errorf("%v: exit %d, want %d\n%s", args, code, want, out)
	}
	return string(out)
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
	forEachDB(t, func(t *testing.T, w *vantageWorld) {
		// Unreachable from one vantage only: not published.
		w.run(0, "run", "--config", w.config("ams1", "oo", ""))
		w.run(0, "run", "--config", w.config("nyc1", "oo", ""))
		fra1 := w.config("fra1", "fo", "")
		if out := w.run(0, "run", "--config", fra1); w.writesTo(1) != 0 {
			t.Fatalf("one vantage's failure was published:\n%s", out)
		}
		out := w.run(0, "run", "--dry-run", "--only", "Stream 1", "--config", fra1) + w.run(0, "vantages", "--config", fra1)
		for _, v := range []string{"vantage fra1", "vantage ams1", "vantage nyc1", "fra1 (this one)"} {
			if !strings.Contains(out, v) {
				t.Errorf("--only and vantages do not show %s:\n%s", v, out)
			}
		}
		// A vantage that stops running: its views age out (fresh: 5s), and
		// one vantage alone is no quorum.
		time.Sleep(5100 * time.Millisecond)
		if out := w.run(0, "run", "--dry-run", "--config", fra1) + w.run(0, "vantages", "--config", fra1); !strings.Contains(out, "(stale)") || !strings.Contains(out, "(no quorum)") || !strings.Contains(out, "STALE") {
			t.Errorf("the table and vantages do not show the stale views and the missing quorum:\n%s", out)
		}
		if out := w.run(0, "run", "--config", fra1); w.writesTo(1) != 0 {
			t.Fatalf("a failure seen by one fresh vantage was published:\n%s", out)
		}
		// Seen from two (fra1's view is fresh, ams1's new): published, once.
		if out := w.run(0, "run", "--config", w.config("ams1", "fo", "")); w.writesTo(1) != 1 || !strings.Contains(out, "ams1 503, fra1 503, nyc1 200 (stale)") {
			t.Fatalf("two vantages' failure: %d writes, want 1, and the views in the table:\n%s", w.writesTo(1), out)
		}
		// Two vantages deciding at the same moment: one write, one incident
		// per component.
		incidents := "incidents:\n  enabled: true\n"
		cfgs := []string{w.config("fra1", "ff", incidents), w.config("ams1", "ff", incidents)}
		var wg sync.WaitGroup
		for _, c := range cfgs {
			wg.Go(func() { w.run(0, "run", "--config", c) })
		}
		wg.Wait()
		if n := w.writesTo(2); n > 1 {
			t.Errorf("%d writes to component 2 from two vantages deciding at once, want at most 1", n)
		}
		w.run(0, "run", "--config", cfgs[0]) // whichever ran first, the views are both there now
		perComponent := map[int]int{}
		for _, inc := range w.cachet.Incidents() {
			perComponent[inc.ComponentID]++
		}
		if c, _ := w.cachet.Component(2); w.writesTo(2) != 1 || c.Status != 4 || perComponent[1] != 1 || perComponent[2] != 1 {
			t.Errorf("%d writes to component 2, now %d; incidents per component %v; want 1, 4, one each", w.writesTo(2), c.Status, perComponent)
		}
		if out := w.run(0, "check", "--config", cfgs[0]); !strings.Contains(out, "its tables are there") || !strings.Contains(out, "the decision lock can be taken") {
			t.Errorf("check:\n%s", out)
		}
	})
}

// TestVantagesDatabaseDown: with the database unreachable, a quorum of two
// writes nothing; a quorum of one decides from this vantage's probes. Both
// exit 1 with a clear error, and never show the DSN's password.
func TestVantagesDatabaseDown(t *testing.T) {
	w := &vantageWorld{t: t, dir: t.TempDir(), cachet: emulator(t, 1), fail: serve(t, answer(503)), fresh: "3s", db: sharedDB{
		block: "state:\n  sql:\n    driver: mysql\n    dsn_env: STATE_DSN\n    timeout: 2s\n", env: []string{"STATE_DSN=cu:s3cret-pw@tcp(127.0.0.1:1)/x"}}}
	for _, quorum := range []int{2, 1} {
		cfg := w.config("fra1", "f", "")
		data, _ := os.ReadFile(cfg)
		os.WriteFile(cfg, []byte(strings.Replace(string(data), "probes: 2", fmt.Sprintf("probes: %d", quorum), 1)), 0o600)
		out := w.run(1, "run", "--config", cfg)
		if w.writesTo(1) != 2-quorum || !strings.Contains(out, "state database (mysql)") || quorum == 2 && !strings.Contains(out, "this vantage alone decides nothing") || strings.Contains(out, "s3cret-pw") {
			t.Errorf("quorum %d, database down: %d writes\n%s", quorum, w.writesTo(1), out)
		}
	}
}

// TestVantagesDryRun: a dry run reads the other vantages' views and writes
// nothing to the database: no tables, no observations (its vote must not
// count for a real run), no decision lock.
func TestVantagesDryRun(t *testing.T) {
	forEachDB(t, func(t *testing.T, w *vantageWorld) {
		w.ok = w.fail
		config := func(vantage string) string { return w.config(vantage, "f", "") }
		w.fresh = "1h" // fresh for the whole test: no timing
		open := func() *state.SQL {
			s, err := state.OpenSQL(context.Background(), state.SQLOptions{Driver: w.db.name, DSN: w.db.dsn, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		// Before the first real run: no tables are created (for SQLite, no file).
		out := w.run(1, "run", "--dry-run", "--config", config("laptop"))
		if _, err := os.Stat(w.db.dsn); w.db.name == "sqlite" && err == nil {
			t.Errorf("the dry run created the SQLite database:\n%s", out)
		} else if tables, _, err := open().Check(context.Background()); w.db.name != "sqlite" && (err != nil || tables) {
			t.Errorf("after the dry run: tables %v, %v; want none:\n%s", tables, err, out)
		}
		w.run(0, "run", "--config", config("fra1"))
		unlock, err := open().Lock(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		out = w.run(0, "run", "--dry-run", "--config", config("laptop"))
		unlock()
		if !strings.Contains(out, "would update") || !strings.Contains(out, "fra1 503, laptop 503") {
			t.Errorf("the dry run (with fra1's view and its own) does not say it would publish the outage:\n%s", out)
		}
		if out := w.run(0, "vantages", "--config", config("fra1")); strings.Contains(out, "laptop") {
			t.Errorf("the dry run's observations were recorded:\n%s", out)
		}
		if out := w.run(0, "run", "--config", config("fra1")); w.writesTo(1) != 0 { // the only real vantage, quorum.probes 2
			t.Errorf("a dry run's vote was counted: %d writes\n%s", w.writesTo(1), out)
		}
	})
}

// TestVantagesClockAhead: views dated a year ahead (a prober's clock is
// wrong) do not count as fresh for ever: they do not outvote the live
// vantage, and the run names the vantage whose clock is ahead.
func TestVantagesClockAhead(t *testing.T) {
	forEachDB(t, func(t *testing.T, w *vantageWorld) {
		cfg := w.config("fra1", "o", "")
		w.run(0, "run", "--config", cfg) // creates the tables
		s, err := state.OpenSQL(context.Background(), state.SQLOptions{Driver: w.db.name, DSN: w.db.dsn, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, v := range []string{"ams1", "nyc1"} {
			obs := []state.Observation{{ComponentID: 1, Server: "Stream 1", At: time.Now().AddDate(1, 0, 0), Outcome: "error", Status: 4, Detail: "refused"}}
			if err := s.Observe(context.Background(), v, obs); err != nil {
				t.Fatal(err)
			}
		}
		out := w.run(0, "run", "--config", cfg)
		for _, v := range []string{"ams1", "nyc1"} {
			if w.writesTo(1) != 0 || !strings.Contains(out, `"vantage":"`+v+`"`) || !strings.Contains(out, "its clock is ahead") {
				t.Errorf("views a year ahead were counted (%d writes), or the run does not warn about %s's clock:\n%s", w.writesTo(1), v, out)
			}
		}
	})
}
