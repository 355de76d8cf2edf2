package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/status"
)

// mode is one Cachet the shared tests run against.
type mode struct {
	name string
	m    cachettest.Mode
	api  string // what Client.API reports
}

var modes = []mode{
	{"2.4", cachettest.Cachet24, cachet.APIv2},
	{"2.3", cachettest.Cachet23, cachet.APIv2},
	{"3.x", cachettest.Cachet3, cachet.APIv3},
}

// newFakeMode is newFake in mode m.
func newFakeMode(t *testing.T, m cachettest.Mode, n int) *cachettest.Server {
	t.Helper()
	srv := cachettest.New(token, cachettest.WithMode(m))
	t.Cleanup(srv.Close)
	for i := 1; i <= n; i++ {
		srv.Add(cachettest.Component{ID: i, Name: fmt.Sprintf("server-%02d", i), Status: 1, Enabled: true, GroupID: i % 3})
	}
	return srv
}

// probes is how many requests the client spends finding out the API: a
// base URL ending in /api/v1 is 2.x, any other is asked GET /version.
func (m mode) probes() int64 {
	if m.api == cachet.APIv3 {
		return 1
	}
	return 0
}

// checkTokenHeaders asserts that every request carried the token in the
// API's own header and never in the other one.
func checkTokenHeaders(t *testing.T, srv *cachettest.Server, api string) {
	t.Helper()
	for _, r := range srv.Requests() {
		_, xct := r.Header["X-Cachet-Token"]
		_, bearer := r.Header["Authorization"]
		switch {
		case r.Path == srv.APIPath()+"/version" && (xct || bearer):
			t.Errorf("%s %s: the version probe carried a token", r.Method, r.Path)
		case r.Path == srv.APIPath()+"/version":
		case api == cachet.APIv3 && (xct || !bearer || !r.Authorized):
			t.Errorf("%s %s reached Cachet 3.x with X-Cachet-Token %v, Authorization %v, authorized %v", r.Method, r.Path, xct, bearer, r.Authorized)
		case api == cachet.APIv2 && (bearer || !xct || !r.Authorized || r.Header.Get("Time-Zone") != "UTC"):
			t.Errorf("%s %s reached Cachet 2.x with Authorization %v, X-Cachet-Token %v, authorized %v, Time-Zone %q", r.Method, r.Path, bearer, xct, r.Authorized, r.Header.Get("Time-Zone"))
		}
	}
}

func TestModesComponents(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := newFakeMode(t, m.m, 45)
			srv.Add(cachettest.Component{ID: 7, Name: "off", Status: 4, Enabled: false, GroupID: 1})
			srv.AddGroup(1, "one")
			srv.AddGroup(2, "two")
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.PerPage = 20 })
			got, err := c.Components(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 45 {
				t.Fatalf("got %d components, want 45", len(got))
			}
			for i, comp := range got {
				want := cachet.Component{ID: i + 1, Name: fmt.Sprintf("server-%02d", i+1), Status: status.Operational, Shown: status.Operational, Enabled: true, GroupID: (i + 1) % 3}
				if i+1 == 7 {
					want = cachet.Component{ID: 7, Name: "off", Status: status.MajorOutage, Shown: status.MajorOutage, Enabled: false, GroupID: 1}
				}
				if comp != want {
					t.Errorf("component %d = %+v, want %+v", i, comp, want)
				}
			}
			if api, err := c.API(context.Background()); api != m.api || err != nil {
				t.Errorf("API() = %q, %v; want %q", api, err, m.api)
			}
			// 2.x: 3 pages; 3.x: the version probe, 3 pages of enabled
			// components and 1 of disabled ones.
			wantReads := map[string]int64{cachet.APIv2: 3, cachet.APIv3: 5}[m.api]
			if reads, writes := c.Requests(); reads != wantReads || writes != 0 {
				t.Errorf("Requests() = %d, %d; want %d, 0", reads, writes, wantReads)
			}
			checkTokenHeaders(t, srv, m.api)
		})
	}
}

func TestModesComponentsWithoutToken(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := newFakeMode(t, m.m, 3)
			srv.Add(cachettest.Component{ID: 2, Name: "off", Status: 4, Enabled: false})
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.Token = "" })
			got, err := c.Components(context.Background())
			if err != nil || len(got) != 2 || got[0].ID != 1 || got[1].ID != 3 {
				t.Errorf("Components = %+v, %v; want 1 and 3 (guests see enabled only)", got, err)
			}
			for _, r := range srv.Requests() {
				if len(r.Header["X-Cachet-Token"])+len(r.Header["Authorization"]) > 0 {
					t.Errorf("%s %s carried a token header", r.Method, r.RawQuery)
				}
			}
		})
	}
}

func TestModesSetStatus(t *testing.T) {
	for _, m := range modes {
		for _, s := range []status.Status{status.Unknown, status.Operational, status.PerformanceIssues, status.PartialOutage, status.MajorOutage} {
			t.Run(fmt.Sprintf("%s/%s", m.name, s), func(t *testing.T) {
				srv := newFakeMode(t, m.m, 0)
				srv.Add(cachettest.Component{ID: 7, Name: "a", Status: 2, Enabled: false, GroupID: 5})
				c, _ := newClient(t, srv.URL(), nil)
				got, err := c.SetStatus(context.Background(), 7, s, false)
				if err != nil {
					t.Fatal(err)
				}
				want := cachet.Component{ID: 7, Name: "a", Status: s, Shown: s, Enabled: false, GroupID: 5}
				if m.api == cachet.APIv3 {
					want.GroupID = 0 // a 3.x update answers without the group
				}
				if got != want {
					t.Errorf("returned %+v, want %+v", got, want)
				}
				sent, method := int(s), http.MethodPut
				if m.api == cachet.APIv3 {
					method = http.MethodPatch
					if s == status.Unknown {
						sent = 5
					}
				}
				if stored, _ := srv.Component(7); stored.Status != sent || stored.Enabled {
					t.Errorf("stored %+v, want status %d, still disabled", stored, sent)
				}
				w := srv.Writes()
				wantBody := fmt.Sprintf(`{"status":%d,"enabled":false}`, sent)
				if len(w) != 1 || w[0].Method != method || w[0].Path != srv.APIPath()+"/components/7" || w[0].Body != wantBody {
					t.Errorf("writes = %+v, want %s %s/components/7 %s", w, method, srv.APIPath(), wantBody)
				}
				if reads, writes := c.Requests(); reads != m.probes() || writes != 1 {
					t.Errorf("Requests() = %d, %d; want %d, 1", reads, writes, m.probes())
				}
				checkTokenHeaders(t, srv, m.api)
			})
		}
	}
}

func TestModesGroupsPingVerify(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := newFakeMode(t, m.m, 0)
			for i := 1; i <= 5; i++ {
				srv.AddGroup(i, fmt.Sprintf("group %d", i))
			}
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.PerPage = 2 })
			ctx := context.Background()
			got, err := c.Groups(ctx)
			if err != nil || len(got) != 5 || got[4] != (cachet.Group{ID: 5, Name: "group 5"}) {
				t.Errorf("Groups = %+v, %v", got, err)
			}
			if err := c.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
			if err := c.VerifyToken(ctx); err != nil {
				t.Errorf("VerifyToken: %v", err)
			}
			checkTokenHeaders(t, srv, m.api)
			bad, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.Token = "bad-token" })
			err = bad.VerifyToken(ctx)
			if err == nil || !strings.Contains(err.Error(), "cachet API token rejected") || !strings.Contains(err.Error(), "401 Unauthorized") || strings.Contains(err.Error(), "bad-token") {
				t.Errorf("bad token: %v", err)
			}
		})
	}
}

// TestVerifyTokenWithoutSubscribers3: Cachet 3.x checks the ability after
// the token, so a 403 for subscribers proves the token.
func TestVerifyTokenWithoutSubscribers3(t *testing.T) {
	srv := newFakeMode(t, cachettest.Cachet3, 1)
	srv.SetAbilities("components.manage")
	c, _ := newClient(t, srv.URL(), nil)
	if err := c.VerifyToken(context.Background()); err != nil {
		t.Errorf("VerifyToken = %v, want nil", err)
	}
}

func TestModesErrors(t *testing.T) {
	setStatus := func(id int, s status.Status) func(context.Context, *cachet.Client) error {
		return func(ctx context.Context, c *cachet.Client) error {
			_, err := c.SetStatus(ctx, id, s, true)
			return err
		}
	}
	tests := []struct {
		mode      cachettest.Mode
		name      string
		token     string
		abilities []string
		call      func(context.Context, *cachet.Client) error
		wantCode  int
		want      string
	}{
		{cachettest.Cachet24, "wrong token", "wrong-token", nil, setStatus(1, 2), 401,
			"cachet: PUT /components/1: 401 Unauthorized: Authentication is required and has failed or has not yet been provided."},
		{cachettest.Cachet3, "wrong token", "wrong-token", nil, setStatus(1, 2), 401,
			"cachet: PATCH /components/1: 401 Unauthorized: Unauthenticated. (Cachet did not accept the API token: Cachet 3.x takes an API token made in its dashboard, sent as Authorization: Bearer; check the configured token)"},
		{cachettest.Cachet3, "no components.manage", "", []string{"incidents.manage"}, setStatus(1, 2), 403,
			"cachet: PATCH /components/1: 403 Forbidden: Invalid ability provided. (the API token lacks the components.manage ability: give the token that ability in Cachet's dashboard, or make a token that has it)"},
		{cachettest.Cachet24, "status 7", "", nil, setStatus(1, 7), 400,
			"cachet: PUT /components/1: 400 Bad Request: The request cannot be fulfilled due to bad syntax. (The status may not be greater than 4.)"},
		{cachettest.Cachet3, "status 7", "", nil, setStatus(1, 7), 422,
			"cachet: PATCH /components/1: 422 Unprocessable Entity: The selected status is invalid."},
		{cachettest.Cachet3, "unknown component", "", nil, setStatus(99, 2), 404,
			`cachet: PATCH /components/99: 404 Not Found: No query results for model [Cachet\Models\Component] 99`},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String()+"/"+tt.name, func(t *testing.T) {
			srv := newFakeMode(t, tt.mode, 3)
			if tt.abilities != nil {
				srv.SetAbilities(tt.abilities...)
			}
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) {
				if tt.token != "" {
					o.Token = tt.token
				}
			})
			err := tt.call(context.Background(), c)
			var apiErr *cachet.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.wantCode {
				t.Fatalf("err = %v, want an APIError with %d", err, tt.wantCode)
			}
			if err.Error() != tt.want {
				t.Errorf("err = %q\nwant  %q", err, tt.want)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "wrong-token") {
				t.Errorf("the error shows the token: %v", err)
			}
			if _, w := c.Requests(); w != 1 {
				t.Errorf("%d writes, want 1 (no retry)", w)
			}
		})
	}
}

func TestModesRetryAfter(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := newFakeMode(t, m.m, 2)
			c, sl := newClient(t, srv.URL(), func(o *cachet.Options) { o.API = m.api })
			srv.FailNext(cachettest.Fault429, 2, false)
			got, err := c.SetStatus(context.Background(), 2, status.PartialOutage, true)
			if err != nil || got.Status != status.PartialOutage {
				t.Fatalf("SetStatus = %+v, %v", got, err)
			}
			if fmt.Sprint(sl.got()) != "[1s 1s]" {
				t.Errorf("sleeps = %v, want Retry-After's [1s 1s]", sl.got())
			}
			if _, w := c.Requests(); w != 3 {
				t.Errorf("%d writes, want 3", w)
			}
		})
	}
}

// TestStatus23Unvalidated: Cachet 2.3 stores a status outside 0..4; the
// client reports what it stored.
func TestStatus23Unvalidated(t *testing.T) {
	srv := newFakeMode(t, cachettest.Cachet23, 1)
	c, _ := newClient(t, srv.URL(), nil)
	got, err := c.SetStatus(context.Background(), 1, 7, true)
	if err != nil || got.Status != 7 {
		t.Errorf("SetStatus = %+v, %v", got, err)
	}
}

// TestQueryParameters: 2.x gets page and per_page only (it answers 500 to
// column filters mixed with page); 3.x gets per_page clamped to 100.
func TestQueryParameters(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := newFakeMode(t, m.m, 3)
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.PerPage = 500 })
			if _, err := c.Components(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, r := range srv.Requests() {
				if !strings.HasSuffix(r.Path, "/components") {
					continue
				}
				q, _ := url.ParseQuery(r.RawQuery)
				want := url.Values{"page": {"1"}, "per_page": {"500"}}
				if m.api == cachet.APIv3 {
					want = url.Values{"page": {"1"}, "per_page": {"100"}, "include": {"group"}}
					if q.Has("filter[enabled]") {
						want["filter[enabled]"] = []string{"0"}
					}
				}
				if q.Encode() != want.Encode() {
					t.Errorf("query %s, want %s", q.Encode(), want.Encode())
				}
			}
		})
	}
}

// TestVerifyToken403: a 403 proves a token only on 3.x, where Cachet
// checks abilities after accepting the token.
func TestVerifyToken403(t *testing.T) {
	for _, tt := range []struct {
		api, body string
		ok        bool
	}{
		{cachet.APIv2, `{"errors":[{"status":403,"title":"Forbidden","detail":"nope"}]}`, false},
		{cachet.APIv3, `{"message":"Invalid ability provided."}`, true},
	} {
		t.Run(tt.api, func(t *testing.T) {
			ts := newOrigin(t, "127.0.0.1", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, tt.body)
			}))
			c, _ := newClient(t, ts.URL, func(o *cachet.Options) { o.API = tt.api })
			err := c.VerifyToken(context.Background())
			if (err == nil) != tt.ok || (err != nil && !strings.HasPrefix(err.Error(), "cachet API token rejected")) {
				t.Errorf("VerifyToken = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// BenchmarkComponents10000 lists a 10,000-component fleet in pages of
// 100 from the emulator, in each API.
func BenchmarkComponents10000(b *testing.B) {
	for _, m := range []mode{modes[0], modes[2]} {
		b.Run(m.name, func(b *testing.B) {
			srv := cachettest.New(token, cachettest.WithMode(m.m))
			defer srv.Close()
			for i := 1; i <= 10000; i++ {
				srv.Add(cachettest.Component{ID: i, Name: fmt.Sprintf("server-%05d", i), Status: 1, Enabled: i%100 != 0})
			}
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c, err := cachet.New(cachet.Options{BaseURL: srv.URL(), Token: token, API: m.api, HTTPClient: &http.Client{Transport: tr}})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if got, err := c.Components(context.Background()); err != nil || len(got) != 10000 {
					b.Fatalf("%d components, %v", len(got), err)
				}
			}
		})
	}
}
