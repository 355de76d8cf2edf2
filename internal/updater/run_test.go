package updater

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

const runToken = "run-test-token-0123456789"

// runFixture is one Cachet emulator, a few loopback servers and a config
// pointing at them, for calling Run directly.
type runFixture struct {
	t      *testing.T
	cachet *cachettest.Server
	cfg    *config.Config
	dir    string
}

// newRunFixture starts servers (name → handler; nil: a port that refuses),
// adds each as component i+1 with status current[i], and writes a config
// with a file report source holding reportsJSON.
func newRunFixture(t *testing.T, handlers []http.HandlerFunc, current []int, reportsJSON string) *runFixture {
	t.Helper()
	f := &runFixture{t: t, cachet: cachettest.New(runToken), dir: t.TempDir()}
	t.Cleanup(f.cachet.Close)
	var servers strings.Builder
	for i, h := range handlers {
		url := "http://127.0.0.1:1/"
		if h != nil {
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			url = srv.URL + "/"
		}
		id := i + 1
		f.cachet.Add(cachettest.Component{ID: id, Name: fmt.Sprintf("S%d", id), Status: current[i], Enabled: true})
		fmt.Fprintf(&servers, "  - name: S%d\n    url: %s\n    component_id: %d\n    reports_key: s%d\n", id, url, id, id)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "reports.json"), []byte(reportsJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`cachet:
  url: %s
  timeout: 2s
  retries: 0
probe:
  timeout: 1s
confirm:
  worse: 1
  better: 1
reports:
  source:
    type: file
    path: reports.json
    max_age: 0s
servers:
%s`, f.cachet.URL(), servers.String())
	cfg, err := config.Parse(filepath.Join(f.dir, "config.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
	return f
}

func (f *runFixture) run(ctx context.Context, o Options) Summary {
	f.t.Helper()
	return runWith(ctx, f.t, f.cfg, f.dir, o)
}

// runWith runs cfg against the emulator its cachet.url names, with a file
// report source as configured and the state file in dir.
func runWith(ctx context.Context, t *testing.T, cfg *config.Config, dir string, o Options) Summary {
	t.Helper()
	client, err := cachet.New(cachet.Options{BaseURL: cfg.Cachet.URL, Token: runToken, HTTPClient: &http.Client{Timeout: 5 * time.Second},
		Retries: cfg.Cachet.Retries, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	src, err := OpenSource(cfg.Reports.Source, func(string) string { return "" }, time.Now, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	store := state.NewFile(filepath.Join(dir, "state.json"), cfg.Path)
	sum, err := Run(ctx, cfg, Deps{Cachet: client, Source: src, Prober: probe.New(""), State: store, Now: time.Now, Log: zerolog.New(io.Discard)}, o)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func (f *runFixture) status(id int) status.Status {
	c, _ := f.cachet.Component(id)
	return status.Status(c.Status)
}

func ok(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }

func serviceUnavailable(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusServiceUnavailable)
}

// TestRun calls the pipeline directly against the emulator: the decided
// statuses, the rows' actions, the counts and the writes.
func TestRun(t *testing.T) {
	f := newRunFixture(t,
		[]http.HandlerFunc{ok, ok, serviceUnavailable, nil},
		[]int{1, 1, 1, 4},
		`{"s1": 3, "s2": 25}`)
	sum := f.run(context.Background(), Options{})
	if sum.Failed() || sum.Interrupted != nil {
		t.Fatalf("run failed: %+v", sum)
	}
	want := []struct {
		action Action
		status status.Status
	}{
		{Unchanged, status.Operational},
		{Updated, status.PartialOutage}, // 25 reports
		{Updated, status.MajorOutage},   // 503
		{Unchanged, status.MajorOutage}, // refused, already major
	}
	for i, w := range want {
		r := sum.Rows[i]
		if r.Action != w.action || r.Decision.Status != w.status || f.status(i+1) != w.status {
			t.Errorf("%s: action %q status %s (Cachet %s), want %q %s", r.Server.Name, r.Action, r.Decision.Status, f.status(i+1), w.action, w.status)
		}
	}
	if sum.Count(Updated) != 2 || len(f.cachet.Writes()) != 2 || sum.Writes != 2 {
		t.Errorf("writes: %d updated rows, %d at Cachet, %d counted", sum.Count(Updated), len(f.cachet.Writes()), sum.Writes)
	}
	if sum.Rows[1].Reports != (status.Reports{Count: 25, Available: true}) {
		t.Errorf("reports of S2: %+v", sum.Rows[1].Reports)
	}

	// The second run finds nothing to change.
	f.cachet.Reset()
	sum = f.run(context.Background(), Options{})
	if n := sum.Count(Unchanged); n != 4 || len(f.cachet.Writes()) != 0 {
		t.Errorf("second run: %d unchanged, %d writes", n, len(f.cachet.Writes()))
	}
}

func TestRunDryRunAndOnly(t *testing.T) {
	f := newRunFixture(t, []http.HandlerFunc{serviceUnavailable, serviceUnavailable}, []int{1, 1}, `{}`)
	sum := f.run(context.Background(), Options{DryRun: true, Only: []string{"S2"}})
	if len(sum.Rows) != 1 || sum.Rows[0].Server.Name != "S2" || sum.Rows[0].Action != WouldUpdate {
		t.Fatalf("rows: %+v", sum.Rows)
	}
	if len(f.cachet.Writes()) != 0 || f.status(2) != status.Operational {
		t.Errorf("a dry run wrote: %+v", f.cachet.Writes())
	}
}

// TestRunInterrupted: a context that ends while a probe hangs leaves that
// server alone, writes nothing for it and records why.
func TestRunInterrupted(t *testing.T) {
	started := make(chan struct{}, 1)
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}
	f := newRunFixture(t, []http.HandlerFunc{hang}, []int{1}, `{}`)
	f.cfg.Servers[0].Probe.Timeout = config.Duration(time.Minute)
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		<-started
		cancel(errors.New("SIGTERM received"))
	}()
	sum := f.run(ctx, Options{})
	if sum.Interrupted == nil || sum.Interrupted.Error() != "SIGTERM received" {
		t.Errorf("Interrupted = %v", sum.Interrupted)
	}
	if sum.Rows[0].Action != Interrupted || len(f.cachet.Writes()) != 0 {
		t.Errorf("row %+v, writes %+v", sum.Rows[0], f.cachet.Writes())
	}
}

// TestRunForgetsRemovedServers: the state drops the entries of servers no
// longer in the config; --only leaves the others' entries alone.
func TestRunForgetsRemovedServers(t *testing.T) {
	f := newRunFixture(t, []http.HandlerFunc{ok, ok, ok}, []int{1, 1, 1}, `{}`)
	f.run(context.Background(), Options{})
	store := state.NewFile(filepath.Join(f.dir, "state.json"), f.cfg.Path)
	load := func() *state.State {
		st, err := store.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if n := len(load().Components); n != 3 {
		t.Fatalf("%d entries after the first run, want 3", n)
	}
	first := load()
	time.Sleep(10 * time.Millisecond) // decisions carry their time
	f.run(context.Background(), Options{Only: []string{"S2"}})
	st := load()
	newest := func(s *state.State, id int) time.Time {
		h := s.Components[id].History
		return h[len(h)-1].At
	}
	if !newest(st, 1).Equal(newest(first, 1)) || !newest(st, 2).After(newest(first, 2)) {
		t.Errorf("--only S2 changed another entry, or not its own")
	}
	f.cfg.Servers = f.cfg.Servers[:2]
	f.run(context.Background(), Options{})
	if _, kept := load().Components[3]; kept {
		t.Error("the entry of a server no longer in the config was kept")
	}
}
