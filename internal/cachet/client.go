// Package cachet is a small client for the Cachet HTTP API, 2.3 and 2.4
// (base URL ending in /api/v1) and 3.x (base URL ending in /api): list
// components and groups, update a component's status, open, update and
// resolve incidents, add metric points, list schedules in progress, ping
// and verify the API token. The same methods serve both APIs; Options.API
// picks one or lets the client ask Cachet once.
//
// The client retries reads and component writes after network errors, 429
// and 5xx (a 2.x PUT after a 400 once too) with capped exponential backoff
// and full jitter; a POST only when it surely did not reach Cachet (no
// connection) or got 429, never once it may have been stored. The API token is sent on every
// request, only to the base URL's origin, and never appears in errors (not
// even when Cachet quotes it) or in the client's printed form. Reads follow
// same-origin redirects; writes follow none and count as done only when
// Cachet answers with the status sent. Once the caller's context ends no
// attempt starts; a write already sent gets Options.WriteGrace to finish.
package cachet

//lint:file-ignore ST1005 error texts start with "Cachet", the proper noun, when they say what Cachet answered.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
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
)

// Options configures a Client. BaseURL and HTTPClient are required.
type Options struct {
	BaseURL    string        // e.g. https://status.example.org/api/v1, or for 3.x https://status.example.org/api (trailing slash tolerated)
	Token      string        // sent on every request when not empty: as X-Cachet-Token to 2.x, as a bearer token to 3.x
	HTTPClient *http.Client  // required; its Transport and Timeout are used, with the client's own redirect policy
	UserAgent  string        // default "cachet-updater"
	Retries    int           // retries after the first attempt (see the package comment for which)
	MinBackoff time.Duration // first backoff, default 500ms
	MaxBackoff time.Duration // backoff cap, default 10s
	// Sleep waits d or until ctx is done; injected by tests. The default
	// waits on a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0,1) for the backoff jitter. The default is
	// a generator owned by the client.
	Rand    func() float64
	PerPage int // listing page size, default 100 (3.x takes at most 100)
	// WriteGrace is how long a write already sent may still take once the
	// context passed to SetStatus ends, default 3s. No new attempt starts
	// after the context ends, and reads are canceled at once.
	WriteGrace time.Duration
	// TimeZone is the zone Cachet 3.x writes its times in, which they do
	// not name: the app's timezone (APP_TIMEZONE), default UTC. 2.x is
	// asked for UTC.
	TimeZone *time.Location
	// API is the Cachet API spoken: APIv2 (Cachet 2.3 and 2.4), APIv3
	// (Cachet 3.x) or APIAuto (also ""), the default: a BaseURL ending in
	// /api/v1 is 2.x, any other is asked GET /version once, without the
	// token.
	API string
}

// String keeps the token out of printed options.
func (o Options) String() string {
	return fmt.Sprintf("cachet.Options{BaseURL:%s API:%q Token:%s Retries:%d MinBackoff:%s MaxBackoff:%s WriteGrace:%s PerPage:%d UserAgent:%q}",
		redactURL(o.BaseURL), o.API, redact(o.Token), o.Retries, o.MinBackoff, o.MaxBackoff, o.WriteGrace, o.PerPage, o.UserAgent)
}

// GoString keeps the token out of %#v.
func (o Options) GoString() string { return o.String() }

// Client talks to one Cachet API. It is safe for concurrent use.
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
	now        func() time.Time
	zone       *time.Location // Options.TimeZone

	// asking holds one token while a request finds out which API (or which
	// 2.x) Cachet speaks; a channel, so that waiting for it honours the
	// context. mu guards the answers, which are kept for the client's
	// lifetime.
	asking  chan struct{}
	mu      sync.Mutex
	api     string // APIv2, APIv3 or "" until known
	version string // 2.x: "2.3" or "2.4" once known

	reads  atomic.Int64
	writes atomic.Int64

	countMu  sync.Mutex
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
	if err := CheckToken(o.Token); err != nil {
		return nil, fmt.Errorf("cachet: %w: put only the token in the token file or variable", err)
	}
	if o.PerPage < 0 {
		return nil, fmt.Errorf("cachet: per_page must not be negative, got %d", o.PerPage)
	}
	api, err := initialAPI(o.API, base)
	if err != nil {
		return nil, err
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
		now:        time.Now,
		zone:       o.TimeZone,
		asking:     make(chan struct{}, 1),
		api:        api,
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
	if c.zone == nil {
		c.zone = time.UTC
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
	c.countMu.Lock()
	defer c.countMu.Unlock()
	out := make(map[string]int64, len(c.byMethod))
	for m, n := range c.byMethod {
		out[m] = n
	}
	return out
}

// Components lists every component, following pagination. With a valid
// token Cachet includes disabled components.
//
// On 2.x, when the listing ends with fewer components than Cachet's
// meta.pagination.total, Components returns the components it did list
// together with an *IncompleteListError. That slice is valid: each
// component in it is as Cachet listed it, but a component missing from it
// may still exist. On any other error the slice is nil.
//
// Cachet 3.x lists only enabled components unless asked for the others, so
// with a token the client asks twice (filter[enabled]=0 the second time).
// Its statuses 5 (unknown) and 6 (under maintenance) arrive as
// status.Unknown, the latter with Maintenance set.
func (c *Client) Components(ctx context.Context) ([]Component, error) {
	api, err := c.API(ctx)
	if err != nil {
		return nil, err
	}
	var comps []Component
	if api == APIv3 {
		comps, err = c.componentsV3(ctx)
	} else {
		comps, err = list(ctx, c, "/components", "components", func(comp Component) int { return comp.ID })
	}
	for i := range comps {
		if comps[i].Unreadable != "" {
			comps[i].Unreadable = excerpt(c.sec.redact(comps[i].Unreadable))
		}
	}
	return comps, err
}

func (c *Client) componentsV3(ctx context.Context) ([]Component, error) {
	id := func(comp Component) int { return comp.ID }
	all, err := listV3(ctx, c, "/components", url.Values{"include": {"group"}}, id)
	if err != nil || c.token == "" { // guests never see disabled components
		return all, err
	}
	off, err := listV3(ctx, c, "/components", url.Values{"include": {"group"}, "filter[enabled]": {"0"}}, id)
	if err != nil {
		return nil, err
	}
	seen := make(map[int]bool, len(all))
	for _, comp := range all {
		seen[comp.ID] = true
	}
	for _, comp := range off {
		if !seen[comp.ID] {
			all = append(all, comp)
		}
	}
	slices.SortStableFunc(all, func(a, b Component) int { return a.ID - b.ID })
	return all, nil
}

// SetStatus sets a component's status: PUT /components/{id} on 2.x, PATCH
// on 3.x (where status.Unknown is sent as 5). enabled is always sent
// because Cachet 2.3 re-enables a component when it is omitted. It returns
// the component as Cachet stored it. The write counts as done only when
// Cachet answers with that component holding the status sent; otherwise
// SetStatus returns an error saying what Cachet answered.
func (c *Client) SetStatus(ctx context.Context, id int, s status.Status, enabled bool) (Component, error) {
	if id <= 0 {
		return Component{}, fmt.Errorf("cachet: invalid component id %d", id)
	}
	api, err := c.API(ctx)
	if err != nil {
		return Component{}, err
	}
	body := struct {
		Status  int  `json:"status"`
		Enabled bool `json:"enabled"`
	}{int(s), enabled}
	method := http.MethodPut
	if api == APIv3 {
		body.Status, method = v3Status(s), http.MethodPatch
	}
	path := "/components/" + strconv.Itoa(id)
	var out struct {
		Data json.RawMessage `json:"data"`
	}
	code, err := c.do(ctx, &call{api: api, method: method, path: path, in: body, out: &out})
	if err != nil {
		return Component{}, err
	}
	got, err := writtenComponent(api, out.Data, id, body.Status)
	if err != nil {
		return Component{}, &opError{sec: c.sec, method: method, path: path, err: fmt.Errorf("Cachet answered %d %w", code, err)}
	}
	return got, nil
}

// writtenComponent checks Cachet's answer to a component update: a proxy
// or a broken install may answer 2xx without storing anything. sent is the
// status value in the API's own numbering, which is compared with the
// stored one (3.x's latest_status may differ from it while an incident or
// a maintenance window is open).
func writtenComponent(api string, data json.RawMessage, id, sent int) (Component, error) {
	var got Component
	if isNull(data) {
		return got, fmt.Errorf("without a component: the update was not applied (%s)", hintFor(api))
	}
	if err := json.Unmarshal(data, &got); err != nil {
		return got, fmt.Errorf("with a component that does not decode: %w; the update may not have been applied", err)
	}
	stored := storedStatus(data)
	switch {
	case got.ID != id:
		return got, fmt.Errorf("with component %d, not %d: the update was not applied", got.ID, id)
	case got.Unreadable != "":
		return got, fmt.Errorf("but the component's status is no number, not %d: the update may not have been applied", sent)
	case stored != sent:
		return got, fmt.Errorf("but the component's status is %d, not %d: the update was not applied", stored, sent)
	}
	return got, nil
}

// ProveComponentWrites proves, without changing anything, that the token
// may update components. On Cachet 3.x it sends PATCH /components/{id}
// without a field: Cachet validates the body, then checks the
// components.manage ability (403 "Invalid ability provided." without it),
// then changes no column, which stores nothing and fires no event. On 2.x,
// whose tokens have no abilities, it sends nothing.
func (c *Client) ProveComponentWrites(ctx context.Context, id int) error {
	api, err := c.API(ctx)
	if err != nil || api != APIv3 {
		return err
	}
	_, err = c.do(ctx, &call{api: api, method: http.MethodPatch, path: "/components/" + strconv.Itoa(id), in: struct{}{}})
	return err
}

// Groups lists every component group, following pagination. Like
// Components, on 2.x it returns the groups listed with an
// *IncompleteListError when the listing ends short of
// meta.pagination.total.
func (c *Client) Groups(ctx context.Context) ([]Group, error) {
	api, err := c.API(ctx)
	if err != nil {
		return nil, err
	}
	id := func(g Group) int { return g.ID }
	if api == APIv3 {
		return listV3(ctx, c, "/component-groups", nil, id)
	}
	return list(ctx, c, "/components/groups", "component groups", id)
}

// Ping checks that the API answers GET /ping with "Pong!". It does not
// check the token: Cachet ignores bad tokens on reads.
func (c *Client) Ping(ctx context.Context) error {
	api, err := c.API(ctx)
	if err != nil {
		return err
	}
	var out struct {
		Data any `json:"data"`
	}
	if _, err := c.do(ctx, &call{api: api, method: http.MethodGet, path: "/ping", out: &out}); err != nil {
		return err
	}
	if s, ok := out.Data.(string); !ok || s != "Pong!" {
		return &opError{sec: c.sec, method: http.MethodGet, path: "/ping",
			err: fmt.Errorf("unexpected answer %v, want \"Pong!\" (%s)", out.Data, hintFor(api))}
	}
	return nil
}

// VerifyToken checks the token against an endpoint that requires one
// (GET /subscribers?per_page=1). The subscriber data is discarded. On 3.x
// a 403 proves the token too: Cachet checks the subscribers.manage ability
// only after it accepted the token. Whether a 3.x token may update
// components (components.manage) shows only when it writes.
func (c *Client) VerifyToken(ctx context.Context) error {
	if c.token == "" {
		return errors.New("cachet: no API token configured")
	}
	api, err := c.API(ctx)
	if err != nil {
		return err
	}
	var out struct{} // decode only to check the JSON; keep no subscriber data
	q := url.Values{"per_page": {"1"}}
	_, err = c.do(ctx, &call{api: api, method: http.MethodGet, path: "/subscribers", query: q, out: &out})
	var apiErr *APIError
	switch {
	case !errors.As(err, &apiErr):
		return err
	case api == APIv3 && apiErr.StatusCode == http.StatusForbidden:
		return nil
	case api == APIv3 && apiErr.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("cachet API token rejected (check the configured token; Cachet 3.x takes an API token made in its dashboard, sent as Authorization: Bearer): %w", err)
	case apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden:
		return fmt.Errorf("cachet API token rejected (check the configured token; it must belong to a Cachet user): %w", err)
	}
	return err
}
