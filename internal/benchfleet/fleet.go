// Package benchfleet measures a real run of the cachet-updater binary against
// a fleet of loopback servers and a Cachet API emulator: wall time against
// the floor (the probe timeout), peak RSS, CPU time and the requests Cachet
// received. cmd/benchfleet prints the figures; the package's test runs a
// small fleet as a correctness smoke test (never a timed test).
package benchfleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
)

// Kind is how a fleet server behaves.
type Kind int

// Server kinds, by share of the fleet (per 100 servers): 10 hang, 5 slow,
// 2 answer 503, 1 refuses, the rest answer at once.
const (
	Fast    Kind = iota // 200 at once
	Slow                // 200 after SlowDelay
	Hang                // never answers
	Refuse              // nothing listens
	Failing             // 503
)

// SlowDelay is how long a slow server takes; well inside any probe timeout
// the bench uses.
const SlowDelay = 300 * time.Millisecond

// KindOf spreads the kinds evenly over the fleet.
func KindOf(i int) Kind {
	switch r := i % 100; {
	case r%10 == 3:
		return Hang
	case r%20 == 7:
		return Slow
	case r == 55 || r == 95:
		return Failing
	case r == 42:
		return Refuse
	}
	return Fast
}

// Want is the Cachet status a server of kind k must end with, from the
// defaults (on_timeout performance_issues, on_error and 5xx major_outage).
func (k Kind) Want() int {
	switch k {
	case Hang:
		return 2
	case Refuse, Failing:
		return 4
	}
	return 1
}

// Token is the emulator's API token; not a secret.
const Token = "bench-token"

// Fleet is N servers and a Cachet emulator, all on 127.0.0.1.
type Fleet struct {
	URLs    []string
	Kinds   []Kind
	Cachet  *cachettest.Server
	closers []func()
}

// Start starts n servers and the emulator; every component starts
// operational in Cachet.
func Start(n int) (*Fleet, error) {
	f := &Fleet{Cachet: cachettest.New(Token)}
	f.closers = append(f.closers, f.Cachet.Close)
	// Each server listens on its own loopback address (127.1.x.y, all of
	// 127.0.0.0/8 is loopback on Linux) and one shared port, so a large
	// fleet does not eat the ephemeral ports the probes connect from, and
	// runs can follow each other while old connections sit in TIME_WAIT.
	port := 0
	for i := 0; i < n; i++ {
		k := KindOf(i)
		ln, err := net.Listen("tcp", net.JoinHostPort(fleetAddr(i), strconv.Itoa(port)))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("server %d of %d: %w (raise ulimit -n)", i+1, n, err)
		}
		if port == 0 {
			port = ln.Addr().(*net.TCPAddr).Port
		}
		url := "http://" + ln.Addr().String() + "/" + kindPath(k)
		if k == Refuse {
			ln.Close()
		} else {
			go serve(ln, k)
			f.closers = append(f.closers, func() { ln.Close() })
		}
		f.URLs = append(f.URLs, url)
		f.Kinds = append(f.Kinds, k)
		f.Cachet.Add(cachettest.Component{ID: i + 1, Name: fmt.Sprintf("s%d", i+1), Status: 1, Enabled: true})
	}
	return f, nil
}

// fleetAddr is server i's loopback address: 127.1.0.1, 127.1.0.2, ...
func fleetAddr(i int) string {
	i++
	return fmt.Sprintf("127.%d.%d.%d", 1+i>>16, i>>8&0xff, i&0xff)
}

func kindPath(k Kind) string {
	return [...]string{"fast", "slow", "hang", "refuse", "failing"}[k]
}

// serve answers HTTP/1.1 requests on ln the way kind k does. It is a
// minimal server on purpose: the fleet shares the machine with the run it
// measures, so the less CPU it burns, the more the figures show the run.
func serve(ln net.Listener, k Kind) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go answer(c, k)
	}
}

// The answers, each written whole in one call.
const (
	answerOK  = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
	answer503 = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
)

func answer(c net.Conn, k Kind) {
	defer c.Close()
	// Read the request head; probes send no body.
	var buf [1024]byte
	head := 0
	for !bytes.Contains(buf[:head], []byte("\r\n\r\n")) {
		if head == len(buf) {
			return
		}
		n, err := c.Read(buf[head:])
		if err != nil {
			return
		}
		head += n
	}
	switch k {
	case Hang:
		io.Copy(io.Discard, c) // until the prober gives up and closes
		return
	case Slow:
		time.Sleep(SlowDelay)
	}
	if k == Failing {
		io.WriteString(c, answer503)
		return
	}
	io.WriteString(c, answerOK)
}

// Close stops every server.
func (f *Fleet) Close() {
	for _, c := range f.closers {
		c()
	}
	f.closers = nil
}

// Count returns how many servers are of kind k.
func (f *Fleet) Count(k Kind) int {
	n := 0
	for _, x := range f.Kinds {
		if x == k {
			n++
		}
	}
	return n
}

// WantWrites is how many components must change: all start operational.
func (f *Fleet) WantWrites() int {
	n := 0
	for _, k := range f.Kinds {
		if k.Want() != 1 {
			n++
		}
	}
	return n
}

// WantReads is the number of listing pages (the client asks for 100 a
// page) and the one read of Cachet's schedules in progress.
func (f *Fleet) WantReads() int { return max(1, (len(f.URLs)+99)/100) + 1 }

// Tuning overrides the defaults of the config under test; zero keeps them.
type Tuning struct {
	Concurrency      int // probe.concurrency
	WriteConcurrency int // cachet.write_concurrency
}

// stateFile is the state file of the runs measured, in their folder.
const stateFile = "bench-state.json"

// WriteConfig writes a config for the fleet into dir.
func (f *Fleet) WriteConfig(dir string, timeout time.Duration, tu Tuning) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "cachet:\n  url: %s\n  token_env: BENCH_CACHET_TOKEN\n", f.Cachet.URL())
	if tu.WriteConcurrency > 0 {
		fmt.Fprintf(&b, "  write_concurrency: %d\n", tu.WriteConcurrency)
	}
	fmt.Fprintf(&b, "probe:\n  timeout: %s\n", timeout)
	if tu.Concurrency > 0 {
		fmt.Fprintf(&b, "  concurrency: %d\n", tu.Concurrency)
	}
	// Confirmation at once and no holds: every measured run is a first run
	// (Run removes the state file) that writes what it decided.
	fmt.Fprintf(&b, "confirm: {worse: 1, better: 1}\nmanual_hold: 0s\nstate:\n  path: %s\n", filepath.Join(dir, stateFile))
	fmt.Fprintf(&b, "lock_file: %s\nservers:\n", filepath.Join(dir, "bench.lock"))
	for i, u := range f.URLs {
		fmt.Fprintf(&b, "  - {name: s%d, url: %q, component_id: %d}\n", i+1, u, i+1)
	}
	path := filepath.Join(dir, "bench.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// Result is one measured run.
type Result struct {
	N          int
	Hanging    int
	Floor      time.Duration
	Wall       time.Duration
	CPU        time.Duration
	MaxRSS     int64 // bytes
	Reads      int
	Writes     int
	WantReads  int
	WantWrites int
	Other      int // requests that are neither listing pages, the schedules read nor PUTs
	Wrong      int // components whose final status is not the expected one
	ExitCode   int
	Output     string // the run's stdout and stderr, for a failed run
}

// Correct reports whether the run did exactly what it must.
func (r Result) Correct() bool {
	return r.ExitCode == 0 && r.Reads == r.WantReads && r.Writes == r.WantWrites && r.Other == 0 && r.Wrong == 0
}

// Run runs bin against the fleet once and measures it.
func Run(ctx context.Context, bin string, f *Fleet, timeout time.Duration, tu Tuning, dir string) (Result, error) {
	cfg, err := f.WriteConfig(dir, timeout, tu)
	if err != nil {
		return Result{}, err
	}
	f.Cachet.Reset()
	if err := os.Remove(filepath.Join(dir, stateFile)); err != nil && !os.IsNotExist(err) {
		return Result{}, err
	}
	cmd := exec.CommandContext(ctx, bin, "run", "--config", cfg, "--log-format", "json")
	cmd.Env = append(os.Environ(), "BENCH_CACHET_TOKEN="+Token)
	m, err := Measure(cmd)
	if err != nil {
		return Result{}, err
	}
	r := Result{
		N: len(f.URLs), Hanging: f.Count(Hang), Floor: timeout, Wall: m.Wall, CPU: m.CPU, MaxRSS: m.MaxRSS,
		WantReads: f.WantReads(), WantWrites: f.WantWrites(),
		ExitCode: m.ExitCode, Output: m.Output,
	}
	for _, req := range f.Cachet.Requests() {
		switch {
		case req.Method == http.MethodGet && (req.Path == "/api/v1/components" || req.Path == "/api/v1/schedules"):
			r.Reads++
		case req.Method == http.MethodPut:
			r.Writes++
		default:
			r.Other++
		}
	}
	for i, k := range f.Kinds {
		if c, ok := f.Cachet.Component(i + 1); !ok || c.Status != k.Want() {
			r.Wrong++
		}
	}
	return r, nil
}

// Measured is what a child process cost.
type Measured struct {
	Wall     time.Duration
	CPU      time.Duration // user + system
	MaxRSS   int64         // bytes
	ExitCode int
	Output   string // stdout and stderr
}

// Measure runs cmd and measures it from its rusage. A non-zero exit is not
// an error; failing to start is.
func Measure(cmd *exec.Cmd) (Measured, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	m := Measured{Wall: time.Since(start), Output: out.String()}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return m, fmt.Errorf("running %s: %w", cmd.Path, err)
	}
	m.ExitCode = cmd.ProcessState.ExitCode()
	m.MaxRSS, m.CPU = usage(cmd.ProcessState)
	return m, nil
}

// Sequential times the shape of the original script: probe one server after
// another with the timeout, then PUT its status, for every server, every
// time. It returns the wall time and the number of PUTs.
func Sequential(ctx context.Context, f *Fleet, timeout time.Duration) (time.Duration, int, error) {
	f.Cachet.Reset()
	probe := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	cachetClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	start := time.Now()
	for i, u := range f.URLs {
		st := 2 // the script's "except requests.RequestException": performance issues
		if resp, err := probe.Get(u); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			st = 4
			if resp.StatusCode == http.StatusOK {
				st = 1
			}
		}
		body := strings.NewReader(fmt.Sprintf(`{"status":%d}`, st))
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s/components/%d", f.Cachet.URL(), i+1), body)
		if err != nil {
			return 0, 0, err
		}
		req.Header.Set("X-Cachet-Token", Token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := cachetClient.Do(req)
		if err != nil {
			return 0, 0, fmt.Errorf("sequential PUT: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return time.Since(start), len(f.Cachet.Writes()), nil
}
