package config

import (
	"bytes"
	"cmp"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

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
		return origin{line: p.line, hidden: !strings.ContainsAny(p.val.Value, "/.")}
	}
	return origin{line: r.at[key+"_env"].line}
}

// secret is where one secret comes from, and how to talk about it.
type secret struct {
	key, what, example string // "cachet.token", "the Cachet API token", its usual variable
	env, file, inline  string
	at                 origin
}

func (c Cachet) secret() secret {
	return secret{"cachet.token", "the Cachet API token", DefaultTokenEnv, c.TokenEnv, c.TokenFile, "", c.token}
}

func (s Source) secret() secret {
	return secret{"reports.source.dsn", "the " + s.Driver + " DSN", "REPORTS_DSN", s.DSNEnv, s.DSNFile, s.DSN, s.dsn}
}

func (s StateSQL) secret() secret {
	return secret{"state.sql.dsn", "the state " + s.Driver + " DSN", "CACHET_UPDATER_STATE_DSN", s.DSNEnv, s.DSNFile, s.DSN, s.dsn}
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
	if c.TokenFile != "" {
		return c.secret().fileName()
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
	return s.secret().read(getenv)
}

// ResolveDSN returns the DSN of state.sql; see Source.ResolveDSN.
func (s StateSQL) ResolveDSN(getenv func(string) string) (string, error) {
	return s.secret().read(getenv)
}

// maxSecretSize bounds a token or DSN file: a bigger one is the wrong file
// (a log, a key ring), not to be read whole into memory.
const maxSecretSize = 64 << 10

func (s secret) read(getenv func(string) string) (string, error) {
	switch v := strings.TrimSpace(getenv(s.env)); {
	case s.inline != "":
		return s.inline, nil
	case s.file != "":
	case v != "":
		return v, nil
	case conventionalEnvName(s.env):
		return "", fmt.Errorf("environment variable %s is empty or unset: export %s there, or set %s_file", s.env, s.what, s.key)
	default:
		return "", fmt.Errorf("%s is empty or unset; %s_env must hold the NAME of a variable, such as %s, not the %s", s.envName(), lastKey(s.key), s.example, s.noun())
	}
	data, err := readFile(s.file, maxSecretSize)
	switch v := strings.TrimSpace(string(data)); {
	case err != nil:
		return "", fmt.Errorf("%s: %w%s", s.fileName(), err, cmp.Or(s.reminder(), "; check "+s.key+"_file"))
	case len(data) > maxSecretSize:
		return "", fmt.Errorf("%s is larger than %d KiB: it cannot hold only the %s; check %s_file", s.fileName(), maxSecretSize>>10, s.noun(), s.key)
	case bytes.HasPrefix(data, []byte("\uFEFF")):
		return "", fmt.Errorf("%s starts with a byte-order mark: save it without one", s.fileName())
	case v == "":
		return "", fmt.Errorf("%s is empty: write %s into it%s", s.fileName(), s.what, s.reminder())
	default:
		return v, nil
	}
}

func (s secret) noun() string { return s.what[strings.LastIndexByte(s.what, ' ')+1:] } // token, DSN

// envName names the variable, or only the key that names it when the name
// does not look like one.
func (s secret) envName() string {
	if conventionalEnvName(s.env) {
		return "environment variable " + s.env
	}
	return fmt.Sprintf("the environment variable named by %s_env (line %d)", s.key, s.at.line)
}

// fileName names the file and what it holds ("token file /etc/t"), or only
// the key that names it when that may be the secret.
func (s secret) fileName() string {
	if s.at.hidden {
		return fmt.Sprintf("the %s file named by %s_file (line %d)", s.noun(), s.key, s.at.line)
	}
	return s.noun() + " file " + s.file
}

func (s secret) reminder() string {
	if !s.at.hidden {
		return ""
	}
	example := map[string]string{"cachet.token": "token", "reports.source.dsn": "reports-dsn", "state.sql.dsn": "state-dsn"}[s.key] // as configs/example.yaml
	return fmt.Sprintf("; %s_file must hold the PATH of a file, such as /etc/cachet-updater/%s, not the %s", lastKey(s.key), example, s.noun())
}

// conventionalEnvName reports whether s looks like a variable's name
// (CACHET_API_TOKEN) rather than a token pasted in its place.
func conventionalEnvName(s string) bool {
	return s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == "" && (s[0] < '0' || s[0] > '9')
}

func lastKey(key string) string { return key[strings.LastIndexByte(key, '.')+1:] }

// Warnings returns problems an operator should fix that do not stop a run:
// files holding secrets that other users can read, secrets sent over plain
// http, and timeouts that cannot fit in run_timeout. stat is os.Stat in
// production; a file it cannot stat is skipped. No warning holds a secret.
func (c *Config) Warnings(stat func(string) (os.FileInfo, error)) []string {
	var w, keys []string
	readable := func(path, name, holds, fix string) {
		if fi, err := stat(path); path != "" && err == nil && fi.Mode().Perm()&0o044 != 0 {
			w = append(w, fmt.Sprintf("%s holds %s and is readable by other users (mode %04o): chmod 600 %s", name, holds, fi.Mode().Perm(), fix))
		}
	}
	plain := func(u *url.URL) bool { return u.Scheme == "http" && !isLoopback(u.Hostname()) }
	for _, s := range []secret{c.Cachet.secret(), c.Reports.Source.secret(), c.State.SQL.secret()} {
		readable(s.file, s.fileName(), s.what, map[bool]string{true: "that file", false: s.file}[s.at.hidden])
	}
	if u, err := url.Parse(c.Cachet.URL); err == nil && plain(u) {
		w = append(w, fmt.Sprintf("cachet.url %s uses plain http:// to a host that is not this machine: the Cachet token is sent unencrypted and can be read on the way; use https://", c.Cachet.URL))
	}
	for i, s := range c.Servers {
		if u, err := url.Parse(s.URL); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				keys = append(keys, fmt.Sprintf("servers[%d].url", i))
				if plain(u) {
					w = append(w, fmt.Sprintf("%s %s sends a basic-auth password over plain http:// to a host that is not this machine: it can be read on the way; use https://", keys[len(keys)-1], s.DisplayURL()))
				}
			}
		}
	}
	if len(keys) > 3 {
		keys = append(keys[:3], fmt.Sprintf("%d more", len(keys)-3))
	}
	if len(keys) > 0 {
		readable(c.Path, "config file "+c.Path, "basic-auth passwords ("+strings.Join(keys, ", ")+")", c.Path)
	}
	return append(w, c.timeoutWarnings()...)
}

// timeoutWarnings warns when a probe that hangs, or enough of them, would
// keep the run from finishing within run_timeout.
func (c *Config) timeoutWarnings() []string {
	if len(c.Servers) == 0 {
		return nil
	}
	i := 0 // the server with the longest timeout
	for j, s := range c.Servers {
		if s.Probe.Timeout > c.Servers[i].Probe.Timeout {
			i = j
		}
	}
	s, run, probe, n, conc := c.Servers[i], c.RunTimeout.D(), c.Servers[i].Probe.Timeout.D(), len(c.Servers), c.Probe.Concurrency
	if run <= probe {
		return []string{fmt.Sprintf("run_timeout %s is not longer than the probe timeout %s of server %q (servers[%d].timeout or probe.timeout): if it hangs, the run is cut before its probe ends and nothing is written; raise run_timeout above %[2]s or lower that timeout",
			c.RunTimeout, s.Probe.Timeout, s.Name, i)}
	}
	if perSlot := int(run / probe); n > conc*perSlot { // perSlot: hanging probes one slot gets through within run_timeout
		return []string{fmt.Sprintf("probe.concurrency %d lets at most %d of the %d servers hang at once within run_timeout %s (probes of up to %s, %d after one another per slot): if more hang, the run cannot finish; raise probe.concurrency to %d or more, or run_timeout above %s",
			conc, conc*perSlot, n, c.RunTimeout, s.Probe.Timeout, perSlot, (n+perSlot-1)/perSlot, Duration(time.Duration((n+conc-1)/conc)*probe))}
	}
	return nil
}

// isLoopback reports whether host names this machine: localhost (and
// *.localhost), 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	ip := net.ParseIP(h)
	return h == "localhost" || strings.HasSuffix(h, ".localhost") || ip != nil && ip.IsLoopback()
}
