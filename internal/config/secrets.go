package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/proxer/cachet-updater/internal/cachet"
)

// origin says where the name of a secret (an environment variable or a file)
// was written. That name may be the secret itself pasted in the wrong place,
// so messages print it only when it looks like a name.
type origin struct {
	key    string // dotted key, such as cachet.token_env
	line   int
	hidden bool // a file name that does not look like a path: never print it
}

// originOf records where key was written; a file name with neither / nor .
// may be a token and is never printed.
func originOf(at index, key, written string) origin {
	return origin{key: key, line: at.valLine(key), hidden: strings.HasSuffix(key, "_file") && !strings.ContainsAny(written, "/.")}
}

// secret is where one secret comes from, and how to talk about it.
type secret struct {
	what                    string // "the Cachet API token"
	noun                    string // "token": what the file or variable must hold, in short
	envKey, fileKey         string // "cachet.token_env", "cachet.token_file"
	envExample, fileExample string
	env, file               string
	at                      origin
	header                  bool // sent in an HTTP header: one word of visible ASCII
}

// Token returns the Cachet API token from cachet.token_env (looked up with
// getenv, os.Getenv in production) or cachet.token_file, with surrounding
// white space trimmed. A token that an HTTP header cannot carry is an error
// here rather than a 401 later. Its errors never contain the token, nor a
// name that may be the token pasted in the wrong place.
func (c *Config) Token(getenv func(string) string) (string, error) {
	return c.Cachet.secret().read(getenv)
}

// TokenSource says where the token is read from, for output:
// "environment variable CACHET_API_TOKEN", "token file /etc/cachet-updater/token",
// or only the key that names it when that name may be the token itself.
func (c Cachet) TokenSource() string {
	s := c.secret()
	if s.env == "" && s.file != "" {
		return s.fileName()
	}
	return s.envName()
}

// TokenKey is where the token comes from as a config writes it: token_file
// and its path, or token_env and the variable's name; a name that may be
// the token itself is never returned (then the default variable).
func (c Cachet) TokenKey() (key, value string) {
	s := c.secret()
	switch {
	case s.file != "" && !s.at.hidden:
		return "token_file", s.file
	case conventionalEnvName(s.env):
		return "token_env", s.env
	}
	return "token_env", DefaultTokenEnv
}

func (c Cachet) secret() secret {
	return secret{
		what: "the Cachet API token", noun: "token",
		envKey: "cachet.token_env", fileKey: "cachet.token_file",
		envExample: DefaultTokenEnv, fileExample: "/etc/cachet-updater/token",
		env: c.TokenEnv, file: c.TokenFile, at: c.token, header: true,
	}
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
	return s.secret().read(getenv)
}

// ResolveDSN returns the DSN of state.sql from dsn_env, dsn_file or the
// inline sqlite dsn. Its errors never contain the DSN.
func (s StateSQL) ResolveDSN(getenv func(string) string) (string, error) {
	if s.DSN != "" {
		return s.DSN, nil
	}
	return s.secret().read(getenv)
}

func (s StateSQL) secret() secret {
	return secret{
		what: strings.Join(strings.Fields("the state "+s.Driver+" DSN"), " "), noun: "DSN",
		envKey: "state.sql.dsn_env", fileKey: "state.sql.dsn_file",
		envExample: "CACHET_UPDATER_STATE_DSN", fileExample: "/etc/cachet-updater/state-dsn",
		env: s.DSNEnv, file: s.DSNFile, at: s.dsn,
	}
}

func (s Source) secret() secret {
	return secret{
		what: strings.Join(strings.Fields("the "+s.Driver+" DSN"), " "), noun: "DSN",
		envKey: "reports.source.dsn_env", fileKey: "reports.source.dsn_file",
		envExample: "REPORTS_DSN", fileExample: "/etc/cachet-updater/reports-dsn",
		env: s.DSNEnv, file: s.DSNFile, at: s.dsn,
	}
}

func (s secret) read(getenv func(string) string) (string, error) {
	switch {
	case s.env != "":
		v := strings.TrimSpace(getenv(s.env))
		if v == "" {
			return "", s.unset()
		}
		return s.checked(s.envName(), v)
	case s.file != "":
		// A FIFO would block the read with no deadline.
		if fi, err := os.Stat(s.file); err == nil && !fi.Mode().IsRegular() {
			return "", fmt.Errorf("%s is not a regular file (%s): %s must name the file that holds %s", s.fileName(), fileKind(fi.Mode()), s.fileKey, s.what)
		}
		data, err := readAtMost(s.file, maxSecretSize)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", fmt.Errorf("reading %s from %s: %w%s", s.what, s.filePath(), err, s.fileReminder())
		}
		if len(data) > maxSecretSize {
			return "", fmt.Errorf("%s is larger than %d KiB: it cannot hold only the %s; check %s", s.fileName(), maxSecretSize>>10, s.noun, s.fileKey)
		}
		if bytes.HasPrefix(data, []byte("\uFEFF")) {
			return "", fmt.Errorf("%s starts with a byte-order mark: save it without one", s.fileName())
		}
		v := strings.TrimSpace(string(data))
		if v == "" {
			return "", fmt.Errorf("%s is empty: write %s into it%s", s.fileName(), s.what, s.fileReminder())
		}
		return s.checked(s.fileName(), v)
	}
	return "", fmt.Errorf("no source for %s is configured", s.what)
}

// maxSecretSize bounds a token or DSN file: a bigger one is the wrong file
// (a log, a key ring), not to be read whole into memory.
const maxSecretSize = 64 << 10

// readAtMost reads the file at path, or its first limit+1 bytes.
func readAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

func (s secret) unset() error {
	if conventionalEnvName(s.env) {
		return fmt.Errorf("environment variable %s is empty or unset: export %s there, or set %s", s.env, s.what, s.fileKey)
	}
	return fmt.Errorf("%s is empty or unset; %s must hold the NAME of a variable, such as %s, not the %s",
		s.envName(), lastKey(s.envKey), s.envExample, s.noun)
}

// envName names the variable, or only the key that names it when the name
// does not look like one.
func (s secret) envName() string {
	if conventionalEnvName(s.env) {
		return "environment variable " + s.env
	}
	return "the environment variable named by " + s.envKey + atLine(s.at.line)
}

// filePath is the file's path, or only the key that names it when what was
// written there does not look like a path.
func (s secret) filePath() string {
	if s.at.hidden {
		return "the file named by " + s.fileKey + atLine(s.at.line)
	}
	return s.file
}

// fileName is filePath with what the file holds: "token file /etc/t".
func (s secret) fileName() string {
	if s.at.hidden {
		return "the " + s.noun + " file named by " + s.fileKey + atLine(s.at.line)
	}
	return s.noun + " file " + s.file
}

func (s secret) fileReminder() string {
	if !s.at.hidden {
		return ""
	}
	return fmt.Sprintf("; %s must hold the PATH of a file, such as %s, not the %s", lastKey(s.fileKey), s.fileExample, s.noun)
}

// checked returns v, or why Cachet cannot take it as its token (the rule
// is cachet.CheckToken's); where names where it came from.
func (s secret) checked(where, v string) (string, error) {
	if s.header {
		if err := cachet.CheckToken(v); err != nil {
			return "", fmt.Errorf("%s: %w: put only the %s in it", where, err, s.noun)
		}
	}
	return v, nil
}

// conventionalEnvName reports whether s looks like a variable's name
// (CACHET_API_TOKEN) rather than a token pasted in its place.
func conventionalEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; !(b == '_' || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')) {
			return false
		}
	}
	return true
}

func lastKey(key string) string { return key[strings.LastIndexByte(key, '.')+1:] }

func atLine(line int) string {
	if line == 0 {
		return ""
	}
	return " (line " + strconv.Itoa(line) + ")"
}
