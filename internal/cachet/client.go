// Package cachet is a small client for the Cachet 2.x HTTP API (base URL
// ending in /api/v1): list components and groups, read and update one
// component, ping and verify the API token.
//
// The client retries network errors, 429 and 5xx with capped exponential
// backoff and full jitter, never other 4xx. The API token is sent on every
// request, only to the base URL's origin, and never appears in errors (not
// even when Cachet quotes it) or in the client's printed form. Reads follow
// same-origin redirects; writes follow none and count as done only when
// Cachet answers with the status sent. Once the caller's context ends no
// attempt starts; a write already sent gets Options.WriteGrace to finish.
package cachet

//lint:file-ignore ST1005 error texts start with "Cachet", the proper noun, when they say what Cachet answered.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

const (
	defaultMinBackoff = 500 * time.Millisecond
	defaultMaxBackoff = 10 * time.Second
	maxRetryAfter     = 60 * time.Second
	defaultPerPage    = 100
	defaultWriteGrace = 3 * time.Second
	defaultUserAgent  = "cachet-updater"
	maxPages          = 10000
	maxBodyBytes      = 8 << 20
	maxRedirects      = 5
	drainBytes        = 64 << 10
	urlHint           = "cachet.url must be the API base, e.g. https://status.example.org/api/v1"
)

// Options configures a Client. BaseURL and HTTPClient are required.
type Options struct {
	BaseURL    string        // e.g. https://status.example.org/api/v1 (trailing slash tolerated)
	Token      string        // sent as X-Cachet-Token on every request when not empty
	HTTPClient *http.Client  // required; its Transport and Timeout are used, with the client's own redirect policy
	UserAgent  string        // default "cachet-updater"
	Retries    int           // retries after the first attempt, for network errors, 429 and 5xx
	MinBackoff time.Duration // first backoff, default 500ms
	MaxBackoff time.Duration // backoff cap, default 10s
	// Sleep waits d or until ctx is done; injected by tests. The default
	// waits on a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0,1) for the backoff jitter. The default is
	// a generator owned by the client.
	Rand    func() float64
	PerPage int // listing page size, default 100
	// WriteGrace is how long a write already sent may still take once the
	// context passed to SetStatus ends, default 3s. No new attempt starts
	// after the context ends, and reads are canceled at once.
	WriteGrace time.Duration
}

// String keeps the token out of printed options.
func (o Options) String() string {
	return fmt.Sprintf("cachet.Options{BaseURL:%s Token:%s Retries:%d MinBackoff:%s MaxBackoff:%s WriteGrace:%s PerPage:%d UserAgent:%q}",
		redactURL(o.BaseURL), redact(o.Token), o.Retries, o.MinBackoff, o.MaxBackoff, o.WriteGrace, o.PerPage, o.UserAgent)
}

// GoString keeps the token out of %#v.
func (o Options) GoString() string { return o.String() }

// Client talks to one Cachet 2.x API. It is safe for concurrent use.
type Client struct {
	base       *url.URL // path without trailing slash
	token      string
	sec        *secret // the token's forms, to remove it from Cachet's answers
	hc         *http.Client
	userAgent  string
	retries    int
	minBackoff time.Duration
	maxBackoff time.Duration
	sleep      func(ctx context.Context, d time.Duration) error
	rand       func() float64
	perPage    int
	writeGrace time.Duration

	reads  atomic.Int64
	writes atomic.Int64

	mu       sync.Mutex
	byMethod map[string]int64 // requests sent, by HTTP method
}

// New validates o and returns a client.
func New(o Options) (*Client, error) {
	if o.HTTPClient == nil {
		return nil, errors.New("cachet: an HTTP client is required")
	}
	base, err := parseBase(o.BaseURL)
	if err != nil {
		return nil, err
	}
	if o.Retries < 0 {
		return nil, fmt.Errorf("cachet: retries must not be negative, got %d", o.Retries)
	}
	if o.MinBackoff < 0 || o.MaxBackoff < 0 || o.WriteGrace < 0 {
		return nil, errors.New("cachet: backoff and grace durations must not be negative")
	}
	if err := checkToken(o.Token); err != nil {
		return nil, err
	}
	if o.PerPage < 0 {
		return nil, fmt.Errorf("cachet: per_page must not be negative, got %d", o.PerPage)
	}
	c := &Client{
		base:       base,
		token:      o.Token,
		sec:        newSecret(o.Token),
		userAgent:  o.UserAgent,
		retries:    o.Retries,
		minBackoff: o.MinBackoff,
		maxBackoff: o.MaxBackoff,
		sleep:      o.Sleep,
		rand:       o.Rand,
		perPage:    o.PerPage,
		writeGrace: o.WriteGrace,
	}
	if c.userAgent == "" {
		c.userAgent = defaultUserAgent
	}
	if c.minBackoff == 0 {
		c.minBackoff = defaultMinBackoff
	}
	if c.maxBackoff == 0 {
		c.maxBackoff = defaultMaxBackoff
	}
	c.minBackoff = min(c.minBackoff, c.maxBackoff)
	if c.sleep == nil {
		c.sleep = sleepContext
	}
	if c.rand == nil {
		c.rand = newRand()
	}
	if c.perPage == 0 {
		c.perPage = defaultPerPage
	}
	if c.writeGrace == 0 {
		c.writeGrace = defaultWriteGrace
	}
	hc := *o.HTTPClient
	hc.CheckRedirect = c.checkRedirect
	c.hc = &hc
	return c, nil
}

// checkRedirect follows only same-origin redirects of reads, at most
// maxRedirects. net/http keeps X-Cachet-Token on a redirect to another
// host, and a redirected write may be replayed elsewhere or turned into a
// GET. ErrUseLastResponse hands the 3xx to attempt, which explains it.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if !isRead(via[0].Method) || !sameOrigin(req.URL, c.base) || len(via) > maxRedirects {
		return http.ErrUseLastResponse
	}
	return nil
}

func isRead(method string) bool { return method == http.MethodGet || method == http.MethodHead }

// sameOrigin compares scheme, host and port, with the scheme's default port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

func parseBase(raw string) (*url.URL, error) {
	const want = "an absolute http or https URL such as https://status.example.org/api/v1"
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("cachet: invalid base URL: %w; want %s", err, want)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cachet: base URL %q is not %s", u.Redacted(), want)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("cachet: base URL %q must not have a query or fragment; want %s", u.Redacted(), want)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// newRand returns a jitter source owned by one client; the mutex makes it
// safe for concurrent requests.
func newRand() func() float64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Float64()
	}
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// String describes the client without its token.
func (c *Client) String() string {
	return fmt.Sprintf("cachet.Client{BaseURL:%s Token:%s}", c.base.Redacted(), redact(c.token))
}

// GoString keeps the token out of %#v.
func (c *Client) GoString() string { return c.String() }

func redact(token string) string {
	if token == "" {
		return `""`
	}
	return "[redacted]"
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[invalid URL]"
	}
	return u.Redacted()
}

// Requests returns how many HTTP requests (attempts, retries included) the
// client has sent: reads are GET, writes everything else.
func (c *Client) Requests() (reads, writes int64) {
	return c.reads.Load(), c.writes.Load()
}

// RequestsByMethod returns how many HTTP requests the client has sent, by
// method (attempts, retries included).
func (c *Client) RequestsByMethod() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.byMethod))
	for m, n := range c.byMethod {
		out[m] = n
	}
	return out
}

// Components lists every component, following pagination. With a valid
// token Cachet includes disabled components.
//
// When the listing ends with fewer components than Cachet's
// meta.pagination.total, Components returns the components it did list
// together with an *IncompleteListError. That slice is valid: each
// component in it is as Cachet listed it, but a component missing from it
// may still exist. On any other error the slice is nil.
func (c *Client) Components(ctx context.Context) ([]Component, error) {
	return list(ctx, c, "/components", "components", func(comp Component) int { return comp.ID })
}

// SetStatus sets a component's status with PUT /components/{id}. enabled is
// always sent because Cachet 2.3 re-enables a component when it is omitted.
// It returns the component as Cachet stored it. The write counts as done
// only when Cachet answers with that component holding the status sent;
// otherwise SetStatus returns an error saying what Cachet answered.
func (c *Client) SetStatus(ctx context.Context, id int, s status.Status, enabled bool) (Component, error) {
	if id <= 0 {
		return Component{}, fmt.Errorf("cachet: invalid component id %d", id)
	}
	body := struct {
		Status  int  `json:"status"`
		Enabled bool `json:"enabled"`
	}{int(s), enabled}
	path := "/components/" + strconv.Itoa(id)
	var out struct {
		Data *Component `json:"data"`
	}
	code, err := c.do(ctx, http.MethodPut, path, nil, body, &out)
	if err != nil {
		return Component{}, err
	}
	if err := verifyWrite(code, out.Data, id, s); err != nil {
		return Component{}, &opError{sec: c.sec, method: http.MethodPut, path: path, err: err}
	}
	return *out.Data, nil
}

// verifyWrite checks Cachet's answer to a PUT: a proxy or a broken install
// may answer 2xx without storing anything.
func verifyWrite(code int, got *Component, id int, s status.Status) error {
	switch {
	case got == nil:
		return fmt.Errorf("Cachet answered %d without a component: the update was not applied (%s)", code, urlHint)
	case got.ID != id:
		return fmt.Errorf("Cachet answered %d with component %d, not %d: the update was not applied", code, got.ID, id)
	case got.Status != s:
		return fmt.Errorf("Cachet answered %d but the component's status is %d, not %d: the update was not applied", code, int(got.Status), int(s))
	}
	return nil
}

// Groups lists every component group, following pagination. Like
// Components, it returns the groups listed with an *IncompleteListError
// when the listing ends short of meta.pagination.total.
func (c *Client) Groups(ctx context.Context) ([]Group, error) {
	return list(ctx, c, "/components/groups", "component groups", func(g Group) int { return g.ID })
}

// Ping checks that the API answers GET /ping with "Pong!". It does not
// check the token: Cachet ignores bad tokens on reads.
func (c *Client) Ping(ctx context.Context) error {
	var out struct {
		Data any `json:"data"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/ping", nil, nil, &out); err != nil {
		return err
	}
	if s, ok := out.Data.(string); !ok || s != "Pong!" {
		return &opError{sec: c.sec, method: http.MethodGet, path: "/ping",
			err: fmt.Errorf("unexpected answer %v, want \"Pong!\" (%s)", out.Data, urlHint)}
	}
	return nil
}

// VerifyToken checks the token against an endpoint that requires one
// (GET /subscribers?per_page=1). The subscriber data is discarded.
func (c *Client) VerifyToken(ctx context.Context) error {
	if c.token == "" {
		return errors.New("cachet: no API token configured")
	}
	var out struct{} // decode only to check the JSON; keep no subscriber data
	q := url.Values{"per_page": {"1"}}
	_, err := c.do(ctx, http.MethodGet, "/subscribers", q, nil, &out)
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("cachet API token rejected (check the configured token; it must belong to a Cachet user): %w", err)
	}
	return err
}

// do sends one API request with retries, decodes a 2xx body into out and
// returns the HTTP status code of that answer.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, &opError{sec: c.sec, method: method, path: path, op: "encoding request", err: err}
		}
	}
	var last error
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil { // no new attempt once the run has ended
			return 0, c.finalError(method, path, attempt-1, last, runEnded(ctx))
		}
		code, wait, err := c.attempt(ctx, method, path, query, body, out)
		if err == nil {
			return code, nil
		}
		last = err
		if attempt > c.retries || !retryable(err) {
			return 0, c.finalError(method, path, attempt, err, nil)
		}
		if ctx.Err() != nil {
			var stop error
			if !errors.Is(err, context.Cause(ctx)) { // else the error already says the run ended
				stop = runEnded(ctx)
			}
			return 0, c.finalError(method, path, attempt, err, stop)
		}
		if wait < 0 {
			wait = c.backoff(attempt)
		}
		if c.sleep(ctx, wait) != nil {
			return 0, c.finalError(method, path, attempt, err, runEnded(ctx))
		}
	}
}

// backoff returns the full-jitter wait before retry number n (1-based).
func (c *Client) backoff(n int) time.Duration {
	d := c.minBackoff
	for i := 1; i < n && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff)
	f := c.rand()
	if f < 0 || f > 1 {
		f = 1
	}
	return time.Duration(f * float64(d))
}

// attempt sends the request once. wait >= 0 is a server-requested delay
// (Retry-After) before the next attempt.
func (c *Client) attempt(ctx context.Context, method, path string, query url.Values, body []byte, out any) (code int, wait time.Duration, err error) {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query.Encode()
	pathQuery := path
	if u.RawQuery != "" {
		pathQuery += "?" + u.RawQuery
	}
	grace := c.writeGrace
	if isRead(method) {
		grace = 0
	}
	actx, cancel := withGrace(ctx, grace)
	defer cancel()
	req, err := c.newRequest(actx, method, u.String(), body)
	if err != nil {
		return 0, -1, &opError{sec: c.sec, method: method, path: pathQuery, op: "building request", err: err}
	}
	if isRead(method) {
		c.reads.Add(1)
	} else {
		c.writes.Add(1)
	}
	c.mu.Lock()
	if c.byMethod == nil {
		c.byMethod = map[string]int64{}
	}
	c.byMethod[method]++
	c.mu.Unlock()
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, -1, &opError{sec: c.sec, method: method, path: pathQuery, err: err, retry: retryableTransport(err)}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainBytes))
		_ = resp.Body.Close()
	}()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		return 0, -1, &opError{sec: c.sec, method: method, path: pathQuery, err: c.redirectError(method, resp, loc)}
	}
	wait, err = c.readResponse(method, path, pathQuery, resp, out)
	return resp.StatusCode, wait, err
}

func (c *Client) newRequest(ctx context.Context, method, rawURL string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("X-Cachet-Token", c.token)
	}
	return req, nil
}

// redirectError explains a 3xx that checkRedirect did not let the client
// follow.
func (c *Client) redirectError(method string, resp *http.Response, loc string) error {
	const fix = "set cachet.url to the final API address"
	from, status := resp.Request.URL, fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	to, err := from.Parse(loc)
	if err != nil {
		return fmt.Errorf("Cachet at %s answered %s with an invalid Location; %s", from.Path, status, fix)
	}
	switch {
	case !isRead(method):
		return fmt.Errorf("Cachet at %s answered %s, redirecting to %s: not followed, because a write is never redirected; the update was not applied; %s",
			from.Path, status, to.Redacted(), fix)
	case !sameOrigin(to, c.base):
		return fmt.Errorf("Cachet at %s redirected to %s: not followed, because the token must go to cachet.url's own origin only; %s",
			from.Path, to.Redacted(), fix)
	case followed(resp.StatusCode):
		return fmt.Errorf("Cachet at %s redirected to %s after %d redirects already: stopped; %s", from.Path, to.Redacted(), maxRedirects, fix)
	default:
		return fmt.Errorf("Cachet at %s answered %s with Location %s, which is not a redirect to follow; %s", from.Path, status, to.Redacted(), fix)
	}
}

// followed reports whether net/http follows a redirect with this code.
func followed(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// readResponse reads the body and decodes a 2xx into out.
func (c *Client) readResponse(method, path, pathQuery string, resp *http.Response, out any) (wait time.Duration, err error) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return -1, &opError{sec: c.sec, method: method, path: pathQuery, op: "reading response", err: err, retry: true}
	}
	if len(data) > maxBodyBytes {
		return -1, &opError{sec: c.sec, method: method, path: pathQuery, op: "reading response",
			err: fmt.Errorf("body larger than %d bytes", maxBodyBytes)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return retryAfter(resp), newAPIError(method, path, resp, data, c.sec)
	}
	if out == nil {
		return -1, nil
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(out); err != nil {
		op := "decoding response"
		if ct := mediaType(resp.Header.Get("Content-Type")); ct != "" && !isJSONType(ct) {
			op += " (" + ct + ")"
		}
		return -1, &opError{sec: c.sec, method: method, path: pathQuery, op: op, err: fmt.Errorf("%w (%s)", err, urlHint)}
	}
	return -1, nil
}

// retryAfter returns the delay a 429 or 503 asks for, capped at 60s, or -1.
func retryAfter(resp *http.Response) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return -1
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return -1
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return -1
		}
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(time.Until(t), 0)
	} else {
		return -1
	}
	return min(d, maxRetryAfter)
}

func retryable(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode >= 500
	}
	var oe *opError
	if errors.As(err, &oe) {
		return oe.retry
	}
	return false
}

// retryableTransport reports whether a transport error may go away on its
// own; certificate problems and a host name that does not exist do not.
func retryableTransport(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
		derr *net.DNSError
	)
	if errors.As(err, &derr) && derr.IsNotFound {
		return false
	}
	return !errors.As(err, &verr) && !errors.As(err, &uerr) && !errors.As(err, &herr) && !errors.As(err, &cerr)
}

func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

func isJSONType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
