package state

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// RootDir is the state directory when running as root.
const RootDir = "/var/lib/cachet-updater"

// DefaultPath returns the state file used when state.path is not set: one
// per config, named <config name>-<8 hex of the resolved config path's
// SHA-256>.json, so two configs never share one and a symlink to a config
// shares the config's. The directory is RootDir for root (uid 0), else
// $XDG_STATE_HOME/cachet-updater, else $HOME/.local/state/cachet-updater
// (cron gives plain users HOME but no XDG_* variables). Relative values of
// either variable are ignored, as the XDG spec asks.
func DefaultPath(configPath string, getenv func(string) string, uid int) (string, error) {
	if configPath == "" {
		return "", errors.New("default state file: no config path")
	}
	resolved, err := filepath.Abs(configPath)
	if err != nil {
		return "", fmt.Errorf("default state file for config %s: %w; set state.path", configPath, err)
	}
	if r, err := filepath.EvalSymlinks(resolved); err == nil {
		resolved = r
	}
	dir, err := defaultDir(getenv, uid)
	if err != nil {
		return "", err
	}
	base := filepath.Base(resolved)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	sum := sha256.Sum256([]byte(resolved))
	return filepath.Join(dir, base+"-"+hex.EncodeToString(sum[:4])+".json"), nil
}

func defaultDir(getenv func(string) string, uid int) (string, error) {
	if uid == 0 {
		return RootDir, nil
	}
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "cachet-updater"), nil
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "cachet-updater"), nil
	}
	return "", errors.New("default state file: neither HOME nor XDG_STATE_HOME is set (to an absolute path): set state.path in the config")
}
