// Command benchfleet runs the cachet-updater binary against fleets of
// loopback servers and prints wall time against the floor, peak RSS, CPU time
// and the Cachet requests, with the targets. `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proxer/cachet-updater/internal/benchfleet"
)

func main() {
	sizes := flag.String("n", "100,1000,10000", "fleet sizes, comma-separated")
	timeout := flag.Duration("timeout", time.Second, "probe timeout: the floor of a run with hanging servers")
	bin := flag.String("bin", "bin/cachet-updater", "the binary to run")
	seqN := flag.Int("sequential-n", 100, "fleet size for the one-at-a-time loop (0: skip)")
	var tu benchfleet.Tuning
	flag.IntVar(&tu.Concurrency, "concurrency", 0, "probe.concurrency for the runs (0: the default)")
	flag.IntVar(&tu.WriteConcurrency, "write-concurrency", 0, "cachet.write_concurrency for the runs (0: the default)")
	bare := flag.String("bare", "1500,10000", "concurrencies of the bare client that measures the machine's floor at the largest N (\"\": skip)")
	bareClient := flag.String("bare-client", "", "internal: be the bare client for the URLs in this file (one a line), with -timeout and -concurrency")
	flag.Parse()
	if *bareClient != "" {
		if err := runBareClient(*bareClient, *timeout, tu.Concurrency); err != nil {
			fmt.Fprintln(os.Stderr, "benchfleet -bare-client:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*sizes, *timeout, *bin, *seqN, tu, *bare); err != nil {
		fmt.Fprintln(os.Stderr, "benchfleet:", err)
		os.Exit(1)
	}
}

func run(sizes string, timeout time.Duration, bin string, seqN int, tu benchfleet.Tuning, bare string) error {
	var ns []int
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-n: %q is not a fleet size", s)
		}
		ns = append(ns, n)
	}
	dir, err := os.MkdirTemp("", "benchfleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	fmt.Printf("cachet-updater fleet benchmark: probe timeout %s, %d CPUs, %s\n", timeout, runtime.NumCPU(), runtime.Version())
	fmt.Println("fleet: per 100 servers 10 never answer, 5 answer after 300ms, 2 answer 503, 1 refuses, 82 answer at once; all start operational in Cachet")
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "N\thanging\twall\tfloor\twall/floor\twall target\tpeak RSS\tRSS target\tCPU\tCachet reads\tCachet writes\tcorrect\t")
	failed := false
	var concurrent100 time.Duration
	for _, n := range ns {
		f, err := benchfleet.Start(n)
		if err != nil {
			return err
		}
		r, err := benchfleet.Run(ctx, bin, f, timeout, tu, dir)
		f.Close()
		if err != nil {
			return err
		}
		if n == seqN {
			concurrent100 = r.Wall
		}
		limit := time.Duration(1.2*float64(timeout)) + 500*time.Millisecond
		wallOK := verdict(r.Wall <= limit)
		rssOK := "-"
		if n >= 10000 {
			rssOK = verdict(r.MaxRSS <= 100<<20)
		}
		correct := "yes"
		if !r.Correct() {
			correct, failed = "NO", true
			fmt.Fprintf(os.Stderr, "N=%d: exit %d, wrong statuses %d, other requests %d\n%s\n", n, r.ExitCode, r.Wrong, r.Other, tail(r.Output, 2000))
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%.2f\t≤ %s %s\t%.1f MB\t%s\t%s\t%d (want %d)\t%d (want %d)\t%s\t\n",
			n, r.Hanging, r.Wall.Round(time.Millisecond), timeout, float64(r.Wall)/float64(timeout), limit, wallOK,
			float64(r.MaxRSS)/(1<<20), rssOK, r.CPU.Round(time.Millisecond), r.Reads, r.WantReads, r.Writes, r.WantWrites, correct)
	}
	tw.Flush()

	if bare != "" {
		if err := machineFloor(ctx, slices.Max(ns), timeout, bare, dir); err != nil {
			return err
		}
	}

	if seqN > 0 {
		f, err := benchfleet.Start(seqN)
		if err != nil {
			return err
		}
		seq, puts, err := benchfleet.Sequential(ctx, f, timeout)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Printf("\none-at-a-time loop (the original script's shape), N=%d: %s, %d PUTs (one per server, every run)", seqN, seq.Round(time.Millisecond), puts)
		if concurrent100 > 0 {
			fmt.Printf("; cachet-updater: %s, %.0f× faster", concurrent100.Round(time.Millisecond), float64(seq)/float64(concurrent100))
		}
		fmt.Println()
	}
	if failed {
		return fmt.Errorf("a run did not do what it must (see above)")
	}
	return nil
}

// machineFloor runs the bare client (benchfleet itself, in a process of its
// own) against a fleet of n at each concurrency and prints what it took: the
// least time any prober could take for that fleet on this machine.
func machineFloor(ctx context.Context, n int, timeout time.Duration, concurrencies, dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	f, err := benchfleet.Start(n)
	if err != nil {
		return err
	}
	defer f.Close()
	list := filepath.Join(dir, "bare-urls.txt")
	if err := os.WriteFile(list, []byte(strings.Join(f.URLs, "\n")), 0o600); err != nil {
		return err
	}
	fmt.Printf("\nthe machine's floor, N=%d: a bare client (dial, one request line, the first read, close; no HTTP parsing, config or Cachet) in a process of its own\n", n)
	for _, c := range strings.Split(concurrencies, ",") {
		c = strings.TrimSpace(c)
		if _, err := strconv.Atoi(c); err != nil {
			return fmt.Errorf("-bare: %q is not a concurrency", c)
		}
		m, err := benchfleet.Measure(exec.CommandContext(ctx, self, "-bare-client", list, "-timeout", timeout.String(), "-concurrency", c))
		if err != nil {
			return err
		}
		if m.ExitCode != 0 {
			return fmt.Errorf("bare client: exit %d: %s", m.ExitCode, tail(m.Output, 2000))
		}
		fmt.Printf("  concurrency %5s: wall %s, CPU %s, peak RSS %.1f MB; %s (want %d timed out, %d failed)\n",
			c, m.Wall.Round(time.Millisecond), m.CPU.Round(time.Millisecond), float64(m.MaxRSS)/(1<<20),
			strings.TrimSpace(m.Output), f.Count(benchfleet.Hang), f.Count(benchfleet.Refuse))
	}
	return nil
}

func runBareClient(list string, timeout time.Duration, concurrency int) error {
	data, err := os.ReadFile(list)
	if err != nil {
		return err
	}
	c := benchfleet.Bare(strings.Fields(string(data)), timeout, concurrency)
	fmt.Printf("%d answered, %d timed out, %d failed", c.Answered, c.TimedOut, c.Failed)
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
