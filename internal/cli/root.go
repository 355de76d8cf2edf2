// Package cli holds cachet-updater's commands: each parses its flags, wires
// the pipeline's edges and renders what comes back.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/updater"
)

// Exit codes: cron wrappers and monitoring read them.
const (
	ExitOK          = 0 // the run completed and every write succeeded (servers being down is no failure)
	ExitFailed      = 1 // something failed on the way
	ExitUsage       = 2 // could not run: flags, config, secrets, lock_file, a state file of another config
	ExitLocked      = 3 // another run holds the lock: nothing was done
	ExitInterrupted = 4 // SIGINT/SIGTERM or run_timeout ended the run early
)

// Env is what a command may touch of the world outside its flags.
type Env struct {
	Out, Err   io.Writer
	Getenv     func(string) string
	Now        func() time.Time
	IsTerminal func(io.Writer) bool
	// Version goes into the User-Agent; BuildInfo, when set, is what
	// `version` prints.
	Version, BuildInfo string
	// OpenFileLimit, when set, returns the open-file limit (0: unknown):
	// run caps probe.concurrency below it.
	OpenFileLimit func() uint64
	// SetMemoryLimit, when set, sets the Go runtime's soft memory limit.
	SetMemoryLimit func(bytes int64)
}

// options are the flags of every command, and the world they act on.
type options struct {
	Env
	config, logLevel, logFormat, output, api string
	dryRun                                   bool
	only                                     []string
}

// exitError carries an exit code through cobra; err nil: already said.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return fmt.Sprint(e.err) }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, err error) error { return &exitError{code, err} }

const rootHelp = `cachet-updater probes a fleet of HTTP servers, reads how many timeout
reports users sent about each, decides each server's Cachet component status
(the worse of the probe and the reports) and writes the statuses that changed.
Start with "cachet-updater demo", then "check" and "run --dry-run".

Exit codes: 0 done (servers being down is no failure), 1 something failed on
the way (a write, the report source, Cachet, the state, the token, this machine
offline), 2 could not run (flags, config, secrets, lock_file, state), 3 another
run holds the lock, 4 interrupted (SIGINT/SIGTERM, run_timeout).`

// Execute runs the command line under ctx and returns the exit code.
func Execute(ctx context.Context, args []string, env Env) int {
	o := &options{Env: env}
	root := &cobra.Command{Use: "cachet-updater", Short: "Keep a Cachet status page in step with a fleet of HTTP servers",
		Long: rootHelp, Version: env.Version, SilenceUsage: true, SilenceErrors: true}
	root.SetOut(env.Out)
	root.SetErr(env.Err)
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fail(ExitUsage, err) })
	flags := root.PersistentFlags()
	flags.StringVarP(&o.config, "config", "c", cmp.Or(env.Getenv("CACHET_UPDATER_CONFIG"), "/etc/cachet-updater/config.yaml"), "config file ($CACHET_UPDATER_CONFIG sets the default)")
	flags.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	flags.StringVar(&o.logFormat, "log-format", "", "json or console (default: console on a terminal)")
	complete(root, "log-level", "debug", "info", "warn", "error")
	complete(root, "log-format", "json", "console")
	// add adds a command; its flag (--output or --api) takes one of values,
	// by default the first.
	add := func(run func(context.Context, *options) error, use, short, long, flag string, values ...string) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.NoArgs, RunE: func(c *cobra.Command, _ []string) error { return run(c.Context(), o) }}
		if flag != "" {
			c.Flags().StringP(flag, map[string]string{"output": "o"}[flag], values[0], orList(values))
			complete(c, flag, values...)
			c.PreRunE = func(c *cobra.Command, _ []string) error {
				v, _ := c.Flags().GetString(flag)
				*map[string]*string{"output": &o.output, "api": &o.api}[flag] = v
				if !slices.Contains(values, v) {
					return fail(ExitUsage, fmt.Errorf("--%s %q: use %s", flag, v, orList(values)))
				}
				return nil
			}
		}
		root.AddCommand(c)
		return c
	}
	run := add(runRun, "run", "Probe the fleet, read reports, decide and update Cachet (the cron job)", runHelp, "output", "table", "json")
	run.Example = runExample
	run.Flags().BoolVarP(&o.dryRun, "dry-run", "n", false, "write nothing; print what would change")
	run.Flags().StringArrayVar(&o.only, "only", nil, "run just this server (a name or component id; repeatable), in full detail")
	_ = run.RegisterFlagCompletionFunc("only", func(*cobra.Command, []string, string) (names []string, _ cobra.ShellCompDirective) {
		if cfg, err := config.Load(o.config); err == nil {
			for _, s := range cfg.Servers {
				names = append(names, s.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	add(runCheck, "check", "Check the config, secrets, state, Cachet and the report source; write nothing", checkHelp, "output", "text", "json")
	add(runComponents, "components", "List Cachet's components; --output yaml prints a starter config", componentsHelp, "output", "table", "yaml", "json")
	add(runDemo, "demo", "Run the real job against a built-in Cachet emulator and demo servers", demoHelp, "api", "v2", "v3")
	add(runVantages, "vantages", "List the probers that share state.sql, with their last observation", vantagesHelp, "output", "table", "json")
	add(func(context.Context, *options) error {
		_, err := fmt.Fprintln(env.Out, cmp.Or(env.BuildInfo, "cachet-updater "+env.Version))
		return err
	}, "version", "Print the version, commit, build date and Go version", "", "")

	err := root.ExecuteContext(ctx)
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case !errors.As(err, &ee): // cobra's own: an unknown command, a bad flag, arguments
		fmt.Fprintf(env.Err, "cachet-updater: %v\nRun 'cachet-updater --help' for usage.\n", err)
		return ExitUsage
	case ee.err != nil:
		fmt.Fprintf(env.Err, "cachet-updater: %v\n", ee.err)
	}
	return ee.code
}

func complete(c *cobra.Command, flag string, values ...string) {
	_ = c.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// orList is "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// DefaultEnv is the real process's environment.
func DefaultEnv(version string) Env {
	return Env{Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv, Now: time.Now, Version: version, OpenFileLimit: openFileLimit,
		IsTerminal: isTerminal}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// setup builds the logger from the log flags and loads the config with
// load (config.Load, or config.LoadCachetOnly where servers may be missing).
func (o *options) setup(load func(string) (*config.Config, error)) (zerolog.Logger, *config.Config, error) {
	level, err := zerolog.ParseLevel(strings.ToLower(o.logLevel))
	if err != nil || o.logLevel == "" {
		return zerolog.Nop(), nil, fail(ExitUsage, fmt.Errorf("--log-level %q: use debug, info, warn or error", o.logLevel))
	}
	out := zerolog.SyncWriter(o.Err) // several goroutines log
	w := io.Writer(out)
	switch o.logFormat {
	case "json":
	case "console", "":
		if o.logFormat == "console" || o.IsTerminal(o.Err) {
			w = zerolog.ConsoleWriter{Out: out, TimeFormat: time.TimeOnly, NoColor: !o.IsTerminal(o.Err)}
		}
	default:
		return zerolog.Nop(), nil, fail(ExitUsage, fmt.Errorf("--log-format %q: use json or console", o.logFormat))
	}
	cfg, err := load(o.config)
	if err != nil {
		return zerolog.Nop(), nil, fail(ExitUsage, err)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), cfg, nil
}

// writeJSON prints v as an indented JSON document.
func (o *options) writeJSON(v any) error {
	data, err := updater.Marshal(v)
	if err == nil {
		_, err = o.Out.Write(data)
	}
	return err
}
