package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/foreign"
	"github.com/proxer/cachet-updater/internal/status"
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
		Short: "List Cachet's components; --output yaml prints a starter config",
		Long: `components lists the components of the Cachet in the config (id, name,
group, status, what visitors see, enabled).
 With the token, disabled components are listed too.
--output yaml prints a whole config to start from: the cachet block used
(the token by its variable or file, never itself), a reports block and a
server per component; fill in the urls and reports keys, then run check.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Global = *g
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "table, yaml (a starter config) or json")
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
				Group: groups[c.GroupID], Status: c.Status.String(), Shown: shown(c), Enabled: c.Enabled})
		}
		return writeJSON(env.Out, doc)
	}
	if o.Output == "yaml" {
		starter(env.Out, cfg.Cachet, comps, group)
		return nil
	}
	tw := tabwriter.NewWriter(env.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tGROUP\tSTATUS\tSHOWN\tENABLED")
	for _, c := range comps {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%t\n", c.ID, foreign.Text(c.Name), group(c.GroupID), c.Status, shown(c), c.Enabled)
	}
	return tw.Flush()
}

// shown names what visitors see of c: Cachet 3.x shows the worse of the
// status and an open incident's impact (latest_status), or maintenance.
func shown(c cachet.Component) string {
	if c.Maintenance && c.Shown == status.Unknown {
		return "under_maintenance"
	}
	return c.Shown.String()
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
	Shown   string `json:"shown"` // what visitors see (3.x: latest_status)
	Enabled bool   `json:"enabled"`
}

// starter writes a config to start from: it loads as it is, and needs the
// servers' urls and reports keys filled in.
func starter(w io.Writer, c config.Cachet, comps []cachet.Component, group func(int) string) {
	key, value := c.TokenKey()
	fmt.Fprintf(w, "# A starter config: fill in each server's url and reports_key, then run\n# cachet-updater check --config THIS-FILE\ncachet:\n  url: %s\n  %s: %s\n", yamlString(c.URL), key, yamlString(value))
	if c.API != config.DefaultAPI {
		fmt.Fprintf(w, "  api: %s\n", c.API)
	}
	if c.TimeZone.Loc != time.UTC {
		fmt.Fprintf(w, "  time_zone: %s\n", yamlString(c.TimeZone.String()))
	}
	fmt.Fprint(w, "reports:\n  source:\n    type: none   # or file or sql (see the README, \"Report counts\"), keyed by reports_key\nservers:\n")
	seen := map[string]bool{}
	for _, comp := range comps {
		name := comp.Name
		if strings.TrimSpace(name) == "" || seen[name] {
			name = strings.TrimSpace(fmt.Sprintf("%s (component %d)", name, comp.ID)) // names must be unique
		}
		seen[name] = true
		note := ""
		if !comp.Enabled {
			note = " (disabled in Cachet)"
		}
		fmt.Fprintf(w, "  - name: %s\n    url: https://CHANGE-ME.example.org/   # group: %s%s\n    component_id: %d\n    reports_key: %s\n",
			yamlString(name), group(comp.GroupID), note, comp.ID, yamlString(name))
	}
}

// yamlString quotes a name so any component name is valid YAML.
func yamlString(s string) string { return strconv.Quote(s) }
