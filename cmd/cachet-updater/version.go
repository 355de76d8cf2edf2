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
	vcs := map[string]string{}
	if bi == nil {
		bi = &debug.BuildInfo{}
	}
	for _, s := range bi.Settings {
		vcs[s.Key] = s.Value
	}
	version = cmp.Or(version, strings.TrimPrefix(bi.Main.Version, "(devel)"), "dev")
	commit, modified := strings.CutSuffix(commit, "-dirty")
	if commit == "" {
		commit, modified = vcs["vcs.revision"], vcs["vcs.modified"] == "true"
	}
	commit = cmp.Or(commit, "unknown") + map[bool]string{true: " (modified)"}[modified]
	built := "build date unknown"
	if date != "" {
		built = "built " + date
	} else if vcs["vcs.time"] != "" {
		built = "committed " + vcs["vcs.time"]
	}
	return version, fmt.Sprintf("cachet-updater %s\ncommit %s\n%s\n%s %s/%s", version, commit, built,
		cmp.Or(bi.GoVersion, runtime.Version()), runtime.GOOS, runtime.GOARCH)
}
