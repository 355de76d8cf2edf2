// Package cachet is the client of the Cachet API: 2.3 and 2.4 under a base
// URL ending in /api/v1, 3.x under any other (cachet.api may say so too).
// It lists components, groups, metrics and schedules, sets a component's
// status, opens, updates and resolves incidents, adds metric points, and
// proves the token.
//
// Every request goes through do: retries are decided there from the
// method and the answer (retryable), every failure is an *Error, the token
// goes only to the base URL's origin and never into an error text. Reads
// follow same-origin redirects, writes none. Once the caller's context
// ends no attempt starts; a write already sent gets 3 s to finish.
package cachet

//lint:file-ignore ST1005 error texts start with "Cachet", the proper noun, when they say what Cachet answered.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/proxer/cachet-updater/internal/foreign"
)

// The values of Options.API; API reports APIv2 or APIv3.
const (
	APIAuto = "auto" // from the base URL: /api/v1 is 2.x, any other 3.x
	APIv2   = "v2"   // Cachet 2.3 and 2.4
	APIv3   = "v3"   // Cachet 3.x
)

const (
	perPage       = 100 // 3.x takes at most 100
	maxBackoff    = 10 * time.Second
	maxRetryAfter = time.Minute
	writeGrace    = 3 * time.Second
	maxBody       = 8 << 20
	maxRedirects  = 5
)

// Options configures a Client, as the config checked it (a known API, a
// token that fits in a header, retries not negative). BaseURL and
// HTTPClient are required.
type Options struct {
	BaseURL    string         // e.g. https://status.example.org/api/v1 (2.x) or https://status.example.org/api (3.x)
	Token      string         // sent on every request: X-Cachet-Token to 2.x, a bearer token to 3.x
	HTTPClient *http.Client   // its Transport and Timeout are used, with the client's own redirect rule
	UserAgent  string         // default "cachet-updater"
	Retries    int            // retries after the first attempt, where retryable allows
	MinBackoff time.Duration  // the first wait before a retry, default 500ms; it doubles up to 10s, with full jitter
	TimeZone   *time.Location // the zone Cachet 3.x writes its zone-less times in (APP_TIMEZONE), default UTC
	API        string         // APIv2, APIv3 or APIAuto ("" too)
}

// String keeps the token out of printed options.
func (o Options) String() string {
	return fmt.Sprintf("cachet.Options{BaseURL:%s API:%q Retries:%d}", redactURL(o.BaseURL), o.API, o.Retries)
}

// GoString keeps the token out of %#v.
func (o Options) GoString() string { return o.String() }

// Client talks to one Cachet API. It is safe for concurrent use.
type Client struct {
	base    *url.URL // without a trailing slash
	api     string
	token   bool                // one is sent
	header  http.Header         // of every request: the token's too
	redact  func(string) string // removes the token
	hc      *http.Client
	retries int
	backoff time.Duration
	zone    *time.Location

	mu   sync.Mutex
	sent map[string]int64 // requests by method
}

// New returns a client, or why BaseURL cannot be Cachet's API base.
func New(o Options) (*Client, error) {
	base, err := url.Parse(strings.TrimSpace(o.BaseURL))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("cachet: base URL %q: want an absolute http or https URL without a query, such as https://status.example.org/api/v1", redactURL(o.BaseURL))
	}
	base.Path, base.RawPath = strings.TrimRight(base.Path, "/"), ""
	c := &Client{base: base, api: o.API, token: o.Token != "", redact: newSecret(o.Token), retries: o.Retries, sent: map[string]int64{},
		backoff: cmp.Or(o.MinBackoff, 500*time.Millisecond), zone: cmp.Or(o.TimeZone, time.UTC),
		// Time-Zone: the zone 2.x renders its times in; 3.x ignores it
		header: http.Header{"Accept": {"application/json"}, "User-Agent": {cmp.Or(o.UserAgent, "cachet-updater")}, "Time-Zone": {"UTC"}}}
	if c.api == "" || c.api == APIAuto {
		c.api = map[bool]string{true: APIv2, false: APIv3}[strings.HasSuffix(base.Path, "/api/v1")]
	}
	if o.Token != "" && c.api == APIv2 {
		c.header.Set("X-Cachet-Token", o.Token)
	} else if o.Token != "" {
		c.header.Set("Authorization", "Bearer "+o.Token)
	}
	hc := *o.HTTPClient
	hc.CheckRedirect = c.checkRedirect
	c.hc = &hc
	return c, nil
}

// API reports the API the client speaks, APIv2 or APIv3.
func (c *Client) API() string { return c.api }

// String describes the client without its token.
func (c *Client) String() string {
	return fmt.Sprintf("cachet.Client{BaseURL:%s API:%s}", c.base.Redacted(), c.api)
}

// GoString keeps the token out of %#v.
func (c *Client) GoString() string { return c.String() }

func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "[invalid URL]"
}

// RequestsByMethod returns how many requests the client sent (retries
// included), by HTTP method.
func (c *Client) RequestsByMethod() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.sent)
}

// Requests returns how many requests the client sent: reads are GET and
// HEAD, writes the others.
func (c *Client) Requests() (reads, writes int64) {
	byMethod := c.RequestsByMethod()
	for _, n := range byMethod {
		writes += n
	}
	reads = byMethod[http.MethodGet] + byMethod[http.MethodHead]
	return reads, writes - reads
}

func isRead(method string) bool { return method == http.MethodGet || method == http.MethodHead }

// call is one request as a method describes it.
type call struct {
	method, path string // path below the base URL, e.g. /components/3
	query        url.Values
	in, out      any // the JSON body (nil: none); what a 2xx answer decodes into (nil: nothing)
}

// fail is the *Error of cl with cause err.
func (c *Client) fail(cl call, err error) *Error {
	path := cl.path
	if q := cl.query.Encode(); q != "" {
		path += "?" + q
	}
	return &Error{Method: cl.method, Path: path, Attempts: 1, err: err, redact: c.redact}
}

// do sends cl, as often as retryable allows, and returns the HTTP status
// code of the answer it decoded.
func (c *Client) do(ctx context.Context, cl call) (int, error) {
	body, err := json.Marshal(cl.in)
	if err != nil {
		return 0, c.fail(cl, err) // NaN, say: not sent
	} else if cl.in == nil {
		body = nil
	}
	var last *Error
	for n := 1; ctx.Err() == nil; n++ {
		code, wait, e := c.attempt(ctx, cl, body)
		if e == nil {
			return code, nil
		}
		e.Attempts, last = n, e
		if n > c.retries || !retryable(cl.method, c.api, e) {
			return 0, e
		}
		if wait < 0 {
			wait = c.wait(n)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	if last == nil {
		last = c.fail(cl, fmt.Errorf("not sent: %w", runEnded(ctx)))
	} else if !errors.Is(last, context.Cause(ctx)) {
		last.stop = runEnded(ctx)
	}
	return 0, last
}

// retryable decides whether a failed attempt may be sent again. A read,
// PUT or PATCH (sent twice, it sets the same) may after a network error
// that can pass, a 429 or a 5xx; a 2.x PUT once after a 400 without
// validation messages too, which 2.x answers to any database error. A
// POST (an incident, an update, a point) may have been stored before its
// answer was lost: only a refused connection or a 429 is sent again.
func retryable(method, api string, e *Error) bool {
	post := method == http.MethodPost
	switch code := e.StatusCode; {
	case code == http.StatusTooManyRequests:
		return true
	case code >= 500:
		return !post
	case code == http.StatusBadRequest:
		return api == APIv2 && method == http.MethodPut && !e.validation && e.Attempts == 1
	case code != 0 || !e.transport:
		return false
	}
	dns, isDNS := errors.AsType[*net.DNSError](e.err)
	if _, isCert := errors.AsType[*tls.CertificateVerificationError](e.err); isCert || isDNS && dns.IsNotFound {
		return false // no better in a second
	}
	op, isOp := errors.AsType[*net.OpError](e.err)
	return !post || isOp && (op.Op == "dial" || op.Op == "proxyconnect")
}

// attempt sends cl once; wait >= 0 is what a 429 or 503 asked for.
func (c *Client) attempt(ctx context.Context, cl call, body []byte) (code int, wait time.Duration, e *Error) {
	u := *c.base
	u.Path += cl.path
	u.RawQuery = cl.query.Encode()
	actx, cancel := withGrace(ctx, cl.method)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, cl.method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, -1, c.fail(cl, err)
	}
	req.Header = c.header.Clone()
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.mu.Lock()
	c.sent[cl.method]++
	c.mu.Unlock()
	resp, err := c.hc.Do(req)
	var data []byte
	if err == nil {
		defer resp.Body.Close()
		if data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1)); err != nil {
			err = fmt.Errorf("reading response: %w", err)
		}
	}
	switch {
	case err != nil: // lost on the way
		e = c.fail(cl, err)
		e.transport = true
		return 0, -1, e
	case resp.StatusCode/100 == 3 && resp.Header.Get("Location") != "":
		return 0, -1, c.fail(cl, c.redirectError(cl.method, resp))
	case len(data) > maxBody:
		return 0, -1, c.fail(cl, fmt.Errorf("reading response: body larger than %d bytes", maxBody))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return 0, retryAfter(resp), c.answerError(cl, resp, data)
	case cl.out == nil:
		return resp.StatusCode, -1, nil
	}
	if err := json.Unmarshal(data, cl.out); err != nil {
		op := "decoding response"
		if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "" && ct != "application/json" && !strings.HasSuffix(ct, "+json") {
			op += " (" + ct + ")"
		}
		return 0, -1, c.fail(cl, fmt.Errorf("%s: %w%s", op, err, urlHint))
	}
	return resp.StatusCode, -1, nil
}

// wait is the full-jitter backoff before retry n.
func (c *Client) wait(n int) time.Duration {
	return time.Duration(rand.Float64() * float64(min(c.backoff<<min(n-1, 16), maxBackoff)))
}

// retryAfter is the wait in seconds a 429 or 503 asks for (Laravel's
// throttle sends seconds), at most a minute, or -1.
func retryAfter(resp *http.Response) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
	if err != nil || secs < 0 || resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return -1
	}
	return min(time.Duration(secs)*time.Second, maxRetryAfter)
}

// runEnded says that the caller's context ended; errors.Is finds both its
// cause and context.Canceled or DeadlineExceeded.
func runEnded(ctx context.Context) error {
	cause, err := context.Cause(ctx), ctx.Err()
	if errors.Is(cause, err) {
		return fmt.Errorf("the run ended: %w", cause)
	}
	return fmt.Errorf("the run ended: %w (%w)", cause, err)
}

// withGrace is the context of one attempt: a write's ends 3 s after ctx,
// so that a write Cachet is applying is not cut off the moment the run
// ends, yet every write in flight ends soon after; a read's with ctx.
func withGrace(ctx context.Context, method string) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		err := runEnded(ctx)
		if !isRead(method) {
			select {
			case <-actx.Done():
				return
			case <-time.After(writeGrace):
			}
			err = fmt.Errorf("%w; the write in flight got no answer within the %s grace", err, writeGrace)
		}
		cancel(err)
	})
	return actx, func() { stop(); cancel(context.Canceled) }
}

// checkRedirect follows only same-origin redirects of reads: net/http
// would carry X-Cachet-Token to another host, and a redirected write may
// be replayed or turned into a GET. The 3xx goes to attempt, which says so.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if !isRead(via[0].Method) || !sameOrigin(req.URL, c.base) || len(via) > maxRedirects {
		return http.ErrUseLastResponse
	}
	return nil
}

func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		return cmp.Or(u.Port(), map[bool]string{true: "443", false: "80"}[strings.EqualFold(u.Scheme, "https")])
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func (c *Client) redirectError(method string, resp *http.Response) error {
	loc := resp.Header.Get("Location")
	target, why := redactURL(loc), "the Location is invalid"
	if to, err := resp.Request.URL.Parse(loc); err == nil {
		switch target = to.Redacted(); {
		case !isRead(method):
			why = "a write is never redirected; the update was not applied"
		case !sameOrigin(to, c.base):
			why = "the token must go to cachet.url's own origin only"
		case !slices.Contains([]int{301, 302, 303, 307, 308}, resp.StatusCode): // what net/http follows
			why = "it is not a redirect to follow"
		default:
			why = fmt.Sprintf("%d redirects were followed already", maxRedirects)
		}
	}
	return fmt.Errorf("Cachet at %s answered %d %s, redirecting to %s: not followed, because %s; set cachet.url to the final API address",
		resp.Request.URL.Path, resp.StatusCode, http.StatusText(resp.StatusCode), target, why)
}

// Errors a caller may act on; the client's errors wrap them.
var (
	// ErrIncomplete: a 2.x listing ended with fewer items than its
	// meta.pagination.total; what was listed comes with the error.
	ErrIncomplete = errors.New("fewer than its meta.pagination.total")
	// ErrIncidentClosed: a person marked the incident fixed, or deleted
	// it; UpdateIncident leaves it so.
	ErrIncidentClosed = errors.New("left closed")
	// ErrUnsupported: this Cachet lacks the API (2.3 has no schedules).
	ErrUnsupported = errors.New("not supported by this Cachet")
)

// urlHint ends an error that a wrong cachet.url may cause.
const urlHint = " (cachet.url must be the API base, e.g. https://status.example.org/api/v1 (Cachet 2.x) or https://status.example.org/api (Cachet 3.x))"

// Error is a request that failed: Cachet answered StatusCode (0: no
// answer to tell), or something kept it from answering. Every text
// Cachet sent is escaped and cut (foreign.Text), and the token is removed
// from it and from the message.
type Error struct {
	Method     string
	Path       string // below the base URL, with the query
	StatusCode int
	Attempts   int

	err        error // Cachet's answer, or what kept it from one, and what to check
	stop       error // why retrying stopped: the run ended
	transport  bool  // the request or its answer was lost on the way
	validation bool  // Cachet's answer listed validation messages
	redact     func(string) string
}

// Error reads like "cachet: PUT /components/14: 400 Bad Request: The
// request cannot be fulfilled due to bad syntax. (The status may not be
// greater than 4.)".
func (e *Error) Error() string {
	msg := "cachet: " + e.Method + " " + e.Path + ": "
	if e.Attempts > 1 {
		msg += fmt.Sprintf("after %d attempts: ", e.Attempts)
	}
	msg += e.err.Error()
	if e.stop != nil {
		msg += " (stopped retrying: " + e.stop.Error() + ")"
	}
	return e.redact(msg)
}

func (e *Error) Unwrap() []error { return []error{e.err, e.stop} }

// answerError reads a non-2xx answer: 2.x's {"errors":[{"title","detail",
// "meta":{"details"}}]}, 3.x's (Laravel's) {"message","errors":{field:[]}},
// or another body.
func (c *Client) answerError(cl call, resp *http.Response, body []byte) *Error {
	code := resp.StatusCode
	var v2 struct {
		Errors []struct {
			Title, Detail string
			Meta          struct{ Details []string }
		}
	}
	var v3 struct {
		Message string
		Errors  map[string][]string
	}
	title, detail, more, fromCachet := http.StatusText(code), "", "", true
	switch {
	case json.Unmarshal(body, &v2) == nil && len(v2.Errors) > 0:
		title, detail, more = cmp.Or(v2.Errors[0].Title, title), v2.Errors[0].Detail, strings.Join(v2.Errors[0].Meta.Details, " ")
	case json.Unmarshal(body, &v3) == nil && v3.Message != "":
		var msgs []string
		for _, field := range slices.Sorted(maps.Keys(v3.Errors)) {
			msgs = append(msgs, v3.Errors[field]...)
		}
		detail, more = v3.Message, strings.Join(msgs, " ")
	case len(body) == 0:
		detail, fromCachet = "empty response body", false
	default:
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		detail, fromCachet = fmt.Sprintf("response is not Cachet's JSON (%s): %s", ct, strings.Join(strings.Fields(string(body)), " ")), false
	}
	msg := fmt.Sprintf("%d %s", code, title)
	if detail != "" {
		msg += ": " + detail
	}
	if more != "" && more != detail {
		msg += " (" + more + ")"
	}
	hint := ""
	switch {
	case code == http.StatusNotFound && (!fromCachet || !strings.ContainsAny(cl.path, "0123456789")), code < 500 && code != http.StatusNotFound && !fromCachet:
		hint = urlHint // a page that is not Cachet's, or an unknown route every Cachet has (not an unknown id)
	case c.api != APIv3 || !fromCachet:
	case code == http.StatusUnauthorized:
		hint = " (Cachet did not accept the API token: Cachet 3.x takes an API token made in its dashboard, sent as Authorization: Bearer; check the configured token)"
	case code == http.StatusForbidden:
		hint = " (the API token lacks the " + ability(cl.path) + " ability: give the token that ability in Cachet's dashboard, or make a token that has it)"
	}
	e := c.fail(cl, errors.New(foreign.Text(c.redact(msg))+hint)) // redacted whole, then cut
	e.StatusCode, e.validation = code, more != ""
	return e
}

// ability names the Cachet 3.x token ability a write (never a delete)
// needs.
func ability(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) == 3 {
		return strings.TrimSuffix(parts[0], "s") + "-" + parts[2] + ".manage" // incident-updates, metric-points
	}
	return parts[0] + ".manage"
}

const redacted = "[redacted]"

// newSecret returns what removes the token from text that came from
// elsewhere: Cachet may echo it raw, or escaped for a URL, JSON (Go's or
// PHP's) or HTML. A func, so that printing an error shows no form of it.
func newSecret(token string) func(string) string {
	if token == "" {
		return func(s string) string { return s }
	}
	goJSON, _ := json.Marshal(token)
	forms := []string{token, url.QueryEscape(token), url.PathEscape(token), html.EscapeString(token), strings.Trim(string(goJSON), `"`),
		strings.NewReplacer(`"`, `\"`, `\`, `\\`).Replace(token),            // Go's JSON without HTML escapes
		strings.NewReplacer(`"`, `\"`, `\`, `\\`, "/", `\/`).Replace(token)} // PHP's json_encode
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) }) // a longer form replaced whole
	var pairs []string
	for _, f := range slices.Compact(forms) {
		pairs = append(pairs, f, redacted)
	}
	return strings.NewReplacer(pairs...).Replace
}

// CheckToken says why token cannot be Cachet's API token, or nil: it goes
// in an HTTP header, so it is one word of visible ASCII (Cachet's are
// letters, digits and, on 3.x, "|"). A line break would fail every request
// with what looks like a network error, a pasted quote never match. The
// message never shows the token; the caller adds where it came from.
func CheckToken(token string) error {
	if strings.ContainsAny(token, "\r\n") {
		return errors.New("the token holds more than one line")
	}
	for i := 0; i < len(token); i++ {
		switch b := token[i]; {
		case b <= ' ' || b == 0x7f:
			return fmt.Errorf("the token holds a space or control character (at byte %d)", i+1)
		case b >= 0x80:
			return fmt.Errorf("the token holds a character that is not plain ASCII (at byte %d), such as a pasted quote", i+1)
		}
	}
	return nil
}

// list reads every page of a listing and keeps each id once (an item added
// while paging shifts the pages); a page that adds nothing ends it (a
// server that keeps inventing items runs into the run's deadline). 2.x is
// sent page and per_page only (it answers 500 to column filters mixed with
// page), and read past its last announced page while that holds fewer
// items than meta.pagination.total: a listing still short comes with an
// error wrapping ErrIncomplete. 3.x has no total: a page's links.next says
// whether one follows, and only its page number is used, asked of
// cachet.url with the client's own query (Laravel drops per_page and the
// filters from it, and names the Host it saw, which behind a proxy is not
// cachet.url's): no request, and no token, goes anywhere else.
// Each query in passes lists the path once more, into the same list.
func list[T any](ctx context.Context, c *Client, path string, id func(T) int, passes ...url.Values) ([]T, error) {
	var all []T
	seen, total, whole := map[int]bool{}, 0, call{method: http.MethodGet, path: path}
	for _, q := range passes {
		q.Set("per_page", strconv.Itoa(perPage))
		for p := 1; ; p++ {
			q.Set("page", strconv.Itoa(p))
			var doc struct {
				Data  []T
				Links struct{ Next string }
				Meta  struct {
					Pagination struct {
						Total       flexInt
						CurrentPage flexInt `json:"current_page"`
						TotalPages  flexInt `json:"total_pages"`
					}
				}
			}
			if _, err := c.do(ctx, call{method: http.MethodGet, path: path, query: q, out: &doc}); err != nil {
				return nil, err
			}
			pag, before := doc.Meta.Pagination, len(all)
			for _, it := range doc.Data {
				if k := id(it); !seen[k] {
					seen[k] = true
					all = append(all, it)
				}
			}
			total = int(pag.Total) // 0 without meta.pagination, as on 3.x
			if len(all) == before || c.api == APIv2 && pag.CurrentPage >= pag.TotalPages && len(all) >= total {
				break
			}
			if c.api == APIv3 && doc.Links.Next == "" {
				break
			} else if c.api == APIv3 {
				next := 0
				if u, err := url.Parse(doc.Links.Next); err == nil {
					next, _ = strconv.Atoi(u.Query().Get("page"))
				}
				if next <= p {
					return nil, c.fail(whole, fmt.Errorf("page %d links to %s as the next page, which is not a later page number; stopping", p, redactURL(doc.Links.Next)))
				}
				p = next - 1
			}
		}
	}
	if len(all) < total {
		what := strings.ReplaceAll(strings.TrimPrefix(path, "/"), "components/groups", "component groups")
		return all, c.fail(whole, fmt.Errorf("Cachet listed %d of %d %s (%w)", len(all), total, what, ErrIncomplete))
	}
	return all, nil
}
