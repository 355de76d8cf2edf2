package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/config"
)

// TestRunJSON: `run --output json` is one document with every row, the
// decision and the rule, the action and the summary, in the shape the
// README shows, printed on every run; the exit code is the table's. A
// basic-auth password never appears in it.
func TestRunJSON(t *testing.T) {
	f := newFleet(t, defaultFleet(), `{"s1": 3, "s2": 25}`, "")
	f.edit("    url: http://127.0.0.1:", "    url: http://probe:pw-s3cret@127.0.0.1:")
	f.env["PASSWORD"] = "pw-s3cret"
	r := f.run(context.Background(), "run", "--output", "json")
	doc := decode(t, r)
	rows, _ := doc["rows"].([]any)
	if r.code != ExitOK || len(rows) != 4 {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, tt := range []struct {
		what string
		v    any
		keys string
	}{
		{"document", doc, "[cachet_error deferred dry_run duration_ms interrupted not_run offline reports rows started state summary token_error version]"},
		{"summary", doc["summary"], "[cachet_reads cachet_writes changed failed held interrupted maintenance not_probed not_written observed pending servers unchanged unknown_components write_failed written]"},
		{"reports", doc["reports"], "[error name]"},
		{"row", rows[1], "[action component_id component_name current decision error guarded held pending probe publish reports server url]"},
		{"probe", rows[1].(map[string]any)["probe"], "[bytes code final_url latency_ms]"},
		{"decision", rows[1].(map[string]any)["decision"], "[probe probe_rule reports reports_rule rule status]"},
	} {
		if got := keys(tt.v); got != tt.keys {
			t.Errorf("%s: keys %s, want %s", tt.what, got, tt.keys)
		}
	}
	want := `map[action:updated component_id:2 component_name:Stream 2 current:operational decision:map[probe:operational probe_rule:HTTP 200 matches "200-399" → operational reports:partial_outage reports_rule:25 reports ≥ 20 → partial_outage rule:25 reports ≥ 20 → partial_outage status:partial_outage] error:<nil> guarded:false held:<nil> pending:<nil>`
	if got := fmt.Sprint(rows[1]); !strings.HasPrefix(got, want) || !strings.Contains(got, "publish:partial_outage reports:25 server:Stream 2") {
		t.Errorf("row Stream 2:\n%s\nwant\n%s", got, want)
	}
	if s := doc["summary"].(map[string]any); doc["version"] != 1.0 || s["servers"] != 4.0 || s["written"] != 3.0 || s["unchanged"] != 1.0 || s["failed"] != false || doc["not_run"] != nil {
		t.Errorf("summary: %v", doc)
	}
	if s1 := rows[0].(map[string]any); !strings.Contains(fmt.Sprint(s1["url"]), "probe:xxxxx@") || s1["action"] != "unchanged" {
		t.Errorf("row Stream 1: %v", s1)
	}
	// A quiet run still prints its document; a failing one keeps exit 1.
	if r := f.run(context.Background(), "run", "-o", "json"); r.code != ExitOK || !strings.Contains(r.out, `"unchanged": 4`) {
		t.Errorf("second run: exit %d\n%s", r.code, r.out)
	}
	f.cachet.FailNext(cachettest.Fault500, -1, false)
	r = f.run(context.Background(), "run", "-o", "json")
	if doc = decode(t, r); r.code != ExitFailed || doc["cachet_error"] == nil || doc["summary"].(map[string]any)["failed"] != true {
		t.Errorf("Cachet down: exit %d, %v", r.code, doc)
	}
}

// TestComponents: components lists as a table, as JSON and as a starter
// config that loads as it is. Names come from Cachet, so control characters
// in them (a terminal title, a colour, a newline that would end a YAML
// comment) are escaped. On 3.x "shown" is what visitors see: the worse of
// the status and an open incident's impact.
func TestComponents(t *testing.T) {
	f := newFleet(t, defaultFleet(), `{}`, "")
	f.cachet.AddGroup(7, "Group\nservers: []")
	f.cachet.Add(cachettest.Component{ID: 9, Name: "Evil\x1b]0;owned\x07\x1b[31m", Status: 2, Enabled: false, GroupID: 7})
	f.cachet.Add(cachettest.Component{ID: 10, Name: "Büro Stream", Status: 1, Enabled: true})
	for _, output := range []string{"table", "yaml"} {
		r := f.run(context.Background(), "components", "-o", output)
		if r.code != ExitOK || strings.ContainsAny(r.out, "\x1b\x07") || !strings.Contains(r.out, `\x1b]0;owned\a\x1b[31m`) || !strings.Contains(r.out, `Group\nservers: []`) || !strings.Contains(r.out, "Büro Stream") {
			t.Errorf("%s: exit %d, names not shown escaped:\n%q", output, r.code, r.out)
		}
		if output == "yaml" {
			var doc struct{ Servers []struct{ Name string } }
			cfg, err := config.Parse(filepath.Join(t.TempDir(), "starter.yaml"), []byte(r.out))
			if yaml.Unmarshal([]byte(r.out), &doc) != nil || err != nil || cfg.Cachet.URL != f.cachet.URL() || len(cfg.Servers) != 6 ||
				doc.Servers[4].Name != "Evil\x1b]0;owned\x07\x1b[31m" || cfg.Servers[4].ReportsKey != cfg.Servers[4].Name {
				t.Errorf("the starter config does not load as it stands: %v\n%s", err, r.out)
			}
		}
	}
	doc := decode(t, f.run(context.Background(), "components", "-o", "json"))
	comps, _ := doc["components"].([]any)
	if keys(doc) != "[components version]" || len(comps) != 6 || fmt.Sprint(comps[4]) != "map[enabled:false group:Group\nservers: [] group_id:7 id:9 name:Evil\x1b]0;owned\a\x1b[31m shown:performance_issues status:performance_issues]" {
		t.Errorf("components -o json: %v", doc)
	}

	f = newFixture(t, cachettest.Cachet3)
	f.cachet.Add(cachettest.Component{ID: 1, Name: "Stream 1", Status: 1, Enabled: true})
	f.cachet.Add(cachettest.Component{ID: 2, Name: "Mail", Status: 3, Enabled: false})
	f.cachet.AddIncident(cachettest.Incident{Name: "down", Message: "m", Status: 1, Visible: true, ComponentID: 1, ComponentStatus: 4})
	f.write("", "")
	r := f.run(context.Background(), "components")
	if r.code != ExitOK || !strings.Contains(r.out, "Mail") || !regexp.MustCompile(`(?m)^1\s+Stream 1\s+-\s+operational\s+major_outage\s+true$`).MatchString(r.out) {
		t.Errorf("components on 3.x: exit %d\n%s%s", r.code, r.out, r.err)
	}
}

// promValue returns the value of the sample name{labels} in the textfile
// at path (labels as written: server="S",component_id="1").
func promValue(t *testing.T, path, sample string) float64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in the textfile:\n%s", sample, data)
	return 0
}

// TestMetricsFile: the textfile after a good, a failed and an interrupted
// run; a dry run writes none. (promfile's tests parse it as node_exporter
// does.)
func TestMetricsFile(t *testing.T) {
	f := newFleet(t, defaultFleet(), `{"s1": 3, "s2": 25}`, "metrics_file: metrics.prom")
	prom := filepath.Join(f.dir, "metrics.prom")
	if r := f.run(context.Background(), "run"); r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	run := promValue(t, prom, "cachet_updater_last_run_timestamp_seconds")
	if success := promValue(t, prom, "cachet_updater_last_success_timestamp_seconds"); success != run || time.Since(time.Unix(int64(run), 0)) > time.Minute {
		t.Errorf("last success %v, last run %v", success, run)
	}
	for sample, want := range map[string]float64{
		"cachet_updater_run_exit_code": 0, `cachet_updater_reports{server="Stream 2",component_id="2"}`: 25,
		`cachet_updater_component_status{server="Stream 2",component_id="2"}`: 3, `cachet_updater_probe_http_status_code{server="Stream 3",component_id="3"}`: 503,
		`cachet_updater_probe_success{server="Stream 3",component_id="3"}`: 0, `cachet_updater_probe_success{server="Stream 2",component_id="2"}`: 1,
		`cachet_updater_cachet_requests{method="PUT"}`: 3,
	} {
		if got := promValue(t, prom, sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	if promValue(t, prom, "cachet_updater_run_duration_seconds") <= 0 {
		t.Error("no run duration")
	}
	// A failed run: exit code 1, the last success kept.
	time.Sleep(1100 * time.Millisecond) // the timestamps are in seconds
	f.cachet.FailNext(cachettest.Fault500, -1, false)
	if r := f.run(context.Background(), "run"); r.code != ExitFailed {
		t.Fatalf("exit %d", r.code)
	}
	if code, success, newRun := promValue(t, prom, "cachet_updater_run_exit_code"), promValue(t, prom, "cachet_updater_last_success_timestamp_seconds"),
		promValue(t, prom, "cachet_updater_last_run_timestamp_seconds"); code != 1 || success != run || newRun <= run {
		t.Errorf("exit code %v, last success %v (was %v), last run %v", code, success, run, newRun)
	}
	// The requests are the last run's (gauges): no PUT, the GETs that failed.
	if data, _ := os.ReadFile(prom); strings.Contains(string(data), `cachet_updater_cachet_requests{method="PUT"}`) || promValue(t, prom, `cachet_updater_cachet_requests{method="GET"}`) < 1 {
		t.Errorf("the requests are not the failed run's:\n%s", data)
	}
	f.cachet.FailNext(cachettest.FaultNone, 0, false)
	os.Remove(prom)
	if r := f.run(context.Background(), "run", "--dry-run"); r.code != ExitOK {
		t.Fatalf("dry run: exit %d", r.code)
	}
	if _, err := os.Stat(prom); !os.IsNotExist(err) {
		t.Error("a dry run wrote the textfile")
	}
}

// TestReportSources: report counts from a real SQLite database, and where
// they came from; a broken query decides from the probes alone (exit 1);
// a DSN's password is never shown.
func TestReportSources(t *testing.T) {
	f := newFleet(t, defaultFleet(), `{}`, "")
	db, err := sql.Open("sqlite", filepath.Join(f.dir, "reports.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE stream_reports (server TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT (datetime('now')))`); err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().Add(-3 * time.Hour).Format("2006-01-02 15:04:05")
	for range 25 {
		db.Exec(`INSERT INTO stream_reports (server) VALUES ('s2')`)
		db.Exec(`INSERT INTO stream_reports (server, created_at) VALUES ('s1', ?)`, old) // outside the 2h window
	}
	f.edit("{type: file, path: reports.json, max_age: 0s}", "{type: sql, driver: sqlite, dsn: reports.db, timeout: 5s, query: 'SELECT server, COUNT(*) FROM stream_reports WHERE created_at >= ? GROUP BY server'}")
	r := f.run(context.Background(), "run", "--dry-run", "--only", "Stream 1", "--only", "Stream 2")
	for _, s := range []string{`25 (key "s2", from sql (sqlite))`, `0 (key "s1", from sql (sqlite))`, "25 reports ≥ 20 → partial_outage"} {
		if r.code != ExitOK || !strings.Contains(r.out, s) {
			t.Errorf("exit %d, output lacks %q:\n%s%s", r.code, s, r.out, r.err)
		}
	}
	f.edit("FROM stream_reports", "FROM no_such_table")
	if r = f.run(context.Background(), "run"); r.code != ExitFailed || !strings.Contains(r.out, "sql (sqlite)") || f.status(2) != 1 || f.status(3) != 4 {
		t.Errorf("broken query: exit %d, statuses 2=%d 3=%d\n%s%s", r.code, f.status(2), f.status(3), r.out, r.err)
	}
	f.edit("driver: sqlite, dsn: reports.db", "driver: mysql, dsn_env: TEST_REPORTS_DSN")
	f.env["TEST_REPORTS_DSN"] = "reporter:hunter2-very-secret@tcp(127.0.0.1:1)/proxer?parseTime=true&loc=UTC"
	f.env["PASSWORD"] = "hunter2-very-secret"
	r = f.run(context.Background(), "run", "--log-level", "debug")
	if !regexp.MustCompile(`(?m)^Stream 3 .* major_outage `).MatchString(r.out) || r.code != ExitFailed || !strings.Contains(r.out+r.err, "sql (mysql)") {
		t.Errorf("mysql down: exit %d, want the run to go on from the probes\n%s%s", r.code, r.out, r.err)
	}
}

// forged is a table line a hostile text tries to print as its own.
const forged = "Stream 9  9  200 in 1ms  -  operational  unchanged"

// assertTamed fails when out holds a control character other than a line
// break, a forged table line or more than 16 KiB: foreign text (Cachet's
// answers, other vantages' rows, servers' certificates) reaches no output
// raw.
func assertTamed(t *testing.T, what string, r result) {
	t.Helper()
	for _, out := range []string{r.out, r.err} {
		if strings.ContainsAny(out, "\x1b\x07\r") || regexp.MustCompile(`(?m)^Stream 9`).MatchString(out) || len(out) > 16<<10 {
			t.Errorf("%s: foreign text reached the output raw:\n%.2000q", what, out)
		}
	}
}

// TestEscapesOtherVantages: another vantage's row in the shared database
// (its name and detail) reaches the table, --only, JSON and vantages
// escaped and cut.
func TestEscapesOtherVantages(t *testing.T) {
	f := newFleet(t, defaultFleet(), `{}`, "vantage: {name: fra1}")
	f.edit("state: {path: state.json}", "state: {sql: {driver: sqlite, dsn: state.db}}")
	if r := f.run(context.Background(), "run"); r.code != ExitOK {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.out, r.err)
	}
	db, err := sql.Open("sqlite", filepath.Join(f.dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO cachet_updater_views (vantage, component_id, server, observed_at, outcome, status, detail)
		SELECT ?, component_id, server, observed_at, outcome, status, ? FROM cachet_updater_views WHERE vantage = 'fra1'`,
		"ams1\x1b]0;pwned\x07", "HTTP 200\n"+forged+"\n\x1b[2J"+strings.Repeat("x", 100<<10)); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"run", "--dry-run"}, {"run", "--dry-run", "--only", "Stream 1"}, {"run", "--dry-run", "-o", "json"}, {"vantages"}} {
		r := f.run(context.Background(), args...)
		what := strings.Join(args, " ")
		assertTamed(t, what, r)
		if r.code != ExitOK || !strings.Contains(r.out, `ams1\x1b]0;pwned\a`) && !strings.Contains(r.out, `ams1\\x1b]0;pwned\\a`) || len(args) > 2 && !strings.Contains(r.out, "bytes") {
			t.Errorf("%s: exit %d, the vantage is not shown escaped, or its detail cut:\n%s", what, r.code, r.out)
		}
	}
}

// TestEscapesCachetErrors: a 3.x validation message with escape codes, a
// forged table line and a megabyte of text is shown escaped and cut, on
// stdout and in the log.
func TestEscapesCachetErrors(t *testing.T) {
	f := newFleet(t, defaultFleet(), `{}`, "")
	v3 := cachettest.NewHandlerV3(testToken)
	defer v3.Close()
	for _, c := range f.cachet.Components() {
		v3.Add(c)
	}
	msg := "The status is invalid.\n" + forged + "\n\x1b]0;pwned\x07\x1b[2J" + strings.Repeat("A", 1<<20)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			json.NewEncoder(w).Encode(map[string]any{"message": msg, "errors": map[string][]string{"status": {msg}}})
			return
		}
		v3.Handler().ServeHTTP(w, r)
	}))
	defer front.Close()
	f.edit(f.cachet.URL(), front.URL+v3.APIPath())
	f.edit("timeout: 2s, retries: 0", "timeout: 30s, retries: 0") // two megabytes of JSON under -race on a busy machine
	for _, args := range [][]string{{"-o", "table", "--log-format", "json"}, {"-o", "json", "--log-format", "console"}} {
		r := f.run(context.Background(), append([]string{"run"}, args...)...)
		assertTamed(t, fmt.Sprint(args), r)
		if r.code != ExitFailed || !strings.Contains(r.out, "422") || !strings.Contains(r.out, "bytes") {
			t.Errorf("%v: exit %d, want 1 with the 422 cut in the output\n%.3000s", args, r.code, r.out)
		}
	}
}
