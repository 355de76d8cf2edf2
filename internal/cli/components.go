package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/proxer/cachet-updater/internal/config"
)

func newComponentsCmd(env Env, g *globalFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "components",
		Short: "List Cachet's components; --output yaml prints a servers: skeleton",
		Long: `components lists the components of the Cachet in the config (id, name,
group, status, enabled). With the token, disabled components are listed too.
--output yaml prints a servers: block to start a config from: fill in the urls.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "yaml" {
				return fail(ExitUsage, fmt.Errorf("--output %q: use table or yaml", output))
			}
			return runComponents(cmd, env, g, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or yaml")
	return cmd
}

func runComponents(cmd *cobra.Command, env Env, g *globalFlags, output string) error {
	log, err := newLogger(env, g)
	if err != nil {
		return fail(ExitUsage, err)
	}
	cfg, err := config.Load(g.config)
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
	ctx := cmd.Context()
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
			return n
		}
		return strconv.Itoa(id)
	}
	if output == "yaml" {
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
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%t\n", c.ID, c.Name, group(c.GroupID), c.Status, c.Enabled)
	}
	return tw.Flush()
}

// yamlString quotes a name so any component name is valid YAML.
func yamlString(s string) string { return strconv.Quote(s) }
