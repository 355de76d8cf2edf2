package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildInfo(t *testing.T) {
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/proxer/cachet-updater", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-20T08:30:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	devel := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/proxer/cachet-updater", Version: "(devel)"}}
	platform := runtime.GOOS + "/" + runtime.GOARCH

	tests := []struct {
		name                 string
		version, commit, day string // the link-time values
		bi                   *debug.BuildInfo
		want                 string
	}{
		{name: "make build", version: "1.2.3", commit: "abc123", day: "2026-11-25T12:00:00Z", bi: vcs,
			want: "cachet-updater 1.2.3\ncommit abc123\nbuilt 2026-11-25T12:00:00Z\ngo1.26.8 " + platform},
		{name: "make build in a modified tree", version: "1.2.3-dirty", commit: "abc123-dirty", day: "2026-11-25T12:00:00Z", bi: devel,
			want: "cachet-updater 1.2.3-dirty\ncommit abc123 (modified)\nbuilt 2026-11-25T12:00:00Z\ngo1.26.8 " + platform},
		{name: "go build in a git checkout", bi: vcs,
			want: "cachet-updater v1.4.0\ncommit 0123456789abcdef0123456789abcdef01234567 (modified)\ncommitted 2026-11-20T08:30:00Z\ngo1.26.8 " + platform},
		{name: "go install from the module proxy", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}},
			want: "cachet-updater v1.4.0\ncommit unknown\nbuild date unknown\ngo1.26.8 " + platform},
		{name: "go build without VCS", bi: devel,
			want: "cachet-updater dev\ncommit unknown\nbuild date unknown\ngo1.26.8 " + platform},
		{name: "no build info", version: "1.2.3",
			want: "cachet-updater 1.2.3\ncommit unknown\nbuild date unknown\n" + runtime.Version() + " " + platform},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			short, got := versionInfo(tt.version, tt.commit, tt.day, tt.bi)
			if got != tt.want || !strings.HasPrefix(got, "cachet-updater "+short+"\n") {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestMakefileStamps asserts that the variables make build sets exist
// under the names it uses: the linker ignores -X for a name that does not.
func TestMakefileStamps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make")
	}
	out, err := exec.Command("make", "-n", "-C", filepath.Join("..", ".."), "build").CombinedOutput()
	if err != nil {
		t.Skipf("make -n build: %v\n%s", err, out)
	}
	for _, v := range []string{"-X main.version=", "-X main.commit=", "-X main.date="} {
		if !strings.Contains(string(out), v) {
			t.Errorf("make build does not stamp %s:\n%s", v, out)
		}
	}
}
