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
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/state"
)

// The end-to-end scenarios (run, dry run, --only, check, components, usage
// and config mistakes) are testscript files in testdata/script at the top of
// the module, run by cmd/cachet-updater's TestScripts against the real
// binary. What stays here needs timing (interrupts, run_timeout, faults with
// retries), a lock held by this process, or an injected Env (open-file
// limit, version).

const testToken = "s3cr3t-t0ken-value-0123456789"

type fixture struct {
	t       *testing.T
	dir     string
	cfg     string
	cachet  *cachettest.Server
	servers map[string]*httptest.Server
	token   string // what the environment hands the run
	files   uint64 // the open-file limit the run sees; 0: none (no cap)
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
			srv := httptest.NewServer(s.handler)
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
state:
  path: state.json
confirm:
  worse: 1
  better: 1
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

func TestRunLockHeld(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	l, err := state.LockFile(filepath.Join(f.dir, "run.lock"))
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

func TestDemo(t *testing.T) {
	var out, errb bytes.Buffer
	env := Env{Out: &out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now,
		IsTerminal: func(io.Writer) bool { return false }, Version: "test"}
	if code := Execute([]string{"demo"}, env); code != ExitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if n := strings.Count(out.String(), "Cachet received 0 writes\n"); n != 2 {
		t.Errorf("the first and third runs should write nothing; %d runs wrote nothing:\n%s", n, out.String())
	}

	// The same against the emulator's Cachet 3.x mode.
	out.Reset()
	if code := Execute([]string{"demo", "--api", "v3"}, env); code != ExitOK {
		t.Fatalf("demo --api v3: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, s := range []string{"Cachet 3.x API emulator", "Cachet received 7 writes:", "PATCH /api/components/"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("demo --api v3 output lacks %q:\n%s", s, out.String())
		}
	}
	for _, s := range []string{"first run", "Cachet received 0 writes\n", "pending", "(1/2)", "Cachet received 7 writes:", "third run", "timeout after", "refused", "(disabled)"} {
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
		{"listing answers HTML", cachettest.FaultHTML200, -1, false, 0, ExitFailed, "cachet.url must be the API base", false},
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
