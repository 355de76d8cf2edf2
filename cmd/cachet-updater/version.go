package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// buildInfo is what `cachet-updater version` prints.
type buildInfo struct {
	Version   string // "1.2.3", the module version (go install ...@v1.2.3) or "dev"
	Commit    string // the commit hash; "" when unknown
	Modified  bool   // built from a tree with uncommitted changes
	Date      string // RFC 3339; "" when unknown
	DateKind  string // "built" (stamped by make build) or "committed" (the commit's time, from the Go toolchain)
	GoVersion string // "go1.26.8"
	Platform  string // "linux/amd64"
}

// versionInfo describes this binary: the values stamped at link time, or
// what the Go toolchain recorded when they are empty.
func versionInfo() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return newBuildInfo(version, commit, date, bi)
}

// newBuildInfo is versionInfo with its inputs as parameters, for tests. bi
// may be nil (a binary built without module support).
func newBuildInfo(version, commit, date string, bi *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		bi = &debug.BuildInfo{}
	}
	if bi.GoVersion != "" {
		b.GoVersion = bi.GoVersion
	}
	if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	b.Commit, b.Modified = strings.CutSuffix(commit, "-dirty")
	if b.Commit == "" {
		b.Commit, b.Modified = setting(bi, "vcs.revision"), setting(bi, "vcs.modified") == "true"
	}
	if b.Date, b.DateKind = date, "built"; b.Date == "" {
		b.Date, b.DateKind = setting(bi, "vcs.time"), "committed"
	}
	return b
}

func setting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// String is the text of `cachet-updater version`, four lines:
//
//	cachet-updater 1.2.3
//	commit 0123abc (modified)
//	built 2026-11-25T12:00:00Z
//	go1.26.8 linux/amd64
func (b buildInfo) String() string {
	commit := "commit unknown"
	if b.Commit != "" {
		commit = "commit " + b.Commit
		if b.Modified {
			commit += " (modified)"
		}
	}
	date := "build date unknown"
	if b.Date != "" {
		date = b.DateKind + " " + b.Date
	}
	return fmt.Sprintf("cachet-updater %s\n%s\n%s\n%s %s", b.Version, commit, date, b.GoVersion, b.Platform)
}
