package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/updater"
)

const vantagesHelp = `vantages lists the probers recording in state.sql: when each last observed,
how many components, and whether it is stale (older than quorum.fresh).
Exit codes: 0 listed, 1 the database cannot be read, 2 no config or state.sql.`

func runVantages(ctx context.Context, o *options) error {
	_, cfg, err := o.setup(config.Load)
	if err != nil {
		return err
	}
	if !cfg.State.SQL.Set() {
		return fail(ExitUsage, errors.New("this config keeps its state in a file (state.path), not in a database the vantages share: set state.sql"))
	}
	this, _ := vantageName(cfg)
	db, err := openShared(ctx, cfg, o, this)
	if err != nil {
		return fail(ExitFailed, err)
	}
	defer db.Close()
	list, err := db.Vantages(ctx)
	if err != nil {
		return fail(ExitFailed, err)
	}
	now, fresh := o.Now(), cfg.Quorum.Fresh
	vantages := make([]map[string]any, len(list))
	for i, v := range list {
		vantages[i] = map[string]any{"name": v.Name, "last": v.Last.UTC(), "components": v.Components,
			"stale": quorum.Stale(v.Last, fresh.D(), now) != "", "this": v.Name == this}
	}
	if o.output == "json" {
		return o.writeJSON(map[string]any{"version": updater.JSONVersion, "fresh": fresh.String(), "vantages": vantages})
	}
	if len(list) == 0 {
		fmt.Fprintln(o.Out, "no vantage has recorded observations yet")
		return nil
	}
	tw := tabwriter.NewWriter(o.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VANTAGE\tLAST OBSERVATION\tAGE\tCOMPONENTS\t")
	stale := fmt.Sprintf("STALE (older than quorum.fresh %s, or its clock is ahead: its views do not count)", fresh)
	for i, v := range list {
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%d\t%s\n", v.Name, map[bool]string{true: " (this one)"}[v.Name == this], clock(v.Last, cfg.TimeZone.Loc),
			roundDur(now.Sub(v.Last)), v.Components, map[bool]string{true: stale}[vantages[i]["stale"] == true])
	}
	return tw.Flush()
}
