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
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// call is one API request as the methods describe it.
type call struct {
	// api is APIv2 or APIv3: it picks the token header and the hint for a
	// wrong cachet.url. It is "" while the client asks which API it is,
	// and then no token is sent.
	api    string
	method string
	path   string // relative to the base URL, e.g. /components/3
	query  url.Values
	in     any // the JSON body, or nil
	out    any // decodes a 2xx body, or nil
	// settled, when set, ends the retries on an error it says a retry
	// would not change.
	settled func(error) bool
}

// do sends one API request with retries, decodes a 2xx body into cl.out
// and returns the HTTP status code of that answer.
func (c *Client) do(ctx context.Context, cl *call) (int, error) {
	var body []byte
	if cl.in != nil {
		var err error
		if body, err = json.Marshal(cl.in); err != nil {
			return 0, &opError{sec: c.sec, method: cl.method, path: cl.path, op: "encoding request", err: err}
		}
	}
	var last error
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil { // no new attempt once the run has ended
			return 0, c.finalError(cl.method, cl.path, attempt-1, last, runEnded(ctx))
		}
		code, wait, err := c.attempt(ctx, cl, body)
		if err == nil {
			return code, nil
		}
		last = err
		if attempt > c.retries || !retryable(cl, attempt, err) || (cl.settled != nil && cl.settled(err)) {
			return 0, c.finalError(cl.method, cl.path, attempt, err, nil)
		}
		if ctx.Err() != nil {
			var stop error
			if !errors.Is(err, context.Cause(ctx)) { // else the error already says the run ended
				stop = runEnded(ctx)
			}
			return 0, c.finalError(cl.method, cl.path, attempt, err, stop)
		}
		if wait < 0 {
			wait = c.backoff(attempt)
		}
		if c.sleep(ctx, wait) != nil {
			return 0, c.finalError(cl.method, cl.path, attempt, err, runEnded(ctx))
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
func (c *Client) attempt(ctx context.Context, cl *call, body []byte) (code int, wait time.Duration, err error) {
	u := *c.base
	u.Path = c.base.Path + cl.path
	u.RawQuery = cl.query.Encode()
	pathQuery := cl.path
	if u.RawQuery != "" {
		pathQuery += "?" + u.RawQuery
	}
	grace := c.writeGrace
	if isRead(cl.method) {
		grace = 0
	}
	actx, cancel := withGrace(ctx, grace)
	defer cancel()
	req, err := c.newRequest(actx, cl, u.String(), body)
	if err != nil {
		return 0, -1, &opError{sec: c.sec, method: cl.method, path: pathQuery, op: "building request", err: err}
	}
	if isRead(cl.method) {
		c.reads.Add(1)
	} else {
		c.writes.Add(1)
	}
	c.countMu.Lock()
	if c.byMethod == nil {
		c.byMethod = map[string]int64{}
	}
	c.byMethod[cl.method]++
	c.countMu.Unlock()
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, -1, &opError{sec: c.sec, method: cl.method, path: pathQuery, err: err, retry: retryableTransport(err)}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainBytes))
		_ = resp.Body.Close()
	}()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		return 0, -1, &opError{sec: c.sec, method: cl.method, path: pathQuery, err: c.redirectError(cl.method, resp, loc)}
	}
	wait, err = c.readResponse(cl, pathQuery, resp)
	return resp.StatusCode, wait, err
}

// newRequest sets the headers. Cachet 2.x takes the token as
// X-Cachet-Token, 3.x only as a bearer token; while the API is not yet
// known no token is sent, so that neither header reaches the other API.
// Time-Zone makes Cachet 2.x render its timestamps in UTC.
func (c *Client) newRequest(ctx context.Context, cl *call, rawURL string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, rawURL, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch cl.api {
	case APIv2:
		req.Header.Set("Time-Zone", "UTC")
		if c.token != "" {
			req.Header.Set("X-Cachet-Token", c.token)
		}
	case APIv3:
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
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

// readResponse reads the body and decodes a 2xx into cl.out.
func (c *Client) readResponse(cl *call, pathQuery string, resp *http.Response) (wait time.Duration, err error) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return -1, &opError{sec: c.sec, method: cl.method, path: pathQuery, op: "reading response", err: err, retry: true}
	}
	if len(data) > maxBodyBytes {
		return -1, &opError{sec: c.sec, method: cl.method, path: pathQuery, op: "reading response",
			err: fmt.Errorf("body larger than %d bytes", maxBodyBytes)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return retryAfter(resp), newAPIError(cl, resp, data, c.sec)
	}
	if cl.out == nil {
		return -1, nil
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(cl.out); err != nil {
		op := "decoding response"
		if ct := mediaType(resp.Header.Get("Content-Type")); ct != "" && !isJSONType(ct) {
			op += " (" + ct + ")"
		}
		return -1, &opError{sec: c.sec, method: cl.method, path: pathQuery, op: op, err: fmt.Errorf("%w (%s)", err, hintFor(cl.api))}
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

// retryable decides, from the request's method and the answer, whether
// attempt number attempt may be sent again. Reads and component writes
// (PUT, PATCH: sent twice, they set the same status) are retried after a
// network error that may pass, 429 or 5xx; a 2.x PUT after a 400 without
// validation messages once as well, since Cachet 2.x answers any database
// error (a lock, a lost connection) with that. A POST (an incident, an update, a metric point)
// may have been stored before its answer was lost or spoilt (a 5xx, a
// dropped connection, a timeout): it is retried only when it surely did
// not arrive (no connection could be made) or was refused (429). The
// next run finds what landed.
func retryable(cl *call, attempt int, err error) bool {
	idempotent := cl.method != http.MethodPost
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		switch code := apiErr.StatusCode; {
		case code == http.StatusTooManyRequests:
			return true
		case code >= 500:
			return idempotent
		case code == http.StatusBadRequest:
			return cl.api == APIv2 && idempotent && !isRead(cl.method) && len(apiErr.Details) == 0 && attempt == 1
		}
		return false
	}
	var oe *opError
	if !errors.As(err, &oe) || !oe.retry {
		return false
	}
	var op *net.OpError
	return idempotent || (errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect"))
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
