// Package cli holds cachet-updater's commands: each parses its flags, wires
// the pipeline's edges and renders what comes back.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	Out, Err                 io.Writer
	OutTerminal, ErrTerminal bool // the table and colours are for a terminal
	Getenv                   func(string) string
	Now                      func() time.Time
	// Version goes into the User-Agent; BuildInfo, when set, is what
	// `version` prints.
	Version, BuildInfo string
	// FileLimit is the open-file limit (0: unknown): run caps
	// probe.concurrency below it.
	FileLimit uint64
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

func fail(code int, err error) error { return &exitError{code, err} }

const rootHelp = `cachet-updater probes a fleet of HTTP servers, reads the timeout reports users
sent about each, decides each server's Cachet component status (the worse of the
probe's and the reports') and writes those that changed. Start with
"cachet-updater demo", then "check" and "run --dry-run".

Exit codes: 0 done (servers being down is no failure), 1 something failed on the
way, 2 could not run (flags, config, secrets, lock_file, state), 3 another run
holds the lock, 4 interrupted (SIGINT/SIGTERM, run_timeout).`

// Execute runs the command line under ctx and returns the exit code.
func Execute(ctx context.Context, args []string, env Env) int {
	o := &options{Env: env, logLevel: "info"}
	root := &cobra.Command{Use: "cachet-updater", Short: "Keep a Cachet status page in step with a fleet of HTTP servers",
		Long: rootHelp, Version: env.Version, SilenceUsage: true, SilenceErrors: true}
	root.SetOut(env.Out)
	root.SetErr(env.Err)
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fail(ExitUsage, err) })
	flags := root.PersistentFlags()
	flags.StringVarP(&o.config, "config", "c", cmp.Or(env.Getenv("CACHET_UPDATER_CONFIG"), "/etc/cachet-updater/config.yaml"), "config file ($CACHET_UPDATER_CONFIG sets the default)")
	choose(root, flags, &o.logLevel, "log-level", "", "", "debug", "info", "warn", "error")
	choose(root, flags, &o.logFormat, "log-format", "", "json or console (default: console on a terminal)", "json", "console")
	// add adds a command whose flag (--output, or demo's --api) stores one
	// of values, by default the first, in *p.
	add := func(run func(context.Context, *options) error, use, short, long string, p *string, flag string, values ...string) *cobra.Command {
		v := values[0] // the command's own default: every command's flag shares p
		c := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.NoArgs, RunE: func(c *cobra.Command, _ []string) error {
			*p = v
			return run(c.Context(), o)
		}}
		choose(c, c.Flags(), &v, flag, map[string]string{"output": "o"}[flag], "", values...)
		root.AddCommand(c)
		return c
	}
	run := add(runRun, "run", "Probe the fleet, read reports, decide and update Cachet (the cron job)", runHelp, &o.output, "output", "table", "json")
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
	add(runCheck, "check", "Check the config, secrets, state, Cachet and the report source; write nothing", checkHelp, &o.output, "output", "text", "json")
	add(runComponents, "components", "List Cachet's components; --output yaml prints a starter config", componentsHelp, &o.output, "output", "table", "yaml", "json")
	add(runDemo, "demo", "Run the real job against a built-in Cachet emulator and demo servers", demoHelp, &o.api, "api", "v2", "v3")
	add(runVantages, "vantages", "List the probers that share state.sql, with their last observation", vantagesHelp, &o.output, "output", "table", "json")
	root.AddCommand(&cobra.Command{Use: "version", Short: "Print the version, commit, build date and Go version", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(env.Out, cmp.Or(env.BuildInfo, "cachet-updater "+env.Version))
			return err
		}})

	err := root.ExecuteContext(ctx)
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case !errors.As(err, &ee): // cobra's own: an unknown command, arguments
		fmt.Fprintf(env.Err, "cachet-updater: %v\nRun 'cachet-updater --help' for usage.\n", err)
		return ExitUsage
	case ee.err != nil:
		fmt.Fprintf(env.Err, "cachet-updater: %v\n", ee.err)
	}
	return ee.code
}

// choice is a flag's value that must be one of values.
type choice struct {
	p      *string
	values []string
}

func (c choice) String() string { return *c.p }
func (c choice) Type() string   { return "string" }
func (c choice) Set(v string) error {
	if v = strings.ToLower(v); !slices.Contains(c.values, v) {
		return fmt.Errorf("use %s", orList(c.values))
	}
	*c.p = v
	return nil
}

// choose adds the flag name, one of values (the shell completes them), to fs.
func choose(c *cobra.Command, fs *pflag.FlagSet, p *string, name, short, usage string, values ...string) {
	fs.VarP(choice{p, values}, name, short, cmp.Or(usage, orList(values)))
	_ = c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// orList is "a or b", "a, b or c".
func orList(w []string) string { return strings.Join(w[:len(w)-1], ", ") + " or " + w[len(w)-1] }

// setup builds the logger from the log flags and loads the config with
// load (config.Load, or config.LoadCachetOnly where servers may be missing).
func (o *options) setup(load func(string) (*config.Config, error)) (zerolog.Logger, *config.Config, error) {
	cfg, err := load(o.config)
	if err != nil {
		return zerolog.Nop(), nil, fail(ExitUsage, err)
	}
	level, _ := zerolog.ParseLevel(o.logLevel)
	out := zerolog.SyncWriter(o.Err) // several goroutines log
	w := io.Writer(out)
	if o.logFormat == "console" || o.logFormat == "" && o.ErrTerminal {
		w = zerolog.ConsoleWriter{Out: out, TimeFormat: time.TimeOnly, NoColor: !o.ErrTerminal}
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
