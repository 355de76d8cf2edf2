package main

import (
	"cmp"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/status"
)

// The end-to-end scenarios live in testdata/script/*.txtar at the top of
// the module, where a reader looks for them. They run here because this
// package can hand testscript the real main: "exec cachet-updater" in a
// script re-executes this test binary, which calls main() itself, with its
// signal context, the real cli.Env and os.Exit. Nothing of main's wiring is
// copied, so the scenarios cannot drift from the shipped binary.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"cachet-updater": main})
}

// TestScripts runs every scenario; one runs with
// go test -run 'TestScripts/^run$' ./cmd/cachet-updater
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		Setup:               setupScript,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"cu":     cmdCU,
			"cachet": cmdCachet,
			"subst":  cmdSubst,
			"hits":   cmdHits,
			"sleep":  cmdSleep,
		},
	})
}

// world is what one script's setup started.
type world struct {
	token  string
	cachet *cachettest.Server
	hits   *atomic.Int64 // requests the loopback servers received
}

type worldKey struct{}

func worldOf(ts *testscript.TestScript) *world { return ts.Value(worldKey{}).(*world) }

// setupScript starts the Cachet emulator and the loopback servers a config
// can point at, and exports their URLs: $CACHET_URL, $CACHET_API_TOKEN
// (a fresh random token), $OK (200), $FAIL (503), $NOTFOUND (404), $HANG
// (accepts, never answers), $REFUSED (a closed port), $REDIRECT (302 to
// $OK), $AUTH_HOSTPORT (host:port of a server that wants basic auth
// probe:pw-s3cret), $GZIP (a gzip body to whoever asks for gzip), $TLS3D
// (https, a self-signed certificate expiring in 3 days). $CACHET_UPDATER_CONFIG is $WORK/config.yaml, so a script runs
// "cu 0 run" without --config.
func setupScript(env *testscript.Env) error {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	w := &world{token: "tok-" + hex.EncodeToString(b), hits: new(atomic.Int64)}
	w.cachet = cachettest.New(w.token)
	env.Defer(w.cachet.Close)
	env.Values[worldKey{}] = w

	done := make(chan struct{}) // releases HANG's requests before its server closes
	serve := func(h http.HandlerFunc) string {
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			w.hits.Add(1)
			h(rw, r)
		}))
		env.Defer(srv.Close)
		return srv.URL
	}
	code := func(c int) http.HandlerFunc {
		return func(rw http.ResponseWriter, _ *http.Request) {
			rw.WriteHeader(c)
			io.WriteString(rw, http.StatusText(c))
		}
	}
	ok := serve(code(http.StatusOK))
	env.Setenv("OK", ok)
	env.Setenv("FAIL", serve(code(http.StatusServiceUnavailable)))
	env.Setenv("NOTFOUND", serve(code(http.StatusNotFound)))
	env.Setenv("HANG", serve(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	env.Setenv("REDIRECT", serve(func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, ok+"/", http.StatusFound)
	}))
	// AUTH wants basic auth probe:pw-s3cret; scripts write the credentials
	// into the URL: http://probe:pw-s3cret@$AUTH_HOSTPORT/.
	auth := serve(func(rw http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "probe" || p != "pw-s3cret" {
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(rw, "ok")
	})
	env.Setenv("AUTH_HOSTPORT", strings.TrimPrefix(auth, "http://"))
	// GZIP answers a gzip-compressed "all systems go" to whoever asks for it.
	env.Setenv("GZIP", serve(func(rw http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			io.WriteString(rw, "this client did not ask for gzip")
			return
		}
		rw.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(rw)
		io.WriteString(zw, "all systems go")
		zw.Close()
	}))
	// TLS3D is https with a certificate for 127.0.0.1 that expires in 3
	// days (probe it with tls_skip_verify: true). The other TLS_ servers show
	// certificates for 127.0.0.2, which no probe verifies: TLS_REDIRECT's
	// expires in 3 days and it redirects to TLS_FINE (90 days), TLS_FUTURE's
	// is not valid for 2 days yet, TLS_EXPIRED's expired a day ago, and
	// TLS_EVIL's names carry escape codes, a line break and 4,000 bytes.
	now, fine := time.Now(), ""
	for _, c := range []struct {
		env, cn        string
		from, to       time.Duration
		ip             byte // 127.0.0.ip; 0: 2
		dnsName, ou    string
		redirectToFine bool
	}{
		{"TLS3D", "expiring.test", -time.Hour, 3 * 24 * time.Hour, 1, "", "", false},
		{"TLS_FINE", "fine.test", -time.Hour, 90 * 24 * time.Hour, 0, "", "", false},
		{"TLS_REDIRECT", "expiring.test", -time.Hour, 3 * 24 * time.Hour, 0, "", "", true},
		{"TLS_FUTURE", "future.test", 48 * time.Hour, 90 * 24 * time.Hour, 0, "", "", false},
		{"TLS_EXPIRED", "expired.test", -10 * 24 * time.Hour, -24 * time.Hour, 0, "", "", false},
		{"TLS_EVIL", "evil\x1b]0;pwned\x07\nStream 9  9  200 in 1ms  -  operational  unchanged", -time.Hour, 90 * 24 * time.Hour, 0, "evil\x1b[31m.example", strings.Repeat("u", 4000), false},
	} {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: c.cn},
			NotBefore: now.Add(c.from), NotAfter: now.Add(c.to), IPAddresses: []net.IP{net.IPv4(127, 0, 0, cmp.Or(c.ip, 2))}}
		if c.ou != "" {
			tmpl.Subject.OrganizationalUnit, tmpl.DNSNames = []string{c.ou}, []string{c.dnsName}
		}
		srv, err := tlsServer(tmpl, func(rw http.ResponseWriter, r *http.Request) {
			w.hits.Add(1)
			if c.redirectToFine {
				http.Redirect(rw, r, fine+"/", http.StatusFound)
			}
			io.WriteString(rw, "ok")
		})
		if err != nil {
			return err
		}
		env.Defer(srv.Close)
		env.Setenv(c.env, srv.URL)
		env.Setenv(c.env+"_PORT", srv.URL[strings.LastIndex(srv.URL, ":")+1:])
		if c.env == "TLS_FINE" {
			fine = srv.URL
		}
	}
	env.Defer(func() { close(done) }) // deferred last, so it runs before the servers close
	refused, err := closedPort()
	if err != nil {
		return err
	}
	env.Setenv("REFUSED", refused)

	env.Setenv("CACHET_URL", w.cachet.URL())
	env.Setenv("CACHET_API_TOKEN", w.token)
	env.Setenv("CACHET_UPDATER_CONFIG", filepath.Join(env.WorkDir, "config.yaml"))
	// testscript hands scripts a bare environment; CI reruns the tests in a
	// time zone far from UTC, and the binary must see it too.
	if tz, ok := os.LookupEnv("TZ"); ok {
		env.Setenv("TZ", tz)
	}
	return nil
}

// tlsServer serves h over TLS with a self-signed certificate made from
// tmpl.
func tlsServer(tmpl *x509.Certificate, h http.HandlerFunc) (*httptest.Server, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv, nil
}

// closedPort returns the URL of a loopback port nothing listens on: one the
// kernel just handed out and that was closed again.
func closedPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", err
	}
	return "http://" + addr, nil
}

// cu CODE ARGS... runs cachet-updater ARGS... and asserts its exact exit
// code (testscript's "! exec" only knows non-zero). It also fails when the
// emulator's token or the current $CACHET_API_TOKEN shows up in stdout or
// stderr, so every scenario checks that the token never leaks.
func cmdCU(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("cu takes the expected exit code instead of !: cu CODE ARGS...")
	}
	if len(args) < 1 {
		ts.Fatalf("usage: cu CODE [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("cu: the exit code %q is not a number", args[0])
	}
	got := 0
	if err := ts.Exec("cachet-updater", args[1:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("running cachet-updater: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("cachet-updater exited %d, want %d", got, want)
	}
	for _, tok := range []string{worldOf(ts).token, ts.Getenv("CACHET_API_TOKEN")} {
		// A short token would match by chance; the scripts use long ones.
		if len(tok) < 8 {
			continue
		}
		for _, stream := range []string{"stdout", "stderr"} {
			if strings.Contains(ts.ReadFile(stream), tok) {
				ts.Fatalf("the token %q leaked into %s", tok, stream)
			}
		}
	}
}

// subst FILE... replaces $VAR and ${VAR} in each file with the script's
// environment, since testscript does not expand archive files; $$ is a $.
func cmdSubst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: subst FILE...")
	}
	for _, f := range args {
		path := ts.MkAbs(f)
		fi, err := os.Stat(path)
		ts.Check(err)
		ts.Check(os.WriteFile(path, []byte(os.Expand(ts.ReadFile(f), ts.Getenv)), fi.Mode().Perm()))
	}
}

// hits N asserts how many requests the loopback servers received.
func cmdHits(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: hits N")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	if got := int(worldOf(ts).hits.Load()); (got == want) == neg {
		ts.Fatalf("the loopback servers received %d requests, want %s%d", got, not(neg), want)
	}
}

// cachet SUBCOMMAND ... seeds and inspects the Cachet emulator:
//
//	cachet add ID NAME STATUS [disabled] [group=ID]  seed a component
//	cachet set ID STATUS                             change a status as a person would in the dashboard
//	cachet group ID NAME                             seed a component group
//	[!] cachet status ID STATUS [enabled|disabled]   assert a component
//	[!] cachet writes N [to ID...]                   assert the writes (and which components got them)
//	[!] cachet requests N                            assert every request, reads included
//	cachet reset                                     forget the requests so far
//	cachet log                                       print the requests to stdout ("METHOD PATH BODY")
//
// STATUS is a number (0-4) or a name (operational, major_outage, ...).
func cmdCachet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: cachet add|set|group|status|writes|requests|reset|log ...")
	}
	fn, ok := cachetCmds[args[0]]
	if !ok {
		ts.Fatalf("cachet: unknown subcommand %q", args[0])
	}
	negatable := args[0] == "status" || args[0] == "writes" || args[0] == "requests"
	if neg && !negatable {
		ts.Fatalf("cachet %s cannot be negated", args[0])
	}
	fn(ts, worldOf(ts).cachet, neg, args[1:])
}

var cachetCmds = map[string]func(*testscript.TestScript, *cachettest.Server, bool, []string){
	"add":      cachetAdd,
	"set":      cachetSet,
	"group":    cachetGroup,
	"schedule": cachetSchedule,
	"status":   cachetStatus,
	"writes":   cachetWrites,
	"requests": cachetRequests,
	"reset":    func(_ *testscript.TestScript, c *cachettest.Server, _ bool, _ []string) { c.Reset() },
	"log":      cachetLog,
}

func cachetAdd(ts *testscript.TestScript, c *cachettest.Server, _ bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: cachet add ID NAME STATUS [disabled] [group=ID]")
	}
	comp := cachettest.Component{ID: atoi(ts, args[0]), Name: args[1], Status: parseStatus(ts, args[2]), Enabled: true}
	for _, opt := range args[3:] {
		switch {
		case opt == "disabled":
			comp.Enabled = false
		case strings.HasPrefix(opt, "group="):
			comp.GroupID = atoi(ts, strings.TrimPrefix(opt, "group="))
		default:
			ts.Fatalf("cachet add: unknown option %q (disabled, group=ID)", opt)
		}
	}
	c.Add(comp)
}

// cmdSleep waits for a duration (time.ParseDuration), for rules that count
// time: sleep 1500ms.
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d < 0 || d > time.Minute {
		ts.Fatalf("sleep: %q is not a duration up to 1m", args[0])
	}
	time.Sleep(d)
}

// cachetSet changes a component's status as a person would in Cachet's
// dashboard.
func cachetSet(ts *testscript.TestScript, c *cachettest.Server, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cachet set ID STATUS")
	}
	comp, ok := c.Component(atoi(ts, args[0]))
	if !ok {
		ts.Fatalf("Cachet has no component %s", args[0])
	}
	comp.Status = parseStatus(ts, args[1])
	c.Add(comp)
}

// cachetSchedule adds a schedule in progress, as a person would in
// Cachet's dashboard, started a minute (or since=DURATION) ago, without an
// end unless ends=DURATION from now.
func cachetSchedule(ts *testscript.TestScript, c *cachettest.Server, _ bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: cachet schedule NAME [message=TEXT] [since=DURATION] [ends=DURATION]")
	}
	now := time.Now().UTC()
	sc := cachettest.Schedule{Name: args[0], Status: 1, ScheduledAt: now.Add(-time.Minute)}
	for _, opt := range args[1:] {
		key, val, _ := strings.Cut(opt, "=")
		d, err := time.ParseDuration(val)
		switch {
		case key == "message":
			sc.Message = val
		case key == "since" && err == nil:
			sc.ScheduledAt = now.Add(-d)
		case key == "ends" && err == nil:
			sc.CompletedAt = now.Add(d)
		default:
			ts.Fatalf("cachet schedule: %q is not message=TEXT, since=DURATION or ends=DURATION", opt)
		}
	}
	c.AddSchedule(sc)
}

func cachetGroup(ts *testscript.TestScript, c *cachettest.Server, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cachet group ID NAME")
	}
	c.AddGroup(atoi(ts, args[0]), args[1])
}

func cachetStatus(ts *testscript.TestScript, c *cachettest.Server, neg bool, args []string) {
	if len(args) != 2 && len(args) != 3 {
		ts.Fatalf("usage: cachet status ID STATUS [enabled|disabled]")
	}
	comp, ok := c.Component(atoi(ts, args[0]))
	if !ok {
		ts.Fatalf("Cachet has no component %s", args[0])
	}
	want := parseStatus(ts, args[1])
	match := comp.Status == want
	if len(args) == 3 {
		if args[2] != "enabled" && args[2] != "disabled" {
			ts.Fatalf("cachet status: %q is neither enabled nor disabled", args[2])
		}
		match = match && comp.Enabled == (args[2] == "enabled")
	}
	if match == neg {
		ts.Fatalf("component %d is %s (%d), enabled %v; want %s%s", comp.ID, status.Status(comp.Status), comp.Status, comp.Enabled, not(neg), strings.Join(args[1:], " "))
	}
}

func cachetWrites(ts *testscript.TestScript, c *cachettest.Server, neg bool, args []string) {
	if len(args) < 1 || (len(args) > 1 && (args[1] != "to" || len(args) < 3)) {
		ts.Fatalf("usage: cachet writes N [to ID...]")
	}
	writes := c.Writes()
	match := len(writes) == atoi(ts, args[0])
	if len(args) > 1 {
		var got []string
		for _, w := range writes {
			got = append(got, strings.TrimPrefix(w.Path, "/api/v1/components/"))
		}
		want := slices.Clone(args[2:])
		slices.Sort(got)
		slices.Sort(want)
		match = match && slices.Equal(got, want)
	}
	if match == neg {
		ts.Fatalf("Cachet received %d writes %s; want %s%s", len(writes), describe(writes), not(neg), strings.Join(args, " "))
	}
}

func cachetRequests(ts *testscript.TestScript, c *cachettest.Server, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: cachet requests N")
	}
	reqs := c.Requests()
	if (len(reqs) == atoi(ts, args[0])) == neg {
		ts.Fatalf("Cachet received %d requests %s; want %s%s", len(reqs), describe(reqs), not(neg), args[0])
	}
}

// cachetLog replaces stdout with the emulator's request log, for stdout
// assertions on what was sent.
func cachetLog(ts *testscript.TestScript, c *cachettest.Server, _ bool, args []string) {
	if len(args) != 0 {
		ts.Fatalf("usage: cachet log")
	}
	out := ts.Stdout() // even an empty log replaces the last command's stdout
	for _, r := range c.Requests() {
		fmt.Fprintf(out, "%s %s %s\n", r.Method, r.Path, r.Body)
	}
}

func describe(reqs []cachettest.Request) string {
	var b strings.Builder
	b.WriteString("[")
	for i, r := range reqs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", r.Method, r.Path)
	}
	b.WriteString("]")
	return b.String()
}

func parseStatus(ts *testscript.TestScript, s string) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	st, err := status.Parse(s)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	return int(st)
}

func atoi(ts *testscript.TestScript, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		ts.Fatalf("%q is not a number", s)
	}
	return n
}

func not(neg bool) string {
	if neg {
		return "not "
	}
	return ""
}
