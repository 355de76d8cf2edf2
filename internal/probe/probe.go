package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	ClassLocal     = "local"     // this machine could not make the probe (out of file descriptors or ports): says nothing about the server
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

// Prober probes targets. It is safe for concurrent use and holds no
// connections between probes.
type Prober struct {
	userAgent string
	readers   sync.Pool // *bufio.Reader for response heads, readBufferSize each
}

const (
	// readBufferSize is the buffer a probe reads the status line and the
	// headers through; longer headers still parse, the buffer only grows
	// the number of reads.
	readBufferSize = 2 << 10
	// max1xx is how many informational (1xx) responses a probe skips
	// before the final one, as net/http does.
	max1xx = 5
)

// New builds a Prober.
func New(o Options) *Prober {
	ua := o.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	return &Prober{userAgent: ua}
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
	deadline := start.Add(timeout)
	req, err := p.newRequest(t)
	if err != nil {
		return Result{Latency: time.Since(start), Class: ClassOther, Err: err}
	}
	var ph phase
	for redirects := 0; ; redirects++ {
		code, loc, n, err := p.exchange(ctx, req, t.TLSSkipVerify, deadline, &ph)
		lat := time.Since(start)
		if err != nil {
			r := failure(ctx, err, lat, timeout, deadline, ph.get())
			if ph.get() == phaseBody {
				r.Bytes, r.FinalURL = n, req.URL.Redacted()
			}
			return r
		}
		if !t.FollowRedirects || loc == "" || !isRedirect(code) {
			return Result{Code: code, Latency: lat, Bytes: n, FinalURL: req.URL.Redacted()}
		}
		if redirects == MaxRedirects {
			return Result{Latency: lat, Class: ClassRedirects, Err: ErrTooManyRedirects}
		}
		if req, err = p.redirect(req, loc); err != nil {
			return Result{Latency: lat, Class: ClassOther, Err: err}
		}
	}
}

func (p *Prober) newRequest(t Target) (*http.Request, error) {
	method := strings.ToUpper(t.Method)
	switch method {
	case "":
		method = http.MethodGet
	case http.MethodGet, http.MethodHead:
	default:
		return nil, fmt.Errorf("unsupported method %q: use GET or HEAD", t.Method)
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		return nil, shorten(err)
	}
	return p.request(method, u)
}

// request builds the request for u. Only User-Agent and Accept ever leave
// this process, plus basic auth when the operator wrote userinfo into the
// URL.
func (p *Prober) request(method string, u *url.URL) (*http.Request, error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("unsupported URL scheme %q: use http or https", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("URL has no host name")
	}
	req := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"User-Agent": {p.userAgent},
			"Accept":     {"*/*"},
		},
		Host:  u.Host,
		Close: true, // each server is probed once per run
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pw)
	}
	return req, nil
}

// redirect builds the request that follows a redirect to loc. The method
// stays: a probe sends GET or HEAD, which every redirect code keeps.
func (p *Prober) redirect(prev *http.Request, loc string) (*http.Request, error) {
	u, err := prev.URL.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("bad redirect Location: %w", shorten(err))
	}
	return p.request(prev.Method, u)
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// exchange sends req over a new connection and reads the answer: the final
// status code, the Location header and the number of body bytes read (at
// most MaxBody). Everything it does ends at deadline or when ctx is done.
func (p *Prober) exchange(ctx context.Context, req *http.Request, skipVerify bool, deadline time.Time, ph *phase) (code int, loc string, n int64, err error) {
	host, port := req.URL.Hostname(), req.URL.Port()
	switch {
	case port != "":
	case req.URL.Scheme == "https":
		port = "443"
	default:
		port = "80"
	}
	ph.set(phaseConnect)
	if net.ParseIP(host) == nil {
		ph.set(phaseDNS)
	}
	dialer := net.Dialer{
		Deadline:  deadline,
		KeepAlive: -1, // pointless on a connection used for one request
		ControlContext: func(context.Context, string, string, syscall.RawConn) error {
			ph.set(phaseConnect) // the name is resolved; a socket is about to connect
			return nil
		},
	}
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return 0, "", 0, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return 0, "", 0, err
	}
	// The run being interrupted ends this probe at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if req.URL.Scheme == "https" {
		ph.set(phaseTLS)
		tc := tls.Client(conn, &tls.Config{
			ServerName:         host,
			InsecureSkipVerify: skipVerify, //nolint:gosec // per-target opt-in for self-signed servers
			NextProtos:         []string{"http/1.1"},
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, "", 0, err
		}
		conn = tc
	}

	ph.set(phaseWrite)
	var head bytes.Buffer
	if err := req.Write(&head); err != nil {
		return 0, "", 0, err
	}
	if _, err := conn.Write(head.Bytes()); err != nil {
		return 0, "", 0, err
	}

	ph.set(phaseHeaders)
	// The head may be at most maxHeaderBytes; the body is capped below.
	lr := &io.LimitedReader{R: conn, N: maxHeaderBytes}
	br, _ := p.readers.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(lr, readBufferSize)
	} else {
		br.Reset(lr)
	}
	defer func() {
		br.Reset(nil) // drop the connection before the reader is reused
		p.readers.Put(br)
	}()
	var resp *http.Response
	for i := 0; ; i++ {
		resp, err = http.ReadResponse(br, req)
		if err != nil {
			if lr.N <= 0 {
				err = fmt.Errorf("response headers longer than %d bytes", maxHeaderBytes)
			}
			return 0, "", 0, err
		}
		// Informational answers (100 Continue, 103 Early Hints) precede the
		// real one; 101 Switching Protocols is final.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols || i == max1xx {
			break
		}
		lr.N = maxHeaderBytes
	}
	lr.N = math.MaxInt64
	ph.set(phaseBody)
	n, err = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
	return resp.StatusCode, resp.Header.Get("Location"), n, err
}

func canceled(err error, lat time.Duration) Result {
	return Result{Latency: lat, Class: ClassCanceled, Err: fmt.Errorf("probe canceled: %w", err)}
}

// failure turns err into a Result. parent is the caller's context: it being
// done means the run was interrupted, which says nothing about the server.
func failure(parent context.Context, err error, lat, timeout time.Duration, deadline time.Time, ph phaseID) Result {
	if perr := parent.Err(); perr != nil {
		return canceled(perr, lat)
	}
	class := Classify(err)
	past := !time.Now().Before(deadline)
	if class == ClassTimeout || class == ClassOther && past {
		if !past {
			// A timeout of the system's own (a connect that gave up
			// early), not the probe's deadline.
			timeout = lat.Round(time.Millisecond)
		}
		return Result{Latency: lat, Class: ClassTimeout, Err: &TimeoutError{After: timeout, While: ph.String()}}
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
// dialer's hook can run on another goroutine (a fallback address), hence
// the atomic.
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
