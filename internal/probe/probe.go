package probe

import (
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
	"time"

	"github.com/proxer/cachet-updater/internal/foreign"
)

// Target is one server to probe.
type Target struct {
	Name                 string        // for messages only
	URL                  string        //
	Method               string        // "GET" or "HEAD"; "" means GET
	Timeout              time.Duration // total deadline: DNS, connect, TLS, headers and body; <= 0 means DefaultTimeout
	TLSSkipVerify        bool          //
	FollowRedirects      bool          // follow at most MaxRedirects redirects; more is ClassRedirects
	ProxyFromEnvironment bool          // go through the proxy named by HTTP_PROXY/HTTPS_PROXY/NO_PROXY; false: always direct
	// ExpectBody, when set, must match the first MaxBody bytes of the final
	// answer's body (gunzipped first: such a probe asks for gzip), whatever
	// its status code; Result.BodyMismatch says when it did not. nil: the
	// body is not looked at. A HEAD probe has no body: it never matches.
	ExpectBody *regexp.Regexp
}

// Class says why a probe got no HTTP answer. "" means an answer arrived
// (any code).
type Class string

// Error classes (Result.Class).
const (
	ClassTimeout   Class = "timeout"   // the deadline passed before the answer (or before the capped body) was read
	ClassRefused   Class = "refused"   // connection refused
	ClassReset     Class = "reset"     // connection reset / closed by peer / EOF before a response
	ClassDNS       Class = "dns"       // name resolution failed
	ClassTLS       Class = "tls"       // handshake or certificate error
	ClassRedirects Class = "redirects" // more than MaxRedirects redirects (redirect loop)
	ClassCanceled  Class = "canceled"  // the parent context was canceled (run interrupted), not a timeout of this probe
	ClassLocal     Class = "local"     // this machine could not make the probe (out of file descriptors or ports): says nothing about the server
	ClassOther     Class = "error"     // anything else (bad URL, no final answer, ...)
)

// Result is the outcome of one probe.
type Result struct {
	Code     int           // final HTTP status code after redirects; 0 when Class != ""
	Latency  time.Duration // from start to the end of the (capped) body read, or to the failure
	Class    Class         // "" when an answer arrived, else one of the Class constants
	Err      error         // nil when Class == ""; a short error without the URL otherwise
	Bytes    int64         // body bytes read (at most MaxBody)
	FinalURL string        // URL of the last request (after redirects, without userinfo); "" when no response arrived

	// BodyMismatch is set when an answer arrived (Class "") but its body
	// did not match Target.ExpectBody, or could not be checked (BodyErr).
	BodyMismatch bool
	// BodyErr says why the body could not be checked: a HEAD probe, a
	// broken gzip stream, an encoding other than gzip. nil otherwise.
	BodyErr error
	// BodyPattern is Target.ExpectBody's pattern, for messages; "" when
	// the probe did not check the body.
	BodyPattern string
	// CertExpiry is when the first of the leaf certificates expires: the
	// last request's (Certs[0]) and the configured URL's own (URLCert);
	// zero without one (http). CertNotBefore is when the last of them
	// becomes valid: both count also when verification was skipped.
	CertExpiry    time.Time
	CertNotBefore time.Time
	// Certs is the chain that server sent, leaf first (not the chain this
	// machine would verify). It is recorded whenever the last request of
	// the probe (the final one after redirects) completed a TLS handshake,
	// whatever came after: an error status, a timeout, a reset. A handshake
	// that failed only the certificate check (expired, unknown authority,
	// wrong name) records the certificates it was shown, too.
	Certs []Cert
	// URLCert is the leaf certificate of the configured URL's own server
	// when redirects led to a server that shows another one (or plain
	// http); nil otherwise.
	URLCert *Cert
}

// BodyNote is what the body check adds to the status code in a table:
// "body does not match", with BodyErr in parentheses when the body could
// not be checked, or "" when it matched or was not checked.
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
	// MaxBody is how much of a body a probe reads before it stops; a longer
	// body is not an error.
	MaxBody = 64 << 10
	// MaxRedirects is how many redirects a probe follows when
	// Target.FollowRedirects is set.
	MaxRedirects = 10
	// DefaultTimeout applies to targets without a Timeout.
	DefaultTimeout = 10 * time.Second
	// DefaultUserAgent is sent when Options.UserAgent is empty, so that
	// net/http's own "Go-http-client" never shows up in servers' logs.
	DefaultUserAgent = "cachet-updater"
	// maxHeaderBytes bounds the response headers a server can make us
	// buffer, and separately the informational (1xx) answers before them.
	maxHeaderBytes = 64 << 10
)

// ErrTooManyRedirects is the cause of a ClassRedirects result.
var ErrTooManyRedirects = fmt.Errorf("stopped after %d redirects", MaxRedirects)

// errOnly1xx is the cause of a result whose server sent informational
// answers (100 Continue, 103 Early Hints) but never a final one: the 1xx
// code is no answer to show as the server's status.
var errOnly1xx = errors.New("no final HTTP answer: only informational (1xx) responses")

// Options configures a Prober.
type Options struct {
	UserAgent string // sent on every probe, e.g. "cachet-updater/1.2.3"
}

// dialFunc is the Transport's DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Prober probes targets. It is safe for concurrent use and holds no
// connections between probes; build one per run.
type Prober struct {
	userAgent string
	// clients[skipVerify][proxy][follow]. Clients and Transports are safe
	// for concurrent use, so the combinations a target can ask for are
	// built once, over four Transports (verify/skip × direct/proxy).
	clients [2][2][2]*http.Client
}

// New builds a Prober with Transports of its own: nothing it does touches
// http.DefaultTransport or http.DefaultClient.
func New(o Options) *Prober {
	// TCP keep-alive probes are pointless on a connection used for one
	// request; the probe's context bounds the dial.
	dialer := &net.Dialer{KeepAlive: -1}
	return newProber(o, dialer.DialContext)
}

// newProber is New with the dialer as a parameter: the tests route made-up
// host names (an IDNA name, a subdomain, a proxy) to loopback servers and
// stand in for a machine out of file descriptors with it.
func newProber(o Options, dial dialFunc) *Prober {
	p := &Prober{userAgent: o.UserAgent}
	if p.userAgent == "" {
		p.userAgent = DefaultUserAgent
	}
	for v, skipVerify := range []bool{false, true} {
		for x, proxy := range []bool{false, true} {
			tr := newTransport(dial, skipVerify, proxy)
			p.clients[v][x][0] = &http.Client{Transport: tr, CheckRedirect: noRedirects}
			p.clients[v][x][1] = &http.Client{Transport: tr, CheckRedirect: limitRedirects}
		}
	}
	return p
}

func newTransport(dial dialFunc, skipVerify, proxy bool) *http.Transport {
	tr := &http.Transport{
		DialContext: dial,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: skipVerify, //nolint:gosec // per-target opt-in for self-signed servers
		},
		ForceAttemptHTTP2:      true, // over TLS only: plain http stays HTTP/1.1
		DisableKeepAlives:      true, // each server is probed once per run; no idle fds pile up
		DisableCompression:     true, // Accept-Encoding only for a body check, decoded by readBody; Bytes counts what came over the wire
		MaxResponseHeaderBytes: maxHeaderBytes,
		// A probe request is a few hundred bytes, and the status line and
		// headers usually fit in 2 KiB (longer ones still parse): small
		// buffers keep ten thousand connections at once cheap.
		WriteBufferSize: 1 << 10,
		ReadBufferSize:  2 << 10,
		// Dial, handshake and header timeouts all come from the probe's
		// context deadline.
	}
	if proxy {
		tr.Proxy = http.ProxyFromEnvironment
	}
	return tr
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// limitRedirects follows at most MaxRedirects redirects, to http(s) URLs
// only, and keeps the operator's credentials on the server they were
// written for.
func limitRedirects(req *http.Request, via []*http.Request) error {
	// via holds the requests made so far, so this is redirect number len(via).
	if len(via) > MaxRedirects {
		return ErrTooManyRedirects
	}
	if err := checkURL(req.URL); err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	// net/http adds a Referer with the previous URL; the next server must
	// not learn it (its query string may hold a secret).
	req.Header.Del("Referer")
	// net/http forwards Authorization to the same host name on any port and
	// to its subdomains; basic auth from the URL is for that host:port only.
	if hostPort(req.URL) != hostPort(via[0].URL) {
		req.Header.Del("Authorization")
	}
	return nil
}

// hostPort is u's host name and port, with the scheme's default port.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

func checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("unsupported URL scheme %q: use http or https", u.Scheme)
	}
	if u.Hostname() == "" {
		// net/http would dial "localhost" for "http://:80/".
		return errors.New("URL has no host name")
	}
	return nil
}

// Probe sends one request to t and reads at most MaxBody of the answer.
// It never returns an error of its own: failures are in Result.Class and
// Result.Err.
func (p *Prober) Probe(ctx context.Context, t Target) Result {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return canceled(err, 0)
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := new(tracker)
	req, err := p.newRequest(httptrace.WithClientTrace(pctx, tr.trace()), t)
	if err != nil {
		return Result{Latency: time.Since(start), Class: ClassOther, Err: err}
	}
	resp, err := p.client(t).Do(req)
	if err != nil {
		return tr.withCerts(tr.failure(ctx, pctx, err, time.Since(start), timeout), tr.certs(nil, err))
	}
	tr.set(phaseBody)
	body, matched, why := readBody(resp, t.ExpectBody)
	resp.Body.Close()
	lat := time.Since(start)
	final := resp.Request.URL.Redacted()
	if body.err != nil {
		r := tr.failure(ctx, pctx, body.err, lat, timeout)
		r.Bytes, r.FinalURL = body.n, final
		return tr.withCerts(r, tr.certs(resp, nil))
	}
	r := Result{Code: resp.StatusCode, Latency: lat, Bytes: body.n, FinalURL: final}
	if t.ExpectBody != nil {
		r.BodyMismatch, r.BodyErr, r.BodyPattern = !matched, why, t.ExpectBody.String()
	}
	return tr.withCerts(r, tr.certs(resp, nil))
}

// newRequest builds the request for t. Only User-Agent and Accept ever
// leave this process, plus basic auth when the operator wrote userinfo into
// the URL and Accept-Encoding: gzip when t.ExpectBody is set.
func (p *Prober) newRequest(ctx context.Context, t Target) (*http.Request, error) {
	method := strings.ToUpper(t.Method)
	switch method {
	case "":
		method = http.MethodGet
	case http.MethodGet, http.MethodHead:
	default:
		return nil, fmt.Errorf("unsupported method %q: use GET or HEAD", t.Method)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.URL, nil)
	if err != nil {
		return nil, shorten(err)
	}
	if err := checkURL(req.URL); err != nil {
		return nil, err
	}
	// A fresh header map: redirects copy it, and net/http adds only Host
	// (and Connection: close).
	req.Header = http.Header{
		"User-Agent": {p.userAgent},
		"Accept":     {"*/*"},
	}
	if t.ExpectBody != nil && method == http.MethodGet {
		// Only a probe that reads the body asks for it compressed; the
		// Transport does not decompress (DisableCompression), readBody does.
		req.Header.Set("Accept-Encoding", "gzip")
	}
	if u := req.URL.User; u != nil {
		// As a header rather than userinfo, so that limitRedirects decides
		// where it goes and no URL we keep carries the password.
		pw, _ := u.Password()
		req.SetBasicAuth(u.Username(), pw)
		req.URL.User = nil
	}
	return req, nil
}

func (p *Prober) client(t Target) *http.Client {
	return p.clients[b2i(t.TLSSkipVerify)][b2i(t.ProxyFromEnvironment)][b2i(t.FollowRedirects)]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func canceled(err error, lat time.Duration) Result {
	return Result{Latency: lat, Class: ClassCanceled, Err: fmt.Errorf("probe canceled: %w", err)}
}

// failure turns err into a Result. parent is the caller's context, pctx the
// probe's own (with the deadline): the parent being done means the run was
// interrupted, which says nothing about the server.
func (tr *tracker) failure(parent, pctx context.Context, err error, lat, timeout time.Duration) Result {
	if perr := parent.Err(); perr != nil {
		return canceled(perr, lat)
	}
	if errors.Is(pctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return Result{Latency: lat, Class: ClassTimeout, Err: &TimeoutError{After: timeout, While: tr.phase().String()}}
	}
	class := Classify(err)
	if class == ClassTimeout {
		// A timeout of the system's own (a connect that gave up early),
		// not the probe's deadline.
		return Result{Latency: lat, Class: class, Err: &TimeoutError{After: lat.Round(time.Millisecond), While: tr.phase().String()}}
	}
	err = describe(class, shorten(err))
	if tr.informational.Load() > 0 {
		if !errors.Is(err, errOnly1xx) {
			err = fmt.Errorf("%w, then %v", errOnly1xx, err)
		}
		class = ClassOther
	}
	return Result{Latency: lat, Class: class, Err: shown{err}}
}

// shown is an error whose text may quote what the server sent (a header
// line, the names in its certificate): its text is as foreign.Text shows it.
type shown struct{ error }

func (e shown) Error() string { return foreign.Text(e.error.Error()) }
func (e shown) Unwrap() error { return e.error }

// TimeoutError is the Err of a ClassTimeout result.
type TimeoutError struct {
	After time.Duration // the probe's timeout
	While string        // what the probe was doing: "connecting", "waiting for response headers", ...
}

func (e *TimeoutError) Error() string { return fmt.Sprintf("timeout after %v %s", e.After, e.While) }

// Unwrap makes errors.Is(err, context.DeadlineExceeded) true.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Timeout implements net.Error's method.
func (e *TimeoutError) Timeout() bool { return true }

// describe makes the bare errors of a few classes say what happened.
func describe(class Class, err error) error {
	if class == ClassReset {
		// net/http wraps these in "HTTP/1.x transport connection broken".
		for _, eof := range []error{io.EOF, io.ErrUnexpectedEOF} {
			if errors.Is(err, eof) {
				return fmt.Errorf("connection closed by server: %w", eof)
			}
		}
	}
	// net/http quotes a Location it cannot parse in full, twice; the
	// reason is the part after the last colon.
	if msg := err.Error(); strings.HasPrefix(msg, "failed to parse Location header") {
		return fmt.Errorf("bad redirect Location: %s", msg[strings.LastIndex(msg, ": ")+2:])
	}
	return err
}

// shorten drops the `Get "https://...": ` prefix of a *url.Error: the URL is
// in the table next to the error already, and it may be long or carry a
// query string or userinfo.
func shorten(err error) error {
	for {
		u, ok := err.(*url.Error)
		if !ok {
			return err
		}
		err = u.Err
	}
}

// tracker follows one probe through net/http's trace hooks: what it is
// doing, for the message of a timeout, and the informational answers of
// the current request. The hooks run on net/http's goroutines (dialing,
// reading), possibly after Probe returned, hence the atomics.
type tracker struct {
	ph            atomic.Int32
	informational atomic.Int32                        // 1xx answers to the current request
	infoBytes     atomic.Int64                        // their approximate size
	peerCerts     atomic.Pointer[[]*x509.Certificate] // of the current request's completed TLS handshake
	firstCerts    atomic.Pointer[[]*x509.Certificate] // of the first request's: the configured URL's server
	requests      atomic.Int32                        // requests started: 1 + the redirects followed
}

type phaseID int32

const (
	phaseStart phaseID = iota
	phaseDNS
	phaseConnect
	phaseTLS
	phaseWrite
	phaseHeaders
	phaseBody
)

var phaseNames = [...]string{
	phaseStart:   "before connecting",
	phaseDNS:     "resolving the name",
	phaseConnect: "connecting",
	phaseTLS:     "in the TLS handshake",
	phaseWrite:   "sending the request",
	phaseHeaders: "waiting for response headers",
	phaseBody:    "reading the body",
}

func (id phaseID) String() string { return phaseNames[id] }

func (tr *tracker) set(id phaseID) { tr.ph.Store(int32(id)) }
func (tr *tracker) phase() phaseID { return phaseID(tr.ph.Load()) }

func (tr *tracker) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) {
			// The next request of a redirect chain starts: the 1xx
			// answers before the last final answer count no more.
			tr.informational.Store(0)
			tr.infoBytes.Store(0)
			tr.peerCerts.Store(nil)
			tr.requests.Add(1)
		},
		DNSStart:          func(httptrace.DNSStartInfo) { tr.set(phaseDNS) },
		ConnectStart:      func(string, string) { tr.set(phaseConnect) },
		TLSHandshakeStart: func() { tr.set(phaseTLS) },
		TLSHandshakeDone:  tr.tlsDone,
		GotConn:           func(httptrace.GotConnInfo) { tr.set(phaseWrite) },
		WroteRequest:      func(httptrace.WroteRequestInfo) { tr.set(phaseHeaders) },
		Got1xxResponse:    tr.got1xx,
	}
}

// got1xx counts an informational answer. With this hook set, net/http
// hands every 1xx over and stops bounding them (it resets its header limit
// for each), so got1xx bounds them itself by the same measure: all 1xx
// heads of a request together at most about maxHeaderBytes.
func (tr *tracker) got1xx(code int, h textproto.MIMEHeader) error {
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
}

// ProbeAll probes targets with at most concurrency probes in flight
// (concurrency < 1 means 1). results[i] belongs to targets[i]. Workers take
// the next target from a shared queue, so a few hanging servers hold up
// only the workers stuck on them. If ctx is canceled, probes in flight end
// as ClassCanceled and targets not yet started get ClassCanceled too.
func (p *Prober) ProbeAll(ctx context.Context, targets []Target, concurrency int) []Result {
	results := make([]Result, len(targets))
	workers := min(max(concurrency, 1), len(targets))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(targets) {
					return
				}
				results[i] = p.Probe(ctx, targets[i])
			}
		})
	}
	wg.Wait()
	return results
}
