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

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/status"
)

const demoHelp = `demo runs the real job three times in a temporary folder against a Cachet
emulator (--api v3: Cachet 3.x) and eight servers on 127.0.0.1 (--config is ignored).`

const demoToken = "demo-token-not-a-secret"

func runDemo(ctx context.Context, o *options) error {
	dir, err := os.MkdirTemp("", "cachet-updater-demo-")
	if err != nil {
		return fail(ExitFailed, err)
	}
	defer os.RemoveAll(dir)
	mode := map[string]cachettest.Mode{"v2": cachettest.Cachet24, "v3": cachettest.Cachet3}[o.api]
	fake := cachettest.NewHandler(demoToken, cachettest.WithMode(mode))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(ExitFailed, fmt.Errorf("demo: listening on 127.0.0.1: %w", err))
	}
	root, mux := "http://"+ln.Addr().String(), http.NewServeMux() // Cachet, and each demo server under /KEY/
	mux.Handle("/", fake.Handler())
	mux.Handle("/web/{$}", http.RedirectHandler("/web/home", http.StatusFound))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	defer srv.Close()
	cachetURL := root + fake.APIPath()

	ok := func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }
	fleet := []struct {
		name, key, extra string
		status           int // in Cachet before the demo
		handler          http.HandlerFunc
	}{
		{"Stream 1", "s1", "", 1, ok},
		{"Stream 2", "s2", "", 1, ok},
		{"Stream 3", "s3", "", 1, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }},
		{"Stream 4", "s4", "    timeout: 1s\n", 2, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
		{"Stream 5", "s5", "    slow: 300ms\n", 1, func(w http.ResponseWriter, _ *http.Request) {
			time.Sleep(600 * time.Millisecond)
			io.WriteString(w, "late\n")
		}},
		{"Stream 6", "s6", "", 1, nil}, // refused: nothing listens on port 1
		{"Website", "web", "", 3, ok},  // "/web/" redirects to "/web/home"
		{"Archive", "archive", "", 4, ok},
	}
	var servers strings.Builder
	for i, s := range fleet {
		fake.Add(cachettest.Component{ID: i + 1, Name: s.name, Status: s.status, Enabled: s.name != "Archive"})
		url := "http://127.0.0.1:1/"
		if s.handler != nil {
			url = root + "/" + s.key + "/"
			mux.HandleFunc("/"+s.key+"/", s.handler)
		}
		fmt.Fprintf(&servers, "  - name: %s\n    url: %s\n    component_id: %d\n    reports_key: %s\n%s", s.name, url, i+1, s.key, s.extra)
	}
	go srv.Serve(ln)
	cfgText := fmt.Sprintf(`# written by cachet-updater demo
cachet:
  url: %s
  token_file: token
reports:
  source: {type: file, path: reports.json, max_age: 15m}
lock_file: demo.lock
state:
  path: state.json      # the memory between runs
confirm:
  worse: 2              # a change is published once two runs in a row show it
  better: 2
servers:
%s`, cachetURL, servers.String())
	reports := `{"s1": 3, "s2": 15, "s4": 60, "web": 0}` + "\n"
	write := func(name, text string) error { return os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600) }
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := errors.Join(write("config.yaml", cfgText), write("reports.json", reports), write("token", demoToken)); err != nil {
		return fail(ExitFailed, err)
	}

	out := o.Out
	fmt.Fprintf(out, "Demo: a Cachet %s API emulator at %s and %d demo servers on 127.0.0.1.\n", mode, cachetURL, len(fleet))
	fmt.Fprintf(out, "Config %s:\n\n    %s\n\nReport counts (reports.json): %s\nCachet before the run:\n", cfgPath, strings.ReplaceAll(strings.TrimSpace(cfgText), "\n", "\n    "), reports)
	components := func() {
		for _, c := range fake.Components() {
			fmt.Fprintf(out, "  %d %-9s %s%s\n", c.ID, c.Name, status.Status(c.Status), map[bool]string{true: "", false: " (disabled)"}[c.Enabled])
		}
	}
	components()
	run := *o
	run.config, run.output = cfgPath, "table"
	run.OutTerminal = true // the table, as a terminal shows it
	var errs []error
	for _, step := range []string{"first run: every change is pending until a second run confirms it",
		"second run: the same again, so the changes are published", "third run: nothing changed, nothing written"} {
		fmt.Fprintf(out, "\n$ cachet-updater run --config config.yaml   # %s\n", step)
		errs = append(errs, runRun(ctx, &run))
		writes := fake.Writes()
		fmt.Fprintf(out, "\nCachet received %s%s\n", plural(len(writes), "write"), map[bool]string{true: ":", false: ""}[len(writes) > 0])
		for _, w := range writes {
			fmt.Fprintf(out, "  %s %s %s\n", w.Method, w.Path, w.Body)
		}
		fake.Reset()
	}
	fmt.Fprintln(out, "\nCachet after the runs:")
	components()
	return errors.Join(errs...) // the demo fleet is built so that every run succeeds
}
