package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/runlock"
)

const testToken = "s3cr3t-t0ken-value-0123456789"

type fixture struct {
	t       *testing.T
	dir     string
	cfg     string
	cachet  *cachettest.Server
	servers map[string]*httptest.Server
	token   string       // what the environment hands the run
	hits    atomic.Int64 // requests the fleet received
	files   uint64       // the open-file limit the run sees; 0: none (no cap)
}

type fleetServer struct {
	name    string
	id      int
	key     string
	current int
	handler http.HandlerFunc
	extra   string
}

func okHandler(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }

func defaultFleet() []fleetServer {
	return []fleetServer{
		{"Stream 1", 1, "s1", 1, okHandler, ""},
		{"Stream 2", 2, "s2", 1, okHandler, ""}, // 25 reports → partial outage
		{"Stream 3", 3, "s3", 1, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, ""},
		{"Stream 4", 4, "s4", 4, okHandler, ""}, // back to operational
	}
}

// newFixture starts the fleet and a fake Cachet, and writes a config and a
// report file. extraTop is appended to the config's top level.
func newFixture(t *testing.T, fleet []fleetServer, reportsJSON, extraTop string) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), cachet: cachettest.New(testToken), servers: map[string]*httptest.Server{}, token: testToken}
	t.Cleanup(f.cachet.Close)
	var b strings.Builder
	for _, s := range fleet {
		url := "http://127.0.0.1:1/"
		if s.handler != nil {
			h := s.handler
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				f.hits.Add(1)
				h(w, r)
			}))
			t.Cleanup(srv.Close)
			f.servers[s.name] = srv
			url = srv.URL + "/"
		}
		if s.current > 0 {
			f.cachet.Add(cachettest.Component{ID: s.id, Name: s.name, Status: s.current, Enabled: true})
		}
		fmt.Fprintf(&b, "  - name: %s\n    url: %s\n    component_id: %d\n    reports_key: %s\n%s", s.name, url, s.id, s.key, s.extra)
	}
	cfg := fmt.Sprintf(`cachet:
  url: %s
  token_env: TEST_CACHET_TOKEN
  timeout: 2s
  retries: 0
probe:
  timeout: 2s
reports:
  source:
    type: file
    path: reports.json
    max_age: 0s
lock_file: run.lock
%s
servers:
%s`, f.cachet.URL(), extraTop, b.String())
	f.cfg = filepath.Join(f.dir, "config.yaml")
	if err := os.WriteFile(f.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if reportsJSON != "" {
		if err := os.WriteFile(filepath.Join(f.dir, "reports.json"), []byte(reportsJSON), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

type result struct {
	code     int
	out, err string
}

func (f *fixture) run(ctx context.Context, args ...string) result {
	f.t.Helper()
	var out, errb bytes.Buffer
	env := Env{
		Out: &out, Err: &errb,
		Getenv: func(k string) string {
			if k == "TEST_CACHET_TOKEN" {
				return f.token
			}
			return ""
		},
		Now:        time.Now,
		IsTerminal: func(io.Writer) bool { return false },
		Version:    "test",
		Context:    ctx,
	}
	if f.files > 0 {
		env.OpenFileLimit = func() uint64 { return f.files }
	}
	code := Execute(append(args, "--config", f.cfg), env)
	r := result{code, out.String(), errb.String()}
	if strings.Contains(r.out+r.err, testToken) {
		f.t.Fatalf("the token leaked into the output:\n%s\n%s", r.out, r.err)
	}
	return r
}

func (f *fixture) status(id int) int {
	c, ok := f.cachet.Component(id)
	if !ok {
		f.t.Fatalf("component %d missing in the fake", id)
	}
	return c.Status
}

func TestRunUpdatesOnlyWhatChanged(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{"s1": 3, "s2": 25}`, "")
	r := f.run(context.Background(), "run")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	want := map[int]int{1: 1, 2: 3, 3: 4, 4: 1}
	for id, st := range want {
		if got := f.status(id); got != st {
			t.Errorf("component %d: status %d, want %d", id, got, st)
		}
	}
	writes := f.cachet.Writes()
	if len(writes) != 3 {
		t.Fatalf("want 3 writes (components 2, 3, 4), got %d: %+v", len(writes), writes)
	}
	for _, w := range writes {
		if w.Method != http.MethodPut || !strings.Contains(w.Body, `"enabled":true`) {
			t.Errorf("write %s %s %s: want a PUT carrying enabled", w.Method, w.Path, w.Body)
		}
		if w.Path == "/api/v1/components/1" {
			t.Error("component 1 was already right and must not be written")
		}
	}
	for _, s := range []string{"Stream 2", "operational → partial_outage", "updated", "4 servers: 3 changed (3 written), 1 unchanged"} {
		if !strings.Contains(r.out, s) {
			t.Errorf("output lacks %q:\n%s", s, r.out)
		}
	}

	// The second run finds everything right: no write, nothing on stdout,
	// one summary log line.
	f.cachet.Reset()
	r = f.run(context.Background(), "run")
	if r.code != ExitOK || len(f.cachet.Writes()) != 0 {
		t.Fatalf("second run: exit %d, writes %+v", r.code, f.cachet.Writes())
	}
	if r.out != "" {
		t.Errorf("a quiet run must print nothing on stdout, got:\n%s", r.out)
	}
	if lines := strings.Split(strings.TrimSpace(r.err), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "run finished") {
		t.Errorf("want one summary log line, got:\n%s", r.err)
	}
	for _, req := range f.cachet.Requests() {
		if req.Method != http.MethodGet {
			t.Errorf("second run sent %s %s", req.Method, req.Path)
		}
	}
}

func TestRunDisabledComponentStaysDisabled(t *testing.T) {
	f := newFixture(t, defaultFleet()[:1], `{}`, "")
	f.cachet.Add(cachettest.Component{ID: 1, Name: "Stream 1", Status: 4, Enabled: false})
	if r := f.run(context.Background(), "run"); r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	c, _ := f.cachet.Component(1)
	if c.Status != 1 || c.Enabled {
		t.Fatalf("got %+v, want status 1 and still disabled", c)
	}
}

func TestRunDryRunWritesNothing(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{"s2": 25}`, "")
	r := f.run(context.Background(), "run", "--dry-run")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	if w := f.cachet.Writes(); len(w) != 0 {
		t.Fatalf("dry run wrote: %+v", w)
	}
	for _, s := range []string{"would update", "dry run: nothing written", "unchanged"} {
		if !strings.Contains(r.out, s) {
			t.Errorf("output lacks %q:\n%s", s, r.out)
		}
	}
}

func TestRunOnly(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{"s2": 25}`, "")
	r := f.run(context.Background(), "run", "--dry-run", "--only", "Stream 2", "--only", "3")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, re := range []string{`(?m)^server\s+Stream 2$`, `(?m)^server\s+Stream 3$`, `(?m)^action\s+would update$`} {
		if !regexp.MustCompile(re).MatchString(r.out) {
			t.Errorf("output does not match %s:\n%s", re, r.out)
		}
	}
	for _, s := range []string{`25 (key "s2", from file`, "25 reports ≥ 20 → partial_outage", "HTTP 503", "decided"} {
		if !strings.Contains(r.out, s) {
			t.Errorf("output lacks %q:\n%s", s, r.out)
		}
	}
	if strings.Contains(r.out, "Stream 1") || strings.Contains(r.out, "Stream 4") {
		t.Errorf("--only showed other servers:\n%s", r.out)
	}

	r = f.run(context.Background(), "run", "--only", "Stream 99")
	if r.code != ExitUsage || !strings.Contains(r.err, `"Stream 99" matches no server`) {
		t.Fatalf("unknown --only: exit %d, stderr %q", r.code, r.err)
	}
}

func TestRunUnknownComponent(t *testing.T) {
	fleet := append(defaultFleet(), fleetServer{"Ghost", 99, "g", 0, okHandler, ""})
	f := newFixture(t, fleet, `{}`, "")
	r := f.run(context.Background(), "run")
	if r.code != ExitFailed {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.out, r.err)
	}
	if !strings.Contains(r.out, `server "Ghost": component 99 does not exist in Cachet`) {
		t.Errorf("output does not name the server:\n%s", r.out)
	}
	if f.status(3) != 4 {
		t.Error("the other servers must still be updated")
	}
}

func TestRunCachetDown(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	f.cachet.Close()
	r := f.run(context.Background(), "run")
	if r.code != ExitFailed {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.out, r.err)
	}
	if !strings.Contains(r.out, "reading components from Cachet") || !strings.Contains(r.out, "nothing was written") {
		t.Errorf("output does not explain:\n%s", r.out)
	}
}

func TestRunReportSourceFails(t *testing.T) {
	f := newFixture(t, defaultFleet(), "", "") // no reports.json
	r := f.run(context.Background(), "run")
	if r.code != ExitFailed {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.out, r.err)
	}
	// Decided from the probes alone: 503 is still written, nobody is
	// marked down for the missing reports.
	if f.status(3) != 4 || f.status(2) != 1 || f.status(4) != 1 {
		t.Errorf("statuses: 2=%d 3=%d 4=%d", f.status(2), f.status(3), f.status(4))
	}
	if !strings.Contains(r.out, "decided from the probes alone") || !strings.Contains(r.err, "report source failed") {
		t.Errorf("the failure is not reported:\n%s\n%s", r.out, r.err)
	}
}

func TestRunWrongToken(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	f.token = "wrong-token-value"
	r := f.run(context.Background(), "run", "--log-level", "debug")
	if r.code != ExitFailed {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.out, r.err)
	}
	if !strings.Contains(r.out, "401 Unauthorized") {
		t.Errorf("a wrong token must read as 401 Unauthorized:\n%s", r.out)
	}
	if strings.Contains(r.out+r.err, "wrong-token-value") {
		t.Error("the token leaked")
	}
}

func TestRunUsageErrors(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	f.token = ""
	if r := f.run(context.Background(), "run"); r.code != ExitUsage || !strings.Contains(r.err, "TEST_CACHET_TOKEN") {
		t.Errorf("missing token: exit %d, stderr %q", r.code, r.err)
	}
	if len(f.cachet.Requests()) != 0 {
		t.Error("a run that cannot start must not talk to Cachet")
	}
	f.token = testToken
	if r := f.run(context.Background(), "run", "--bogus"); r.code != ExitUsage {
		t.Errorf("unknown flag: exit %d", r.code)
	}
	if r := f.run(context.Background(), "run", "--log-format", "xml"); r.code != ExitUsage {
		t.Errorf("bad log format: exit %d", r.code)
	}
	if err := os.WriteFile(f.cfg, []byte("cachet:\n  url: x\n  bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := f.run(context.Background(), "run"); r.code != ExitUsage || !strings.Contains(r.err, "config.yaml:") {
		t.Errorf("bad config: exit %d, stderr %q", r.code, r.err)
	}
}

func TestRunLockHeld(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	l, err := runlock.Acquire(filepath.Join(f.dir, "run.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	r := f.run(context.Background(), "run")
	if r.code != ExitLocked || !strings.Contains(r.err, "run.lock") {
		t.Fatalf("exit %d, stderr %q", r.code, r.err)
	}
	if len(f.cachet.Requests()) != 0 {
		t.Error("a locked-out run must not talk to Cachet")
	}
}

func TestRunInterrupted(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	fleet := append(defaultFleet(), fleetServer{"Hang", 5, "h", 1, hang, "    timeout: 30s\n"})
	f := newFixture(t, fleet, `{}`, "")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	r := f.run(ctx, "run")
	if r.code != ExitInterrupted {
		t.Fatalf("exit %d, want 4\n%s%s", r.code, r.out, r.err)
	}
	if f.status(5) != 1 {
		t.Error("an interrupted probe must not change its component")
	}
	if !strings.Contains(r.out, "interrupted") {
		t.Errorf("output:\n%s", r.out)
	}
}

func TestRunTimeoutBoundsTheRun(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	fleet := []fleetServer{{"Hang", 5, "h", 1, hang, "    timeout: 30s\n"}}
	f := newFixture(t, fleet, `{}`, "run_timeout: 300ms")
	r := f.run(context.Background(), "run")
	if r.code != ExitInterrupted || !strings.Contains(r.out, "run_timeout 300ms exceeded") {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
}

func TestCheck(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{"s1": 2, "zz": 1}`, "")
	f.cachet.Add(cachettest.Component{ID: 42, Name: "Mail", Status: 1, Enabled: true})
	r := f.run(context.Background(), "check")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, s := range []string{"[ok]", "answers ping", "token accepted", "all 4 component ids exist", `42 "Mail"`, `"zz"`, "all checks passed"} {
		if !strings.Contains(r.out, s) {
			t.Errorf("output lacks %q:\n%s", s, r.out)
		}
	}
	if len(f.cachet.Writes()) != 0 {
		t.Error("check wrote to Cachet")
	}
	if n := f.hits.Load(); n != 0 {
		t.Errorf("check probed servers: %d requests", n)
	}

	f.token = "bad-token"
	r = f.run(context.Background(), "check")
	if r.code != ExitFailed || !strings.Contains(r.out, "[FAIL]") || !strings.Contains(r.out, "401") {
		t.Fatalf("bad token: exit %d\n%s", r.code, r.out)
	}
}

func TestCheckUnknownComponentAndBadConfig(t *testing.T) {
	fleet := append(defaultFleet(), fleetServer{"Ghost", 99, "g", 0, okHandler, ""})
	f := newFixture(t, fleet, `{}`, "")
	r := f.run(context.Background(), "check")
	if r.code != ExitFailed || !strings.Contains(r.out, `server "Ghost"`) {
		t.Fatalf("exit %d\n%s", r.code, r.out)
	}
	os.WriteFile(f.cfg, []byte("servers: []\n"), 0o600)
	if r := f.run(context.Background(), "check"); r.code != ExitUsage {
		t.Fatalf("bad config: exit %d", r.code)
	}
}

func TestComponents(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	f.cachet.AddGroup(7, "Proxer Stream")
	f.cachet.Add(cachettest.Component{ID: 9, Name: "Hidden", Status: 2, Enabled: false, GroupID: 7})
	r := f.run(context.Background(), "components")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, s := range []string{"ID", "Hidden", "Proxer Stream", "performance_issues", "false"} {
		if !strings.Contains(r.out, s) {
			t.Errorf("output lacks %q:\n%s", s, r.out)
		}
	}
	r = f.run(context.Background(), "components", "--output", "yaml")
	if r.code != ExitOK || !strings.Contains(r.out, "servers:\n") || !strings.Contains(r.out, "component_id: 9") {
		t.Fatalf("yaml: exit %d\n%s", r.code, r.out)
	}
	if r := f.run(context.Background(), "components", "-o", "xml"); r.code != ExitUsage {
		t.Errorf("bad --output: exit %d", r.code)
	}
}

func TestDemo(t *testing.T) {
	var out, errb bytes.Buffer
	env := Env{Out: &out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now,
		IsTerminal: func(io.Writer) bool { return false }, Version: "test"}
	if code := Execute([]string{"demo"}, env); code != ExitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, s := range []string{"Cachet received 7 writes", "Cachet received 0 writes on the second run", "timeout after", "refused", "(disabled)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("demo output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	env := Env{Out: &out, Err: io.Discard, Getenv: func(string) string { return "" }, Now: time.Now,
		IsTerminal: func(io.Writer) bool { return false }, Version: "1.2.3"}
	if code := Execute([]string{"version"}, env); code != 0 || out.String() != "cachet-updater 1.2.3\n" {
		t.Fatalf("exit %d, %q", code, out.String())
	}
}

func TestRunCachetFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      cachettest.Fault
		n          int
		onlyWrites bool
		retries    int
		wantCode   int
		wantOut    string
		wantWrites bool // whether statuses end up written
	}{
		{"listing answers HTML", cachettest.FaultHTML200, -1, false, 0, ExitFailed, "is cachet.url the API base", false},
		{"listing truncated", cachettest.FaultTruncated, -1, false, 0, ExitFailed, "nothing was written", false},
		{"listing 500 once, retried", cachettest.Fault500, 1, false, 2, ExitOK, "3 changed (3 written)", true},
		{"writes 500 every time", cachettest.Fault500, -1, true, 1, ExitFailed, "after 2 attempts", false},
		{"writes connection closed once, retried", cachettest.FaultClose, 1, true, 2, ExitOK, "3 written", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, defaultFleet(), `{"s2": 25}`, "")
			cfg, _ := os.ReadFile(f.cfg)
			os.WriteFile(f.cfg, []byte(strings.Replace(string(cfg), "retries: 0", fmt.Sprintf("retries: %d", tt.retries), 1)), 0o600)
			f.cachet.FailNext(tt.fault, tt.n, tt.onlyWrites)
			r := f.run(context.Background(), "run")
			if r.code != tt.wantCode || !strings.Contains(r.out, tt.wantOut) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", r.code, tt.wantCode, tt.wantOut, r.out, r.err)
			}
			if got := f.status(3) == 4; got != tt.wantWrites {
				t.Errorf("component 3 written: %v, want %v", got, tt.wantWrites)
			}
		})
	}
}

func TestRunWarnsAboutReadableConfig(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	// Only a config that holds a secret (a basic-auth password) is worth a warning.
	cfg, _ := os.ReadFile(f.cfg)
	cfg = []byte(strings.Replace(string(cfg), "    url: http://127.0.0.1:", "    url: http://probe:pw-s3cret@127.0.0.1:", 1))
	if err := os.WriteFile(f.cfg, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f.cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	r := f.run(context.Background(), "run", "--dry-run")
	if r.code != ExitOK || !strings.Contains(r.err, "holds a basic-auth password") || strings.Contains(r.err, "pw-s3cret") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.err)
	}
}

func TestRunUnusableLockFile(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	cfg, _ := os.ReadFile(f.cfg)
	os.WriteFile(f.cfg, []byte(strings.Replace(string(cfg), "lock_file: run.lock", "lock_file: no-such-dir/run.lock", 1)), 0o600)
	r := f.run(context.Background(), "run")
	if r.code != ExitUsage || !strings.Contains(r.err, "lock_file") {
		t.Fatalf("exit %d, stderr %q", r.code, r.err)
	}
	if len(f.cachet.Requests()) != 0 {
		t.Error("a run that cannot lock must not talk to Cachet")
	}
}

func TestProbeConcurrency(t *testing.T) {
	tests := []struct {
		concurrency, servers, writes int
		limit                        uint64
		want                         int
		warn                         string
	}{
		{1500, 10000, 4, 0, 1500, ""},       // limit unknown: no cap
		{1500, 10000, 4, 1 << 20, 1500, ""}, // plenty
		{1500, 10000, 4, 1024, 988, "the open-file limit (1024) allows 988 probes at once, not probe.concurrency 1500: probing 988 at a time"},
		{1500, 900, 4, 1024, 1500, ""}, // fewer servers than slots: never more than 900 in flight
		{1500, 10000, 16, 1024, 976, "allows 976 probes"},
		{10, 10000, 4, 20, 1, "allows 1 probe at once"}, // absurdly low: one at a time, never none
	}
	for _, tt := range tests {
		got, why := probeConcurrency(tt.concurrency, tt.servers, tt.writes, tt.limit)
		if got != tt.want || (tt.warn == "") != (why == "") || !strings.Contains(why, tt.warn) {
			t.Errorf("probeConcurrency(%d, %d, %d, %d) = %d, %q; want %d, %q", tt.concurrency, tt.servers, tt.writes, tt.limit, got, why, tt.want, tt.warn)
		}
		if why != "" && !strings.Contains(why, "ulimit -n") {
			t.Errorf("warning %q does not say what to do", why)
		}
	}
}

// TestRunOpenFileLimit: under an open-file limit that leaves room for one
// probe, the run says so, probes one at a time and still decides every
// server right; check warns about the same limit.
func TestRunOpenFileLimit(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{"s2": 25}`, "")
	f.files = 36 // 32 kept for the rest, 4 for Cachet writes: 0 left, so 1
	r := f.run(context.Background(), "run")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	warn := "the open-file limit (36) allows 1 probe at once, not probe.concurrency 1500: probing 1 at a time"
	if !strings.Contains(r.err, warn) {
		t.Errorf("stderr lacks %q:\n%s", warn, r.err)
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
}
