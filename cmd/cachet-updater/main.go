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

	"github.com/proxer/cachet-updater/internal/cli"
)

// Set at link time by make build:
//
//	-ldflags "-X main.version=1.2.3 -X main.commit=<hash>[-dirty] -X main.date=2026-11-25T12:00:00Z"
//
// Left empty (go install, go build), versionInfo falls back on what the Go
// toolchain recorded in the binary.
var (
	version = ""
	commit  = ""
	date    = ""
)

func main() {
	env := cli.DefaultEnv(buildVersion())
	env.BuildInfo = versionInfo().String()
	if os.Getenv("GOMEMLIMIT") == "" {
		env.SetMemoryLimit = func(n int64) { debug.SetMemoryLimit(n) }
	}
	ctx, stop := interruptContext()
	env.Context = ctx
	code := cli.Execute(os.Args[1:], env)
	stop()
	os.Exit(code)
}

// interruptContext returns a context that SIGINT or SIGTERM cancels, with
// the signal as its cause. The run then ends within seconds (probes stop,
// writes in flight get a short grace); a second signal ends the process at
// once with the interrupted exit code. The kernel releases the run lock.
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "cachet-updater: %s received: ending the run; a second signal ends it at once\n", signalName(s))
		cancel(fmt.Errorf("%s received", signalName(s)))
		if s, ok = <-sigs; ok {
			fmt.Fprintf(os.Stderr, "cachet-updater: %s received again: exiting at once\n", signalName(s))
			os.Exit(cli.ExitInterrupted)
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// buildVersion is the short version, as sent in the User-Agent.
func buildVersion() string { return versionInfo().Version }
