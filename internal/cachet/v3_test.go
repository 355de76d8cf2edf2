package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/status"
)

func TestListingFollowsLinksNext(t *testing.T) {
	srv := newFakeMode(t, cachettest.Cachet3, 7)
	srv.Add(cachettest.Component{ID: 8, Name: "off", Status: 1, Enabled: false})
	srv.Add(cachettest.Component{ID: 9, Name: "off too", Status: 1, Enabled: false})
	srv.Add(cachettest.Component{ID: 10, Name: "off three", Status: 1, Enabled: false})
	c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.PerPage = 2 })
	got, err := c.Components(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, comp := range got {
		ids = append(ids, comp.ID)
	}
	if fmt.Sprint(ids) != "[1 2 3 4 5 6 7 8 9 10]" {
		t.Errorf("ids = %v", ids)
	}
	var pages []string
	for _, r := range srv.Requests()[1:] { // after GET /version
		pages = append(pages, r.RawQuery)
	}
	want := []string{
		"include=group&page=1&per_page=2", "include=group&page=2&per_page=2", "include=group&page=3&per_page=2", "include=group&page=4&per_page=2",
		"filter%5Benabled%5D=0&include=group&page=1&per_page=2", "filter%5Benabled%5D=0&include=group&page=2&per_page=2",
	}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Errorf("pages asked\n%v\nwant\n%v", pages, want)
	}
}

// TestLinksNext: only the page number of links.next counts; the page is
// asked of cachet.url with the client's own query, so a link to another
// origin (Cachet behind a proxy that rewrites Host) gets no request nor the
// token. A link that does not move on ends the listing with an error.
func TestLinksNext(t *testing.T) {
	const bothPasses = "include=group&page=1&per_page=100 include=group&page=2&per_page=100 filter%5Benabled%5D=0&include=group&page=1&per_page=100 filter%5Benabled%5D=0&include=group&page=2&per_page=100"
	other := newOrigin(t, "127.0.0.2", false, http.NotFoundHandler())
	tests := []struct {
		name  string
		next  string // links.next of page 1 ("null" after it)
		want  string // the error; "": two components listed
		pages string
	}{
		{"another origin", `"` + other.URL + `/api/components?page=2&token=` + token + `"`, "", bothPasses},
		{"a link object", `{"href":"/api/components?page=2"}`, "", bothPasses},
		{"the same page", `"/api/components?page=1&token=` + token + `"`,
			"cachet: GET /components: page 1 links to /api/components?page=1&token=[redacted] as the next page, which is not a later page number; stopping", ""},
		{"no page number", `"/api/components?cursor=abc"`, "which is not a later page number", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pages []string
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				pages = append(pages, r.URL.RawQuery)
				w.Header().Set("Content-Type", "application/vnd.api+json")
				next := "null"
				if r.URL.Query().Get("page") == "1" {
					next = tt.next
				}
				fmt.Fprintf(w, `{"data":[{"id":"%s","type":"components","attributes":{"name":"a","status":{"value":1}}}],"links":{"next":%s}}`, r.URL.Query().Get("page"), next)
			}))
			defer ts.Close()
			c, _ := newClient(t, ts.URL+"/api", func(o *cachet.Options) { o.API = cachet.APIv3 })
			got, err := c.Components(context.Background())
			if tt.want == "" {
				if err != nil || len(got) != 2 || strings.Join(pages, " ") != tt.pages {
					t.Errorf("listed %+v, %v; pages %v", got, err, pages)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.want) || got != nil {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
			if other.requests.Load() != 0 {
				t.Errorf("the other origin got %d requests", other.requests.Load())
			}
		})
	}
}

func TestAPIDetection(t *testing.T) {
	laravel401 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Unauthenticated."}`)
	})
	noInternet := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { // 2.x's /version asks GitHub
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"errors":[{"id":"x","status":500,"title":"Internal Server Error","detail":"An error has occurred and this resource cannot be displayed."}]}`)
	})
	tests := []struct {
		name     string
		fake     []cachettest.Option // nil: handler below
		handler  http.Handler
		base     string // appended to the server URL; "" = the fake's API path
		opt      string
		want     string
		requests int // spent by API()
	}{
		{name: "3.x at /api", fake: []cachettest.Option{cachettest.WithMode(cachettest.Cachet3)}, want: cachet.APIv3, requests: 1},
		{name: "3.x at /status/api", fake: []cachettest.Option{cachettest.WithMode(cachettest.Cachet3), cachettest.WithAPIPath("/status/api")}, want: cachet.APIv3, requests: 1},
		{name: "2.4 at a base without /api/v1", fake: []cachettest.Option{cachettest.WithAPIPath("/cachet")}, want: cachet.APIv2, requests: 1},
		{name: "2.x at /api/v1 is not asked", fake: []cachettest.Option{}, want: cachet.APIv2},
		{name: "v3 as configured", fake: []cachettest.Option{cachettest.WithMode(cachettest.Cachet3)}, opt: "v3", want: cachet.APIv3},
		{name: "v2 as configured", fake: []cachettest.Option{cachettest.WithAPIPath("/cachet")}, opt: "V2", want: cachet.APIv2},
		{name: "2.x without internet", handler: noInternet, base: "/x", want: cachet.APIv2, requests: 1},
		{name: "3.x with a protected API", handler: laravel401, base: "/api", want: cachet.APIv3, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var base string
			var fake *cachettest.Server
			if tt.fake != nil {
				fake = cachettest.New(token, tt.fake...)
				defer fake.Close()
				base = fake.URL()
			} else {
				ts := httptest.NewServer(tt.handler)
				defer ts.Close()
				base = ts.URL + tt.base
			}
			c, sl := newClient(t, base, func(o *cachet.Options) { o.API = tt.opt })
			for range 2 { // the answer is kept
				if api, err := c.API(context.Background()); api != tt.want || err != nil {
					t.Fatalf("API() = %q, %v; want %q", api, err, tt.want)
				}
			}
			if got := attempts(c); got != int64(tt.requests) || len(sl.got()) != 0 {
				t.Errorf("%d requests, sleeps %v; want %d, none", got, sl.got(), tt.requests)
			}
			if fake != nil {
				if err := c.Ping(context.Background()); err != nil {
					t.Errorf("Ping: %v", err)
				}
				checkTokenHeaders(t, fake, tt.want)
			}
		})
	}
}

// TestVersionTells23: a 2.x that said its version by /version is not
// asked again which 2.x it is.
func TestVersionTells23(t *testing.T) {
	srv := cachettest.New(token, cachettest.WithMode(cachettest.Cachet23), cachettest.WithAPIPath("/cachet"))
	defer srv.Close()
	id := srv.AddIncident(cachettest.Incident{Name: "n", Message: "m", Status: 1})
	c, _ := newClient(t, srv.URL(), nil)
	ctx := context.Background()
	if _, err := c.Schedules(ctx); !errors.Is(err, cachet.ErrUnsupported) {
		t.Errorf("Schedules: %v", err)
	}
	if err := c.UpdateIncident(ctx, id, cachet.IncidentUpdate{Status: 2, Message: "m"}); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range srv.Requests() {
		paths = append(paths, r.Method+" "+strings.TrimPrefix(r.Path, "/cachet"))
	}
	if want := "[GET /version GET /incidents/1 PUT /incidents/1]"; fmt.Sprint(paths) != strings.ReplaceAll(want, "/1", "/"+fmt.Sprint(id)) {
		t.Errorf("requests %v, want %s", paths, want)
	}
}

func TestAPIDetectionFails(t *testing.T) {
	const page = "<!DOCTYPE html><html><body>Status</body></html>"
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/gone/version" {
			w.WriteHeader(http.StatusNotFound)
		}
		fmt.Fprint(w, page)
	}))
	defer site.Close()
	const hint = "(cachet.url must be the API base, e.g. https://status.example.org/api/v1 (Cachet 2.x) or https://status.example.org/api (Cachet 3.x))"
	tests := []struct{ name, base, want string }{
		{"HTML 200", site.URL, "cachet: GET /version: decoding response (text/html): invalid character '<' looking for beginning of value " + hint +
			"; cannot tell whether Cachet speaks the 2.x or the 3.x API: set cachet.api to v2 or v3"},
		{"HTML 404", site.URL + "/gone", "cachet: GET /version: 404 Not Found: response is not JSON (text/html): " + page + " " + hint +
			"; cannot tell whether Cachet speaks the 2.x or the 3.x API: set cachet.api to v2 or v3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newClient(t, tt.base, nil)
			_, err := c.Components(context.Background())
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant  %s", err, tt.want)
			}
			if _, err := c.API(context.Background()); err == nil || attempts(c) != 2 {
				t.Errorf("a failure is not kept: err %v after %d requests, want another try", err, attempts(c))
			}
		})
	}
	if _, err := cachet.New(cachet.Options{BaseURL: "https://s.example/api", HTTPClient: &http.Client{}, API: "v4"}); err == nil ||
		err.Error() != `cachet: unknown API "v4": want auto, v2 or v3` {
		t.Errorf("API v4: %v", err)
	}
}

// TestAPIDetectionOnce: concurrent first calls ask once.
func TestAPIDetectionOnce(t *testing.T) {
	srv := newFakeMode(t, cachettest.Cachet3, 5)
	c, _ := newClient(t, srv.URL(), nil)
	var wg sync.WaitGroup
	for i := 1; i <= 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.SetStatus(context.Background(), i, status.PartialOutage, true); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	n := 0
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/version") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d version requests, want 1", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c2, _ := newClient(t, srv.URL(), nil)
	if _, err := c2.API(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("API with an ended context: %v", err)
	}
}

func TestTokenNeverInErrors3(t *testing.T) {
	for _, tok := range []string{token, oddToken} {
		q := func(s string) string { return fmt.Sprintf("%q", s) }
		tests := []struct {
			name string
			code int
			body string
			want string
		}{
			{"401", 401, `{"message":` + q("Token "+tok+" is unknown.") + `}`, "401 Unauthorized: Token [redacted] is unknown. (Cachet did not accept the API token"},
			{"403", 403, `{"message":` + q("Token "+tok+" lacks an ability.") + `}`, "403 Forbidden: Token [redacted] lacks an ability. (the API token lacks the components.manage ability"},
			{"422 by field", 422, `{"message":"bad","errors":{"token":[` + q(tok+" is read-only") + `],"a":["first"]}}`, "422 Unprocessable Entity: bad (first [redacted] is read-only)"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.code)
					fmt.Fprint(w, tt.body)
				}))
				defer ts.Close()
				c, _ := newClient(t, ts.URL+"/api", func(o *cachet.Options) { o.Token, o.API = tok, cachet.APIv3 })
				_, err := c.SetStatus(context.Background(), 1, status.MajorOutage, true)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v\nwant it to contain %s", err, tt.want)
				}
				assertNoToken(t, "the error", err, tok)
				var apiErr *cachet.APIError
				if errors.As(err, &apiErr) {
					assertNoToken(t, "the APIError", *apiErr, tok)
				}
			})
		}
	}
	o := cachet.Options{BaseURL: "https://status.example.org/api", Token: token, API: cachet.APIv3, HTTPClient: &http.Client{}}
	if s := fmt.Sprint(o); strings.Contains(s, token) || !strings.Contains(s, `API:"v3"`) {
		t.Errorf("Options = %s", s)
	}
}

func TestRedirects3(t *testing.T) {
	fake := cachettest.NewHandlerV3(token)
	defer fake.Close()
	fake.Add(cachettest.Component{ID: 1, Name: "a", Status: 1, Enabled: true})
	other := newOrigin(t, "127.0.0.2", false, fake.Handler())
	front := newOrigin(t, "127.0.0.1", false, redirectTo(func() string { return other.URL }, http.StatusFound))
	c, _ := newClient(t, front.URL+"/api", func(o *cachet.Options) { o.API = cachet.APIv3 })
	_, err := c.Components(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not followed, because the token must go to cachet.url's own origin only") {
		t.Errorf("err = %v", err)
	}
	if other.requests.Load() != 0 || other.sawToken.Load() {
		t.Errorf("the other origin got %d requests", other.requests.Load())
	}

	mux := http.NewServeMux()
	mux.Handle("/api/", fake.Handler())
	mux.HandleFunc("/old/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.TrimPrefix(r.URL.RequestURI(), "/old"), http.StatusMovedPermanently)
	})
	same := newOrigin(t, "127.0.0.1", false, mux)
	c2, _ := newClient(t, same.URL+"/old/api", func(o *cachet.Options) { o.API = cachet.APIv3 })
	if got, err := c2.Components(context.Background()); err != nil || len(got) != 1 {
		t.Errorf("same-origin read redirect: %+v, %v", got, err)
	}
	if _, err := c2.SetStatus(context.Background(), 1, status.MajorOutage, true); err == nil || !strings.Contains(err.Error(), "a write is never redirected") {
		t.Errorf("redirected write: %v", err)
	}
	for _, r := range fake.Requests() {
		if r.Method != http.MethodGet || !r.Authorized {
			t.Errorf("%s %s reached Cachet (authorized %v)", r.Method, r.Path, r.Authorized)
		}
	}
}
