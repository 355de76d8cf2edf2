package main

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// versionInfo returns the short version (the User-Agent's) and what
// `cachet-updater version` prints: the values stamped at link time, or
// what the Go toolchain recorded when they are empty (bi may be nil).
//
//	cachet-updater 1.2.3
//	commit 0123abc (modified)
//	built 2026-11-25T12:00:00Z
//	go1.26.8 linux/amd64
func versionInfo(version, commit, date string, bi *debug.BuildInfo) (short, long string) {
	if bi == nil {
		bi = &debug.BuildInfo{}
	}
	setting := func(key string) string {
		for _, s := range bi.Settings {
			if s.Key == key {
				return s.Value
			}
		}
		return ""
	}
	module := bi.Main.Version
	if module == "(devel)" {
		module = ""
	}
	version = cmp.Or(version, module, "dev")
	commit, modified := strings.CutSuffix(commit, "-dirty")
	if commit == "" {
		commit, modified = setting("vcs.revision"), setting("vcs.modified") == "true"
	}
	commit = cmp.Or(commit, "unknown")
	if modified {
		commit += " (modified)"
	}
	built := "built " + date
	if date == "" {
		built = "committed " + setting("vcs.time")
	}
	if built == "committed " {
		built = "build date unknown"
	}
	return version, fmt.Sprintf("cachet-updater %s\ncommit %s\n%s\n%s %s/%s", version, commit, built,
		cmp.Or(bi.GoVersion, runtime.Version()), runtime.GOOS, runtime.GOARCH)
}
