package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/foreign"
)

// ComponentsOptions are what the components command needs.
type ComponentsOptions struct {
	Env    Env
	Global GlobalOptions
	Output string // table, yaml or json
}

func newComponentsCmd(env Env, g *GlobalOptions, runF func(context.Context, *ComponentsOptions) error) *cobra.Command {
	o := &ComponentsOptions{Env: env}
	cmd := &cobra.Command{
		Use:   "components",
		Short: "List Cachet's components; --output yaml prints a servers: skeleton",
		Long: `components lists the components of the Cachet in the config (id, name,
group, status, enabled). With the token, disabled components are listed too.
--output yaml prints a servers: block to start a config from: fill in the urls.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Global = *g
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "table, yaml (a servers: skeleton) or json")
	choice(cmd, "output", "table", "yaml", "json")
	return cmd
}

func runComponents(ctx context.Context, o *ComponentsOptions) error {
	env := o.Env
	log, err := o.Global.logger(env)
	if err != nil {
		return fail(ExitUsage, err)
	}
	cfg, err := config.LoadCachetOnly(o.Global.ConfigPath) // servers: may be missing: this command helps to write them
	if err != nil {
		return fail(ExitUsage, err)
	}
	token, err := cfg.Token(env.Getenv)
	if err != nil {
		log.Warn().Err(err).Msg("listing as a guest: Cachet hides disabled components")
		token = ""
	}
	client, err := newCachetClient(cfg, token, env.Version)
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
		if id == 0 {
			return "-"
		}
		if n, ok := groups[id]; ok {
			return foreign.Text(n)
		}
		return strconv.Itoa(id)
	}
	if o.Output == "json" {
		doc := ComponentsJSON{Version: JSONVersion, Components: make([]ComponentJSON, 0, len(comps))}
		for _, c := range comps {
			doc.Components = append(doc.Components, ComponentJSON{ID: c.ID, Name: c.Name, GroupID: c.GroupID,
				Group: groups[c.GroupID], Status: c.Status.String(), Enabled: c.Enabled})
		}
		return writeJSON(env.Out, doc)
	}
	if o.Output == "yaml" {
		fmt.Fprintln(env.Out, "servers:")
		for _, c := range comps {
			note := ""
			if !c.Enabled {
				note = " (disabled in Cachet)"
			}
			fmt.Fprintf(env.Out, "  - name: %s\n    url: https://CHANGE-ME.example.org/   # group: %s%s\n    component_id: %d\n",
				yamlString(c.Name), group(c.GroupID), note, c.ID)
		}
		return nil
	}
	tw := tabwriter.NewWriter(env.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tGROUP\tSTATUS\tENABLED")
	for _, c := range comps {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%t\n", c.ID, foreign.Text(c.Name), group(c.GroupID), c.Status, c.Enabled)
	}
	return tw.Flush()
}

// ComponentsJSON is what `components --output json` prints.
type ComponentsJSON struct {
	Version    int             `json:"version"`
	Components []ComponentJSON `json:"components"`
}

// ComponentJSON is one Cachet component, as listed.
type ComponentJSON struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	GroupID int    `json:"group_id,omitempty"`
	Group   string `json:"group,omitempty"`
	Status  string `json:"status"`
	Enabled bool   `json:"enabled"`
}

// yamlString quotes a name so any component name is valid YAML.
func yamlString(s string) string { return strconv.Quote(s) }
