package cachet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/status"
)

const token = "s3cret-t0ken-value"

// sleeps records the waits the client asks for instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func httpClient(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// newClient returns a client for srv with Retries 3, recorded sleeps and a
// fixed jitter of 0.5; mod may change the options.
func newClient(t *testing.T, baseURL string, mod func(*cachet.Options)) (*cachet.Client, *sleeps) {
	t.Helper()
	sl := &sleeps{}
	o := cachet.Options{
		BaseURL:    baseURL,
		Token:      token,
		HTTPClient: httpClient(t, 5*time.Second),
		UserAgent:  "cachet-updater-test",
		Retries:    3,
		Sleep:      sl.sleep,
		Rand:       func() float64 { return 0.5 },
	}
	if mod != nil {
		mod(&o)
	}
	c, err := cachet.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, sl
}

func newFake(t *testing.T, n int) *cachettest.Server {
	t.Helper()
	srv := cachettest.New(token)
	t.Cleanup(srv.Close)
	for i := 1; i <= n; i++ {
		srv.Add(cachettest.Component{ID: i, Name: fmt.Sprintf("server-%02d", i), Status: 1, Enabled: true, GroupID: i % 3})
	}
	return srv
}

func attempts(c *cachet.Client) int64 {
	r, w := c.Requests()
	return r + w
}

func TestComponentsPagination(t *testing.T) {
	tests := []struct {
		name           string
		components     int
		perPage        int
		wantPages      int
		wantPerPageArg string
	}{
		{"three pages", 45, 20, 3, "20"},
		{"exact pages", 40, 20, 2, "20"},
		{"one short page", 5, 20, 1, "20"},
		{"empty", 0, 20, 1, "20"},
		{"default per page", 45, 0, 1, "100"},
		{"one per page", 4, 1, 4, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, tt.components)
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.PerPage = tt.perPage })
			got, err := c.Components(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.components {
				t.Fatalf("got %d components, want %d", len(got), tt.components)
			}
			for i, comp := range got {
				want := cachet.Component{ID: i + 1, Name: fmt.Sprintf("server-%02d", i+1), Status: status.Operational, Shown: status.Operational, Enabled: true, GroupID: (i + 1) % 3}
				if comp != want {
					t.Errorf("component %d = %+v, want %+v", i, comp, want)
				}
			}
			reqs := srv.Requests()
			if len(reqs) != tt.wantPages {
				t.Fatalf("fake saw %d requests, want %d pages", len(reqs), tt.wantPages)
			}
			for i, r := range reqs {
				q, _ := url.ParseQuery(r.RawQuery)
				if len(q) != 2 || q.Get("page") != fmt.Sprint(i+1) || q.Get("per_page") != tt.wantPerPageArg {
					t.Errorf("request %d query = %q, want only page=%d and per_page=%s", i, r.RawQuery, i+1, tt.wantPerPageArg)
				}
				if r.Method != http.MethodGet || r.Path != "/api/v1/components" || !r.Authorized {
					t.Errorf("request %d = %+v", i, r)
				}
			}
			if reads, writes := c.Requests(); reads != int64(tt.wantPages) || writes != 0 {
				t.Errorf("Requests() = %d, %d; want %d, 0", reads, writes, tt.wantPages)
			}
		})
	}
}

// TestComponentsPaginationUnderReported: meta.pagination says the listing
// is complete while fewer components were listed than its total.
func TestComponentsPaginationUnderReported(t *testing.T) {
	tests := []struct {
		name       string
		components int
		quirks     cachettest.PaginationQuirks
		wantPages  int
		wantErr    string // "" = complete
	}{
		{"total_pages one short", 45, cachettest.PaginationQuirks{TotalPagesShort: 1}, 3, ""},
		{"total_pages says one page", 45, cachettest.PaginationQuirks{TotalPagesShort: 5}, 3, ""},
		{"exact pages, total_pages short", 40, cachettest.PaginationQuirks{TotalPagesShort: 1}, 2, ""},
		{"total larger than listed", 45, cachettest.PaginationQuirks{TotalExtra: 2}, 4, "Cachet listed 45 of 47 components"},
		{"both", 45, cachettest.PaginationQuirks{TotalPagesShort: 2, TotalExtra: 3}, 4, "Cachet listed 45 of 48 components"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, tt.components)
			srv.SetPaginationQuirks(tt.quirks)
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.PerPage = 20 })
			got, err := c.Components(context.Background())
			if len(got) != tt.components {
				t.Errorf("got %d components, want %d (err %v)", len(got), tt.components, err)
			}
			for i, comp := range got {
				if comp.ID != i+1 {
					t.Errorf("component %d has id %d", i, comp.ID)
				}
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("err = %v", err)
				}
			} else {
				var inc *cachet.IncompleteListError
				if !errors.As(err, &inc) || err.Error() != tt.wantErr || inc.Listed != tt.components {
					t.Errorf("err = %#v, want an *IncompleteListError saying %q", err, tt.wantErr)
				}
			}
			if reads, _ := c.Requests(); reads != int64(tt.wantPages) {
				t.Errorf("%d pages read, want %d", reads, tt.wantPages)
			}
		})
	}
}

func TestComponentsVisibility(t *testing.T) {
	tests := []struct {
		name  string
		token string
		want  []int
	}{
		{"valid token sees disabled", token, []int{1, 2, 3}},
		{"no token sees enabled only", "", []int{1, 3}},
		{"bad token is ignored on reads", "wrong", []int{1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, 3)
			srv.Add(cachettest.Component{ID: 2, Name: "off", Status: 4, Enabled: false})
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.Token = tt.token })
			got, err := c.Components(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var ids []int
			for _, comp := range got {
				ids = append(ids, comp.ID)
				if comp.ID == 2 && (comp.Enabled || comp.Status != status.MajorOutage) {
					t.Errorf("disabled component = %+v", comp)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Errorf("ids = %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestStringStatuses(t *testing.T) {
	srv := newFake(t, 0)
	srv.SetStatusAsString(true)
	for s := 0; s <= 4; s++ {
		srv.Add(cachettest.Component{ID: s + 1, Name: "c", Status: s, Enabled: s%2 == 0})
	}
	c, _ := newClient(t, srv.URL(), nil)
	ctx := context.Background()
	got, err := c.Components(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, comp := range got {
		if comp.Status != status.Status(i) || comp.Enabled != (i%2 == 0) {
			t.Errorf("component %d = %+v", comp.ID, comp)
		}
	}
	if len(got) != 5 || got[2].Status != status.PerformanceIssues {
		t.Errorf("components = %+v", got)
	}
	upd, err := c.SetStatus(ctx, 3, status.PartialOutage, true)
	if err != nil || upd.Status != status.PartialOutage {
		t.Errorf("SetStatus = %+v, %v", upd, err)
	}
}

func TestSetStatus(t *testing.T) {
	tests := []struct {
		name        string
		start       cachettest.Component
		status      status.Status
		enabled     bool
		wantBodyHas string
	}{
		{"change", cachettest.Component{ID: 7, Name: "a", Status: 1, Enabled: true}, status.MajorOutage, true, `{"status":4,"enabled":true}`},
		{"unknown is sent as 0", cachettest.Component{ID: 7, Name: "a", Status: 1, Enabled: true}, status.Unknown, true, `{"status":0,"enabled":true}`},
		{"disabled stays disabled", cachettest.Component{ID: 7, Name: "a", Status: 1, Enabled: false}, status.PartialOutage, false, `{"status":3,"enabled":false}`},
		{"same status", cachettest.Component{ID: 7, Name: "a", Status: 2, Enabled: true, GroupID: 5}, status.PerformanceIssues, true, `{"status":2,"enabled":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, 0)
			srv.Add(tt.start)
			c, _ := newClient(t, srv.URL(), nil)
			got, err := c.SetStatus(context.Background(), tt.start.ID, tt.status, tt.enabled)
			if err != nil {
				t.Fatal(err)
			}
			want := cachet.Component{ID: tt.start.ID, Name: tt.start.Name, Status: tt.status, Shown: tt.status, Enabled: tt.enabled, GroupID: tt.start.GroupID}
			if got != want {
				t.Errorf("returned %+v, want %+v", got, want)
			}
			stored, _ := srv.Component(tt.start.ID)
			if stored.Status != int(tt.status) || stored.Enabled != tt.enabled {
				t.Errorf("stored %+v", stored)
			}
			writes := srv.Writes()
			if len(writes) != 1 {
				t.Fatalf("writes = %+v", writes)
			}
			w := writes[0]
			if w.Method != http.MethodPut || w.Path != "/api/v1/components/7" || w.RawQuery != "" || !w.Authorized {
				t.Errorf("write = %+v, want an authorized PUT /api/v1/components/7", w)
			}
			if w.Body != tt.wantBodyHas {
				t.Errorf("body = %s, want %s", w.Body, tt.wantBodyHas)
			}
			for _, r := range srv.Requests() {
				if r.Method == http.MethodPatch {
					t.Errorf("PATCH used: %+v", r)
				}
			}
			if reads, writes := c.Requests(); reads != 0 || writes != 1 {
				t.Errorf("Requests() = %d, %d; want 0, 1", reads, writes)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	setStatus := func(id int, s status.Status) func(context.Context, *cachet.Client) error {
		return func(ctx context.Context, c *cachet.Client) error {
			_, err := c.SetStatus(ctx, id, s, true)
			return err
		}
	}
	list := func(ctx context.Context, c *cachet.Client) error {
		_, err := c.Components(ctx)
		return err
	}
	ping := func(ctx context.Context, c *cachet.Client) error { return c.Ping(ctx) }
	tests := []struct {
		name         string
		token        string // "" = the right token, "-" = none
		fault        cachettest.Fault
		call         func(context.Context, *cachet.Client) error
		want         []string
		wantCode     int
		wantAttempts int64
	}{
		{name: "wrong token", token: "wrong-token", call: setStatus(1, 2), wantCode: 401, wantAttempts: 1,
			want: []string{"cachet: PUT /components/1: 401 Unauthorized: Authentication is required and has failed or has not yet been provided."}},
		{name: "no token", token: "-", call: setStatus(1, 2), wantCode: 401, wantAttempts: 1, want: []string{"401 Unauthorized"}},
		{name: "unknown id write", call: setStatus(99, 2), wantCode: 404, wantAttempts: 1},
		{name: "unknown id write without token", token: "-", call: setStatus(99, 2), wantCode: 404, wantAttempts: 1},
		{name: "status too high", call: setStatus(1, 7), wantCode: 400, wantAttempts: 1,
			want: []string{"cachet: PUT /components/1: 400 Bad Request: The request cannot be fulfilled due to bad syntax. (The status may not be greater than 4.)"}},
		{name: "status negative", call: setStatus(1, -1), wantCode: 400, wantAttempts: 1, want: []string{"(The status must be at least 0.)"}},
		{name: "HTML 200", fault: cachettest.FaultHTML200, call: list, wantAttempts: 1,
			want: []string{"cachet: GET /components?page=1&per_page=100: decoding response (text/html): invalid character '<'", "(cachet.url must be the API base, e.g. https://status.example.org/api/v1)"}},
		{name: "HTML 200 on a write", fault: cachettest.FaultHTML200, call: setStatus(1, 2), wantAttempts: 1, want: []string{"decoding response (text/html)"}},
		{name: "truncated JSON", fault: cachettest.FaultTruncated, call: list, wantAttempts: 1,
			want: []string{"cachet: GET /components?page=1&per_page=100: decoding response: unexpected EOF (cachet.url must be the API base, e.g. https://status.example.org/api/v1)"}},
		{name: "502 HTML exhausts retries", fault: cachettest.Fault502HTML, call: list, wantCode: 502, wantAttempts: 4,
			want: []string{"cachet: GET /components: after 4 attempts: 502 Bad Gateway: response is not JSON (text/html): <html> <head><title>502 Bad Gateway</title></head>"}},
		{name: "500 exhausts retries", fault: cachettest.Fault500, call: setStatus(1, 2), wantCode: 500, wantAttempts: 4,
			want: []string{"cachet: PUT /components/1: after 4 attempts: 500 Internal Server Error: An error has occurred and this resource cannot be displayed."}},
		{name: "closed connection exhausts retries", fault: cachettest.FaultClose, call: setStatus(1, 2), wantAttempts: 4,
			want: []string{"cachet: PUT /components/1: after 4 attempts: Put \""}},
		{name: "429 exhausts retries", fault: cachettest.Fault429, call: ping, wantCode: 429, wantAttempts: 4, want: []string{"after 4 attempts: 429 Too Many Requests"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, 3)
			srv.FailNext(tt.fault, -1, false)
			tok := token
			switch tt.token {
			case "":
			case "-":
				tok = ""
			default:
				tok = tt.token
			}
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.Token = tok })
			err := tt.call(context.Background(), c)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), token) || (tok != "" && strings.Contains(err.Error(), tok)) {
				t.Errorf("error contains the token: %q", err)
			}
			var apiErr *cachet.APIError
			if tt.wantCode != 0 && (!errors.As(err, &apiErr) || apiErr.StatusCode != tt.wantCode) {
				t.Errorf("error %v is not an APIError with %d", err, tt.wantCode)
			}
			if got := attempts(c); got != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", got, tt.wantAttempts)
			}
		})
	}
}

func TestAPIErrorFields(t *testing.T) {
	srv := newFake(t, 1)
	srv.FailNext(cachettest.Fault502HTML, -1, false)
	c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.Retries = 0 })
	err := c.Ping(context.Background())
	var e *cachet.APIError
	if !errors.As(err, &e) {
		t.Fatalf("%v is not an APIError", err)
	}
	if e.Method != "GET" || e.Path != "/ping" || e.Title != "Bad Gateway" || e.ContentType != "text/html" ||
		len(e.Body) > 200 || !strings.HasPrefix(e.Body, "<html> <head>") || strings.ContainsAny(e.Body, "\r\n") {
		t.Errorf("APIError = %#v", e)
	}

	srv.FailNext(cachettest.FaultNone, 0, false)
	_, err = c.SetStatus(context.Background(), 1, 9, true)
	if !errors.As(err, &e) {
		t.Fatalf("%v is not an APIError", err)
	}
	if e.StatusCode != 400 || e.Title != "Bad Request" || e.Detail != "The request cannot be fulfilled due to bad syntax." ||
		e.Details != "The status may not be greater than 4." || e.Body != "" {
		t.Errorf("APIError = %#v", e)
	}
}

func TestRetrySucceeds(t *testing.T) {
	tests := []struct {
		name         string
		fault        cachettest.Fault
		n            int
		onlyWrites   bool
		write        bool
		timeout      time.Duration
		wantAttempts int64
		wantSleeps   []time.Duration
	}{
		// Rand is 0.5, MinBackoff 500ms: full jitter gives 250ms, 500ms, ...
		{name: "500 twice", fault: cachettest.Fault500, n: 2, wantAttempts: 3, wantSleeps: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}},
		{name: "500 twice on a write", fault: cachettest.Fault500, n: 2, onlyWrites: true, write: true, wantAttempts: 3, wantSleeps: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}},
		{name: "502 HTML once", fault: cachettest.Fault502HTML, n: 1, wantAttempts: 2, wantSleeps: []time.Duration{250 * time.Millisecond}},
		{name: "429 honours Retry-After", fault: cachettest.Fault429, n: 1, wantAttempts: 2, wantSleeps: []time.Duration{time.Second}},
		{name: "429 on a write", fault: cachettest.Fault429, n: 2, write: true, wantAttempts: 3, wantSleeps: []time.Duration{time.Second, time.Second}},
		{name: "closed connection on a write", fault: cachettest.FaultClose, n: 1, write: true, wantAttempts: 2, wantSleeps: []time.Duration{250 * time.Millisecond}},
		{name: "hang until the client timeout", fault: cachettest.FaultHang, n: 1, timeout: 100 * time.Millisecond, wantAttempts: 2, wantSleeps: []time.Duration{250 * time.Millisecond}},
		{name: "hang on a write", fault: cachettest.FaultHang, n: 1, write: true, timeout: 100 * time.Millisecond, wantAttempts: 2, wantSleeps: []time.Duration{250 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, 2)
			srv.FailNext(tt.fault, tt.n, tt.onlyWrites)
			c, sl := newClient(t, srv.URL(), func(o *cachet.Options) {
				if tt.timeout > 0 {
					o.HTTPClient = httpClient(t, tt.timeout)
				}
			})
			var err error
			var got []cachet.Component
			if tt.write {
				var one cachet.Component
				one, err = c.SetStatus(context.Background(), 2, status.PartialOutage, true)
				got = []cachet.Component{one}
			} else {
				got, err = c.Components(context.Background())
			}
			if err != nil {
				t.Fatal(err)
			}
			if got[len(got)-1].ID != 2 {
				t.Errorf("got %+v", got)
			}
			if a := attempts(c); a != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", a, tt.wantAttempts)
			}
			if fmt.Sprint(sl.got()) != fmt.Sprint(tt.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", sl.got(), tt.wantSleeps)
			}
		})
	}
}

func TestHangExhaustsRetries(t *testing.T) {
	srv := newFake(t, 1)
	srv.FailNext(cachettest.FaultHang, -1, false)
	c, _ := newClient(t, srv.URL(), func(o *cachet.Options) {
		o.HTTPClient = httpClient(t, 50*time.Millisecond)
		o.Retries = 1
	})
	err := c.Ping(context.Background())
	if err == nil || !strings.Contains(err.Error(), "after 2 attempts") || !strings.Contains(err.Error(), "Client.Timeout exceeded") {
		t.Fatalf("err = %v", err)
	}
	if a := attempts(c); a != 2 {
		t.Errorf("attempts = %d, want 2", a)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	tests := []struct {
		name string
		rand float64
		min  time.Duration
		max  time.Duration
		want []time.Duration
	}{
		{"full", 1, 100 * time.Millisecond, 300 * time.Millisecond, []time.Duration{100e6, 200e6, 300e6, 300e6, 300e6}},
		{"jitter", 0.25, 100 * time.Millisecond, time.Second, []time.Duration{25e6, 50e6, 100e6, 200e6, 250e6}},
		{"zero jitter", 0, time.Second, time.Second, []time.Duration{0, 0, 0, 0, 0}},
		{"defaults", 1, 0, 0, []time.Duration{500e6, 1e9, 2e9, 4e9, 8e9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, 1)
			srv.FailNext(cachettest.Fault500, -1, false)
			c, sl := newClient(t, srv.URL(), func(o *cachet.Options) {
				o.Retries = 5
				o.Rand = func() float64 { return tt.rand }
				o.MinBackoff, o.MaxBackoff = tt.min, tt.max
			})
			if _, err := c.Components(context.Background()); err == nil {
				t.Fatal("no error")
			}
			if fmt.Sprint(sl.got()) != fmt.Sprint(tt.want) {
				t.Errorf("sleeps = %v, want %v", sl.got(), tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	date := time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		code       int
		retryAfter string
		want       time.Duration
	}{
		{"seconds on 503", 503, "7", 7 * time.Second},
		{"capped at a minute", 429, "3600", time.Minute},
		{"HTTP date capped", 503, date, time.Minute},
		{"past date", 429, "Mon, 02 Jan 2006 15:04:05 GMT", 0},
		{"garbage falls back to backoff", 429, "soon", 250 * time.Millisecond},
		{"ignored on 500", 500, "7", 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					w.Header().Set("Retry-After", tt.retryAfter)
					w.WriteHeader(tt.code)
					return
				}
				_, _ = fmt.Fprint(w, `{"data":"Pong!"}`)
			}))
			defer ts.Close()
			c, sl := newClient(t, ts.URL+"/api/v1/", nil)
			if err := c.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(sl.got()) != fmt.Sprint([]time.Duration{tt.want}) {
				t.Errorf("sleeps = %v, want [%v]", sl.got(), tt.want)
			}
		})
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 405, 406, 422} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				_, _ = fmt.Fprintf(w, `{"errors":[{"status":%d,"title":"%s","detail":"nope"}]}`, code, http.StatusText(code))
			}))
			defer ts.Close()
			c, sl := newClient(t, ts.URL+"/api/v1", nil)
			err := c.Ping(context.Background())
			want := fmt.Sprintf("cachet: GET /ping: %d %s: nope", code, http.StatusText(code))
			if code == http.StatusNotFound { // every Cachet has /ping
				want += " (cachet.url must be the API base, e.g. https://status.example.org/api/v1)"
			}
			if err == nil || err.Error() != want {
				t.Errorf("err = %v, want %s", err, want)
			}
			if a := attempts(c); a != 1 || len(sl.got()) != 0 {
				t.Errorf("attempts = %d, sleeps = %v; want 1 attempt, no sleep", a, sl.got())
			}
		})
	}
}

func TestContextStopsRetrying(t *testing.T) {
	srv := newFake(t, 1)
	srv.FailNext(cachettest.Fault500, -1, false)

	t.Run("canceled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c, _ := newClient(t, srv.URL(), func(o *cachet.Options) {
			o.Retries = 10
			o.Sleep = func(ctx context.Context, _ time.Duration) error {
				cancel()
				return ctx.Err()
			}
		})
		_, err := c.Components(ctx)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "500 Internal Server Error") {
			t.Errorf("err = %v", err)
		}
		var apiErr *cachet.APIError
		if !errors.As(err, &apiErr) {
			t.Errorf("last error not wrapped: %v", err)
		}
		if a := attempts(c); a != 1 {
			t.Errorf("attempts = %d, want 1", a)
		}
	})
	t.Run("canceled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c, sl := newClient(t, srv.URL(), func(o *cachet.Options) { o.Retries = 10 })
		_, err := c.SetStatus(ctx, 1, 1, true)
		if !errors.Is(err, context.Canceled) || err.Error() != "cachet: PUT /components/1: not sent: the run ended: context canceled" {
			t.Errorf("err = %v", err)
		}
		if a := attempts(c); a != 0 || len(sl.got()) != 0 {
			t.Errorf("attempts = %d, sleeps %v; want no attempt once the context has ended", a, sl.got())
		}
	})
	t.Run("real sleep honours the context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		c, _ := newClient(t, srv.URL(), func(o *cachet.Options) {
			o.Sleep = nil // the default timer
			o.MinBackoff = time.Hour
			o.MaxBackoff = time.Hour
			o.Rand = func() float64 { return 1 }
		})
		done := make(chan error, 1)
		go func() { _, err := c.Components(ctx); done <- err }()
		for attempts(c) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestPing(t *testing.T) {
	srv := newFake(t, 0)
	c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.Token = "" })
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(cachettest.FaultHTML200, 1, false)
	if err := c.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "/api/v1") {
		t.Errorf("HTML ping: %v", err)
	}

	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, `{"data":"Ping?"}`)
	}))
	defer ts.Close()
	c2, _ := newClient(t, ts.URL, nil)
	if err := c2.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), `want "Pong!"`) {
		t.Errorf("wrong data: %v", err)
	}
}

func TestVerifyToken(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		wantErr string
	}{
		{"good", token, ""},
		{"bad", "bad-token", "cachet API token rejected (check the configured token; it must belong to a Cachet user): cachet: GET /subscribers: 401 Unauthorized"},
		{"none", "", "cachet: no API token configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, 0)
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.Token = tt.token })
			err := c.VerifyToken(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				reqs := srv.Requests()
				if len(reqs) != 1 || reqs[0].Path != "/api/v1/subscribers" || reqs[0].RawQuery != "per_page=1" {
					t.Errorf("requests = %+v", reqs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error contains the token")
			}
		})
	}
}

func TestGroups(t *testing.T) {
	srv := newFake(t, 0)
	for i := 1; i <= 5; i++ {
		srv.AddGroup(i, fmt.Sprintf("group %d", i))
	}
	c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.PerPage = 2 })
	got, err := c.Groups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[4] != (cachet.Group{ID: 5, Name: "group 5"}) {
		t.Errorf("groups = %+v", got)
	}
	if reads, _ := c.Requests(); reads != 3 {
		t.Errorf("reads = %d, want 3", reads)
	}
}

func TestGroupsIncomplete(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, `{"meta":{"pagination":{"total":3,"current_page":%s,"total_pages":1}},"data":[{"id":1,"name":"a"},{"id":2,"name":"b"}]}`, r.URL.Query().Get("page"))
	}))
	defer ts.Close()
	c, _ := newClient(t, ts.URL, func(o *cachet.Options) { o.API = cachet.APIv2 }) // a 2.x listing at a base without /api/v1
	got, err := c.Groups(context.Background())
	var inc *cachet.IncompleteListError
	if !errors.As(err, &inc) || err.Error() != "Cachet listed 2 of 3 component groups" || inc.Listed != 2 || inc.Total != 3 || len(got) != 2 {
		t.Errorf("Groups = %+v, %v", got, err)
	}
}

func TestRequestHeaders(t *testing.T) {
	tests := []struct {
		name  string
		token string
	}{{"with token", token}, {"without token", ""}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := cachettest.NewHandler(token)
			fake.Add(cachettest.Component{ID: 1, Name: "a", Status: 1, Enabled: true})
			var mu sync.Mutex
			var seen []http.Header
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Header.Clone())
				mu.Unlock()
				fake.Handler().ServeHTTP(w, r)
			}))
			defer ts.Close()
			defer fake.Close()
			if fake.URL() != "" {
				t.Errorf("NewHandler URL() = %q, want empty", fake.URL())
			}
			c, _ := newClient(t, ts.URL+"/api/v1", func(o *cachet.Options) { o.Token = tt.token })
			ctx := context.Background()
			_, _ = c.Components(ctx)
			_, _ = c.SetStatus(ctx, 1, status.Operational, true)
			_ = c.Ping(ctx)
			if len(seen) != 3 {
				t.Fatalf("saw %d requests", len(seen))
			}
			for i, h := range seen {
				if h.Get("Accept") != "application/json" || h.Get("User-Agent") != "cachet-updater-test" || h.Get("X-Cachet-Token") != tt.token {
					t.Errorf("request %d headers = %v", i, h)
				}
				if _, has := h["X-Cachet-Token"]; has != (tt.token != "") {
					t.Errorf("request %d: X-Cachet-Token present = %v", i, has)
				}
				if ct := h.Get("Content-Type"); (i == 1) != (ct == "application/json") {
					t.Errorf("request %d Content-Type = %q", i, ct)
				}
			}
		})
	}
}

func TestTokenNotPrinted(t *testing.T) {
	o := cachet.Options{BaseURL: "https://user:pw@status.example.org/api/v1", Token: token, HTTPClient: &http.Client{}}
	c, err := cachet.New(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{c, o, &o} {
			s := fmt.Sprintf(f, v)
			if strings.Contains(s, token) || strings.Contains(s, "pw@") {
				t.Errorf("%s of %T shows a secret: %s", f, v, s)
			}
		}
	}
	if s := fmt.Sprint(c); !strings.Contains(s, "status.example.org/api/v1") {
		t.Errorf("String() = %s", s)
	}
}

func TestNew(t *testing.T) {
	hc := &http.Client{}
	tests := []struct {
		name    string
		opts    cachet.Options
		wantErr string
	}{
		{"ok", cachet.Options{BaseURL: "https://status.example.org/api/v1/", HTTPClient: hc}, ""},
		{"http ok", cachet.Options{BaseURL: "http://127.0.0.1:8080/api/v1", HTTPClient: hc}, ""},
		{"no client", cachet.Options{BaseURL: "https://status.example.org/api/v1"}, "HTTP client is required"},
		{"relative", cachet.Options{BaseURL: "/api/v1", HTTPClient: hc}, "absolute http or https URL"},
		{"no scheme", cachet.Options{BaseURL: "status.example.org/api/v1", HTTPClient: hc}, "absolute http or https URL"},
		{"ftp", cachet.Options{BaseURL: "ftp://status.example.org/api/v1", HTTPClient: hc}, "absolute http or https URL"},
		{"empty", cachet.Options{HTTPClient: hc}, "absolute http or https URL"},
		{"query", cachet.Options{BaseURL: "https://status.example.org/api/v1?x=1", HTTPClient: hc}, "must not have a query"},
		{"bad url", cachet.Options{BaseURL: "https://status example.org/%zz", HTTPClient: hc}, "invalid base URL"},
		{"negative retries", cachet.Options{BaseURL: "https://s.example/api/v1", HTTPClient: hc, Retries: -1}, "retries must not be negative"},
		{"negative per page", cachet.Options{BaseURL: "https://s.example/api/v1", HTTPClient: hc, PerPage: -1}, "per_page must not be negative"},
		{"negative backoff", cachet.Options{BaseURL: "https://s.example/api/v1", HTTPClient: hc, MinBackoff: -1}, "backoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cachet.New(tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestBaseURLJoin(t *testing.T) {
	srv := newFake(t, 1)
	for _, base := range []string{srv.URL(), srv.URL() + "/", srv.URL() + "//"} {
		c, _ := newClient(t, base, nil)
		if err := c.Ping(context.Background()); err != nil {
			t.Errorf("base %s: %v", base, err)
		}
	}
	for _, r := range srv.Requests() {
		if r.Path != "/api/v1/ping" {
			t.Errorf("path = %s", r.Path)
		}
	}
}

func TestInvalidID(t *testing.T) {
	c, _ := newClient(t, "http://127.0.0.1:1/api/v1", nil)
	if _, err := c.SetStatus(context.Background(), 0, 1, true); err == nil {
		t.Error("id 0 accepted")
	}
	if _, err := c.SetStatus(context.Background(), -3, 1, true); err == nil {
		t.Error("id -3 accepted")
	}
	if a := attempts(c); a != 0 {
		t.Errorf("attempts = %d", a)
	}
}

func TestPaginationGuards(t *testing.T) {
	tests := []struct {
		name    string
		body    func(page string) string
		want    int
		wantErr string
	}{
		{"no meta stops", func(string) string { return `{"data":[{"id":1}]}` }, 1, ""},
		{"empty page stops", func(p string) string {
			if p == "1" {
				return `{"meta":{"pagination":{"current_page":1,"total_pages":9}},"data":[{"id":1}]}`
			}
			return `{"meta":{"pagination":{"current_page":2,"total_pages":9}},"data":[]}`
		}, 1, ""},
		{"string page numbers", func(p string) string {
			return fmt.Sprintf(`{"meta":{"pagination":{"current_page":"%s","total_pages":"2"}},"data":[{"id":%s}]}`, p, p)
		}, 2, ""},
		{"page ignored", func(string) string {
			return `{"meta":{"pagination":{"current_page":1,"total_pages":3}},"data":[{"id":1}]}`
		}, 0, "asked for page 2, got page 1"},
		{"empty page before total", func(p string) string {
			if p == "1" {
				return `{"meta":{"pagination":{"total":3,"current_page":1,"total_pages":2}},"data":[{"id":1}]}`
			}
			return `{"meta":{"pagination":{"total":3,"current_page":2,"total_pages":2}},"data":[]}`
		}, 1, "Cachet listed 1 of 3 components"},
		{"pages past the last repeat it", func(p string) string {
			return fmt.Sprintf(`{"meta":{"pagination":{"total":5,"current_page":%s,"total_pages":1}},"data":[{"id":1}]}`, p)
		}, 1, "Cachet listed 1 of 5 components"},
		{"pages past the last answer page 1", func(p string) string {
			return fmt.Sprintf(`{"meta":{"pagination":{"total":5,"current_page":1,"total_pages":1}},"data":[{"id":%s}]}`, p)
		}, 1, "Cachet listed 1 of 5 components"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = fmt.Fprint(w, tt.body(r.URL.Query().Get("page")))
			}))
			defer ts.Close()
			c, _ := newClient(t, ts.URL, func(o *cachet.Options) { o.API = cachet.APIv2 }) // a 2.x listing at a base without /api/v1
			got, err := c.Components(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				if len(got) != tt.want {
					t.Errorf("got %d components with the error, want %d", len(got), tt.want)
				}
				if reads, _ := c.Requests(); reads > 2 {
					t.Errorf("%d pages read, want at most 2", reads)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Errorf("got %d components, err %v; want %d", len(got), err, tt.want)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	srv := newFake(t, 10)
	c, _ := newClient(t, srv.URL(), nil)
	var wg sync.WaitGroup
	for i := 1; i <= 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.SetStatus(context.Background(), i, status.PartialOutage, true); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, w := c.Requests(); w != 10 {
		t.Errorf("writes = %d", w)
	}
	for _, comp := range srv.Components() {
		if comp.Status != 3 {
			t.Errorf("%+v", comp)
		}
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(srv.Writes()[0].Body), &body); err != nil || len(body) != 2 {
		t.Errorf("body %v, %v", body, err)
	}
}

// TestDNSRetries: a host name that does not exist is not retried (it will
// not exist two seconds later either); a resolver that failed for a moment
// is.
func TestDNSRetries(t *testing.T) {
	for _, tt := range []struct {
		name  string
		err   *net.DNSError
		dials int
	}{
		{"no such host", &net.DNSError{Err: "no such host", Name: "status.example.org", IsNotFound: true}, 1},
		{"resolver timeout", &net.DNSError{Err: "i/o timeout", Name: "status.example.org", IsTimeout: true, IsTemporary: true}, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var dials atomic.Int32
			hc := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
				dials.Add(1)
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: tt.err}
			}}}
			c, _ := newClient(t, "http://status.example.org/api/v1", func(o *cachet.Options) { o.HTTPClient = hc })
			_, err := c.Components(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.err.Err) {
				t.Fatalf("err = %v, want it to say %q", err, tt.err.Err)
			}
			if got := int(dials.Load()); got != tt.dials {
				t.Errorf("%d attempts, want %d", got, tt.dials)
			}
		})
	}
}

// TestWrongURLHint: a cachet.url without /api/v1 reaches the status page,
// which answers HTML (404 or 200); the error must say what cachet.url must
// be. A 404 for one unknown component and a proxy's 5xx page must not.
func TestWrongURLHint(t *testing.T) {
	const hint = "(cachet.url must be the API base, e.g. https://status.example.org/api/v1)"
	const page = "<!DOCTYPE html>\n<html><head><title>Status</title></head><body><h1>Page not found</h1></body></html>\n"
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		switch r.URL.Path {
		case "/ping", "/components/1":
			w.WriteHeader(http.StatusNotFound)
		case "/html/ping":
		case "/down/ping":
			w.WriteHeader(http.StatusBadGateway)
		}
		_, _ = fmt.Fprint(w, page)
	}))
	defer site.Close()
	fake := newFake(t, 1)
	ping := func(c *cachet.Client) error { return c.Ping(context.Background()) }
	put := func(id int) func(c *cachet.Client) error {
		return func(c *cachet.Client) error {
			_, err := c.SetStatus(context.Background(), id, status.MajorOutage, true)
			return err
		}
	}
	tests := []struct {
		name, base string
		call       func(*cachet.Client) error
		want       string // "" = no hint
	}{
		{"HTML 404 at /ping", site.URL, ping,
			"cachet: GET /ping: 404 Not Found: response is not JSON (text/html): <!DOCTYPE html> <html><head><title>Status</title></head><body><h1>Page not found</h1></body></html> " + hint},
		{"HTML 200 at /ping", site.URL + "/html", ping, "cachet: GET /ping: decoding response (text/html): invalid character '<' looking for beginning of value " + hint},
		{"HTML 404 on a write", site.URL, put(1), "cachet: PUT /components/1: 404 Not Found: response is not JSON (text/html): <!DOCTYPE html>"},
		{"Cachet's JSON 404 for a route", fake.URL() + "/v2", ping,
			"cachet: GET /ping: 404 Not Found: The requested resource could not be found but may be available again in the future. " + hint},
		{"unknown component", fake.URL(), put(99), ""},
		{"proxy 502 page", site.URL + "/down", ping, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newClient(t, tt.base, func(o *cachet.Options) { o.Retries, o.API = 0, cachet.APIv2 }) // auto: TestWrongURLHintAuto
			err := tt.call(c)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want == "" {
				if strings.Contains(err.Error(), "cachet.url") {
					t.Errorf("err = %v\nwant no cachet.url hint", err)
				}
				return
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasSuffix(err.Error(), hint) {
				t.Errorf("err = %v\nwant %s ... %s", err, tt.want, hint)
			}
		})
	}
}

// TestRetryPolicy: a write that may have reached Cachet is not sent twice.
// A POST (incident, update, point) is retried only when it surely did not
// arrive (the connection was refused) or Cachet refused it (429); a 5xx,
// a dropped connection or a timeout may come after Cachet stored it. A
// component PUT is idempotent: retried on those, and on 2.x after a 400
// once, which 2.x answers to any database error.
func TestRetryPolicy(t *testing.T) {
	ctx := context.Background()
	newIncident := func(c *cachet.Client) error {
		_, err := c.CreateIncident(ctx, cachet.NewIncident{Name: "n", Message: "m", Status: 1})
		return err
	}
	addPoint := func(c *cachet.Client) error {
		_, err := c.AddMetricPoint(ctx, 1, 5, time.Time{})
		return err
	}
	setStatus := func(c *cachet.Client) error {
		_, err := c.SetStatus(ctx, 1, status.MajorOutage, true)
		return err
	}
	for _, tt := range []struct {
		name     string
		mode     cachettest.Mode
		fault    cachettest.Fault
		n        int
		call     func(*cachet.Client) error
		attempts int
		ok       bool
	}{
		{"incident stored then 500", cachettest.Cachet24, cachettest.FaultStored500, 1, newIncident, 1, false},
		{"incident 500", cachettest.Cachet3, cachettest.Fault500, 1, newIncident, 1, false},
		{"incident 502 from a proxy", cachettest.Cachet24, cachettest.Fault502HTML, 1, newIncident, 1, false},
		{"incident connection dropped", cachettest.Cachet24, cachettest.FaultClose, 1, newIncident, 1, false},
		{"incident 429", cachettest.Cachet3, cachettest.Fault429, 1, newIncident, 2, true},
		{"point stored then 500", cachettest.Cachet24, cachettest.FaultStored500, 1, addPoint, 1, false},
		{"component 500", cachettest.Cachet24, cachettest.Fault500, 1, setStatus, 2, true},
		{"component dropped", cachettest.Cachet3, cachettest.FaultClose, 1, setStatus, 2, true},
		{"component database error 2.4", cachettest.Cachet24, cachettest.FaultDatabase, 1, setStatus, 2, true},
		{"component database error 2.3, once only", cachettest.Cachet23, cachettest.FaultDatabase, 2, setStatus, 2, false},
		{"component database error 3.x (500)", cachettest.Cachet3, cachettest.FaultDatabase, 2, setStatus, 3, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeMode(t, tt.mode, 1)
			srv.AddMetric(cachettest.Metric{ID: 1, Name: "m"})
			c, _ := newClient(t, srv.URL(), nil)
			if _, err := c.API(ctx); err != nil {
				t.Fatal(err)
			}
			srv.Reset()
			srv.FailNext(tt.fault, tt.n, true)
			err := tt.call(c)
			if (err == nil) != tt.ok || len(srv.Writes()) != tt.attempts {
				t.Errorf("err %v, %d attempts; want ok %v, %d attempts", err, len(srv.Writes()), tt.ok, tt.attempts)
			}
		})
	}
}

// TestRetryRefusedPost: a POST whose connection was refused never reached
// Cachet and is retried.
func TestRetryRefusedPost(t *testing.T) {
	srv := newFake(t, 1)
	var dials atomic.Int32
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.HTTPClient = hc })
	if _, err := c.CreateIncident(context.Background(), cachet.NewIncident{Name: "n", Message: "m", Status: 1}); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Incidents()); n != 1 || dials.Load() != 2 {
		t.Errorf("%d incidents after %d dials, want 1 after 2", n, dials.Load())
	}
}
