package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Warnings returns problems an operator should fix that do not stop a run:
// secret-bearing files readable by other users and a token sent over plain
// http. stat is os.Stat in production; files it cannot stat are skipped
// (reading them reports the problem).
func (c *Config) Warnings(stat func(string) (os.FileInfo, error)) []string {
	var w []string
	for _, f := range []struct{ what, path string }{
		{"config file", c.Path},
		{"token file", c.Cachet.TokenFile},
		{"DSN file", c.Reports.Source.DSNFile},
	} {
		if f.path == "" {
			continue
		}
		fi, err := stat(f.path)
		if err != nil {
			continue
		}
		if perm := fi.Mode().Perm(); perm&0o044 != 0 {
			w = append(w, fmt.Sprintf("%s %s is readable by other users (mode %04o): chmod 600 %s", f.what, f.path, perm, f.path))
		}
	}
	if u, err := url.Parse(c.Cachet.URL); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		w = append(w, fmt.Sprintf("cachet.url %s uses plain http:// to a host that is not this machine: the Cachet token is sent unencrypted and can be read on the way; use https://", c.Cachet.URL))
	}
	return w
}

// isLoopback reports whether host names this machine: localhost (and
// *.localhost), 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
