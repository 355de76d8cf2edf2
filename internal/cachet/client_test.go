package cachet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/status"
)

// TestNew: the base URL is checked (the config checked the rest), and the
// API is the configured one, or with auto the base URL's: /api/v1 is 2.x,
// any other 3.x. Nothing is asked.
func TestNew(t *testing.T) {
	hc := &http.Client{}
	for _, tt := range []struct {
		name string
		o    cachet.Options
		want string // the API, or the error
	}{
		{"2.x", cachet.Options{BaseURL: "https://status.example.org/api/v1/", HTTPClient: hc}, cachet.APIv2},
		{"3.x", cachet.Options{BaseURL: "http://127.0.0.1:8080/api", HTTPClient: hc, API: "auto"}, cachet.APIv3},
		{"3.x under /status", cachet.Options{BaseURL: "https://s.example/status/api", HTTPClient: hc}, cachet.APIv3},
		{"v2 as configured", cachet.Options{BaseURL: "https://s.example/cachet", HTTPClient: hc, API: "v2"}, cachet.APIv2},
		{"v3 as configured", cachet.Options{BaseURL: "https://s.example/api/v1", HTTPClient: hc, API: "v3"}, cachet.APIv3},
		{"relative", cachet.Options{BaseURL: "/api/v1", HTTPClient: hc}, "want an absolute http or https URL"},
		{"ftp", cachet.Options{BaseURL: "ftp://s.example/api/v1", HTTPClient: hc}, "want an absolute http or https URL"},
		{"query", cachet.Options{BaseURL: "https://s.example/api/v1?x=1", HTTPClient: hc}, "without a query"},
		{"bad url", cachet.Options{BaseURL: "https://status example.org/%zz", HTTPClient: hc}, `base URL "[invalid URL]"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cachet.New(tt.o)
			if got := fmt.Sprint(err); err == nil && c.API() != tt.want || err != nil && !strings.Contains(got, tt.want) {
				t.Errorf("New = %v, %v; want %s", c, err, tt.want)
			}
			if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), "secret") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

func TestCheckToken(t *testing.T) {
	for tok, want := range map[string]string{
		"Zq9\r\nx": "more than one line", "Zq9\x00": "a space or control character (at byte 4)", "Zq9\x7f": "control character",
		" Zq9": "(at byte 1)", "Zq9 x": "(at byte 4)", "Zq9\u201d": "not plain ASCII (at byte 4), such as a pasted quote",
		"\uFEFFZq9": "not plain ASCII (at byte 1)", "Zq9\xff": "not plain ASCII", "Zq9": "", "1|Zq9": "", oddToken: "",
	} {
		if err := cachet.CheckToken(tok); fmt.Sprint(err) != "<nil>" != (want != "") || want != "" && !strings.Contains(err.Error(), want) {
			t.Errorf("CheckToken(%q) = %v, want %q", tok, err, want)
		}
	}
}

// oddToken escapes differently in a URL, in Go's and PHP's JSON and in HTML.
const oddToken = `k3y/v+a=l&u<e>|"x`

// assertNoToken checks every printed form of v for every form of tok
// Cachet may echo.
func assertNoToken(t *testing.T, what string, v any, tok string) {
	t.Helper()
	goJSON, _ := json.Marshal(tok)
	forms := []string{tok, url.QueryEscape(tok), url.PathEscape(tok), html.EscapeString(tok), strings.Trim(string(goJSON), `"`),
		strings.ReplaceAll(strings.ReplaceAll(tok, `"`, `\"`), "/", `\/`)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, f := range forms {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, f) {
				t.Errorf("%s printed with %s holds the token (as %q): %s", what, verb, f, s)
			}
		}
	}
}

// TestTokenNeverShown: the token is in no printed client or option, and in
// no error, even when Cachet echoes it, raw or escaped.
func TestTokenNeverShown(t *testing.T) {
	o := cachet.Options{BaseURL: "https://user:pw@status.example.org/api/v1", Token: token, HTTPClient: &http.Client{}}
	c, _ := cachet.New(o)
	for _, v := range []any{o, &o, c} {
		assertNoToken(t, "a printed client", v, token)
		assertNoToken(t, "a printed client", v, "pw@")
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	for _, tok := range []string{token, oddToken} {
		for _, tt := range []struct {
			name string
			r    reply
			want string
		}{
			{"2.x error", reply{code: 422, body: fmt.Sprintf(`{"errors":[{"title":%s,"detail":%s,"meta":{"details":[%s]}}]}`, q("Token "+tok), q("token "+tok+" lacks"), q(tok+" may not"))},
				"422 Token [redacted]: token [redacted] lacks ([redacted] may not)"},
			{"3.x error by field", reply{code: 403, body: `{"message":` + q(tok+" lacks it") + `,"errors":{"token":[` + q(tok) + `]}}`}, "403 Forbidden: [redacted] lacks it ([redacted])"},
			{"HTML page", reply{code: 500, body: "<pre>X-Cachet-Token: " + tok + "</pre><p>" + html.EscapeString(tok) + " " + url.QueryEscape(tok) + "</p>", header: []string{"Content-Type", "text/html"}},
				"after 2 attempts: 500 Internal Server Error: response is not Cachet's JSON (text/html): <pre>X-Cachet-Token: [redacted]</pre><p>[redacted] [redacted]</p>"},
			{"a field of the answer", reply{body: `{"data":{"id":1,"status":` + q(tok) + `}}`}, `Cachet answered 200 with {"id":1,"status":"[redacted]"}, not component 1 at status 4`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				s := newStub(t, "127.0.0.1", tt.r)
				c := client(t, s.URL+"/api/v1", func(o *cachet.Options) { o.Token, o.Retries = tok, 1 })
				err := c.SetStatus(context.Background(), 1, status.MajorOutage, true)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v\nwant %s", err, tt.want)
				}
				assertNoToken(t, "the error", err, tok)
				var e *cachet.Error
				if errors.As(err, &e) {
					assertNoToken(t, "the *Error", *e, tok)
				}
			})
		}
	}
}

// TestExchanges: what the client sends, what it makes of an answer, and
// how often it tries, one exchange (or a few) at a time.
func TestExchanges(t *testing.T) {
	ctx := context.Background()
	ping := func(c *cachet.Client) error { return c.Ping(ctx) }
	put := func(c *cachet.Client) error { return c.SetStatus(ctx, 1, status.MajorOutage, true) }
	list := func(c *cachet.Client) error { _, err := c.Components(ctx); return err }
	post := func(c *cachet.Client) error {
		_, err := c.CreateIncident(ctx, cachet.NewIncident{Name: "n", Message: "m", Status: cachet.IncidentInvestigating})
		return err
	}
	point := func(c *cachet.Client) error { return c.AddMetricPoint(ctx, 3, 1, time.Time{}) }
	update := func(c *cachet.Client) error {
		return c.UpdateIncident(ctx, 3, cachet.IncidentUpdate{Status: cachet.IncidentFixed, Message: "m", Notify: true})
	}
	const hint = " (cachet.url must be the API base, e.g. https://status.example.org/api/v1 (Cachet 2.x) or https://status.example.org/api (Cachet 3.x))"
	const stored = ": it may not have been stored" + hint
	const page = "<!DOCTYPE html>\n<html><body>Not here</body></html>\n"
	html := []string{"Content-Type", "text/html; charset=UTF-8"}
	const v2, v3 = "/api/v1", "/api"
	incident3 := reply{body: `{"data":{"id":3,"status":1,"visible":1}}`}
	tests := []struct {
		name     string
		base     string
		call     func(*cachet.Client) error
		replies  []reply
		want     string // the error; "" none
		attempts int
	}{
		{"ping", v2, ping, []reply{{body: `{"data":"Pong!"}`}}, "", 1},
		{"ping answered otherwise", v2, ping, []reply{{body: `{"data":"Ping?"}`}}, `cachet: GET /ping: unexpected answer Ping?, want "Pong!"` + hint, 1},
		{"2.x validation", v2, put, []reply{{code: 400, body: `{"errors":[{"status":400,"title":"Bad Request","detail":"The request cannot be fulfilled due to bad syntax.","meta":{"details":["The status may not be greater than 4."]}}]}`}},
			"cachet: PUT /components/1: 400 Bad Request: The request cannot be fulfilled due to bad syntax. (The status may not be greater than 4.)", 1},
		{"2.x database error: one retry", v2, put, []reply{{code: 400, body: `{"errors":[{"status":400,"title":"Bad Request","detail":"bad syntax"}]}`}},
			"cachet: PUT /components/1: after 2 attempts: 400 Bad Request: bad syntax", 2},
		{"2.x database error, then stored", v2, put, []reply{{code: 400, body: `{"errors":[{"detail":"x"}]}`}, {body: `{"data":{"id":1,"status":4}}`}}, "", 2},
		{"3.x validation", v3, put, []reply{{code: 422, body: `{"message":"The selected status is invalid.","errors":{"status":["The selected status is invalid."]}}`}},
			"cachet: PATCH /components/1: 422 Unprocessable Entity: The selected status is invalid.", 1},
		{"3.x token refused", v3, put, []reply{{code: 401, body: `{"message":"Unauthenticated."}`}},
			"cachet: PATCH /components/1: 401 Unauthorized: Unauthenticated. (Cachet did not accept the API token: Cachet 3.x takes an API token made in its dashboard, sent as Authorization: Bearer; check the configured token)", 1},
		{"3.x ability", v3, put, []reply{{code: 403, body: `{"message":"Invalid ability provided."}`}},
			"403 Forbidden: Invalid ability provided. (the API token lacks the components.manage ability: give the token that ability in Cachet's dashboard, or make a token that has it)", 1},
		{"3.x point ability", v3, point, []reply{{code: 403, body: `{"message":"x"}`}}, "(the API token lacks the metric-points.manage ability", 1},
		{"3.x update ability", v3, update, []reply{incident3, {code: 403, body: `{"message":"x"}`}}, "POST /incidents/3/updates: 403 Forbidden: x (the API token lacks the incident-updates.manage ability", 2},
		{"an unknown component: no hint", v2, put, []reply{{code: 404, body: `{"errors":[{"detail":"No query results."}]}`}}, "cachet: PUT /components/1: 404 Not Found: No query results.", 1},
		{"an HTML 404: cachet.url", "", ping, []reply{{code: 404, body: page, header: html}},
			"cachet: GET /ping: 404 Not Found: response is not Cachet's JSON (text/html): <!DOCTYPE html> <html><body>Not here</body></html>" + hint, 1},
		{"Cachet's 404 for a route: cachet.url", v2, ping, []reply{{code: 404, body: `{"errors":[{"detail":"The requested resource could not be found."}]}`}},
			"404 Not Found: The requested resource could not be found." + hint, 1},
		{"an HTML 200: cachet.url", "", list, []reply{{body: page, header: html}},
			"cachet: GET /components?page=1&per_page=100: decoding response (text/html): invalid character '<' looking for beginning of value" + hint, 1},
		{"JSON cut short", v2, list, []reply{{body: `{"data":[{"id":1,"na`}}, "decoding response: unexpected end of JSON input" + hint, 1},
		{"a proxy's 502: retried, no hint", "", ping, []reply{{code: 502, body: "<html>\r\n<body>Bad Gateway</body>\r\n</html>", header: html}},
			"cachet: GET /ping: after 4 attempts: 502 Bad Gateway: response is not Cachet's JSON (text/html): <html> <body>Bad Gateway</body> </html>", 4},
		{"an empty 500", v2, ping, []reply{{code: 500}}, "after 4 attempts: 500 Internal Server Error: empty response body", 4},
		{"a read retried", v2, list, []reply{{code: 500}, {code: 503}, {body: `{"data":[]}`}}, "", 3},
		{"a PUT retried after a dropped connection", v2, put, []reply{{code: -1}, {body: `{"data":{"id":1,"status":4}}`}}, "", 2},
		{"a 3.x PATCH retried after a 500", v3, put, []reply{{code: 500}, {body: `{"data":{"id":"1","attributes":{"status":{"value":4}}}}`}}, "", 2},
		{"a POST not retried after a 500", v2, post, []reply{{code: 500}}, "cachet: POST /incidents: 500 Internal Server Error: empty response body", 1},
		{"a POST not retried after a dropped connection", v2, point, []reply{{code: -1}}, `POST /metrics/3/points: Post "`, 1},
		{"a POST retried after a 429, as Retry-After says", v3, post, []reply{{code: 429, header: []string{"Retry-After", "1"}, body: `{"message":"Too Many Attempts."}`},
			{code: 201, body: `{"data":{"id":"5","attributes":{"status":{"value":1}}}}`}}, "", 2},
		{"no retry on 401", v2, ping, []reply{{code: 401, body: `{"errors":[{"detail":"no"}]}`}}, "cachet: GET /ping: 401 Unauthorized: no", 1},
		{"no retry on 405", v2, ping, []reply{{code: 405, body: `{"errors":[{"detail":"no"}]}`}}, "405 Method Not Allowed: no", 1},
		{"no retry on 406", v2, ping, []reply{{code: 406, body: "<html>no</html>", header: html}}, "406 Not Acceptable: response is not Cachet's JSON", 1},
		{"a write answered without the status", v2, put, []reply{{body: `{"data":{"id":1,"name":"a","status":1}}`}},
			`cachet: PUT /components/1: Cachet answered 200 with {"id":1,"name":"a","status":1}, not component 1 at status 4` + stored, 1},
		{"a write answered with another component", v2, put, []reply{{body: `{"data":{"id":2,"status":4}}`}}, `with {"id":2,"status":4}, not component 1 at status 4`, 1},
		{"a write answered without data", v2, put, []reply{{body: `{}`}}, "Cachet answered 200 with , not component 1 at status 4", 1},
		{"a write answered with a status that is no number", v2, put, []reply{{body: `{"data":{"id":1,"status":"abc"}}`}}, `with {"id":1,"status":"abc"}`, 1},
		{"a 3.x write of unknown answered with maintenance", v3, func(c *cachet.Client) error { return c.SetStatus(ctx, 1, status.Unknown, true) },
			[]reply{{body: `{"data":{"id":"1","attributes":{"status":{"value":6}}}}`}}, "not component 1 at status 5", 1},
		{"an incident answered with another status", v2, post, []reply{{body: `{"data":{"id":5,"status":2}}`}}, `cachet: POST /incidents: Cachet answered 200 with {"id":5,"status":2}, not an incident at status 1` + stored, 1},
		{"an incident answered without an id", v2, post, []reply{{body: `{"data":{"status":1}}`}}, "not an incident at status 1", 1},
		{"an update of another incident", v2, update, []reply{incident3, {body: `{"data":{"id":9,"incident_id":4,"status":4}}`}},
			"cachet: POST /incidents/3/updates: Cachet answered 200 with " + `{"id":9,"incident_id":4,"status":4}, not an update of incident 3 at status 4` + stored, 2},
		{"a point of another metric", v2, point, []reply{{body: `{"data":{"id":9,"metric_id":4,"value":1}}`}}, "not a point of metric 3", 1},
		{"a point answered without data", v2, point, []reply{{body: `{"data":null}`}}, "Cachet answered 200 with null, not a point of metric 3", 1},
		{"a point Cachet cannot store", v2, func(c *cachet.Client) error { return c.AddMetricPoint(ctx, 3, math.NaN(), time.Time{}) }, []reply{{}}, "json: unsupported value: NaN", 0},
		{"a hang retried", v2, ping, []reply{{code: -2}, {body: `{"data":"Pong!"}`}}, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub(t, "127.0.0.1", tt.replies...)
			c := client(t, s.URL+tt.base, func(o *cachet.Options) {
				if tt.base == "" {
					o.API = cachet.APIv2
				}
				o.HTTPClient.Timeout = time.Second // a hang
			})
			start := time.Now()
			err := tt.call(c)
			if exact := strings.HasPrefix(tt.want, "cachet: "); tt.want == "" && err != nil ||
				tt.want != "" && (err == nil || exact && err.Error() != tt.want || !exact && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
			if s.got() != tt.attempts || attempts(c) != int64(tt.attempts) {
				t.Errorf("%d attempts (%d counted), want %d", s.got(), attempts(c), tt.attempts)
			}
			if strings.Contains(tt.name, "Retry-After") && time.Since(start) < 900*time.Millisecond {
				t.Errorf("retried after %s, before Retry-After's 1s", time.Since(start))
			}
		})
	}
}

// TestRetryDial: a POST whose connection was refused never reached Cachet
// and is sent again; a host name that does not exist is not retried, a
// resolver that failed for a moment is.
func TestRetryDial(t *testing.T) {
	srv := fake(t, modes[0], 1)
	for _, tt := range []struct {
		name  string
		err   error // of the first dial
		dials int32
		ok    bool
	}{
		{"refused", syscall.ECONNREFUSED, 2, true},
		{"no such host", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, 1, false},
		{"resolver timeout", &net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}, 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var dials atomic.Int32
			hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if dials.Add(1) == 1 {
					return nil, &net.OpError{Op: "dial", Net: network, Err: tt.err}
				}
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}}
			c := client(t, srv.URL(), func(o *cachet.Options) { o.HTTPClient = hc })
			_, err := c.CreateIncident(context.Background(), cachet.NewIncident{Name: "n", Message: "m", Status: cachet.IncidentInvestigating})
			if (err == nil) != tt.ok || dials.Load() != tt.dials {
				t.Errorf("err %v after %d dials; want ok %v after %d", err, dials.Load(), tt.ok, tt.dials)
			}
		})
	}
}

var errInterrupt = errors.New("interrupt signal received")

// TestDeadlines: no attempt starts once the run has ended; a wait between
// attempts ends with it; a read in flight ends at once, a write gets 3 s
// to finish and is not sent again.
func TestDeadlines(t *testing.T) {
	put := func(ctx context.Context, c *cachet.Client) error {
		return c.SetStatus(ctx, 1, status.MajorOutage, true)
	}
	list := func(ctx context.Context, c *cachet.Client) error { _, err := c.Components(ctx); return err }
	for _, tt := range []struct {
		name       string
		call       func(context.Context, *cachet.Client) error
		replies    []reply
		cancelAt   int // cancel once the stub got this many requests (0: before the call)
		backoff    time.Duration
		want       string // the error's end
		minWait    time.Duration
		wantStatus int
	}{
		{"ended before", put, []reply{{}}, 0, 0, "cachet: PUT /components/1: not sent: the run ended: interrupt signal received (context canceled)", 0, 0},
		{"ended while waiting to retry", put, []reply{{code: 500}}, 1, time.Hour, ": 500 Internal Server Error: empty response body (stopped retrying: the run ended: interrupt signal received (context canceled))", 0, 500},
		{"a read in flight ends at once", list, []reply{{code: -2}}, 1, 0, ": the run ended: interrupt signal received (context canceled)", 0, 0},
		{"a write in flight gets 3 s", put, []reply{{code: -2}}, 1, 0, ": the run ended: interrupt signal received (context canceled); the write in flight got no answer within the 3s grace", 3 * time.Second, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub(t, "127.0.0.1", tt.replies...)
			c := client(t, s.URL+"/api/v1", func(o *cachet.Options) { o.HTTPClient.Timeout, o.MinBackoff = time.Minute, tt.backoff })
			ctx, cancel := context.WithCancelCause(context.Background())
			done := make(chan error, 1)
			if tt.cancelAt == 0 {
				cancel(errInterrupt)
			}
			go func() { done <- tt.call(ctx, c) }()
			for s.got() < tt.cancelAt {
				time.Sleep(time.Millisecond)
			}
			canceled := time.Now()
			cancel(errInterrupt)
			err := <-done
			var e *cachet.Error
			if err == nil || !strings.HasSuffix(err.Error(), tt.want) || !errors.Is(err, context.Canceled) || !errors.Is(err, errInterrupt) || !errors.As(err, &e) || e.StatusCode != tt.wantStatus {
				t.Errorf("err = %v\nwant ...%s", err, tt.want)
			}
			if waited := time.Since(canceled); waited < tt.minWait || waited > tt.minWait+10*time.Second {
				t.Errorf("the call ended %s after the run, want about %s", waited, tt.minWait)
			}
			if s.got() != tt.cancelAt {
				t.Errorf("%d requests, want %d", s.got(), tt.cancelAt)
			}
		})
	}
}

// TestWriteAnsweredWithinGrace: a write whose answer comes after the run
// ended but within the grace counts as done; a 500 then is not retried.
func TestWriteAnsweredWithinGrace(t *testing.T) {
	for _, tt := range []struct {
		code int
		want string
	}{
		{200, ""},
		{500, "cachet: PUT /components/1: 500 Internal Server Error: busy (stopped retrying: the run ended: context canceled)"},
	} {
		arrived, release := make(chan struct{}), make(chan struct{})
		s := handlerStub(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			<-release
			w.WriteHeader(tt.code)
			fmt.Fprint(w, map[int]string{200: `{"data":{"id":1,"status":4}}`, 500: `{"errors":[{"detail":"busy"}]}`}[tt.code])
		})
		c := client(t, s.URL+"/api/v1")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.SetStatus(ctx, 1, status.MajorOutage, true) }()
		<-arrived
		cancel()
		time.Sleep(50 * time.Millisecond) // the run ended well before Cachet answers
		close(release)
		if err := <-done; fmt.Sprint(err) != map[bool]string{true: "<nil>", false: tt.want}[tt.want == ""] || attempts(c) != 1 {
			t.Errorf("%d: err = %v after %d attempts\nwant %s", tt.code, err, attempts(c), tt.want)
		}
	}
}

// TestRedirects: reads follow redirects within cachet.url's origin only,
// at most five; writes follow none; a Location shows without a password.
func TestRedirects(t *testing.T) {
	ctx := context.Background()
	put := func(c *cachet.Client) error { return c.SetStatus(ctx, 1, status.MajorOutage, true) }
	ping := func(c *cachet.Client) error { return c.Ping(ctx) }
	pong := reply{body: `{"data":"Pong!"}`}
	for _, tt := range []struct {
		name  string
		call  func(*cachet.Client) error
		code  int
		to    string // Location: "other" (another origin), "same" (this one), else as is
		want  string // "" none
		front int    // requests the redirecting server gets
	}{
		{"a read to another origin", ping, 302, "other", "cachet: GET /ping: Cachet at /api/v1/ping answered 302 Found, redirecting to OTHER/api/v1/ping: not followed, because the token must go to cachet.url's own origin only; set cachet.url to the final API address", 1},
		{"a write to another origin", put, 307, "other", "Cachet at /api/v1/components/1 answered 307 Temporary Redirect, redirecting to OTHER/api/v1/components/1: not followed, because a write is never redirected; the update was not applied", 1},
		{"a write within the origin", put, 308, "same", "answered 308 Permanent Redirect, redirecting to SAME/api/v1/components/1: not followed, because a write is never redirected", 1},
		{"a read within the origin", ping, 301, "same", "", 2},
		{"a 300", ping, 300, "same", "answered 300 Multiple Choices, redirecting to SAME/api/v1/ping: not followed, because it is not a redirect to follow", 1},
		{"a loop", ping, 302, "loop", "answered 302 Found, redirecting to SAME/api/v1/ping: not followed, because 5 redirects were followed already", 6},
		{"a password in the Location", ping, 302, "http://user:hunter2@127.0.0.2:1/", "redirecting to http://user:xxxxx@127.0.0.2:1/: not followed", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			other := newStub(t, "127.0.0.2", pong)
			front := handlerStub(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
				to := map[string]string{"other": other.URL + r.URL.RequestURI(), "same": strings.TrimPrefix(r.URL.RequestURI(), "/old"), "loop": r.URL.RequestURI()}[tt.to]
				if strings.HasPrefix(r.URL.Path, "/api") && tt.to == "same" {
					fmt.Fprint(w, pong.body)
					return
				}
				http.Redirect(w, r, map[bool]string{true: to, false: tt.to}[to != ""], tt.code)
			})
			base := map[bool]string{true: "/old/api/v1", false: "/api/v1"}[tt.to == "same"]
			err := tt.call(client(t, front.URL+base))
			want := strings.NewReplacer("OTHER", other.URL, "SAME", front.URL).Replace(tt.want)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), want)) || strings.Contains(fmt.Sprint(err), "hunter2") {
				t.Errorf("err = %v\nwant %s", err, want)
			}
			if front.got() != tt.front || other.got() != 0 || other.sawToken.Load() {
				t.Errorf("%d requests, %d to the other origin; want %d, 0", front.got(), other.got(), tt.front)
			}
		})
	}
}

// TestListing: 2.x pages are read until meta.pagination's last, and past
// it while fewer than its total were listed; a listing still short comes
// with what was listed and ErrIncomplete. 3.x follows links.next by its
// page number only, asked of cachet.url with the client's own query.
func TestListing(t *testing.T) {
	p := func(total, current, pages int, ids ...int) reply {
		var items []string
		for _, id := range ids {
			items = append(items, fmt.Sprintf(`{"id":%d,"status":1}`, id))
		}
		return reply{body: fmt.Sprintf(`{"meta":{"pagination":{"total":%d,"current_page":"%d","total_pages":%d}},"data":[%s]}`, total, current, pages, strings.Join(items, ","))}
	}
	l := func(next string, id int) reply {
		return reply{body: fmt.Sprintf(`{"data":[{"id":"%d","type":"components","attributes":{"status":{"value":1}}}],"links":{"next":%s}}`, id, next)}
	}
	other := newStub(t, "127.0.0.2")
	for _, tt := range []struct {
		name    string
		base    string
		replies []reply
		listed  int
		want    string // the error; "" none
		pages   int
	}{
		{"2.x pages", "/api/v1", []reply{p(3, 1, 2, 1, 2), p(3, 2, 2, 3)}, 3, "", 2},
		{"2.x without meta", "/api/v1", []reply{{body: `{"data":[{"id":1}]}`}}, 1, "", 1},
		{"2.x total_pages short", "/api/v1", []reply{p(3, 1, 1, 1, 2), p(3, 2, 1, 3)}, 3, "", 2},
		{"2.x total too large", "/api/v1", []reply{p(3, 1, 1, 1, 2), p(3, 2, 1)}, 2, "cachet: GET /components: Cachet listed 2 of 3 components (fewer than its meta.pagination.total)", 2},
		{"2.x pages repeating the last", "/api/v1", []reply{p(5, 1, 1, 1)}, 1, "Cachet listed 1 of 5 components", 2},
		{"2.x a proxy dropping the query", "/api/v1", []reply{p(5, 1, 3, 1, 2)}, 2, "Cachet listed 2 of 5 components", 2},
		{"3.x to another origin", "/api", []reply{l(`"`+other.URL+`/api/components?page=2&token=x"`, 1), l(`null`, 2)}, 2, "", 2},
		{"3.x to the same page", "/api", []reply{l(`"/api/components?page=1"`, 1)}, 0,
			"cachet: GET /components: page 1 links to /api/components?page=1 as the next page, which is not a later page number; stopping", 1},
		{"3.x without a page number", "/api", []reply{l(`"/api/components?cursor=abc"`, 1)}, 0, "which is not a later page number", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub(t, "127.0.0.1", tt.replies...)
			got, err := client(t, s.URL+tt.base, func(o *cachet.Options) { o.Token = "" }).Components(context.Background())
			if len(got) != tt.listed || tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("listed %d, err %v; want %d, %q", len(got), err, tt.listed, tt.want)
			}
			if errors.Is(err, cachet.ErrIncomplete) != strings.Contains(tt.want, "Cachet listed") {
				t.Errorf("err %v: errors.Is(ErrIncomplete) wrong", err)
			}
			var asked []string
			for i, r := range s.requests {
				if q := r.URL.Query(); q.Get("page") != fmt.Sprint(i+1) || q.Get("per_page") != "100" || len(q) != map[bool]int{true: 3, false: 2}[tt.base == "/api"] {
					asked = append(asked, r.URL.RawQuery)
				}
			}
			if s.got() != tt.pages || asked != nil || other.got() != 0 {
				t.Errorf("%d pages, unexpected queries %v, %d to the other origin; want %d pages", s.got(), asked, other.got(), tt.pages)
			}
		})
	}
}
