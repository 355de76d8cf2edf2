package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/status"
)

const demoToken = "demo-token-not-a-secret"

// DemoOptions are what the demo command needs. --config is ignored; the log
// flags apply to the demo's runs.
type DemoOptions struct {
	Env    Env
	Global GlobalOptions
	API    string // v2 (Cachet 2.4) or v3 (Cachet 3.x)
}

func newDemoCmd(env Env, g *GlobalOptions, runF func(context.Context, *DemoOptions) error) *cobra.Command {
	o := &DemoOptions{Env: env}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the real job end to end against a built-in Cachet emulator and demo servers",
		Long: `demo starts, on 127.0.0.1 only, a Cachet API emulator and eight small demo
servers (fast, overloaded, failing, hanging, slow, refusing, redirecting,
disabled in Cachet), writes a config and a report file to a temporary folder,
and runs the real run job three times: the first finds what changed and
holds it as pending, the second confirms and writes it, the third finds
nothing to do. It needs no outside service and writes nothing
outside the temporary folder. --config is ignored. --api v3 runs it against
the emulator's Cachet 3.x mode (JSON:API, Bearer token).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Global = *g
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.API, "api", "v2", "the Cachet API the emulator speaks: v2 (Cachet 2.4) or v3 (Cachet 3.x)")
	choice(cmd, "api", "v2", "v3")
	return cmd
}

type demoServer struct {
	name    string
	id      int
	key     string
	current int // status in Cachet before the demo
	enabled bool
	extra   string // per-server config lines
	handler http.HandlerFunc
}

func demoFleet() []demoServer {
	ok := func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }
	return []demoServer{
		{name: "Stream 1", id: 1, key: "s1", current: 1, enabled: true, handler: ok},
		{name: "Stream 2", id: 2, key: "s2", current: 1, enabled: true, handler: ok},
		{name: "Stream 3", id: 3, key: "s3", current: 1, enabled: true, handler: func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		}},
		{name: "Stream 4", id: 4, key: "s4", current: 2, enabled: true, extra: "    timeout: 1s\n", handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers
		}},
		{name: "Stream 5", id: 5, key: "s5", current: 1, enabled: true, extra: "    slow: 300ms\n", handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(600 * time.Millisecond):
				io.WriteString(w, "late\n")
			case <-r.Context().Done():
			}
		}},
		{name: "Stream 6", id: 6, key: "s6", current: 1, enabled: true}, // refused: no server behind the port
		{name: "Website", id: 7, key: "web", current: 3, enabled: true, handler: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				http.Redirect(w, r, "/home", http.StatusFound)
				return
			}
			io.WriteString(w, "home\n")
		}},
		{name: "Archive", id: 8, key: "archive", current: 4, enabled: false, handler: ok},
	}
}

func runDemo(ctx context.Context, o *DemoOptions) error {
	env := o.Env
	dir, err := os.MkdirTemp("", "cachet-updater-demo-")
	if err != nil {
		return fail(ExitFailed, err)
	}
	defer os.RemoveAll(dir)

	fake := cachettest.NewHandler(demoToken)
	if o.API == "v3" {
		fake = cachettest.NewHandlerV3(demoToken)
	}
	root, stopCachet, err := serveLoopback(fake.Handler())
	if err != nil {
		return fail(ExitFailed, err)
	}
	defer stopCachet()
	cachetURL := root + fake.APIPath()

	var servers strings.Builder
	for _, s := range demoFleet() {
		fake.Add(cachettest.Component{ID: s.id, Name: s.name, Status: s.current, Enabled: s.enabled})
		url, stop, err := demoListener(s.handler)
		if err != nil {
			return fail(ExitFailed, err)
		}
		defer stop()
		fmt.Fprintf(&servers, "  - name: %s\n    url: %s/\n    component_id: %d\n    reports_key: %s\n%s", s.name, url, s.id, s.key, s.extra)
	}
	cfgText := fmt.Sprintf(`# written by cachet-updater demo
cachet:
  url: %s
  token_env: CACHET_UPDATER_DEMO_TOKEN
  timeout: 5s
probe:
  timeout: 2s
reports:
  window: 2h
  source:
    type: file
    path: reports.json
    format: counts
    max_age: 15m
lock_file: demo.lock
state:
  path: state.json      # the memory between runs
confirm:
  worse: 2              # a change is published once two runs in a row show it
  better: 2
servers:
%s`, cachetURL, servers.String())
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		return fail(ExitFailed, err)
	}
	reportsJSON := `{"s1": 3, "s2": 15, "s4": 60, "web": 0}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "reports.json"), []byte(reportsJSON), 0o600); err != nil {
		return fail(ExitFailed, err)
	}

	out := env.Out
	fmt.Fprintf(out, "Demo: a Cachet %s API emulator at %s and %d demo servers on 127.0.0.1.\n", map[string]string{"v2": "2.4", "v3": "3.x"}[o.API], cachetURL, len(demoFleet()))
	fmt.Fprintf(out, "Config %s:\n\n%s\nReport counts (reports.json): %s\n", cfgPath, indent(cfgText), reportsJSON)
	fmt.Fprintln(out, "Cachet before the run:")
	printFakeComponents(out, fake)

	demoEnv := env
	demoEnv.Getenv = func(k string) string {
		if k == "CACHET_UPDATER_DEMO_TOKEN" {
			return demoToken
		}
		return env.Getenv(k)
	}
	demoEnv.IsTerminal = func(w io.Writer) bool { return w == out || env.IsTerminal(w) }

	run := &RunOptions{Env: demoEnv, Global: o.Global}
	run.Global.ConfigPath = cfgPath
	var errs []error
	for _, step := range []string{
		"first run: every change is pending until a second run confirms it",
		"second run: the same again, so the changes are published",
		"third run: nothing changed, nothing written",
	} {
		fmt.Fprintf(out, "\n$ cachet-updater run --config config.yaml   # %s\n", step)
		errs = append(errs, runRun(ctx, run))
		writes := fake.Writes()
		fmt.Fprintf(out, "\nCachet received %s", plural(int64(len(writes)), "write"))
		if len(writes) > 0 {
			fmt.Fprint(out, ":")
		}
		fmt.Fprintln(out)
		for _, w := range writes {
			fmt.Fprintf(out, "  %s %s %s\n", w.Method, w.Path, w.Body)
		}
		fake.Reset()
	}
	fmt.Fprintln(out, "\nCachet after the runs:")
	printFakeComponents(out, fake)
	// The demo fleet is built so every run succeeds; anything else is a bug.
	return errors.Join(errs...)
}

func printFakeComponents(w io.Writer, fake *cachettest.Server) {
	for _, c := range fake.Components() {
		en := ""
		if !c.Enabled {
			en = " (disabled)"
		}
		fmt.Fprintf(w, "  %d %-9s %s%s\n", c.ID, c.Name, status.Status(c.Status), en)
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// serveLoopback serves h on a fresh 127.0.0.1 port.
func serveLoopback(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo: listening on 127.0.0.1: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
	}, nil
}

// demoListener serves h, or, for a nil h, returns the address of a port
// that refuses connections.
func demoListener(h http.HandlerFunc) (string, func(), error) {
	if h != nil {
		return serveLoopback(h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr, func() {}, nil
}
