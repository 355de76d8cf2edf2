package cli

import (
	"context"
	"io"
	"reflect"
	"testing"

	"github.com/spf13/cobra"
)

// TestFlagsReachOptions checks how command lines land in the options
// structs, without running anything.
func TestFlagsReachOptions(t *testing.T) {
	env := Env{Out: io.Discard, Err: io.Discard, Getenv: func(k string) string {
		if k == "CACHET_UPDATER_CONFIG" {
			return "/from/env.yaml"
		}
		return ""
	}}
	parse := func(t *testing.T, cmd *cobra.Command, g *GlobalOptions, args ...string) {
		t.Helper()
		root := &cobra.Command{Use: "cachet-updater", SilenceErrors: true, SilenceUsage: true}
		addGlobalFlags(root, env, g)
		root.AddCommand(cmd)
		root.SetArgs(args)
		root.SetOut(io.Discard)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}

	t.Run("run", func(t *testing.T) {
		var got *RunOptions
		g := &GlobalOptions{}
		parse(t, newRunCmd(env, g, func(_ context.Context, o *RunOptions) error { got = o; return nil }), g,
			"run", "-n", "--only", "Stream 1", "--only", "7", "--log-level", "debug")
		want := GlobalOptions{ConfigPath: "/from/env.yaml", LogLevel: "debug"}
		if got == nil || !got.DryRun || !reflect.DeepEqual(got.Only, []string{"Stream 1", "7"}) || got.Global != want {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("components", func(t *testing.T) {
		var got *ComponentsOptions
		g := &GlobalOptions{}
		parse(t, newComponentsCmd(env, g, func(_ context.Context, o *ComponentsOptions) error { got = o; return nil }), g,
			"components", "-o", "yaml", "--config", "x.yaml")
		if got == nil || got.Output != "yaml" || got.Global.ConfigPath != "x.yaml" || got.Global.LogLevel != "info" {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("check", func(t *testing.T) {
		var got *CheckOptions
		g := &GlobalOptions{}
		parse(t, newCheckCmd(env, g, func(_ context.Context, o *CheckOptions) error { got = o; return nil }), g,
			"check", "-c", "y.yaml", "--log-format", "json")
		if got == nil || got.Global.ConfigPath != "y.yaml" || got.Global.LogFormat != "json" {
			t.Fatalf("got %+v", got)
		}
	})
}
