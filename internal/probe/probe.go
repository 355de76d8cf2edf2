// Package probe sends one HTTP request to a server and reports what came
// back: the final status code, the latency, the certificates, and for a
// failure a short error class. It knows nothing of Cachet or reports.
//
// A Prober speaks through Transports of its own (never
// http.DefaultTransport), one per certificate-check and proxy setting, with
// keep-alives off: each probe opens one connection and closes it. HTTPS may
// negotiate HTTP/2. One deadline, the server's probe.timeout, covers the
// name lookup, connecting, the handshake, the headers and the body, and a
// timeout says which of them it interrupted; canceling the caller's context
// is ClassCanceled, not a timeout. A failure of this machine (no file
// descriptor or port left) is ClassLocal: it says nothing about the server.
//
// A probe sends only User-Agent and Accept (and Accept-Encoding: gzip when
// it checks the body): nothing meant for other services reaches a server,
// and a redirect carries no Referer. Userinfo written in the URL becomes
// basic auth for that URL's host and port only; the password shows in no
// error and no Result. What servers send (error texts, certificate names)
// is shown through foreign.Text.
package probe

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/foreign"
)

// Class says why a probe got no HTTP answer; "" means an answer arrived.
type Class string

// Error classes (Result.Class).
const (
	ClassTimeout   Class = "timeout"   // the deadline passed before the answer (or before the capped body) was read
	ClassRefused   Class = "refused"   // connection refused
	ClassReset     Class = "reset"     // connection reset or closed before the answer was read
	ClassDNS       Class = "dns"       // name resolution failed
	ClassTLS       Class = "tls"       // handshake or certificate error
	ClassRedirects Class = "redirects" // more than maxRedirects redirects
	ClassCanceled  Class = "canceled"  // the caller's context ended (run interrupted): says nothing about the server
	ClassLocal     Class = "local"     // this machine could not make the probe: says nothing about the server
	ClassOther     Class = "error"     // anything else (bad URL, no final answer, ...)
)

// Result is the outcome of one probe.
type Result struct {
	Code     int           // final HTTP status code after redirects; 0 when Class != ""
	Latency  time.Duration // from start to the end of the (capped) body read, or to the failure
	Class    Class         // "" when an answer arrived
	Err      error         // nil when Class == ""; short, without the URL
	Bytes    int64         // body bytes read over the wire (at most maxBody)
	FinalURL string        // URL of the last request, without userinfo; "" when no response arrived

	// BodyMismatch: an answer arrived but its body did not match
	// expect_body, or could not be checked (BodyErr says why: a HEAD probe,
	// a broken gzip stream, an encoding other than gzip). BodyPattern is
	// expect_body, "" when the body was not checked.
	BodyMismatch bool
	BodyErr      error
	BodyPattern  string
	// CertExpiry is the first expiry, CertNotBefore the last start of
	// validity, of the last request's leaf (Certs[0]) and the configured
	// URL's (URLCert); zero without one. Certs is the chain the last
	// request's server sent, leaf first, also when verification failed or
	// no answer followed the handshake. URLCert is the configured URL's leaf
	// when redirects led to a server that shows another one.
	CertExpiry    time.Time
	CertNotBefore time.Time
	Certs         []Cert
	URLCert       *Cert
}

// Cert is one certificate a server sent; its names as foreign.Text shows them.
type Cert struct {
	Subject, Issuer     string
	NotBefore, NotAfter time.Time
}

// BodyNote is what the body check adds to the status code in a table, or
// "" when the body matched or was not checked.
func (r Result) BodyNote() string {
	switch {
	case !r.BodyMismatch:
		return ""
	case r.BodyErr != nil:
		return fmt.Sprintf("body does not match (%v)", r.BodyErr)
	}
	return "body does not match"
}

const (
	maxBody          = 64 << 10 // read of a body, and of a gzipped body's content; more is not an error
	maxRedirects     = 10
	defaultTimeout   = 10 * time.Second
	defaultUserAgent = "cachet-updater" // never net/http's "Go-http-client"
	maxHeaderBytes   = 64 << 10         // the response head, and separately all 1xx heads before it
)

var (
	errTooManyRedirects = fmt.Errorf("stopped after %d redirects", maxRedirects)
	// errOnly1xx: informational answers (100 Continue, 103 Early Hints)
	// but never a final one; the 1xx code is no status to show.
	errOnly1xx = errors.New("no final HTTP answer: only informational (1xx) responses")
)

// Prober probes servers. It is safe for concurrent use and holds no
// connections between probes; build one per run.
type Prober struct {
	userAgent  string
	transports map[[2]bool]*http.Transport // by {TLSSkipVerify, ProxyFromEnvironment}
}

// New builds a Prober that sends userAgent ("" for "cachet-updater").
func New(userAgent string) *Prober {
	// TCP keep-alives are pointless on a connection used for one request.
	return newProber(userAgent, (&net.Dialer{KeepAlive: -1}).DialContext)
}

// newProber takes the dialer: tests route made-up host names to loopback
// servers, or stand in for a machine out of file descriptors.
func newProber(userAgent string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *Prober {
	p := &Prober{userAgent: cmp.Or(userAgent, defaultUserAgent), transports: map[[2]bool]*http.Transport{}}
	for _, skipVerify := range []bool{false, true} {
		for _, proxy := range []bool{false, true} {
			tr := &http.Transport{
				DialContext:            dial,
				TLSClientConfig:        &tls.Config{InsecureSkipVerify: skipVerify}, //nolint:gosec // per-server opt-in for self-signed servers
				ForceAttemptHTTP2:      true,                                        // over TLS only
				DisableKeepAlives:      true,                                        // one probe per server and run: no idle fds pile up
				DisableCompression:     true,                                        // readBody decodes gzip; Bytes counts the wire
				MaxResponseHeaderBytes: maxHeaderBytes,
				// Small buffers keep ten thousand connections at once cheap.
				WriteBufferSize: 1 << 10,
				ReadBufferSize:  2 << 10,
			}
			if proxy {
				tr.Proxy = http.ProxyFromEnvironment
			}
			p.transports[[2]bool{skipVerify, proxy}] = tr
		}
	}
	return p
}

// ProbeAll probes the servers with at most concurrency probes in flight
// (at least 1); results[i] belongs to servers[i]. Once ctx ends, the
// probes in flight and those not started yet are ClassCanceled.
func (p *Prober) ProbeAll(ctx context.Context, servers []config.Server, concurrency int) []Result {
	results := make([]Result, len(servers))
	slots := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	for i, s := range servers {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			results[i] = p.Probe(ctx, s)
		})
	}
	wg.Wait()
	return results
}

// Probe sends one request to s with its probe settings and reads at most
// maxBody of the answer. Failures are in Result.Class and Result.Err.
func (p *Prober) Probe(ctx context.Context, s config.Server) Result {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return Result{Class: ClassCanceled, Err: fmt.Errorf("probe canceled: %w", err)}
	}
	c := s.Probe
	timeout := c.Timeout.D()
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := new(tracker)
	req, err := p.newRequest(httptrace.WithClientTrace(pctx, tr.trace()), s.URL, c)
	if err != nil {
		return Result{Latency: time.Since(start), Class: ClassOther, Err: err}
	}
	transport := p.transports[[2]bool{c.TLSSkipVerify, c.ProxyFromEnvironment}]
	client := &http.Client{Transport: transport, CheckRedirect: noRedirects}
	if c.FollowRedirects {
		client.CheckRedirect = limitRedirects
	}
	resp, err := client.Do(req)
	if err != nil {
		// net/http goes on with a dial or TLS handshake the request gave up
		// on, to keep the connection for a later request: without this, it
		// would hold a file descriptor until the server hangs up, or forever.
		transport.CloseIdleConnections()
		return tr.withCerts(tr.failure(ctx, pctx, err, time.Since(start), timeout), tr.certs(nil, err))
	}
	tr.phase.Store("reading the body")
	n, err, matched, why := readBody(resp, c.ExpectBody.Re())
	resp.Body.Close()
	r := Result{Code: resp.StatusCode, Latency: time.Since(start), Bytes: n, FinalURL: resp.Request.URL.Redacted()}
	if err != nil {
		r = tr.failure(ctx, pctx, err, r.Latency, timeout)
		r.Bytes, r.FinalURL = n, resp.Request.URL.Redacted()
	} else if re := c.ExpectBody.Re(); re != nil {
		r.BodyMismatch, r.BodyErr, r.BodyPattern = !matched, why, re.String()
	}
	return tr.withCerts(r, tr.certs(resp, nil))
}

// newRequest builds the request: only User-Agent and Accept leave this
// process, plus basic auth for userinfo in the URL and Accept-Encoding:
// gzip for a body check.
func (p *Prober) newRequest(ctx context.Context, rawURL string, c config.Probe) (*http.Request, error) {
	method := cmp.Or(strings.ToUpper(string(c.Method)), http.MethodGet)
	if method != http.MethodGet && method != http.MethodHead {
		return nil, fmt.Errorf("unsupported method %q: use GET or HEAD", c.Method)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, shorten(err)
	}
	if err := checkURL(req.URL); err != nil {
		return nil, err
	}
	// A fresh header map: redirects copy it; net/http adds only Host.
	req.Header = http.Header{"User-Agent": {p.userAgent}, "Accept": {"*/*"}}
	if c.ExpectBody.Re() != nil && method == http.MethodGet {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	if u := req.URL.User; u != nil {
		// A header, not userinfo: limitRedirects decides where it goes, and
		// no URL we keep carries the password.
		pw, _ := u.Password()
		req.SetBasicAuth(u.Username(), pw)
		req.URL.User = nil
	}
	return req, nil
}

func checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("unsupported URL scheme %q: use http or https", u.Scheme)
	} else if u.Hostname() == "" { // net/http would dial localhost for http://:80/
		return errors.New("URL has no host name")
	}
	return nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// limitRedirects follows at most maxRedirects redirects, to http(s) only,
// and keeps the operator's credentials on the host:port they were written
// for (net/http would send them to the same host on any port and to its
// subdomains).
func limitRedirects(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return errTooManyRedirects
	}
	if err := checkURL(req.URL); err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	req.Header.Del("Referer") // its query string may hold a secret
	if hostPort(req.URL) != hostPort(via[0].URL) {
		req.Header.Del("Authorization")
	}
	return nil
}

func hostPort(u *url.URL) string {
	return net.JoinHostPort(strings.ToLower(u.Hostname()), cmp.Or(u.Port(), map[string]string{"https": "443"}[u.Scheme], "80"))
}

// readBody reads at most maxBody of the body and, when re is set, matches
// it, gunzipped when the server sent gzip. It returns the bytes read over
// the wire, the connection's error (the probe failed), and the check:
// matched, or not with why when the body could not be checked.
func readBody(resp *http.Response, re *regexp.Regexp) (n int64, err error, matched bool, why error) {
	body := io.LimitReader(resp.Body, maxBody)
	if re == nil {
		n, err = io.Copy(io.Discard, body)
		return n, err, true, nil
	}
	raw, err := io.ReadAll(body)
	if err != nil || resp.Request.Method == http.MethodHead {
		// The config refuses HEAD with expect_body; the prober only must not trust such a server.
		return int64(len(raw)), err, false, errors.New("a HEAD answer has no body to match: probe with GET")
	}
	data := raw
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			data, err = io.ReadAll(io.LimitReader(zr, maxBody))
		}
		// An empty body (204, 304) labelled gzip is empty; a stream cut by
		// the maxBody cap on the wire is not broken.
		if err != nil && len(raw) > 0 && !(len(raw) == maxBody && errors.Is(err, io.ErrUnexpectedEOF)) {
			return int64(len(raw)), nil, false, fmt.Errorf("broken gzip body: %w", err)
		}
	default:
		return int64(len(raw)), nil, false, fmt.Errorf("body sent with Content-Encoding %s, which cachet-updater cannot decode (it asks for gzip only)", foreign.Text(enc))
	}
	return int64(len(raw)), nil, re.Match(data), nil
}

// tracker follows one probe through net/http's trace hooks, which run on
// net/http's goroutines, possibly after Probe returned: hence atomics.
type tracker struct {
	phase         atomic.Value                        // what the probe is doing, for a timeout's message
	requests      atomic.Int32                        // started: 1 + the redirects followed
	informational atomic.Int32                        // 1xx answers to the current request
	infoBytes     atomic.Int64                        // their approximate size
	peerCerts     atomic.Pointer[[]*x509.Certificate] // of the current request's completed handshake
	firstCerts    atomic.Pointer[[]*x509.Certificate] // of the first request's: the configured URL's server
}

func (tr *tracker) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) { // the next request of a redirect chain
			tr.informational.Store(0)
			tr.infoBytes.Store(0)
			tr.peerCerts.Store(nil)
			tr.requests.Add(1)
		},
		DNSStart:          func(httptrace.DNSStartInfo) { tr.phase.Store("resolving the name") },
		ConnectStart:      func(string, string) { tr.phase.Store("connecting") },
		TLSHandshakeStart: func() { tr.phase.Store("in the TLS handshake") },
		TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
			if certs := cs.PeerCertificates; err == nil {
				tr.peerCerts.Store(&certs)
				if tr.requests.Load() == 1 {
					tr.firstCerts.Store(&certs)
				}
			}
		},
		GotConn:      func(httptrace.GotConnInfo) { tr.phase.Store("sending the request") },
		WroteRequest: func(httptrace.WroteRequestInfo) { tr.phase.Store("waiting for response headers") },
		// With this hook set, net/http hands every 1xx over and stops
		// bounding them: all 1xx heads of a request together get at most
		// about maxHeaderBytes.
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			tr.informational.Add(1)
			size := len("HTTP/1.1 100 Continue\r\n\r\n")
			for k, vs := range h {
				for _, v := range vs {
					size += len(k) + len(": \r\n") + len(v)
				}
			}
			if tr.infoBytes.Add(int64(size)) > maxHeaderBytes {
				return errOnly1xx
			}
			return nil
		},
	}
}

// timeoutError is the Err of a ClassTimeout result.
type timeoutError string

func (e timeoutError) Error() string { return string(e) }
func (timeoutError) Unwrap() error   { return context.DeadlineExceeded }

// failure turns err into a Result. parent is the caller's context, pctx the
// probe's own: the parent ending means the run was interrupted.
func (tr *tracker) failure(parent, pctx context.Context, err error, lat, timeout time.Duration) Result {
	phase, _ := tr.phase.Load().(string)
	phase = cmp.Or(phase, "before connecting")
	class := classify(err)
	switch {
	case parent.Err() != nil:
		return Result{Latency: lat, Class: ClassCanceled, Err: fmt.Errorf("probe canceled: %w", parent.Err())}
	case pctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return Result{Latency: lat, Class: ClassTimeout, Err: timeoutError(fmt.Sprintf("timeout after %v %s", timeout, phase))}
	case class == ClassTimeout: // the system's own, such as a connect that gave up
		return Result{Latency: lat, Class: class, Err: timeoutError(fmt.Sprintf("timeout after %v %s", lat.Round(time.Millisecond), phase))}
	}
	err = shorten(err)
	for _, eof := range []error{io.ErrUnexpectedEOF, io.EOF} { // net/http says "transport connection broken"
		if class == ClassReset && errors.Is(err, eof) {
			err = fmt.Errorf("connection closed by server: %w", eof)
		}
	}
	if msg := err.Error(); strings.HasPrefix(msg, "failed to parse Location header") {
		// net/http quotes the Location twice; the reason follows the last colon.
		err = fmt.Errorf("bad redirect Location: %s", msg[strings.LastIndex(msg, ": ")+2:])
	}
	if tr.informational.Load() > 0 {
		if !errors.Is(err, errOnly1xx) {
			err = fmt.Errorf("%w, then %v", errOnly1xx, err)
		}
		class = ClassOther
	}
	return Result{Latency: lat, Class: class, Err: shown{err}}
}

// shown is an error whose text may quote what a server sent (a header line,
// certificate names): it reads as foreign.Text shows it.
type shown struct{ error }

func (e shown) Error() string { return foreign.Text(e.error.Error()) }
func (e shown) Unwrap() error { return e.error }

// shorten drops the `Get "https://...": ` of a *url.Error: the URL is in the
// table already, and may be long or carry a secret.
func shorten(err error) error {
	for u, ok := err.(*url.Error); ok; u, ok = err.(*url.Error) {
		err = u.Err
	}
	return err
}

// classify maps a request's error to a Class (Probe has dealt with its own
// deadline and the caller's context).
func classify(err error) Class {
	_, dns := errors.AsType[*net.DNSError](err)
	netErr, _ := errors.AsType[net.Error](err)
	msg := err.Error()
	switch {
	case errors.Is(err, errTooManyRedirects):
		return ClassRedirects
	case isLocal(err):
		return ClassLocal
	case dns:
		return ClassDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused
	case strings.Contains(msg, "tls: ") || strings.Contains(msg, "x509: ") || strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return ClassTLS
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return ClassReset
	case netErr != nil && netErr.Timeout():
		return ClassTimeout
	}
	return ClassOther
}

// isLocal reports a failure of this machine: no file descriptor (EMFILE,
// ENFILE), no port or address to connect from (EADDRNOTAVAIL), no kernel
// memory (ENOBUFS), no route out (ENETUNREACH, EHOSTUNREACH).
func isLocal(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.EADDRNOTAVAIL, syscall.ENOBUFS, syscall.ENETUNREACH, syscall.EHOSTUNREACH} {
		if errors.Is(err, errno) {
			return true
		}
	}
	// The resolver reports a socket it could not open as text only.
	dnsErr, ok := errors.AsType[*net.DNSError](err)
	return ok && strings.Contains(dnsErr.Err, syscall.EMFILE.Error())
}

// certs is the last request's certificate chain: the final response's
// connection's, or when no answer came, the one a failed verification was
// shown, or the last completed handshake's.
func (tr *tracker) certs(resp *http.Response, err error) []*x509.Certificate {
	if resp != nil && resp.TLS != nil {
		return resp.TLS.PeerCertificates
	} else if verr, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return verr.UnverifiedCertificates
	} else if c := tr.peerCerts.Load(); c != nil && resp == nil {
		return *c
	}
	return nil
}

// withCerts adds the chain, the configured URL's leaf when it differs, and
// their leaves' validity.
func (tr *tracker) withCerts(r Result, chain []*x509.Certificate) Result {
	var leaves []*x509.Certificate
	for i, c := range chain {
		if i == 0 {
			leaves = append(leaves, c)
		}
		r.Certs = append(r.Certs, newCert(c))
	}
	if first := tr.firstCerts.Load(); first != nil && len(*first) > 0 && (len(chain) == 0 || !(*first)[0].Equal(chain[0])) {
		c := newCert((*first)[0])
		r.URLCert, leaves = &c, append(leaves, (*first)[0])
	}
	for _, c := range leaves {
		if r.CertExpiry.IsZero() || c.NotAfter.Before(r.CertExpiry) {
			r.CertExpiry = c.NotAfter
		}
		if c.NotBefore.After(r.CertNotBefore) {
			r.CertNotBefore = c.NotBefore
		}
	}
	return r
}

func newCert(c *x509.Certificate) Cert {
	return Cert{foreign.Text(c.Subject.String()), foreign.Text(c.Issuer.String()), c.NotBefore, c.NotAfter}
}
