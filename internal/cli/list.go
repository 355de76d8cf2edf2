// The commands that list: Cachet's components, and the vantages that share
// state.sql.

package cli

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/foreign"
	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/status"
	"github.com/proxer/cachet-updater/internal/updater"
)

const componentsHelp = `components lists Cachet's components (with the token, disabled ones too).
--output yaml prints a config to start from: fill in urls and reports keys.`

func runComponents(ctx context.Context, o *options) error {
	log, cfg, err := o.setup(config.LoadCachetOnly) // servers may be missing: this command helps to write them
	if err != nil {
		return err
	}
	token, err := cfg.Token(o.Getenv)
	if err != nil {
		log.Warn().Err(err).Msg("listing as a guest: Cachet hides disabled components") // token is ""
	}
	client, err := newCachetClient(cfg, token, o.Version)
	if err != nil {
		return fail(ExitUsage, err)
	}
	comps, err := client.Components(ctx)
	if err != nil {
		return fail(ExitFailed, fmt.Errorf("listing components: %w", err))
	}
	groups := map[int]string{}
	if gs, err := client.Groups(ctx); err != nil {
		log.Warn().Err(err).Msg("cannot list component groups: showing group ids")
	} else {
		for _, g := range gs {
			groups[g.ID] = g.Name
		}
	}
	group := func(id int) string {
		return cmp.Or(foreign.Text(groups[id]), map[bool]string{true: "-", false: strconv.Itoa(id)}[id == 0])
	}
	// What visitors see: on 3.x the worse of the status and an open
	// incident's impact (latest_status), or maintenance.
	shown := func(i int) string {
		if c := comps[i]; c.Maintenance && c.Shown == status.Unknown {
			return "under_maintenance"
		}
		return comps[i].Shown.String()
	}
	switch o.output {
	case "json":
		list := make([]map[string]any, len(comps))
		for i, c := range comps {
			list[i] = map[string]any{"id": c.ID, "name": c.Name, "status": c.Status.String(), "shown": shown(i), "enabled": c.Enabled}
			if c.GroupID != 0 {
				list[i]["group_id"] = c.GroupID
			}
			if groups[c.GroupID] != "" {
				list[i]["group"] = groups[c.GroupID]
			}
		}
		return o.writeJSON(map[string]any{"version": updater.JSONVersion, "components": list})
	case "yaml":
		// A config that loads as it is, once the servers' urls and reports
		// keys are filled in; any name is quoted to be valid YAML.
		c, w := cfg.Cachet, o.Out
		key, value := c.TokenKey()
		fmt.Fprintf(w, "# A starter config: fill in each server's url and reports_key, then run\n# cachet-updater check --config THIS-FILE\ncachet:\n  url: %q\n  %s: %q\n", c.URL, key, value)
		if c.API != config.DefaultAPI {
			fmt.Fprintf(w, "  api: %s\n", c.API)
		}
		if c.TimeZone.Loc != time.UTC {
			fmt.Fprintf(w, "  time_zone: %q\n", c.TimeZone)
		}
		fmt.Fprint(w, "reports:\n  source:\n    type: none   # or file or sql (see docs/reports.md), keyed by reports_key\nservers:\n")
		seen := map[string]bool{}
		for _, comp := range comps {
			name := comp.Name
			if strings.TrimSpace(name) == "" || seen[name] {
				name = strings.TrimSpace(fmt.Sprintf("%s (component %d)", name, comp.ID)) // names must be unique
			}
			seen[name] = true
			fmt.Fprintf(w, "  - name: %q\n    url: https://CHANGE-ME.example.org/   # group: %s%s\n    component_id: %d\n    reports_key: %q\n",
				name, group(comp.GroupID), map[bool]string{false: " (disabled in Cachet)"}[comp.Enabled], comp.ID, name)
		}
		return nil
	}
	tw := tabwriter.NewWriter(o.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tGROUP\tSTATUS\tSHOWN\tENABLED")
	for i, c := range comps {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%t\n", c.ID, foreign.Text(c.Name), group(c.GroupID), c.Status, shown(i), c.Enabled)
	}
	return tw.Flush()
}

const vantagesHelp = `vantages lists the probers recording in state.sql: when each last observed, how
many components, and whether it is stale (older than quorum.fresh).`

func runVantages(ctx context.Context, o *options) error {
	_, cfg, err := o.setup(config.Load)
	if err != nil {
		return err
	}
	if !cfg.State.SQL.Set() {
		return fail(ExitUsage, fmt.Errorf("this config keeps its state in a file (state.path), not in a database the vantages share: set state.sql"))
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
