package cachettest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func newServer3(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := NewV3(token, opts...)
	t.Cleanup(s.Close)
	s.Add(Component{ID: 1, Name: "one", Status: 1, Enabled: true, GroupID: 2})
	s.Add(Component{ID: 2, Name: "two", Status: 4, Enabled: false})
	s.Add(Component{ID: 3, Name: "three", Status: 6, Enabled: true})
	s.AddGroup(2, "Web")
	return s
}

// send makes one request to s at path (below the host); auth is the
// Authorization header's value, "" for none, or "X-Cachet-Token: ..." to
// send that header instead.
func send(t *testing.T, s *Server, method, path, auth, body string) response {
	t.Helper()
	h := http.Header{}
	if tok, ok := strings.CutPrefix(auth, "X-Cachet-Token: "); ok {
		h.Set("X-Cachet-Token", tok)
	} else if auth != "" {
		h.Set("Authorization", auth)
	}
	return sendH(t, s, method, path, h, body)
}

// sendH makes one request with the headers h.
func sendH(t *testing.T, s *Server, method, path string, h http.Header, body string) response {
	t.Helper()
	root := strings.TrimSuffix(s.URL(), s.APIPath())
	req, err := http.NewRequest(method, root+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

const bearer = "Bearer " + token

func TestRoutes3(t *testing.T) {
	const api = "application/vnd.api+json"
	tests := []struct {
		name         string
		method, path string
		auth, body   string
		abilities    []string // nil: every ability
		wantCode     int
		wantBody     []string
		wantHeader   map[string]string
	}{
		{name: "ping", method: "GET", path: "/api/ping", wantCode: 200, wantBody: []string{`{"data":"Pong!"}`}},
		{name: "version", method: "GET", path: "/api/version", wantCode: 200, wantBody: []string{`{"data":{"version":"3.x-dev"}}`}},
		{name: "status", method: "GET", path: "/api/status", wantCode: 200, wantBody: []string{`"status":"operational"`}},
		{name: "the 2.x path is not there", method: "GET", path: "/api/v1/ping", wantCode: 404, wantBody: []string{`{"message":"The route api/v1/ping could not be found."}`}},
		{name: "component resource", method: "GET", path: "/api/components/1", wantCode: 200, wantHeader: map[string]string{"Content-Type": api},
			wantBody: []string{`"id":"1"`, `"type":"components"`, `"status":{"human":"Operational","value":1}`, `"latest_status":{"human":"Operational","value":1}`, `"enabled":true`, `"created":{"human":`}},
		{name: "under maintenance", method: "GET", path: "/api/components/3", wantCode: 200, wantBody: []string{`"status":{"human":"Under maintenance","value":6}`}},
		{name: "guest cannot see disabled", method: "GET", path: "/api/components/2", wantCode: 404, wantBody: []string{`No query results for model [Cachet\\Models\\Component] 2`}},
		{name: "bearer sees disabled", method: "GET", path: "/api/components/2", auth: bearer, wantCode: 200},
		{name: "PATCH", method: "PATCH", path: "/api/components/1", auth: bearer, body: `{"status":2}`, wantCode: 200, wantBody: []string{`"status":{"human":"Performance issues","value":2}`}},
		{name: "PUT", method: "PUT", path: "/api/components/1", auth: bearer, body: `{"status":"3","enabled":false}`, wantCode: 200, wantBody: []string{`"value":3`, `"enabled":false`}},
		{name: "status 5 and 6 are valid", method: "PATCH", path: "/api/components/1", auth: bearer, body: `{"status":6}`, wantCode: 200, wantBody: []string{`"value":6`}},
		{name: "no token", method: "PATCH", path: "/api/components/1", body: `{"status":2}`, wantCode: 401, wantBody: []string{`{"message":"Unauthenticated."}`}},
		{name: "X-Cachet-Token is not a token here", method: "PATCH", path: "/api/components/1", auth: "X-Cachet-Token: " + token, body: `{"status":2}`, wantCode: 401},
		{name: "bad token", method: "PATCH", path: "/api/components/1", auth: "Bearer nope", body: `{"status":2}`, wantCode: 401},
		{name: "auth before binding", method: "PATCH", path: "/api/components/99", body: `{"status":2}`, wantCode: 401},
		{name: "unknown id", method: "PATCH", path: "/api/components/99", auth: bearer, body: `{"status":2}`, wantCode: 404},
		{name: "status 0 is invalid", method: "PATCH", path: "/api/components/1", auth: bearer, body: `{"status":0}`, wantCode: 422,
			wantBody: []string{`{"errors":{"status":["The selected status is invalid."]},"message":"The selected status is invalid."}`}},
		{name: "status 7 is invalid", method: "PUT", path: "/api/components/1", auth: bearer, body: `{"status":7}`, wantCode: 422},
		{name: "two errors", method: "PUT", path: "/api/components/1", auth: bearer, body: `{"status":"foo","enabled":"yes"}`, wantCode: 422,
			wantBody: []string{`"message":"The selected status is invalid. (and 1 more error)"`, `"enabled":["The enabled field must be true or false."]`}},
		{name: "validation before the ability", method: "PUT", path: "/api/components/1", auth: bearer, body: `{"status":9}`, abilities: []string{"incidents.manage"}, wantCode: 422},
		{name: "token without components.manage", method: "PATCH", path: "/api/components/1", auth: bearer, body: `{"status":2}`, abilities: []string{"incidents.manage"}, wantCode: 403,
			wantBody: []string{`{"message":"Invalid ability provided."}`}},
		{name: "delete needs components.delete", method: "DELETE", path: "/api/components/1", auth: bearer, abilities: []string{"components.manage"}, wantCode: 403},
		{name: "delete", method: "DELETE", path: "/api/components/1", auth: bearer, wantCode: 204},
		{name: "POST on ping is 405", method: "POST", path: "/api/ping", wantCode: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"},
			wantBody: []string{`"message":"The POST method is not supported for route api/ping. Supported methods: GET, HEAD."`}},
		{name: "no 406", method: "GET", path: "/api/ping", wantCode: 200},
		{name: "groups", method: "GET", path: "/api/component-groups", wantCode: 200, wantBody: []string{`"type":"componentGroups"`, `"name":"Web"`}},
		{name: "2.x groups path is an unknown component", method: "GET", path: "/api/components/groups", wantCode: 404},
		{name: "subscribers need a token", method: "GET", path: "/api/subscribers", wantCode: 401},
		{name: "subscribers need subscribers.manage", method: "GET", path: "/api/subscribers", auth: bearer, abilities: []string{"components.manage"}, wantCode: 403},
		{name: "subscribers", method: "GET", path: "/api/subscribers?per_page=1", auth: bearer, wantCode: 200, wantBody: []string{`"data":[]`}},
		{name: "unknown filter is 400", method: "GET", path: "/api/components?filter[colour]=red", wantCode: 400,
			wantBody: []string{"Requested filter(s) `colour` are not allowed. Allowed filter(s) are `name, status, enabled, meta`."}},
		{name: "unknown include is 400", method: "GET", path: "/api/components?include=tags", wantCode: 400},
		{name: "create", method: "POST", path: "/api/components", auth: bearer, body: `{"name":"new"}`, wantCode: 201, wantBody: []string{`"name":"new"`, `"value":5`}},
		{name: "create needs a name", method: "POST", path: "/api/components", auth: bearer, body: `{}`, wantCode: 422, wantBody: []string{"The name field is required."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer3(t)
			if tt.abilities != nil {
				s.SetAbilities(tt.abilities...)
			}
			r := send(t, s, tt.method, tt.path, tt.auth, tt.body)
			if r.code != tt.wantCode {
				t.Errorf("code = %d, want %d; body %s", r.code, tt.wantCode, r.body)
			}
			for _, w := range tt.wantBody {
				if !strings.Contains(r.body, w) {
					t.Errorf("body %s\ndoes not contain %s", r.body, w)
				}
			}
			for k, v := range tt.wantHeader {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// doc3 is a JSON:API list as the tests read it.
type doc3 struct {
	Data []struct {
		ID            string                     `json:"id"`
		Type          string                     `json:"type"`
		Attributes    map[string]any             `json:"attributes"`
		Relationships map[string]json.RawMessage `json:"relationships"`
	} `json:"data"`
	Links    map[string]string `json:"links"`
	Meta     map[string]any    `json:"meta"`
	Included []map[string]any  `json:"included"`
}

func decode3(t *testing.T, r response) doc3 {
	t.Helper()
	var d doc3
	if r.code != 200 || json.Unmarshal([]byte(r.body), &d) != nil {
		t.Fatalf("code %d, body %s", r.code, r.body)
	}
	return d
}

func TestPagination3(t *testing.T) {
	s := NewV3(token)
	defer s.Close()
	for i := 1; i <= 45; i++ {
		s.Add(Component{ID: i, Name: "c" + strconv.Itoa(i), Status: 1, Enabled: i%3 != 0})
	}
	root := strings.TrimSuffix(s.URL(), "/api")
	tests := []struct {
		name, query, auth  string
		wantN              int
		wantFirst, wantPer int
		wantNext           string // "" = none
	}{
		{"default 15", "", "", 15, 1, 15, "/api/components?page=2"},
		{"enabled only by default, even with a token", "?per_page=100", bearer, 30, 1, 100, ""},
		{"disabled on request", "?per_page=100&filter[enabled]=0", bearer, 15, 3, 100, ""},
		{"guests never see disabled", "?per_page=100&filter[enabled]=0", "", 0, 0, 100, ""},
		{"clamped to 100", "?per_page=500", bearer, 30, 1, 100, ""},
		{"garbage is 1", "?per_page=abc", "", 1, 1, 1, "/api/components?page=2"},
		{"second page", "?per_page=20&page=2", "", 10, 31, 20, ""},
		{"next keeps only page", "?per_page=10&filter[status]=1", "", 10, 1, 10, "/api/components?page=2"},
		{"past the end", "?page=9", "", 0, 0, 15, ""},
		{"sorted by name, descending", "?sort=-name&per_page=1", "", 1, 8, 1, "/api/components?page=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decode3(t, send(t, s, "GET", "/api/components"+tt.query, tt.auth, ""))
			if len(d.Data) != tt.wantN {
				t.Fatalf("%d items, want %d", len(d.Data), tt.wantN)
			}
			if tt.wantN > 0 && d.Data[0].ID != strconv.Itoa(tt.wantFirst) {
				t.Errorf("first id %s, want %d", d.Data[0].ID, tt.wantFirst)
			}
			if d.Links["next"] != "" && !strings.HasPrefix(d.Links["next"], root) {
				t.Errorf("next %q is not absolute", d.Links["next"])
			}
			if got := strings.TrimPrefix(d.Links["next"], root); got != tt.wantNext {
				t.Errorf("links.next = %q, want %q", got, tt.wantNext)
			}
			if _, has := d.Meta["total"]; has {
				t.Errorf("meta has a total: %v", d.Meta)
			}
			if d.Meta["per_page"] != float64(tt.wantPer) {
				t.Errorf("meta.per_page = %v, want %d", d.Meta["per_page"], tt.wantPer)
			}
		})
	}
}

func TestIncludeGroupAndLatestStatus3(t *testing.T) {
	s := newServer3(t)
	s.StartMaintenance("db", 1)
	d := decode3(t, send(t, s, "GET", "/api/components?include=group", "", ""))
	if len(d.Data) != 2 || string(d.Data[0].Relationships["group"]) != `{"data":{"id":"2","type":"componentGroups"}}` ||
		string(d.Data[1].Relationships["group"]) != `{"data":null}` || len(d.Included) != 1 {
		t.Fatalf("doc = %+v", d)
	}
	if latest := d.Data[0].Attributes["latest_status"].(map[string]any); latest["value"] != float64(6) {
		t.Errorf("component 1 in a window: latest_status = %v, want 6", latest)
	}
	if st := d.Data[0].Attributes["status"].(map[string]any); st["value"] != float64(1) {
		t.Errorf("component 1: status = %v, want 1 (the baseline)", st)
	}
}

func TestRateLimit3(t *testing.T) {
	s := newServer3(t)
	s.SetRateLimit(2)
	for i, want := range []int{200, 200, 429} {
		r := send(t, s, "GET", "/api/ping", "", "")
		if r.code != want {
			t.Fatalf("request %d: %d, want %d", i+1, r.code, want)
		}
		if r.header.Get("X-RateLimit-Limit") != "2" {
			t.Errorf("request %d: X-RateLimit-Limit %q", i+1, r.header.Get("X-RateLimit-Limit"))
		}
		if want == 429 {
			ra, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || ra < 1 || ra > 60 || r.body != `{"message":"Too Many Attempts."}` {
				t.Errorf("429: Retry-After %q, body %s", r.header.Get("Retry-After"), r.body)
			}
		}
	}
	if r := send(t, s, "PATCH", "/api/components/1", "", `{"status":2}`); r.code != 401 {
		t.Errorf("a write without a token over the limit: %d, want 401 (auth runs first)", r.code)
	}
}

func TestFaults3(t *testing.T) {
	s := newServer3(t)
	s.FailNext(Fault500, 1, false)
	if r := send(t, s, "GET", "/api/ping", "", ""); r.code != 500 || r.body != `{"message":"Server Error"}` {
		t.Errorf("500: %d %s", r.code, r.body)
	}
	s.FailNext(Fault429, 1, false)
	if r := send(t, s, "GET", "/api/ping", "", ""); r.code != 429 || r.header.Get("Retry-After") != "1" || r.body != `{"message":"Too Many Attempts."}` {
		t.Errorf("429: %d %v %s", r.code, r.header, r.body)
	}
}

func TestLogRedactsAndAPIPath(t *testing.T) {
	s := newServer3(t, WithAPIPath("/status/api"))
	if s.APIPath() != "/status/api" || !strings.HasSuffix(s.URL(), "/status/api") || s.Mode() != Cachet3 {
		t.Fatalf("APIPath %q, URL %q, mode %v", s.APIPath(), s.URL(), s.Mode())
	}
	if r := send(t, s, "GET", "/status/api/ping", bearer, ""); r.code != 200 {
		t.Fatalf("ping under /status/api: %d", r.code)
	}
	if r := send(t, s, "GET", "/api/ping", "", ""); r.code != 404 {
		t.Errorf("ping under /api: %d, want 404", r.code)
	}
	reqs := s.Requests()
	if !reqs[0].Authorized || reqs[0].Header.Get("Authorization") != "[redacted]" || strings.Contains(strings.Join(reqs[0].Header.Values("Authorization"), ""), token) {
		t.Errorf("logged %+v", reqs[0])
	}
	h := NewHandlerV3(token)
	if h.URL() != "" || h.APIPath() != "/api" || h.Mode() != Cachet3 {
		t.Errorf("NewHandlerV3: URL %q, APIPath %q", h.URL(), h.APIPath())
	}
}
