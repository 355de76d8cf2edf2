//go:build unix

package runlock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPath returns the lock file for a config that sets no lock_file, and
// creates its folder (mode 0700) when missing.
//
// The name is keyed on the config file's resolved path, so the same config
// reached through a symbolic link or a relative path gets the same lock. The
// folder is one only the running user can write: /run/cachet-updater for
// root; otherwise $XDG_RUNTIME_DIR/cachet-updater, or, when that is unset
// (as in cron jobs), $XDG_STATE_HOME/cachet-updater or
// ~/.local/state/cachet-updater. A folder that belongs to another user or
// that group or others can write is refused.
//
// getenv reads the environment (os.Getenv) and euid is the effective user id
// (os.Geteuid()).
func DefaultPath(configPath string, getenv func(string) string, euid int) (string, error) {
	return defaultPath(configPath, getenv, euid, "/run")
}

// defaultPath is DefaultPath with root's folder under runDir, for tests.
func defaultPath(configPath string, getenv func(string) string, euid int, runDir string) (string, error) {
	name, err := lockName(configPath)
	if err != nil {
		return "", err
	}
	dir, err := lockDir(getenv, euid, runDir)
	if err != nil {
		return "", err
	}
	if err := ensureDir(dir, euid); err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// lockName returns cachet-updater-<config name>-<8 hex digits of the SHA-256
// of the resolved config path>.lock.
func lockName(configPath string) (string, error) {
	abs, err := filepath.Abs(configPath)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", fmt.Errorf("finding the lock file for config %s: %w (or set lock_file)", configPath, err)
	}
	base := filepath.Base(abs)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	sum := sha256.Sum256([]byte(abs))
	return "cachet-updater-" + base + "-" + hex.EncodeToString(sum[:4]) + ".lock", nil
}

// lockDir chooses the folder. Relative XDG paths are ignored, as the XDG Base
// Directory specification asks.
func lockDir(getenv func(string) string, euid int, runDir string) (string, error) {
	const sub = "cachet-updater"
	if euid == 0 {
		return filepath.Join(runDir, sub), nil
	}
	if d := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return filepath.Join(d, sub), nil
	}
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, sub), nil
	}
	if home := getenv("HOME"); filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "state", sub), nil
	}
	return "", errors.New("finding a folder for the lock file: none of XDG_RUNTIME_DIR, XDG_STATE_HOME and HOME is set to an absolute path; set lock_file")
}

// ensureDir creates dir (0700) when missing and refuses one that another user
// could put a lock file in.
func ensureDir(dir string, euid int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the lock folder: %w (or set lock_file)", err)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking the lock folder: %w", err)
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("lock folder %s is a symbolic link: make it a folder only this user can write (mkdir -m 700), or set lock_file", dir)
	case !info.IsDir():
		return fmt.Errorf("lock folder %s is not a folder: remove it, or set lock_file", dir)
	case owner(info) != euid:
		return fmt.Errorf("lock folder %s belongs to uid %d, not to this user (uid %d): another user could hold the lock; remove it, or set lock_file", dir, owner(info), euid)
	case info.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("lock folder %s can be written by group or others (mode %s): chmod 700 %s, or set lock_file", dir, info.Mode().Perm(), dir)
	}
	return nil
}
