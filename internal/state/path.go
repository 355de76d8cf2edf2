package state

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// DefaultPath returns the state file of a config that sets no state.path:
// <config name>-<8 hex of the SHA-256 of its resolved path>.json, so that two
// configs never share one and a config reached through a symbolic link
// shares its own; in /var/lib/cachet-updater for root, else
// $XDG_STATE_HOME/cachet-updater or ~/.local/state/cachet-updater.
func DefaultPath(configPath string, getenv func(string) string, euid int) (string, error) {
	return defaultPath(configPath, getenv, euid, "/var/lib", "", ".json")
}

// defaultPath is the one rule for both default paths: root's folder under
// rootDir, a user's in the first absolute one of $XDG_RUNTIME_DIR (when
// runtime), $XDG_STATE_HOME and ~/.local/state (relative ones are ignored,
// as the XDG spec asks); the name after the resolved config path.
func defaultPath(configPath string, getenv func(string) string, euid int, rootDir, runtime, ext string) (string, error) {
	what := map[string]string{".json": "state file (or set state.path)", ".lock": "lock file (or set lock_file)"}[ext]
	abs, err := filepath.Abs(configPath)
	if err != nil || configPath == "" {
		return "", fmt.Errorf("the default %s for config %q: %v", what, configPath, err)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	dirs := []string{getenv(runtime), getenv("XDG_STATE_HOME"), filepath.Join(getenv("HOME"), ".local", "state")}
	if euid == 0 {
		dirs = []string{rootDir}
	}
	i := 0
	for i < len(dirs) && !filepath.IsAbs(dirs[i]) {
		i++
	}
	if i == len(dirs) {
		return "", errors.New("no folder for the default " + what + ": none of XDG_STATE_HOME and HOME is set to an absolute path")
	}
	sum := sha256.Sum256([]byte(abs))
	name := strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs)) + "-" + hex.EncodeToString(sum[:4]) + ext
	if ext == ".lock" {
		name = "cachet-updater-" + name
	}
	return filepath.Join(dirs[i], "cachet-updater", name), nil
}
