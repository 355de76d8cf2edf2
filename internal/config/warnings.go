package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

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
