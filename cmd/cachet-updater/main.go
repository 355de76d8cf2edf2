// Command cachet-updater keeps a Cachet status page in step with a fleet of
// HTTP servers. See the README or `cachet-updater --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/proxer/cachet-updater/internal/cli"
)

// Set at link time by make build (-X main.version=1.2.3 -X main.commit=<hash>[-dirty]
// -X main.date=2026-11-25T12:00:00Z); left empty, what the Go toolchain
// recorded in the binary stands in.
var version, commit, date string

func main() {
	bi, _ := debug.ReadBuildInfo()
	short, long := versionInfo(version, commit, date, bi)
	env := cli.Env{Out: os.Stdout, Err: os.Stderr, OutTerminal: isTerminal(os.Stdout), ErrTerminal: isTerminal(os.Stderr), Getenv: os.Getenv,
		Now: time.Now, Version: short, BuildInfo: long, FileLimit: openFileLimit()}
	if os.Getenv("GOMEMLIMIT") == "" {
		env.SetMemoryLimit = func(n int64) { debug.SetMemoryLimit(n) }
	}
	// SIGINT or SIGTERM cancels the run, with the signal as its cause: it
	// ends within seconds (probes stop, writes in flight get a short
	// grace). A second signal ends the process at once; the kernel
	// releases the run lock.
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		name := map[os.Signal]string{os.Interrupt: "SIGINT", syscall.SIGTERM: "SIGTERM"}
		s := <-sigs
		fmt.Fprintf(os.Stderr, "cachet-updater: %s received: ending the run; a second signal ends it at once\n", name[s])
		cancel(fmt.Errorf("%s received", name[s]))
		s = <-sigs
		fmt.Fprintf(os.Stderr, "cachet-updater: %s received again: exiting at once\n", name[s])
		os.Exit(cli.ExitInterrupted)
	}()
	os.Exit(cli.Execute(ctx, os.Args[1:], env))
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
