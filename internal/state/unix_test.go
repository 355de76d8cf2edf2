//go:build unix

package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

// TestDefaultPaths: one rule names the state file and the run lock of a
// config; the same config through a symlink or a relative path shares them.
func TestDefaultPaths(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	config, link, missing := filepath.Join(dir, "prod.yaml"), filepath.Join(dir, "link.yml"), filepath.Join(dir, "gone.yaml")
	writeFile(t, config, "servers: []\n")
	if err := os.Symlink(config, link); err != nil {
		t.Fatal(err)
	}
	hash := func(path string) string { sum := sha256.Sum256([]byte(path)); return hex.EncodeToString(sum[:4]) }
	name, lock := "prod-"+hash(config)+".json", "cachet-updater-prod-"+hash(config)+".lock"
	home := []string{"HOME", "/home/u"}
	tests := []struct {
		name, config string
		lock         bool
		env          []string
		uid          int
		want         string
	}{
		{"root", config, false, []string{"HOME", "/root", "XDG_STATE_HOME", "/x"}, 0, "/var/lib/cachet-updater/" + name},
		{"root's lock", config, true, []string{"XDG_RUNTIME_DIR", "/run/user/0"}, 0, "/run/cachet-updater/" + lock},
		{"XDG_STATE_HOME", config, false, []string{"HOME", "/home/u", "XDG_RUNTIME_DIR", "/r", "XDG_STATE_HOME", "/x/state"}, 1000, "/x/state/cachet-updater/" + name},
		{"XDG_RUNTIME_DIR for the lock", config, true, []string{"XDG_RUNTIME_DIR", "/r", "XDG_STATE_HOME", "/x/state"}, 1000, "/r/cachet-updater/" + lock},
		{"cron: HOME only", config, true, home, 1000, "/home/u/.local/state/cachet-updater/" + lock},
		{"HOME", config, false, home, 1000, "/home/u/.local/state/cachet-updater/" + name},
		{"relative XDG paths are ignored", config, true, []string{"XDG_RUNTIME_DIR", "run", "XDG_STATE_HOME", "state", "HOME", "/home/u"}, 1000, "/home/u/.local/state/cachet-updater/" + lock},
		{"a symlinked config shares them", link, false, home, 1000, "/home/u/.local/state/cachet-updater/" + name},
		{"a relative config path too", "prod.yaml", false, home, 1000, "/home/u/.local/state/cachet-updater/" + name},
		{"a missing config: its absolute path", missing, false, home, 1000, "/home/u/.local/state/cachet-updater/gone-" + hash(missing) + ".json"},
		{"no folder", config, false, nil, 1000, "error: no folder for the default state file (or set state.path): none of XDG_STATE_HOME and HOME is set to an absolute path"},
		{"no config", "", true, home, 1000, `error: the default lock file (or set lock_file) for config ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, runtime, ext := "/var/lib", "", ".json"
			if tt.lock {
				root, runtime, ext = "/run", "XDG_RUNTIME_DIR", ".lock"
			}
			got, err := defaultPath(tt.config, env(tt.env...), tt.uid, root, runtime, ext)
			if err != nil {
				got = "error: " + err.Error()
			}
			if !strings.HasPrefix(tt.want, "error: ") && got != tt.want || !strings.Contains(got, strings.TrimPrefix(tt.want, "error: ")) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got, err := DefaultPath(config, env(home...), 1000); err != nil || got != tests[5].want {
		t.Errorf("DefaultPath = %q, %v", got, err)
	}
}

// TestDefaultLockPath: the lock's folder is created 0700, and one another
// user could put a lock file in is refused.
func TestDefaultLockPath(t *testing.T) {
	config := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, config, "")
	euid := os.Geteuid()
	lockPath := func(base string) (string, error) {
		return defaultLockPath(config, env("XDG_RUNTIME_DIR", base), euid, base)
	}
	base := t.TempDir()
	path, err := lockPath(base)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Dir(path)); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("lock folder: %v, %v; want mode 0700", info, err)
	}
	l, err := LockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()

	tests := []struct {
		name string
		make func(dir string) error
		want string
	}{
		{"group-writable", func(dir string) error { os.Mkdir(dir, 0o700); return os.Chmod(dir, 0o770) }, "can be written by group or others (mode -rwxrwx---)"},
		{"a symlink", func(dir string) error { return os.Symlink(t.TempDir(), dir) }, "is a symbolic link or not a folder"},
		{"another user's", func(dir string) error { os.Mkdir(dir, 0o700); return os.Chown(dir, 65534, 65534) }, "belongs to uid 65534, not to this user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if euid != 0 && tt.name == "another user's" {
				t.Skip("needs root to give a folder to another user")
			}
			base := t.TempDir()
			if err := tt.make(filepath.Join(base, "cachet-updater")); err != nil {
				t.Fatal(err)
			}
			_, err := lockPath(base)
			checkError(t, err, "lock folder "+filepath.Join(base, "cachet-updater")+": "+tt.want, "or set lock_file")
		})
	}
}

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	l, err := LockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file: a second open in this process
	// conflicts as another process would.
	if _, err := LockFile(path); !errors.Is(err, ErrLockBusy) {
		t.Fatalf("second LockFile = %v, want ErrLockBusy", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l, err = LockFile(path)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l.Release()
	if err := l.Release(); err != nil {
		t.Errorf("a second Release: %v", err)
	}
}

// TestLockFileRefuses: a lock file someone else could hold or point
// elsewhere is refused, and nothing it points at is touched.
func TestLockFileRefuses(t *testing.T) {
	tests := []struct {
		name string
		make func(path string) error
		want string
	}{
		{"a symlink", func(path string) error { return os.Symlink(path+".precious", path) }, "is a symbolic link: refusing it"},
		{"open to others", func(path string) error { os.WriteFile(path, nil, 0o600); return os.Chmod(path, 0o644) }, ": can be opened by other users (mode -rw-r--r--)"},
		{"a directory", func(path string) error { return os.Mkdir(path, 0o700) }, "is a directory (set lock_file to a writable path)"},
		{"another user's", func(path string) error { os.WriteFile(path, nil, 0o600); return os.Chown(path, 65534, 65534) }, ": belongs to uid 65534, not to this user"},
		{"in a missing folder", func(path string) error { return os.RemoveAll(filepath.Dir(path)) }, "set lock_file to a writable path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if os.Geteuid() != 0 && tt.name == "another user's" {
				t.Skip("needs root to give the lock file to another user")
			}
			path := filepath.Join(t.TempDir(), "d", "x.lock")
			os.Mkdir(filepath.Dir(path), 0o700)
			writeFile(t, path+".precious", "keep me\n")
			if err := tt.make(path); err != nil {
				t.Fatal(err)
			}
			l, err := LockFile(path)
			if err == nil {
				l.Release()
			}
			checkError(t, err, "lock file "+path, tt.want)
			if tt.name == "a symlink" {
				checkContent(t, path+".precious", "keep me\n")
			}
		})
	}
}

// TestLockFileKilledHolder: the kernel drops the lock of a process that dies.
func TestLockFileKilledHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	kill := holder(t, "file "+path)
	if _, err := LockFile(path); !errors.Is(err, ErrLockBusy) {
		t.Fatalf("while the helper holds it: %v, want ErrLockBusy", err)
	}
	kill()
	l, err := LockFile(path)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}

// TestLoadFIFO: a FIFO where the state file should be is refused without
// blocking (no deadline: only the code keeps it from blocking) and left.
func TestLoadFIFO(t *testing.T) {
	f := newFile(t)
	if err := syscall.Mkfifo(f.path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		st, err := f.Load(context.Background())
		if st != nil {
			err = errors.New("a state")
		}
		done <- err
	}()
	select {
	case err := <-done:
		checkError(t, err, f.path+" is a named pipe (FIFO), not a regular file")
	case <-time.After(30 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
	if info, err := os.Lstat(f.path); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was moved: %v", err)
	}
	checkError(t, CheckWritable(context.Background(), f.path), "named pipe")
}
