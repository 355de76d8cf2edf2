//go:build unix

package runlock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A symlink planted at the lock path must not be followed: a root run would
// otherwise truncate whatever file it points at.
func TestAcquireRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x.lock")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(path)
	if err == nil {
		l.Release()
	}
	checkError(t, err, "lock file "+path+" is a symbolic link")
	if b, _ := os.ReadFile(target); string(b) != "keep me\n" {
		t.Errorf("the symlink's target was changed: %q", b)
	}
}

// Another user who made the lock file first could hold it for ever and make
// every run exit 3 without a word.
func TestAcquireRefusesForeignOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the lock file to another user (uid 65534)")
	}
	path := filepath.Join(t.TempDir(), "x.lock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(path)
	if err == nil {
		l.Release()
	}
	checkError(t, err, "lock file "+path+" belongs to uid 65534, not to this user (uid 0)")
}

// Anyone who can open the lock file can flock it.
func TestAcquireRefusesOpenToOthers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(path)
	if err == nil {
		l.Release()
	}
	checkError(t, err, "lock file "+path+" can be opened by other users (mode -rw-r--r--)")
}

func checkError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}
