package config

import (
	"bytes"
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/proxer/cachet-updater/internal/cachet"
)

// origin says where the name of a secret's variable or file was written.
// That name may be the secret itself pasted in the wrong place, so
// messages print it only when it looks like a name.
type origin struct {
	line   int
	hidden bool // a file name with neither / nor .: never printed
}

// origin returns where key_file, or else key_env, was written.
func (r *reader) origin(key string) origin {
	if p, ok := r.at[key+"_file"]; ok {
		return origin{line: p.val.Line, hidden: !strings.ContainsAny(p.val.Value, "/.")}
	}
	return origin{line: r.val(key + "_env").Line}
}

// secret is where one secret comes from, and how to talk about it.
type secret struct {
	what, noun              string // "the Cachet API token", "token"
	envKey, fileKey         string // "cachet.token_env", "cachet.token_file"
	envExample, fileExample string
	env, file               string
	at                      origin
}

func (c Cachet) secret() secret {
	return secret{"the Cachet API token", "token", "cachet.token_env", "cachet.token_file",
		DefaultTokenEnv, "/etc/cachet-updater/token", c.TokenEnv, c.TokenFile, c.token}
}

func (s Source) secret() secret {
	return secret{"the " + s.Driver + " DSN", "DSN", "reports.source.dsn_env", "reports.source.dsn_file",
		"REPORTS_DSN", "/etc/cachet-updater/reports-dsn", s.DSNEnv, s.DSNFile, s.dsn}
}

func (s StateSQL) secret() secret {
	return secret{"the state " + s.Driver + " DSN", "DSN", "state.sql.dsn_env", "state.sql.dsn_file",
		"CACHET_UPDATER_STATE_DSN", "/etc/cachet-updater/state-dsn", s.DSNEnv, s.DSNFile, s.dsn}
}

// Token returns the Cachet API token from cachet.token_env (looked up with
// getenv) or cachet.token_file, trimmed. A token that an HTTP header cannot
// carry (cachet.CheckToken) is an error here rather than a 401 later. No
// error holds the token, nor a name that may be the token.
func (c *Config) Token(getenv func(string) string) (string, error) {
	v, err := c.Cachet.secret().read(getenv)
	if err == nil && cachet.CheckToken(v) != nil {
		return "", fmt.Errorf("%s: %w: put only the token in it", c.Cachet.TokenSource(), cachet.CheckToken(v))
	}
	return v, err
}

// TokenSource says where the token is read from, for output.
func (c Cachet) TokenSource() string {
	if s := c.secret(); s.env == "" && s.file != "" {
		return s.fileName()
	}
	return c.secret().envName()
}

// TokenKey is where the token comes from as a config writes it: token_file
// and its path, or token_env and the variable's name; never a name that may
// be the token itself (then the default variable).
func (c Cachet) TokenKey() (key, value string) {
	switch {
	case c.TokenFile != "" && !c.token.hidden:
		return "token_file", c.TokenFile
	case conventionalEnvName(c.TokenEnv):
		return "token_env", c.TokenEnv
	}
	return "token_env", DefaultTokenEnv
}

// ResolveDSN returns the DSN of an sql source from dsn_env, dsn_file or the
// inline sqlite dsn. No error holds the DSN.
func (s Source) ResolveDSN(getenv func(string) string) (string, error) {
	if s.Type != "sql" {
		return "", fmt.Errorf("reports source has type %s, not sql: it has no DSN", s.Type)
	}
	if s.DSN != "" {
		return s.DSN, nil
	}
	return s.secret().read(getenv)
}

// ResolveDSN returns the DSN of state.sql; see Source.ResolveDSN.
func (s StateSQL) ResolveDSN(getenv func(string) string) (string, error) {
	if s.DSN != "" {
		return s.DSN, nil
	}
	return s.secret().read(getenv)
}

// maxSecretSize bounds a token or DSN file: a bigger one is the wrong file
// (a log, a key ring), not to be read whole into memory.
const maxSecretSize = 64 << 10

func (s secret) read(getenv func(string) string) (string, error) {
	switch {
	case s.env != "" && strings.TrimSpace(getenv(s.env)) != "":
		return strings.TrimSpace(getenv(s.env)), nil
	case s.env != "" && conventionalEnvName(s.env):
		return "", fmt.Errorf("environment variable %s is empty or unset: export %s there, or set %s", s.env, s.what, s.fileKey)
	case s.env != "":
		return "", fmt.Errorf("%s is empty or unset; %s must hold the NAME of a variable, such as %s, not the %s", s.envName(), lastKey(s.envKey), s.envExample, s.noun)
	case s.file == "":
		return "", fmt.Errorf("no source for %s is configured", s.what)
	}
	data, err := readFile(s.file, maxSecretSize)
	v := strings.TrimSpace(string(data))
	switch {
	case err != nil:
		path := s.file
		if s.at.hidden {
			path = "the file named by " + s.fileKey + atLine(s.at.line)
		}
		return "", fmt.Errorf("reading %s from %s: %w%s", s.what, path, err, cmp.Or(s.reminder(), "; check "+s.fileKey))
	case len(data) > maxSecretSize:
		return "", fmt.Errorf("%s is larger than %d KiB: it cannot hold only the %s; check %s", s.fileName(), maxSecretSize>>10, s.noun, s.fileKey)
	case bytes.HasPrefix(data, []byte("\uFEFF")):
		return "", fmt.Errorf("%s starts with a byte-order mark: save it without one", s.fileName())
	case v == "":
		return "", fmt.Errorf("%s is empty: write %s into it%s", s.fileName(), s.what, s.reminder())
	}
	return v, nil
}

// envName names the variable, or only the key that names it when the name
// does not look like one.
func (s secret) envName() string {
	if conventionalEnvName(s.env) {
		return "environment variable " + s.env
	}
	return "the environment variable named by " + s.envKey + atLine(s.at.line)
}

// fileName names the file and what it holds ("token file /etc/t"), or only
// the key that names it when that may be the secret.
func (s secret) fileName() string {
	if s.at.hidden {
		return "the " + s.noun + " file named by " + s.fileKey + atLine(s.at.line)
	}
	return s.noun + " file " + s.file
}

func (s secret) reminder() string {
	if !s.at.hidden {
		return ""
	}
	return fmt.Sprintf("; %s must hold the PATH of a file, such as %s, not the %s", lastKey(s.fileKey), s.fileExample, s.noun)
}

// conventionalEnvName reports whether s looks like a variable's name
// (CACHET_API_TOKEN) rather than a token pasted in its place.
func conventionalEnvName(s string) bool {
	return s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == "" && (s[0] < '0' || s[0] > '9')
}

func lastKey(key string) string { return key[strings.LastIndexByte(key, '.')+1:] }

func atLine(line int) string {
	if line == 0 {
		return ""
	}
	return " (line " + strconv.Itoa(line) + ")"
}
