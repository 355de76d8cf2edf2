//go:build linux

// Command benchfleet runs the cachet-updater binary against fleets of
// loopback servers and a Cachet emulator and prints its wall time against
// the machine's floor (a bare TCP client in a process of its own), its peak
// RSS and CPU time, each run checked for correctness. `make bench` runs it;
// TestFleetSmoke runs a small fleet in `make test`.
package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
)

// mix is the fleet, per 100 servers: 82 answer at once (f), 5 after 300ms
// (s), 10 never (h), 2 answer 503 (x), 1 refuses (r: nothing listens).
const mix = "fffhfffsfffffhfffffffffhfffsfffffhffffffffrhfffsff" + "fffhfxfffffffhfffsfffffhfffffffffhfffsfffffhfxffff"

// want is the status each kind ends with under the defaults (on_timeout
// performance_issues; errors and 5xx major_outage); all start operational.
var want = map[byte]int{'f': 1, 's': 1, 'h': 2, 'x': 4, 'r': 4}

const token = "bench-token" // the emulator's; not a secret

func main() {
	sizes := flag.String("n", "100,1000,10000", "fleet sizes, comma-separated")
	timeout := flag.Duration("timeout", time.Second, "probe timeout: the floor of a run with hanging servers")
	bin := flag.String("bin", "bin/cachet-updater", "the binary to measure")
	bareClient := flag.Bool("bare-client", false, "internal: be the bare client for the URLs on stdin")
	flag.Parse()
	if *bareClient {
		urls, _ := io.ReadAll(os.Stdin)
		fmt.Print(bare(strings.Fields(string(urls)), *timeout))
	} else if err := run(*sizes, *timeout, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "benchfleet:", err)
		os.Exit(1)
	}
}

func run(sizes string, timeout time.Duration, bin string) error {
	dir, err := os.MkdirTemp("", "benchfleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Issue 19, at N = 10,000: at most 1.5 × the floor at a 1 s timeout, 1.1 × at 10 s; peak RSS at most 100 MB.
	target := map[bool]float64{true: 1.1, false: 1.5}[timeout >= 10*time.Second]
	fmt.Printf("cachet-updater fleet benchmark: probe timeout %s, %d CPUs, %s; per 100 servers 82 answer at once, 5 after 300ms, 10 never, 2 with 503, 1 refuses\n\n%6s %9s %9s %10s %9s %9s %-16s %s\n",
		timeout, runtime.NumCPU(), runtime.Version(), "N", "wall", "floor", "wall/floor", "peak RSS", "CPU", fmt.Sprintf("≤ %.1f×, 100 MB", target), "correct; the floor's bare client")
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(s)
		f, ferr := startFleet(n)
		if err = cmp.Or(err, ferr); err != nil {
			return err
		}
		m, got, wants, err := runBinary(bin, f, timeout, dir)
		// Maps print sorted: check is "" when all is as it must be.
		check := map[bool]string{false: fmt.Sprintf("NO: %v, want %v", got, wants)}[fmt.Sprint(got) == fmt.Sprint(wants)]
		cmd := exec.Command(os.Args[0], "-bare-client", "-timeout", timeout.String()) // this program
		cmd.Stdin = strings.NewReader(strings.Join(f.urls, "\n"))
		floor, berr := measure(cmd)
		ratio := float64(m.wall) / float64(floor.wall)
		verdict := map[bool]string{true: "met", false: "MISSED"}[ratio <= target && m.rss <= 100<<20]
		fmt.Printf("%6d %9s %9s %10.2f %6.1f MB %9s %-16s %s; %s\n", n, m.wall.Round(time.Millisecond), floor.wall.Round(time.Millisecond), ratio,
			float64(m.rss)/(1<<20), m.cpu.Round(time.Millisecond), verdict, cmp.Or(check, "yes"), floor.out)
		if n == 100 && check == "" {
			err = cmp.Or(err, berr, sequential(f, timeout))
		}
		f.close()
		if err = cmp.Or(err, berr); err != nil || check != "" {
			return fmt.Errorf("the run with %d servers: %v %s\n%s", n, err, check, m.out[max(0, len(m.out)-2000):])
		}
	}
	return nil
}

type fleet struct {
	urls   []string
	cachet *cachettest.Server
	close  func()
}

// startFleet starts n servers and the emulator. Server i listens at
// 127.1.x.y, its own loopback address (so that a large fleet does not use
// up the ephemeral ports the probes connect from): one listener on all
// addresses answers as mix says for the address a probe connected to.
func startFleet(n int) (*fleet, error) {
	ln, err := net.Listen("tcp4", ":0")
	if err != nil {
		return nil, err
	}
	f := &fleet{cachet: cachettest.New(token)}
	f.close = func() { ln.Close(); f.cachet.Close() }
	go serve(ln)
	for i := range n {
		port := map[bool]int{true: 1, false: ln.Addr().(*net.TCPAddr).Port}[mix[i%100] == 'r'] // nothing listens on port 1
		f.urls = append(f.urls, fmt.Sprintf("http://127.%d.%d.%d:%d/", 1+(i+1)>>16, (i+1)>>8&0xff, (i+1)&0xff, port))
		f.cachet.Add(cachettest.Component{ID: i + 1, Name: fmt.Sprint("s", i+1), Status: 1, Enabled: true})
	}
	return f, nil
}

// serve answers minimally on purpose: the fleet shares the cores with the
// run it measures. A probe's request arrives in one read.
func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			ip := c.LocalAddr().(*net.TCPAddr).IP.To4()
			kind := mix[(int(ip[1]-1)<<16|int(ip[2])<<8|int(ip[3])-1)%100]
			if _, err := c.Read(make([]byte, 1024)); err != nil || kind == 'h' || !c.RemoteAddr().(*net.TCPAddr).IP.IsLoopback() {
				io.Copy(io.Discard, c) // until the prober gives up
				return
			} else if kind == 's' {
				time.Sleep(300 * time.Millisecond)
			}
			io.WriteString(c, "HTTP/1.1 "+map[bool]string{true: "503 Service Unavailable", false: "200 OK"}[kind == 'x']+"\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
		}()
	}
}

// measured is what a child process cost.
type measured struct {
	wall, cpu time.Duration
	rss       int64 // peak, bytes
	exit      int
	out       string
}

// measure runs cmd; an exit code other than 0 is no error.
func measure(cmd *exec.Cmd) (m measured, err error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err = cmd.Run(); cmd.ProcessState != nil {
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage) // Maxrss in KiB on Linux
		m, err = measured{time.Since(start), time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss << 10, cmd.ProcessState.ExitCode(), out.String()}, nil
	}
	return m, err
}

// runBinary runs bin once against the fleet, from no state, and returns
// what it did and what a first run must do: exit 0, Cachet's listing (100 a
// page) and schedules read once, one write per changed component, every
// final status right, nothing else.
func runBinary(bin string, f *fleet, timeout time.Duration, dir string) (m measured, got, wants map[string]int, err error) {
	cfg := fmt.Sprintf("cachet: {url: %s, token_env: BENCH_CACHET_TOKEN}\nprobe: {timeout: %s}\nconfirm: {worse: 1, better: 1}\nmanual_hold: 0s\n"+
		"state: {path: %s}\nlock_file: %s\nservers:\n", f.cachet.URL(), timeout, filepath.Join(dir, "state.json"), filepath.Join(dir, "lock"))
	wants = map[string]int{"exit code": 0, "wrong statuses": 0, "GET /api/v1/components": (len(f.urls) + 99) / 100, "GET /api/v1/schedules": 1, "PUT /api/v1/components/": 0}
	for i, u := range f.urls {
		cfg += fmt.Sprintf("  - {name: s%d, url: %q, component_id: %d}\n", i+1, u, i+1)
		wants["PUT /api/v1/components/"] += min(1, want[mix[i%100]]-1)
	}
	path := filepath.Join(dir, "bench.yaml")
	if err := errors.Join(os.WriteFile(path, []byte(cfg), 0o600), os.RemoveAll(filepath.Join(dir, "state.json"))); err != nil {
		return m, nil, nil, err
	}
	f.cachet.Reset()
	cmd := exec.Command(bin, "run", "--config", path, "--log-format", "json")
	cmd.Env = append(os.Environ(), "BENCH_CACHET_TOKEN="+token)
	m, err = measure(cmd)
	got = map[string]int{"exit code": m.exit, "wrong statuses": 0, "PUT /api/v1/components/": 0}
	for _, r := range f.cachet.Requests() {
		got[r.Method+" "+strings.TrimRight(r.Path, "0123456789")]++
	}
	for i, c := range f.cachet.Components() { // sorted by id
		got["wrong statuses"] += map[bool]int{true: 1}[c.Status != want[mix[i%100]]]
	}
	return m, got, wants, err
}

// bare is the machine's floor: per server dial, write a request line, read
// once, close (no HTTP parsing, config or Cachet), 1,500 at once (the
// default probe.concurrency).
func bare(urls []string, timeout time.Duration) map[string]int {
	outcomes, slots := make(chan string, len(urls)), make(chan struct{}, 1500)
	for _, u := range urls {
		slots <- struct{}{}
		go func() {
			defer func() { <-slots }()
			deadline := time.Now().Add(timeout)
			c, err := (&net.Dialer{Deadline: deadline}).Dial("tcp", strings.Trim(strings.TrimPrefix(u, "http://"), "/"))
			if err == nil {
				c.SetDeadline(deadline)
				if _, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err == nil {
					_, err = c.Read(make([]byte, 512))
				}
				c.Close()
			}
			outcome := map[bool]string{true: "answered", false: "failed"}[err == nil]
			if errors.Is(err, os.ErrDeadlineExceeded) {
				outcome = "timed out"
			}
			outcomes <- outcome
		}()
	}
	counts := map[string]int{}
	for range urls {
		counts[<-outcomes]++
	}
	return counts
}

// sequential times and prints the original script's shape: probe one
// server after another, then PUT its status (a connection each, as the
// script's requests.put), for every server, every time.
func sequential(f *fleet, timeout time.Duration) error {
	f.cachet.Reset()
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	for i, u := range f.urls {
		status := 2 // the script's "except requests.RequestException": performance issues
		if resp, err := client.Get(u); err == nil {
			resp.Body.Close()
			status = map[bool]int{true: 1, false: 4}[resp.StatusCode == http.StatusOK]
		}
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/components/%d", f.cachet.URL(), i+1), strings.NewReader(fmt.Sprintf(`{"status":%d}`, status)))
		req.Header = http.Header{"X-Cachet-Token": {token}, "Content-Type": {"application/json"}, "Accept": {"application/json"}}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("one-at-a-time loop: %w", err)
		}
		resp.Body.Close()
	}
	fmt.Printf("\none-at-a-time loop (the original script's shape), N=%d: %s, %d PUTs (one per server, every run)\n\n", len(f.urls), time.Since(start).Round(time.Millisecond), len(f.cachet.Writes()))
	return nil
}
