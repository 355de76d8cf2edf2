package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/state"
)

// The end-to-end scenarios are testscript files in testdata/script, run by
// cmd/cachet-updater's TestScripts against the real binary. What stays here
// needs timing (interrupts, run_timeout, faults with retries), a lock held
// by this process, an injected Env (open-file limit, memory limit) or a
// closer look at the output (JSON, escaping).

const testToken = "s3cr3t-t0ken-value-0123456789"

type fixture struct {
	t      *testing.T
	dir    string
	cfg    string
	cachet *cachettest.Server
	env    map[string]string // the environment the commands see
	files  uint64            // the open-file limit the run sees; 0: no cap
	memory int64             // the soft memory limit the run set
}

type fleetServer struct {
	name    string
	id      int
	key     string
	current int // the status in Cachet; 0: not in Cachet
	handler http.HandlerFunc
	extra   string
}

func okHandler(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }

func hang(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func defaultFleet() []fleetServer {
	return []fleetServer{
		{"Stream 1", 1, "s1", 1, okHandler, ""},
		{"Stream 2", 2, "s2", 1, okHandler, ""}, // 25 reports → partial outage
		{"Stream 3", 3, "s3", 1, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, ""},
		{"Stream 4", 4, "s4", 4, okHandler, ""}, // back to operational
	}
}

// newFixture starts a Cachet emulator in mode; write gives it a config.
func newFixture(t *testing.T, mode cachettest.Mode) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), cachet: cachettest.New(testToken, cachettest.WithMode(mode)), env: map[string]string{"TEST_CACHET_TOKEN": testToken}}
	f.cfg = filepath.Join(f.dir, "config.yaml")
	t.Cleanup(f.cachet.Close)
	return f
}

// newFleet starts the fleet and writes a config with a file report source
// holding reportsJSON; extra is added at the top level.
func newFleet(t *testing.T, fleet []fleetServer, reportsJSON, extra string) *fixture {
	t.Helper()
	f := newFixture(t, cachettest.Cachet24)
	var b strings.Builder
	for _, s := range fleet {
		url := "http://127.0.0.1:1/"
		if s.handler != nil {
			srv := httptest.NewServer(s.handler)
			t.Cleanup(srv.Close)
			url = srv.URL + "/"
		}
		if s.current > 0 {
			f.cachet.Add(cachettest.Component{ID: s.id, Name: s.name, Status: s.current, Enabled: true})
		}
		fmt.Fprintf(&b, "  - name: %s\n    url: %s\n    component_id: %d\n    reports_key: %s\n%s", s.name, url, s.id, s.key, s.extra)
	}
	f.write(reportsJSON, "probe: {timeout: 2s}\nreports: {source: {type: file, path: reports.json, max_age: 0s}}\n"+extra+"\nservers:\n"+b.String())
	return f
}

// write writes reports.json (unless "") and a config: the cachet block,
// the state, then body.
func (f *fixture) write(reportsJSON, body string) {
	f.t.Helper()
	text := fmt.Sprintf("cachet: {url: %s, token_env: TEST_CACHET_TOKEN, timeout: 2s, retries: 0}\nlock_file: run.lock\nstate: {path: state.json}\nconfirm: {worse: 1, better: 1}\n%s", f.cachet.URL(), body)
	if err := os.WriteFile(f.cfg, []byte(text), 0o600); err != nil {
		f.t.Fatal(err)
	}
	if reportsJSON != "" {
		if err := os.WriteFile(filepath.Join(f.dir, "reports.json"), []byte(reportsJSON), 0o600); err != nil {
			f.t.Fatal(err)
		}
	}
}

// edit replaces old with new in the config, once.
func (f *fixture) edit(old, new string) {
	f.t.Helper()
	data, err := os.ReadFile(f.cfg)
	if err != nil || !strings.Contains(string(data), old) {
		f.t.Fatalf("the config has no %q: %v", old, err)
	}
	if err := os.WriteFile(f.cfg, []byte(strings.Replace(string(data), old, new, 1)), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// servers is a servers: block of n servers on a closed port mapped to
// components 1..n, extra added to each.
func servers(n int, extra string) string {
	var b strings.Builder
	b.WriteString("servers:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - name: S%d\n    url: http://127.0.0.1:1/\n    component_id: %d\n%s", i, i, extra)
	}
	return b.String()
}

type result struct {
	code     int
	out, err string
}

// lines are the lines of out that start with tag ("[warn]", ...) and
// contain every one of words.
func (r result) lines(tag string, words ...string) int {
	n := 0
	for _, l := range strings.Split(r.out, "\n") {
		if strings.HasPrefix(l, tag) && !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(l, w) }) {
			n++
		}
	}
	return n
}

// run runs the command line with --config; no secret may show in the
// output.
func (f *fixture) run(ctx context.Context, args ...string) result {
	f.t.Helper()
	var out, errb bytes.Buffer
	env := Env{Out: &out, Err: &errb, Getenv: func(k string) string { return f.env[k] }, Now: time.Now,
		Version: "test", FileLimit: f.files, SetMemoryLimit: func(n int64) { f.memory = n }}
	r := result{Execute(ctx, append(args, "--config", f.cfg), env), out.String(), errb.String()}
	for _, secret := range f.env {
		if strings.Contains(r.out+r.err, secret) {
			f.t.Fatalf("%q leaked into the output:\n%s\n%s", secret, r.out, r.err)
		}
	}
	return r
}

func (f *fixture) status(id int) int {
	c, _ := f.cachet.Component(id)
	return c.Status
}

// decode reads out as one JSON document.
func decode(t *testing.T, r result) map[string]any {
	t.Helper()
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(r.out))
	if err := dec.Decode(&doc); err != nil || dec.More() {
		t.Fatalf("exit %d: not one JSON document: %v\n%s%s", r.code, err, r.out, r.err)
	}
	return doc
}

// keys are the sorted keys of a JSON object.
func keys(v any) string {
	m, _ := v.(map[string]any)
	return fmt.Sprint(slices.Sorted(maps.Keys(m)))
}

func TestRunLockHeld(t *testing.T) {
	f := newFleet(t, defaultFleet(), `{}`, "")
	l, err := state.LockFile(filepath.Join(f.dir, "run.lock"))
	if err != nil {
		t.Fatal(err)
	}
	r := f.run(context.Background(), "run")
	rj := f.run(context.Background(), "run", "-o", "json")
	l()
	if r.code != ExitLocked || !strings.Contains(r.err, "run.lock") || len(f.cachet.Requests()) != 0 {
		t.Fatalf("exit %d, stderr %q, %d requests to Cachet", r.code, r.err, len(f.cachet.Requests()))
	}
	// A run that does nothing still prints its one document, saying why.
	doc := decode(t, rj)
	if rj.code != ExitLocked || !strings.Contains(fmt.Sprint(doc["not_run"]), "lock") || doc["summary"].(map[string]any)["failed"] != false || fmt.Sprint(doc["rows"]) != "[]" {
		t.Errorf("lock held: exit %d, %v", rj.code, doc)
	}
	f.edit("confirm:", "no_such_key: 1\nconfirm:")
	r = f.run(context.Background(), "run", "-o", "json", "--dry-run")
	doc = decode(t, r)
	if r.code != ExitUsage || !strings.Contains(fmt.Sprint(doc["not_run"]), "no_such_key") || doc["summary"].(map[string]any)["failed"] != true ||
		doc["dry_run"] != true || !strings.Contains(r.err, "no_such_key") {
		t.Errorf("broken config: exit %d, %v\n%s", r.code, doc, r.err)
	}
}

func TestRunInterrupted(t *testing.T) {
	fleet := append(defaultFleet(), fleetServer{"Hang", 5, "h", 1, hang, "    timeout: 30s\n"})
	f := newFleet(t, fleet, `{}`, "metrics_file: metrics.prom")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	if r := f.run(ctx, "run"); r.code != ExitInterrupted || f.status(5) != 1 || !strings.Contains(r.out, "interrupted") {
		t.Fatalf("exit %d, want 4, component 5 unchanged\n%s%s", r.code, r.out, r.err)
	}
	prom := filepath.Join(f.dir, "metrics.prom")
	if data, _ := os.ReadFile(prom); promValue(t, prom, "cachet_updater_run_exit_code") != 4 || strings.Contains(string(data), "cachet_updater_last_success_timestamp_seconds ") {
		t.Errorf("an interrupted first run: not exit code 4, or a last success:\n%s", data)
	}
}

// TestRunTimeout: run_timeout ends the run, also when Cachet takes every
// write and never answers (10 s request timeout, 3 retries): within its
// own deadline plus the write grace, no retry after it, exit 4.
func TestRunTimeout(t *testing.T) {
	f := newFleet(t, []fleetServer{{"Hang", 5, "h", 1, hang, "    timeout: 30s\n"}}, `{}`, "run_timeout: 300ms")
	if r := f.run(context.Background(), "run"); r.code != ExitInterrupted || !strings.Contains(r.out, "run_timeout 300ms exceeded") {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	f = newFleet(t, defaultFleet()[2:3], `{}`, "run_timeout: 1s") // 503: Stream 3 changes to major_outage
	f.edit("timeout: 2s, retries: 0", "timeout: 10s, retries: 3")
	f.cachet.FailNext(cachettest.FaultHang, -1, true)
	start := time.Now()
	r := f.run(context.Background(), "run")
	if r.code != ExitInterrupted || !strings.Contains(r.out, "run_timeout 1s exceeded") || !strings.Contains(r.out, "interrupted") {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	if took := time.Since(start); took > 20*time.Second { // 1 s and 3 s of grace, not minutes of retries
		t.Errorf("the run took %s after run_timeout", took)
	}
	if n := len(f.cachet.Writes()); n != 1 {
		t.Errorf("%d writes reached Cachet, want 1 (no retry after run_timeout)", n)
	}
}

func TestDemo(t *testing.T) {
	for _, api := range []string{"v2", "v3"} {
		f := newFixture(t, cachettest.Cachet24)
		r := f.run(context.Background(), "demo", "--api", api)
		if r.code != ExitOK {
			t.Fatalf("demo --api %s: exit %d\n%s\n%s", api, r.code, r.out, r.err)
		}
		want := []string{"first run", "pending", "(1/2)", "Cachet received 7 writes:", "third run", "timeout after", "refused", "(disabled)"}
		if api == "v3" {
			want = append(want, "Cachet 3.x API emulator", "PATCH /api/components/")
		}
		for _, s := range want {
			if !strings.Contains(r.out, s) {
				t.Errorf("demo --api %s output lacks %q:\n%s", api, s, r.out)
			}
		}
		if n := strings.Count(r.out, "Cachet received 0 writes\n"); n != 2 {
			t.Errorf("the first and third runs should write nothing; %d runs wrote nothing:\n%s", n, r.out)
		}
	}
}

func TestRunCachetFaults(t *testing.T) {
	for _, tt := range []struct {
		name                 string
		fault                cachettest.Fault
		n, retries, wantCode int
		onlyWrites, written  bool // faults of writes only; statuses end up written
		wantOut              string
		answer               string // "CONTENT-TYPE BODY": every answer of a server in front of Cachet
	}{
		{"listing answers HTML", cachettest.FaultNone, 0, 0, ExitFailed, false, false, "cachet.url must be the API base", "text/html <!DOCTYPE html>\n<html><body><h1>All systems operational</h1></body></html>\n"},
		{"listing truncated", cachettest.FaultNone, 0, 0, ExitFailed, false, false, "nothing was written", `application/json {"meta":{"pagination":{"total":45,"current_page":1,"total_pages":3}},"data":[{"id":1,"name":"Trunc`},
		{"listing 500 once, retried", cachettest.Fault500, 1, 2, ExitOK, false, true, "3 changed (3 written)", ""},
		{"writes 500 every time", cachettest.Fault500, -1, 1, ExitFailed, true, false, "after 2 attempts", ""},
		{"writes connection closed once, retried", cachettest.FaultClose, 1, 2, ExitOK, true, true, "3 written", ""},
	} {
		f := newFleet(t, defaultFleet(), `{"s2": 25}`, "")
		f.edit("retries: 0", fmt.Sprintf("retries: %d", tt.retries))
		f.cachet.FailNext(tt.fault, tt.n, tt.onlyWrites)
		if ct, body, _ := strings.Cut(tt.answer, " "); tt.answer != "" {
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", ct)
				io.WriteString(w, body)
			}))
			defer front.Close()
			f.edit(f.cachet.URL(), front.URL+"/api/v1")
		}
		r := f.run(context.Background(), "run")
		if r.code != tt.wantCode || !strings.Contains(r.out, tt.wantOut) || (f.status(3) == 4) != tt.written {
			t.Errorf("%s: exit %d (want %d), output lacks %q, component 3 is %d:\n%s%s", tt.name, r.code, tt.wantCode, tt.wantOut, f.status(3), r.out, r.err)
		}
	}
}

// TestRunOpenFileLimit: under an open-file limit that leaves room for one
// probe, the run says so, probes one at a time and still decides every
// server right; check warns about the same limit. The run sets the soft
// memory limit from the probes it keeps in flight.
func TestRunOpenFileLimit(t *testing.T) {
	for n, want := range map[int]int64{1: 80 << 20, 1500: 80 << 20, 2000: 20<<20 + 2000*40<<10, 10000: 20<<20 + 10000*40<<10} {
		if got := memoryLimit(n); got != want {
			t.Errorf("memoryLimit(%d) = %d, want %d", n, got, want)
		}
	}
	f := newFleet(t, defaultFleet(), `{"s2": 25}`, "")
	f.files = 36 // 32 kept for the rest, 4 for Cachet writes: 0 left, so 1
	r := f.run(context.Background(), "run")
	warn := "the open-file limit (36) allows 1 probe at once, not probe.concurrency 1500: probing 1 at a time"
	if r.code != ExitOK || !strings.Contains(r.err, warn) || !strings.Contains(r.err, "ulimit -n") || f.memory != 80<<20 {
		t.Errorf("exit %d, memory limit %d, stderr lacks %q:\n%s", r.code, f.memory, warn, r.err)
	}
	for id, st := range map[int]int{1: 1, 2: 3, 3: 4, 4: 1} {
		if got := f.status(id); got != st {
			t.Errorf("component %d: status %d, want %d", id, got, st)
		}
	}
	if r := f.run(context.Background(), "check"); r.code != ExitOK || !strings.Contains(r.out, "[warn] "+warn) {
		t.Errorf("check: exit %d, want a warning %q:\n%s", r.code, warn, r.out)
	}
	f.files = 1 << 20 // plenty: no warning
	if r := f.run(context.Background(), "run"); r.code != ExitOK || strings.Contains(r.err, "open-file limit") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.err)
	}
	f.files = 1024 // fewer servers than slots: never more in flight than servers
	if r := f.run(context.Background(), "run"); strings.Contains(r.err, "open-file limit") {
		t.Errorf("4 servers under 1024 files:\n%s", r.err)
	}
}

// TestCommandLine: the flags and the environment reach the commands; the
// shell completes --only with the config's servers and the fixed values.
func TestCommandLine(t *testing.T) {
	f := newFleet(t, defaultFleet()[:1], `{}`, "")
	if r := f.run(context.Background(), "version"); r.code != 0 || r.out != "cachet-updater test\n" {
		t.Errorf("version: exit %d, %q", r.code, r.out)
	}
	var out bytes.Buffer
	env := Env{Out: &out, Err: io.Discard, Getenv: func(k string) string {
		return map[string]string{"CACHET_UPDATER_CONFIG": f.cfg, "TEST_CACHET_TOKEN": testToken}[k]
	}, Now: time.Now}
	if code := Execute(context.Background(), []string{"run", "-n", "--only", "1", "--log-format", "json"}, env); code != 0 || !strings.Contains(out.String(), "1 server: 0 changed (dry run: nothing written)") {
		t.Errorf("$CACHET_UPDATER_CONFIG: exit %d\n%s", code, out.String())
	}
	if code := Execute(context.Background(), []string{"check", "-c", filepath.Join(f.dir, "nope.yaml")}, env); code != ExitUsage {
		t.Errorf("-c: exit %d", code)
	}
	for _, tt := range []struct{ args, want string }{
		{"run --only ", "Stream 1\n"},
		{"run --log-level ", "debug\ninfo\nwarn\nerror\n"},
		{"components --output ", "table\nyaml\njson\n"},
	} {
		out.Reset()
		Execute(context.Background(), append([]string{"__complete", "--config", f.cfg}, strings.Split(tt.args, " ")...), env)
		if !strings.HasPrefix(out.String(), tt.want) {
			t.Errorf("%q completes\n%s", tt.args, out.String())
		}
	}
	if r := f.run(context.Background(), "run", "-o", "xml"); r.code != ExitUsage {
		t.Errorf("--output xml: exit %d", r.code)
	}
}

// TestCrontabLine: the crontab line in run --help is the README's.
func TestCrontabLine(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(runExample), "\n")
	if !strings.Contains(string(readme), "\n"+line+"\n") {
		t.Errorf("the README has not the crontab line of run --help:\n%s", line)
	}
}
