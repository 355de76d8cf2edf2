package reports

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

const redacted = "[redacted]"

// dsnSecrets returns the strings that must never appear in a message: the
// DSN itself and every password that can be found in it, in the forms
// (raw and decoded) a driver might echo. It parses by hand as well as with
// the driver's parser, because a DSN the driver rejects still holds the
// password.
func dsnSecrets(driver, dsn string) []string {
	secrets := []string{dsn}
	switch driver {
	case DriverMySQL:
		if cfg, err := mysql.ParseDSN(dsn); err == nil {
			secrets = append(secrets, cfg.Passwd)
		}
		secrets = append(secrets, mysqlPassword(dsn))
	case DriverPostgres:
		if cfg, err := pgconn.ParseConfig(dsn); err == nil {
			secrets = append(secrets, cfg.Password)
		}
		secrets = append(secrets, postgresPasswords(dsn)...)
	}
	// sqlite DSNs are paths with no password; the DSN itself still goes.
	for _, s := range slices.Clone(secrets) {
		if u, err := url.QueryUnescape(s); err == nil {
			secrets = append(secrets, u)
		}
		secrets = append(secrets, url.QueryEscape(s), url.PathEscape(s))
	}
	secrets = slices.DeleteFunc(secrets, func(s string) bool { return s == "" })
	// Longest first, so a password inside the DSN doesn't leave the rest of
	// the DSN behind.
	slices.SortFunc(secrets, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(secrets)
}

// mysqlPassword finds the password the way go-sql-driver/mysql does:
// [user[:password]@][net[(addr)]]/dbname, splitting at the last '/', then the
// last '@' before it, then the first ':' before that.
func mysqlPassword(dsn string) string {
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		slash = len(dsn)
	}
	at := strings.LastIndexByte(dsn[:slash], '@')
	if at < 0 {
		return ""
	}
	_, pass, ok := strings.Cut(dsn[:at], ":")
	if !ok {
		return ""
	}
	return pass
}

// pgKeyValuePassword matches password=... and sslpassword=... in the
// key=value DSN form, quoted or not, and the same keys in a URL's query.
var pgKeyValuePassword = regexp.MustCompile(`(?i)\b(?:ssl)?password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]*)`)

func postgresPasswords(dsn string) []string {
	var out []string
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	// A URL that url.Parse rejects can still hold user:pass@.
	if _, rest, ok := strings.Cut(dsn, "://"); ok {
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			if _, pass, ok := strings.Cut(rest[:at], ":"); ok {
				out = append(out, pass)
			}
		}
	}
	for _, m := range pgKeyValuePassword.FindAllStringSubmatch(dsn, -1) {
		v := m[1]
		out = append(out, v)
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			out = append(out, v[1:len(v)-1], strings.ReplaceAll(v[1:len(v)-1], `\'`, `'`))
		}
	}
	return out
}

// redact replaces every secret in msg.
func redact(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, redacted)
	}
	return msg
}
