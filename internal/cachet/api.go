package cachet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The values of Options.API and of what Client.API reports.
const (
	APIAuto = "auto" // ask Cachet (the default)
	APIv2   = "v2"   // Cachet 2.3 and 2.4, under /api/v1
	APIv3   = "v3"   // Cachet 3.x, under /api (or /status/api)
)

// Hints for an answer that suggests cachet.url is not the API base.
const (
	urlHint    = "cachet.url must be the API base, e.g. https://status.example.org/api/v1"
	urlHintV3  = "cachet.url must be the API base, e.g. https://status.example.org/api (Cachet 3.x)"
	urlHintAny = "cachet.url must be the API base, e.g. https://status.example.org/api/v1 (Cachet 2.x) or https://status.example.org/api (Cachet 3.x)"
)

func hintFor(api string) string {
	switch api {
	case APIv2:
		return urlHint
	case APIv3:
		return urlHintV3
	}
	return urlHintAny
}

// initialAPI returns the API known without asking Cachet, or "".
func initialAPI(opt string, base *url.URL) (string, error) {
	switch strings.ToLower(strings.TrimSpace(opt)) {
	case "", APIAuto:
		if strings.HasSuffix(base.Path, "/api/v1") {
			return APIv2, nil
		}
		return "", nil
	case APIv2:
		return APIv2, nil
	case APIv3:
		return APIv3, nil
	}
	return "", fmt.Errorf("cachet: unknown API %q: want %s, %s or %s", opt, APIAuto, APIv2, APIv3)
}

// API reports the Cachet API the client speaks, APIv2 or APIv3. Unless
// Options.API or a base URL ending in /api/v1 said so, the first call asks
// GET /version without the token: 2.x answers {"data":"2.4.1"}, 3.x
// {"data":{"version":"3.x-dev"}}; an error in either API's own shape
// decides too (a 2.x without internet access fails /version, a 3.x with a
// protected API answers 401). The answer is kept for the client's
// lifetime; a failure is not, so the next call asks again.
func (c *Client) API(ctx context.Context) (string, error) {
	if api := c.known(); api != "" {
		return api, nil
	}
	if err := c.lock(ctx); err != nil {
		return "", err
	}
	defer c.unlock()
	if api := c.known(); api != "" { // another call found out meanwhile
		return api, nil
	}
	api, version, err := c.askAPI(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.api, c.version = api, version
	c.mu.Unlock()
	return api, nil
}

func (c *Client) known() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.api
}

// lock takes the asking token, or fails when ctx ends first.
func (c *Client) lock(ctx context.Context) error {
	select {
	case c.asking <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cachet: not asking Cachet which API it speaks: %w", runEnded(ctx))
	}
}

func (c *Client) unlock() { <-c.asking }

// askAPI asks GET /version which API Cachet speaks; version is "2.3" or
// "2.4" when a 2.x said which.
func (c *Client) askAPI(ctx context.Context) (api, version string, err error) {
	var out struct {
		Data json.RawMessage `json:"data"`
	}
	_, err = c.do(ctx, &call{method: http.MethodGet, path: "/version", out: &out,
		settled: func(err error) bool { return errorShape(err) != shapeUnknown }})
	switch {
	case err == nil:
	case errorShape(err) == shapeCachet2:
		return APIv2, "", nil
	case errorShape(err) == shapeLaravel:
		return APIv3, "", nil
	default:
		return "", "", fmt.Errorf("%w; cannot tell whether Cachet speaks the 2.x or the 3.x API: set cachet.api to v2 or v3", err)
	}
	var v2 string
	if json.Unmarshal(out.Data, &v2) == nil {
		return APIv2, minorOf(v2), nil
	}
	var v3 struct {
		Version *string `json:"version"`
	}
	if json.Unmarshal(out.Data, &v3) == nil && v3.Version != nil {
		return APIv3, "", nil
	}
	return "", "", &opError{sec: c.sec, method: http.MethodGet, path: "/version",
		err: fmt.Errorf("unexpected answer %s, want a version (%s); cannot tell whether Cachet speaks the 2.x or the 3.x API: set cachet.api to v2 or v3",
			excerpt(c.sec.redact(string(out.Data))), urlHintAny)}
}

// minorOf maps a 2.x version ("2.3.18", "v2.4.0-dev") to "2.3" or "2.4",
// or "" when it is neither.
func minorOf(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	for _, m := range []string{"2.3", "2.4"} {
		if v == m || strings.HasPrefix(v, m+".") || strings.HasPrefix(v, m+"-") {
			return m
		}
	}
	return ""
}

func errorShape(err error) int {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.shape
	}
	return shapeUnknown
}

// v2Version tells Cachet 2.3 from 2.4, which added incident updates and
// schedules: unless /version already said, GET /schedules?per_page=1
// answers 2.4 and is an unknown route (Cachet's JSON 404) on 2.3.
func (c *Client) v2Version(ctx context.Context) (string, error) {
	if v := c.knownVersion(); v != "" {
		return v, nil
	}
	if err := c.lock(ctx); err != nil {
		return "", err
	}
	defer c.unlock()
	if v := c.knownVersion(); v != "" {
		return v, nil
	}
	q := url.Values{"per_page": {"1"}}
	_, err := c.do(ctx, &call{api: APIv2, method: http.MethodGet, path: "/schedules", query: q, out: &struct{}{}})
	v, err := versionFromSchedules(err)
	if err != nil {
		return "", fmt.Errorf("%w (telling Cachet 2.3 from 2.4)", err)
	}
	c.setVersion(v)
	return v, nil
}

// versionFromSchedules reads the answer to GET /schedules.
func versionFromSchedules(err error) (string, error) {
	var apiErr *APIError
	switch {
	case err == nil:
		return "2.4", nil
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound && apiErr.shape == shapeCachet2:
		return "2.3", nil
	}
	return "", err
}

func (c *Client) knownVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

func (c *Client) setVersion(v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version = v
}
