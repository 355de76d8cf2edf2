package cachet_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/status"
)

// origin is a loopback server that records every request it gets and
// whether one carried a token (X-Cachet-Token or Authorization).
type origin struct {
	*httptest.Server
	requests atomic.Int32
	sawToken atomic.Bool
}

// newOrigin serves h on host (127.0.0.2 makes a second loopback origin;
// where that address cannot be bound, another port of 127.0.0.1 is still
// another origin).
func newOrigin(t *testing.T, host string, useTLS bool, h http.Handler) *origin {
	t.Helper()
	o := &origin{}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		if r.Header.Get("X-Cachet-Token") != "" || r.Header.Get("Authorization") != "" {
			o.sawToken.Store(true)
		}
		h.ServeHTTP(w, r)
	}))
	if ln, err := net.Listen("tcp", host+":0"); err == nil {
		_ = o.Listener.Close()
		o.Listener = ln
	} else {
		t.Logf("cannot listen on %s (%v); using %s", host, err, o.Listener.Addr())
	}
	if useTLS {
		o.StartTLS()
	} else {
		o.Start()
	}
	t.Cleanup(o.Close)
	return o
}

// redirectTo answers every request with code and a Location of target plus
// the request's path and query.
func redirectTo(target func() string, code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target()+r.URL.RequestURI(), code)
	})
}

func TestRedirectToAnotherOriginIsNotFollowed(t *testing.T) {
	fake := cachettest.NewHandler(token)
	defer fake.Close()
	fake.Add(cachettest.Component{ID: 1, Name: "a", Status: 1, Enabled: true})
	list := func(ctx context.Context, c *cachet.Client) error { _, err := c.Components(ctx); return err }
	put := func(ctx context.Context, c *cachet.Client) error {
		_, err := c.SetStatus(ctx, 1, status.MajorOutage, true)
		return err
	}
	tests := []struct {
		name      string
		frontTLS  bool
		otherHost string
		code      int
		call      func(context.Context, *cachet.Client) error
		want      string
	}{
		{name: "302 on GET to another host", otherHost: "127.0.0.2", code: http.StatusFound, call: list,
			want: "cachet: GET /components?page=1&per_page=100: Cachet at /api/v1/components redirected to OTHER/api/v1/components?page=1&per_page=100: " +
				"not followed, because the token must go to cachet.url's own origin only; set cachet.url to the final API address"},
		{name: "https to http downgrade", frontTLS: true, otherHost: "127.0.0.1", code: http.StatusMovedPermanently, call: list,
			want: "Cachet at /api/v1/components redirected to OTHER/api/v1/components?page=1&per_page=100: not followed, because the token must go to cachet.url's own origin only"},
		{name: "307 on PUT to another host", otherHost: "127.0.0.2", code: http.StatusTemporaryRedirect, call: put,
			want: "cachet: PUT /components/1: Cachet at /api/v1/components/1 answered 307 Temporary Redirect, redirecting to OTHER/api/v1/components/1: " +
				"not followed, because a write is never redirected; the update was not applied; set cachet.url to the final API address"},
		{name: "308 on PUT https to http", frontTLS: true, otherHost: "127.0.0.1", code: http.StatusPermanentRedirect, call: put,
			want: "answered 308 Permanent Redirect, redirecting to OTHER/api/v1/components/1: not followed, because a write is never redirected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			other := newOrigin(t, tt.otherHost, false, fake.Handler())
			front := newOrigin(t, "127.0.0.1", tt.frontTLS, redirectTo(func() string { return other.URL }, tt.code))
			c, sl := newClient(t, front.URL+"/api/v1", func(o *cachet.Options) {
				if tt.frontTLS { // the test server's Transport trusts its certificate
					o.HTTPClient = front.Client()
					o.HTTPClient.Timeout = 5 * time.Second
				}
			})
			err := tt.call(context.Background(), c)
			want := strings.ReplaceAll(tt.want, "OTHER", other.URL)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v\nwant it to contain %s", err, want)
			}
			if other.sawToken.Load() || other.requests.Load() != 0 {
				t.Errorf("the other origin got %d requests (token seen: %v), want none", other.requests.Load(), other.sawToken.Load())
			}
			if a := attempts(c); a != 1 || len(sl.got()) != 0 {
				t.Errorf("attempts = %d, sleeps %v; want 1 attempt, not retried", a, sl.got())
			}
			if got, _ := fake.Component(1); got.Status != 1 {
				t.Errorf("component changed: %+v", got)
			}
		})
	}
}

// sameOriginServer serves the fake under /api/v1 and redirects /old/api/v1
// to it with code.
func sameOriginServer(t *testing.T, fake *cachettest.Server, code int) *origin {
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", fake.Handler())
	mux.HandleFunc("/old/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.TrimPrefix(r.URL.RequestURI(), "/old"), code)
	})
	return newOrigin(t, "127.0.0.1", false, mux)
}

func TestSameOriginRedirects(t *testing.T) {
	t.Run("reads follow", func(t *testing.T) {
		fake := newFake(t, 3)
		srv := sameOriginServer(t, fake, http.StatusFound)
		c, _ := newClient(t, srv.URL+"/old/api/v1", nil)
		got, err := c.Components(context.Background())
		if err != nil || len(got) != 3 {
			t.Fatalf("Components = %d, %v; want 3 components", len(got), err)
		}
		if err := c.Ping(context.Background()); err != nil {
			t.Errorf("Ping: %v", err)
		}
		if srv.requests.Load() != 4 {
			t.Errorf("server saw %d requests, want 2 redirects and 2 answers", srv.requests.Load())
		}
	})
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprintf("write answered %d", code), func(t *testing.T) {
			fake := newFake(t, 1)
			srv := sameOriginServer(t, fake, code)
			c, sl := newClient(t, srv.URL+"/old/api/v1", nil)
			_, err := c.SetStatus(context.Background(), 1, status.MajorOutage, true)
			want := fmt.Sprintf("cachet: PUT /components/1: Cachet at /old/api/v1/components/1 answered %d %s, redirecting to %s/api/v1/components/1: "+
				"not followed, because a write is never redirected; the update was not applied; set cachet.url to the final API address",
				code, http.StatusText(code), srv.URL)
			if err == nil || err.Error() != want {
				t.Errorf("err = %v\nwant %s", err, want)
			}
			if len(fake.Requests()) != 0 || srv.requests.Load() != 1 {
				t.Errorf("the redirect was followed: fake saw %+v", fake.Requests())
			}
			if a := attempts(c); a != 1 || len(sl.got()) != 0 {
				t.Errorf("attempts = %d, sleeps %v; want 1 attempt", a, sl.got())
			}
		})
	}
	t.Run("a 300 is no redirect to follow", func(t *testing.T) {
		srv := newOrigin(t, "127.0.0.1", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/api/v2/ping")
			w.WriteHeader(http.StatusMultipleChoices)
		}))
		c, _ := newClient(t, srv.URL+"/api/v1", nil)
		err := c.Ping(context.Background())
		want := "cachet: GET /ping: Cachet at /api/v1/ping answered 300 Multiple Choices with Location " + srv.URL + "/api/v2/ping, which is not a redirect to follow; set cachet.url to the final API address"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
	})
	t.Run("a loop stops", func(t *testing.T) {
		srv := newOrigin(t, "127.0.0.1", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		}))
		c, _ := newClient(t, srv.URL+"/api/v1", nil)
		err := c.Ping(context.Background())
		want := "cachet: GET /ping: Cachet at /api/v1/ping redirected to " + srv.URL + "/api/v1/ping after 5 redirects already: stopped; set cachet.url to the final API address"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
		if n := srv.requests.Load(); n != 6 {
			t.Errorf("server saw %d requests, want 6 (5 redirects followed)", n)
		}
	})
}

func TestRedirectLocationIsRedacted(t *testing.T) {
	other := newOrigin(t, "127.0.0.2", false, http.NotFoundHandler())
	front := newOrigin(t, "127.0.0.1", false, redirectTo(func() string {
		return strings.Replace(other.URL, "http://", "http://user:hunter2@", 1)
	}, http.StatusFound))
	c, _ := newClient(t, front.URL+"/api/v1", nil)
	err := c.Ping(context.Background())
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "user:xxxxx@") {
		t.Errorf("err = %v, want the Location with its password redacted", err)
	}
}

func TestWriteIsVerified(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		want   string
	}{
		{"status not applied", `{"data":{"id":1,"name":"a","status":1,"enabled":true}}`,
			"cachet: PUT /components/1: Cachet answered 200 but the component's status is 1, not 4: the update was not applied"},
		{"another component", `{"data":{"id":2,"name":"b","status":4,"enabled":true}}`,
			"cachet: PUT /components/1: Cachet answered 200 with component 2, not 1: the update was not applied"},
		{"no component", `{"data":null}`, "cachet: PUT /components/1: Cachet answered 200 without a component: the update was not applied"},
		{"no data", `{}`, "Cachet answered 200 without a component"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = fmt.Fprint(w, tt.answer)
			}))
			defer ts.Close()
			c, sl := newClient(t, ts.URL+"/api/v1", nil)
			got, err := c.SetStatus(context.Background(), 1, status.MajorOutage, true)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
			if got != (cachet.Component{}) {
				t.Errorf("returned %+v with the error, want the zero component", got)
			}
			if a := attempts(c); a != 1 || len(sl.got()) != 0 {
				t.Errorf("attempts = %d, sleeps %v; want 1", a, sl.got())
			}
		})
	}
}
