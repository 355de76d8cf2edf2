// Command cachet-updater keeps a Cachet status page in step with a fleet of
// HTTP servers. See the README or `cachet-updater --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/proxer/cachet-updater/internal/cli"
)

// version is set at link time: -ldflags "-X main.version=1.2.3".
var version = ""

func main() {
	env := cli.DefaultEnv(buildVersion())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env.Context = ctx
	code := cli.Execute(os.Args[1:], env)
	stop()
	os.Exit(code)
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
