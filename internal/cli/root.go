// Package cli holds the cobra commands of cachet-updater. Commands stay thin:
// they parse flags, wire the pipeline's edges and render what it returns.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Exit codes. They are part of the interface: cron wrappers and monitoring
// read them.
const (
	ExitOK          = 0 // the run completed and every write succeeded (servers being down is not a failure)
	ExitFailed      = 1 // something failed on the way: a write, the report source, Cachet, an unknown component, the state, the token, this machine offline
	ExitUsage       = 2 // could not run: bad flags, config, secrets, an unusable lock_file, a state file of another config
	ExitLocked      = 3 // another run holds the lock: nothing was done
	ExitInterrupted = 4 // SIGINT/SIGTERM or run_timeout ended the run early
)

// Env is what a command may touch of the world outside its flags.
type Env struct {
	Out, Err   io.Writer
	Getenv     func(string) string
	Now        func() time.Time
	IsTerminal func(io.Writer) bool
	// Version is the short version, sent in the User-Agent; BuildInfo,
	// when set, is what `version` prints (version, commit, build date, Go).
	Version   string
	BuildInfo string
	// Context, when not nil, is the context the commands run under; main
	// cancels it on SIGINT/SIGTERM. Tests leave it nil or pass their own.
	Context context.Context
	// OpenFileLimit, when not nil, returns the open-file limit (0:
	// unknown); run caps probe.concurrency below it.
	OpenFileLimit func() uint64
	// SetMemoryLimit, when not nil, sets the Go runtime's soft memory
	// limit; main sets it unless GOMEMLIMIT is in the environment. Tests
	// leave it nil so that they do not change their own process.
	SetMemoryLimit func(bytes int64)
}

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, err error) error { return &exitError{code: code, err: err} }

// silentExit ends a command with a code after it has already said why.
func silentExit(code int) error { return &exitError{code: code} }

// GlobalOptions are the flags every command takes.
type GlobalOptions struct {
	ConfigPath string
	LogLevel   string
	LogFormat  string
}

// NewRoot builds the command tree.
func NewRoot(env Env) *cobra.Command {
	g := &GlobalOptions{}
	root := &cobra.Command{
		Use:   "cachet-updater",
		Short: "Keep a Cachet status page in step with a fleet of HTTP servers",
		Long: `cachet-updater probes a fleet of HTTP servers concurrently, reads how many
timeout reports users sent about each in the last hours, decides a Cachet
component status per server (the worse of the probe and the reports) and
updates the Cachet components whose status changed. Cron runs it every few
minutes; it writes to Cachet only when a status changed.

Start with "cachet-updater demo" (no outside service needed), then
"cachet-updater check --config FILE" and "run --dry-run".

Exit codes:
  0  the run completed and every write succeeded (servers being down is not a failure)
  1  something failed on the way: a write, the report source, Cachet, an unknown
     component, the state file, a refused token, this machine looking offline
  2  could not run: bad flags, config, secrets or an unusable lock_file or state
     (or a state file another config wrote)
  3  another run of the same config holds the lock: nothing was done
  4  interrupted by SIGINT/SIGTERM or run_timeout`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       env.Version,
	}
	root.SetOut(env.Out)
	root.SetErr(env.Err)
	addGlobalFlags(root, env, g)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fail(ExitUsage, err) })

	root.AddCommand(
		newRunCmd(env, g, runRun),
		newCheckCmd(env, g, runCheck),
		newComponentsCmd(env, g, runComponents),
		newDemoCmd(env, g, runDemo),
		newVantagesCmd(env, g, runVantages),
		newVersionCmd(env),
	)
	return root
}

// addGlobalFlags registers the flags every command takes on root.
func addGlobalFlags(root *cobra.Command, env Env, g *GlobalOptions) {
	defConfig := env.Getenv("CACHET_UPDATER_CONFIG")
	if defConfig == "" {
		defConfig = "/etc/cachet-updater/config.yaml"
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.ConfigPath, "config", "c", defConfig, "config file; $CACHET_UPDATER_CONFIG sets the default")
	pf.StringVar(&g.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&g.LogFormat, "log-format", "", "log format: json or console (default: console on a terminal, json otherwise)")
	registerValues(root, "log-level", "debug", "info", "warn", "error")
	registerValues(root, "log-format", "json", "console")
}

// choice makes flag one of values: the shell completes them, and any other
// value is a usage error (exit 2) before the command runs.
func choice(cmd *cobra.Command, flag string, values ...string) {
	registerValues(cmd, flag, values...)
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if v, _ := c.Flags().GetString(flag); !slices.Contains(values, v) {
			return fail(ExitUsage, fmt.Errorf("--%s %q: use %s", flag, v, orList(values)))
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// orList is "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// registerValues makes the shell complete flag with values.
func registerValues(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// Execute runs the command line and returns the process exit code.
func Execute(args []string, env Env) int {
	root := NewRoot(env)
	root.SetArgs(args)
	ctx := env.Context
	if ctx == nil {
		ctx = context.Background()
	}
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(env.Err, "cachet-updater: %v\n", ee.err)
		}
		return ee.code
	}
	// cobra's own errors: unknown command, bad flag, wrong argument count.
	fmt.Fprintf(env.Err, "cachet-updater: %v\nRun 'cachet-updater --help' for usage.\n", err)
	return ExitUsage
}

// DefaultEnv is the real process environment.
func DefaultEnv(version string) Env {
	return Env{
		Out:           os.Stdout,
		Err:           os.Stderr,
		Getenv:        os.Getenv,
		Now:           time.Now,
		IsTerminal:    isTerminal,
		Version:       version,
		OpenFileLimit: openFileLimit,
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newVersionCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env.BuildInfo != "" {
				fmt.Fprintln(cmd.OutOrStdout(), env.BuildInfo)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cachet-updater %s\n", env.Version)
			return nil
		},
	}
}
