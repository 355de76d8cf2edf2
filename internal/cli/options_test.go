package cli

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"testing"
	"time"

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

// TestMemoryLimit: the run sets the soft memory limit from the probes it
// keeps in flight (never from a test's own process: Env.SetMemoryLimit).
func TestMemoryLimit(t *testing.T) {
	for n, want := range map[int]int64{1: 80 << 20, 1500: 80 << 20, 2000: 20<<20 + 2000*40<<10, 10000: 20<<20 + 10000*40<<10} {
		if got := memoryLimit(n); got != want {
			t.Errorf("memoryLimit(%d) = %d, want %d", n, got, want)
		}
	}
	f := newFixture(t, defaultFleet(), `{}`, "")
	var set int64
	var out, errb bytes.Buffer
	env := Env{Out: &out, Err: &errb, Now: time.Now, IsTerminal: func(io.Writer) bool { return false }, Version: "test",
		Getenv:         func(string) string { return testToken },
		SetMemoryLimit: func(n int64) { set = n }}
	if code := Execute([]string{"run", "--dry-run", "--config", f.cfg}, env); code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if set != 80<<20 {
		t.Errorf("run set the memory limit to %d, want %d", set, 80<<20)
	}
}
