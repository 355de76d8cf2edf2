package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/proxer/cachet-updater/internal/status"
)

// Token returns the Cachet API token from cachet.token_env (looked up with
// getenv, os.Getenv in production) or cachet.token_file, with surrounding
// white space trimmed. Its errors never contain the token.
func (c *Config) Token(getenv func(string) string) (string, error) {
	return secret("the Cachet API token", c.Cachet.TokenEnv, c.Cachet.TokenFile, "cachet.token_file", getenv)
}

// ResolveDSN returns the DSN of an sql source from dsn_env, dsn_file or the
// inline sqlite dsn. Its errors never contain the DSN.
func (s Source) ResolveDSN(getenv func(string) string) (string, error) {
	if s.Type != "sql" {
		return "", fmt.Errorf("reports source has type %s, not sql: it has no DSN", s.Type)
	}
	if s.DSN != "" {
		return s.DSN, nil
	}
	return secret("the "+s.Driver+" DSN", s.DSNEnv, s.DSNFile, "reports.source.dsn_file", getenv)
}

// secret reads what from the environment variable env or, when env is "",
// from file. other names the config key to use instead of env.
func secret(what, env, file, other string, getenv func(string) string) (string, error) {
	switch {
	case env != "":
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty or unset: export %s there, or set %s", env, what, other)
		}
		return v, nil
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", fmt.Errorf("reading %s from %s: %w", what, file, err)
		}
		v := strings.TrimSpace(string(data))
		if v == "" {
			return "", fmt.Errorf("file %s is empty: write %s into it", file, what)
		}
		return v, nil
	}
	return "", fmt.Errorf("no source for %s is configured", what)
}

// Policy builds the status.Policy for s from its effective probe settings
// and the report thresholds t.
func (s Server) Policy(t status.Thresholds) status.Policy {
	return status.Policy{
		Codes:      s.Probe.Codes,
		OnTimeout:  s.Probe.OnTimeout,
		OnError:    s.Probe.OnError,
		Slow:       s.Probe.Slow,
		Thresholds: t,
	}
}
