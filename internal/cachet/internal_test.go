package cachet

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestPureRules: the backoff doubles from the first wait up to 10 s with
// full jitter; Retry-After is read on 429 and 503 only, at most a minute;
// an origin is scheme, host and port (the scheme's by default).
func TestPureRules(t *testing.T) {
	c := &Client{backoff: 500 * time.Millisecond}
	for n, most := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 6: 10 * time.Second, 60: 10 * time.Second} {
		for range 20 {
			if d := c.wait(n); d < 0 || d > most {
				t.Errorf("wait(%d) = %s, want at most %s", n, d, most)
			}
		}
	}
	for _, tt := range []struct {
		code  int
		value string
		want  time.Duration
	}{{429, "7", 7 * time.Second}, {503, "3600", time.Minute}, {429, "soon", -1}, {429, "-1", -1}, {500, "7", -1}, {429, "", -1}} {
		if got := retryAfter(&http.Response{StatusCode: tt.code, Header: http.Header{"Retry-After": {tt.value}}}); got != tt.want {
			t.Errorf("%d Retry-After %q: %s, want %s", tt.code, tt.value, got, tt.want)
		}
	}
	base, _ := url.Parse("https://status.example.org/api")
	for to, want := range map[string]bool{"https://Status.example.org:443/x": true, "https://status.example.org/api/v1": true,
		"http://status.example.org/api": false, "https://status.example.org:8443/api": false, "https://other.example.org/api": false} {
		if u, _ := url.Parse(to); sameOrigin(u, base) != want {
			t.Errorf("sameOrigin(%s) != %v", to, want)
		}
	}
}
