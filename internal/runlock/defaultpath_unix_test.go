//go:build unix

package runlock

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLockDir(t *testing.T) {
	all := map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "XDG_STATE_HOME": "/home/u/.state", "HOME": "/home/u"}
	tests := []struct {
		name string
		euid int
		env  map[string]string
		want string
	}{
		{"root", 0, all, "/run/cachet-updater"},
		{"runtime dir", 1000, all, "/run/user/1000/cachet-updater"},
		{"cron: no runtime dir", 1000, map[string]string{"XDG_STATE_HOME": "/home/u/.state", "HOME": "/home/u"}, "/home/u/.state/cachet-updater"},
		{"home", 1000, map[string]string{"HOME": "/home/u"}, "/home/u/.local/state/cachet-updater"},
		{"relative XDG paths are ignored", 1000, map[string]string{"XDG_RUNTIME_DIR": "run", "XDG_STATE_HOME": "state", "HOME": "/home/u"}, "/home/u/.local/state/cachet-updater"},
		{"nothing", 1000, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lockDir(env(tt.env), tt.euid, "/run")
			if tt.want == "" {
				checkError(t, err, "none of XDG_RUNTIME_DIR, XDG_STATE_HOME and HOME is set to an absolute path; set lock_file")
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("lockDir = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// testDefaultPath runs DefaultPath with its folder in a temporary one,
// whichever user runs the test: root's under runDir, others' under
// XDG_RUNTIME_DIR.
func testDefaultPath(t *testing.T, configPath, base string) (string, error) {
	t.Helper()
	return defaultPath(configPath, env(map[string]string{"XDG_RUNTIME_DIR": base}), os.Geteuid(), base)
}

// The same config through a symlink, a symlinked folder or a relative path
// must get the same lock, or two runs of it go on at once.
func TestDefaultPathResolvesConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "etc", "cachet-updater.yaml")
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(cfgPath, filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "etc"), filepath.Join(dir, "etc-link")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(dir, "etc"))
	base := t.TempDir()
	want, err := testDefaultPath(t, cfgPath, base)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^cachet-updater-cachet-updater-[0-9a-f]{8}\.lock$`).MatchString(filepath.Base(want)) {
		t.Errorf("name %s", filepath.Base(want))
	}
	for _, p := range []string{filepath.Join(dir, "link.yaml"), filepath.Join(dir, "etc-link", "cachet-updater.yaml"), "cachet-updater.yaml", "../etc/./cachet-updater.yaml"} {
		if got, err := testDefaultPath(t, p, base); err != nil || got != want {
			t.Errorf("DefaultPath(%s) = %s, %v; want %s", p, got, err, want)
		}
	}
	info, err := os.Stat(filepath.Dir(want))
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("lock folder: %v, %v; want mode 0700", info, err)
	}
	// And it locks.
	l, err := Acquire(want)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
}

func TestDefaultPathOtherConfig(t *testing.T) {
	dir, base := t.TempDir(), t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b", "a.yaml")
	if err := os.Mkdir(filepath.Dir(b), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pa, erra := testDefaultPath(t, a, base)
	pb, errb := testDefaultPath(t, b, base)
	if erra != nil || errb != nil || pa == pb {
		t.Errorf("two configs named a.yaml: %s, %v and %s, %v; want two lock files", pa, erra, pb, errb)
	}
}

func TestDefaultPathMissingConfig(t *testing.T) {
	_, err := testDefaultPath(t, filepath.Join(t.TempDir(), "nope.yaml"), t.TempDir())
	checkError(t, err, "finding the lock file for config ")
}

func TestEnsureDirRefuses(t *testing.T) {
	euid := os.Geteuid()
	groupWritable := filepath.Join(t.TempDir(), "cachet-updater")
	if err := os.Mkdir(groupWritable, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(groupWritable, 0o770); err != nil {
		t.Fatal(err)
	}
	checkError(t, ensureDir(groupWritable, euid), "lock folder "+groupWritable+" can be written by group or others (mode -rwxrwx---)")

	link := filepath.Join(t.TempDir(), "cachet-updater")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	checkError(t, ensureDir(link, euid), "lock folder "+link+" is a symbolic link")

	if euid != 0 {
		t.Skip("needs root to give a folder to another user (uid 65534)")
	}
	foreign := filepath.Join(t.TempDir(), "cachet-updater")
	if err := os.Mkdir(foreign, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	checkError(t, ensureDir(foreign, euid), "lock folder "+foreign+" belongs to uid 65534, not to this user (uid 0)")
}
