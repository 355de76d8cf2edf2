package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one server to probe.
type Target struct {
	Name            string        // for messages only
	URL             string        //
	Method          string        // "GET" or "HEAD"; "" means GET
	Timeout         time.Duration // total deadline: DNS, connect, TLS, headers and body; <= 0 means DefaultTimeout
	TLSSkipVerify   bool          //
	FollowRedirects bool          // follow at most MaxRedirects redirects; more is ClassRedirects
}

// Error classes (Result.Class). "" means an HTTP answer arrived (any code).
const (
	ClassTimeout   = "timeout"   // the deadline passed before the answer (or before the capped body) was read
	ClassRefused   = "refused"   // connection refused
	ClassReset     = "reset"     // connection reset / closed by peer / EOF before a response
	ClassDNS       = "dns"       // name resolution failed
	ClassTLS       = "tls"       // handshake or certificate error
	ClassRedirects = "redirects" // more than MaxRedirects redirects (redirect loop)
	ClassCanceled  = "canceled"  // the parent context was canceled (run interrupted), not a timeout of this probe
	ClassOther     = "error"     // anything else (bad URL, ...)
)

// Result is the outcome of one probe.
type Result struct {
	Code     int           // final HTTP status code after redirects; 0 when Class != ""
	Latency  time.Duration // from start to the end of the (capped) body read, or to the failure
	Class    string        // "" when an answer arrived, else one of the Class constants
	Err      error         // nil when Class == ""; a short error without the URL otherwise
	Bytes    int64         // body bytes read (at most MaxBody)
	FinalURL string        // URL of the last request (after redirects, password redacted); "" when no response arrived
}

// OK reports whether an HTTP answer arrived, whatever its code.
func (r Result) OK() bool { return r.Class == "" }

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
	// maxHeaderBytes bounds the response headers a server can make us buffer.
	maxHeaderBytes = 64 << 10
)

// ErrTooManyRedirects is the cause of a ClassRedirects result.
var ErrTooManyRedirects = fmt.Errorf("stopped after %d redirects", MaxRedirects)

// Options configures a Prober.
type Options struct {
	UserAgent string // sent on every probe, e.g. "cachet-updater/1.2.3"
}

// Prober probes targets. It is safe for concurrent use; build one per run
// and Close it at the end.
type Prober struct {
	userAgent  string
	verify     *http.Transport
	skipVerify *http.Transport
	// clients[verify][follow]; http.Client is safe for concurrent use, so
	// the four combinations are built once instead of once per probe.
	clients [2][2]*http.Client
}

// New builds a Prober with its own transports.
func New(o Options) *Prober {
	ua := o.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	p := &Prober{
		userAgent:  ua,
		verify:     newTransport(false),
		skipVerify: newTransport(true),
	}
	for i, tr := range []*http.Transport{p.skipVerify, p.verify} {
		p.clients[i][0] = &http.Client{Transport: tr, CheckRedirect: noRedirects}
		p.clients[i][1] = &http.Client{Transport: tr, CheckRedirect: limitRedirects}
	}
	return p
}

func newTransport(skipVerify bool) *http.Transport {
	dialer := &net.Dialer{
		// The probe's context bounds the dial; TCP keep-alive probes are
		// pointless on a connection used for one request.
		KeepAlive: -1,
	}
	return &http.Transport{
		Proxy:       nil, // probes go straight to the server, never via HTTP_PROXY
		DialContext: dialer.DialContext,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: skipVerify, //nolint:gosec // per-target opt-in for self-signed servers
		},
		ForceAttemptHTTP2:      true,
		DisableKeepAlives:      true, // each server is probed once per run; don't pile up idle fds
		DisableCompression:     true, // send no Accept-Encoding; Bytes counts what came over the wire
		MaxResponseHeaderBytes: maxHeaderBytes,
		WriteBufferSize:        1 << 10, // a probe request is a few hundred bytes
		ReadBufferSize:         2 << 10, // status line and headers; longer lines still parse
		// Dial, handshake and header timeouts all come from the probe's context.
	}
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func limitRedirects(req *http.Request, via []*http.Request) error {
	// via holds the requests made so far, so this is redirect number len(via).
	if len(via) > MaxRedirects {
		return ErrTooManyRedirects
	}
	// net/http adds a Referer with the previous URL; a redirect to another
	// host must not learn it (its query string may hold a secret).
	req.Header.Del("Referer")
	return nil
}

// Close closes the transports' idle connections.
func (p *Prober) Close() {
	p.verify.CloseIdleConnections()
	p.skipVerify.CloseIdleConnections()
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

	req, err := p.newRequest(pctx, t)
	if err != nil {
		return Result{Latency: time.Since(start), Class: ClassOther, Err: err}
	}
	var ph phase
	req = req.WithContext(httptrace.WithClientTrace(pctx, ph.trace()))

	resp, err := p.client(t).Do(req)
	if err != nil {
		return failure(ctx, pctx, err, time.Since(start), timeout, ph.get())
	}
	ph.set(phaseBody)
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
	resp.Body.Close()
	lat := time.Since(start)
	final := resp.Request.URL.Redacted()
	if err != nil {
		r := failure(ctx, pctx, err, lat, timeout, phaseBody)
		r.Bytes, r.FinalURL = n, final
		return r
	}
	return Result{Code: resp.StatusCode, Latency: lat, Bytes: n, FinalURL: final}
}

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
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, fmt.Errorf("unsupported URL scheme %q: use http or https", req.URL.Scheme)
	}
	// A fresh header map: only these two ever leave this process. Redirects
	// copy them, and net/http adds only Host (and basic auth for userinfo
	// in the URL).
	req.Header = http.Header{
		"User-Agent": {p.userAgent},
		"Accept":     {"*/*"},
	}
	return req, nil
}

func (p *Prober) client(t Target) *http.Client {
	v, f := 1, 0
	if t.TLSSkipVerify {
		v = 0
	}
	if t.FollowRedirects {
		f = 1
	}
	return p.clients[v][f]
}

func canceled(err error, lat time.Duration) Result {
	return Result{Latency: lat, Class: ClassCanceled, Err: fmt.Errorf("probe canceled: %w", err)}
}

// failure turns err into a Result. parent is the caller's context, pctx the
// probe's own (with the deadline): the parent being done means the run was
// interrupted, which says nothing about the server.
func failure(parent, pctx context.Context, err error, lat, timeout time.Duration, ph phaseID) Result {
	if perr := parent.Err(); perr != nil {
		return canceled(perr, lat)
	}
	if errors.Is(pctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return Result{Latency: lat, Class: ClassTimeout, Err: &TimeoutError{After: timeout, While: ph.String()}}
	}
	class := Classify(err)
	if class == ClassTimeout {
		// A timeout of net/http's own, not our deadline.
		return Result{Latency: lat, Class: class, Err: &TimeoutError{After: lat.Round(time.Millisecond), While: ph.String()}}
	}
	return Result{Latency: lat, Class: class, Err: describe(class, shorten(err))}
}

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
func describe(class string, err error) error {
	if class == ClassReset && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return fmt.Errorf("connection closed by server: %w", err)
	}
	return err
}

// shorten drops the `Get "https://...": ` prefix of a *url.Error: the URL is
// in the table next to the error already, and it may be long or carry a
// query string.
func shorten(err error) error {
	for {
		u, ok := err.(*url.Error)
		if !ok {
			return err
		}
		err = u.Err
	}
}

// phase tracks what a probe is doing, for the message of a timeout. The
// trace hooks can run on other goroutines (dialing), hence the atomic.
type phase struct{ v atomic.Int32 }

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

func (ph *phase) set(id phaseID) { ph.v.Store(int32(id)) }
func (ph *phase) get() phaseID   { return phaseID(ph.v.Load()) }

func (ph *phase) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { ph.set(phaseDNS) },
		ConnectStart:      func(string, string) { ph.set(phaseConnect) },
		TLSHandshakeStart: func() { ph.set(phaseTLS) },
		GotConn:           func(httptrace.GotConnInfo) { ph.set(phaseWrite) },
		WroteRequest:      func(httptrace.WroteRequestInfo) { ph.set(phaseHeaders) },
	}
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
