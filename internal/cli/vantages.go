package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/state"
)

// VantagesOptions are what the vantages command needs.
type VantagesOptions struct {
	Env    Env
	Global GlobalOptions
	Output string // table or json
}

func newVantagesCmd(env Env, g *GlobalOptions, runF func(context.Context, *VantagesOptions) error) *cobra.Command {
	o := &VantagesOptions{Env: env}
	cmd := &cobra.Command{
		Use:   "vantages",
		Short: "List the probers that share state.sql, with their last observation",
		Long: `vantages lists the probers (vantages) that record observations in the
shared state database (state.sql): each one's name, when it last observed,
how many components it observed, and whether that is stale (older than
quorum.fresh: its views no longer count). It reads the database and changes
nothing.

Exit codes: 0 listed (stale vantages are only flagged), 1 the database
cannot be read, 2 the config cannot be loaded or has no state.sql.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Global = *g
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "table or json")
	choice(cmd, "output", "table", "json")
	return cmd
}

// VantagesJSON is what `vantages --output json` prints.
type VantagesJSON struct {
	Version  int           `json:"version"`
	Fresh    string        `json:"fresh"` // quorum.fresh
	Vantages []VantageJSON `json:"vantages"`
}

// VantageJSON is one prober.
type VantageJSON struct {
	Name       string    `json:"name"`
	Last       time.Time `json:"last"`
	Components int       `json:"components"`
	Stale      bool      `json:"stale"`
	This       bool      `json:"this"` // the vantage this config names
}

func runVantages(ctx context.Context, o *VantagesOptions) error {
	env := o.Env
	cfg, err := config.Load(o.Global.ConfigPath)
	if err != nil {
		return fail(ExitUsage, err)
	}
	q := cfg.State.SQL
	if !q.Set() {
		return fail(ExitUsage, errors.New("this config keeps its state in a file (state.path), not in a database the vantages share: set state.sql"))
	}
	this, _ := vantageName(cfg)
	dsn, err := q.ResolveDSN(env.Getenv)
	if err != nil {
		return fail(ExitUsage, err)
	}
	s, err := state.OpenSQL(ctx, state.SQLOptions{Driver: q.Driver, DSN: dsn, Timeout: q.Timeout.D(), Vantage: this})
	if err != nil {
		return fail(ExitFailed, err)
	}
	defer s.Close()
	list, err := s.Vantages(ctx)
	if err != nil {
		return fail(ExitFailed, err)
	}
	now, fresh := env.Now(), cfg.Quorum.Fresh.D()
	doc := VantagesJSON{Version: JSONVersion, Fresh: cfg.Quorum.Fresh.String(), Vantages: make([]VantageJSON, 0, len(list))}
	for _, v := range list {
		doc.Vantages = append(doc.Vantages, VantageJSON{Name: v.Name, Last: v.Last.UTC(), Components: v.Components,
			Stale: quorum.Stale(v.Last, fresh, now) != "", This: v.Name == this})
	}
	if o.Output == "json" {
		return writeJSON(env.Out, doc)
	}
	if len(list) == 0 {
		fmt.Fprintln(env.Out, "no vantage has recorded observations yet")
		return nil
	}
	tw := tabwriter.NewWriter(env.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VANTAGE\tLAST OBSERVATION\tAGE\tCOMPONENTS\t")
	for _, v := range doc.Vantages {
		flag := ""
		if v.Stale {
			flag = fmt.Sprintf("STALE (older than quorum.fresh %s, or its clock is ahead: its views do not count)", cfg.Quorum.Fresh)
		}
		if v.This {
			v.Name += " (this one)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", v.Name, clock(v.Last, cfg.TimeZone.Loc), roundDur(now.Sub(v.Last)), v.Components, flag)
	}
	return tw.Flush()
}
