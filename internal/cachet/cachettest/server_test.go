package cachettest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

const token = "fake-token"

func newServer(t *testing.T) *Server {
	t.Helper()
	s := New(token)
	t.Cleanup(s.Close)
	s.Add(Component{ID: 1, Name: "one", Status: 1, Enabled: true, GroupID: 2})
	s.Add(Component{ID: 2, Name: "two", Status: 4, Enabled: false})
	s.Add(Component{ID: 3, Name: "three", Status: 2, Enabled: true})
	return s
}

type response struct {
	code   int
	header http.Header
	body   string
}

func do(t *testing.T, s *Server, method, path, tok, accept, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(s.URL(), "/api/v1")+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("X-Cachet-Token", tok)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
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

func TestRoutes(t *testing.T) {
	const jsonCT = "application/json"
	tests := []struct {
		name          string
		method, path  string
		token, accept string
		ct, body      string
		wantCode      int
		wantBody      []string
		wantHeader    map[string]string
	}{
		{name: "ping", method: "GET", path: "/ping", wantCode: 200, wantBody: []string{`{"data":"Pong!"}`}, wantHeader: map[string]string{"Content-Type": jsonCT}},
		{name: "version", method: "GET", path: "/version", wantCode: 200, wantBody: []string{`"data":"2.4.1"`, `"on_latest":true`}},
		{name: "PATCH is 405", method: "PATCH", path: "/components/1", token: token, ct: jsonCT, body: `{"status":2}`, wantCode: 405,
			wantBody: []string{`"title":"Method Not Allowed"`}, wantHeader: map[string]string{"Allow": "GET, HEAD, PUT, DELETE", "Content-Type": jsonCT}},
		{name: "PATCH unknown id is 405", method: "PATCH", path: "/components/99", wantCode: 405},
		{name: "POST list is 405", method: "POST", path: "/ping", wantCode: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "Accept text/html is 406", method: "GET", path: "/components", accept: "text/html", wantCode: 406, wantHeader: map[string]string{"Content-Type": "text/html; charset=UTF-8"}},
		{name: "Accept any passes", method: "GET", path: "/ping", accept: "text/html, */*;q=0.1", wantCode: 200},
		{name: "unknown id before token", method: "PUT", path: "/components/99", ct: jsonCT, body: `{"status":2}`, wantCode: 404,
			wantBody: []string{`"detail":"No query results for model [CachetHQ\\Cachet\\Models\\Component]."`}},
		{name: "non-numeric id", method: "GET", path: "/components/abc", wantCode: 404},
		{name: "no token on write", method: "PUT", path: "/components/1", ct: jsonCT, body: `{"status":2}`, wantCode: 401,
			wantBody: []string{`"status":401,"title":"Unauthorized","detail":"Authentication is required and has failed or has not yet been provided."`}},
		{name: "bad token on write", method: "PUT", path: "/components/1", token: "nope", ct: jsonCT, body: `{"status":2}`, wantCode: 401},
		{name: "status too high", method: "PUT", path: "/components/1", token: token, ct: jsonCT, body: `{"status":7}`, wantCode: 400,
			wantBody: []string{`"title":"Bad Request","detail":"The request cannot be fulfilled due to bad syntax.","meta":{"details":["The status may not be greater than 4."]}`}},
		{name: "status negative", method: "PUT", path: "/components/1", token: token, ct: jsonCT, body: `{"status":-1}`, wantCode: 400, wantBody: []string{"The status must be at least 0."}},
		{name: "status not int", method: "PUT", path: "/components/1", token: token, ct: jsonCT, body: `{"status":"foo"}`, wantCode: 400, wantBody: []string{"The status must be an integer."}},
		{name: "status fraction", method: "PUT", path: "/components/1", token: token, ct: jsonCT, body: `{"status":2.5}`, wantCode: 400, wantBody: []string{"The status must be an integer."}},
		{name: "enabled bad", method: "PUT", path: "/components/1", token: token, ct: jsonCT, body: `{"enabled":"yes"}`, wantCode: 400, wantBody: []string{"The enabled field must be true or false."}},
		{name: "bad JSON", method: "PUT", path: "/components/1", token: token, ct: jsonCT, body: `{"status":`, wantCode: 400},
		{name: "string status accepted", method: "PUT", path: "/components/1", token: token, ct: jsonCT, body: `{"status":"3"}`, wantCode: 200, wantBody: []string{`"status":3`, `"status_name":"Partial Outage"`}},
		{name: "form body", method: "PUT", path: "/components/1", token: token, ct: "application/x-www-form-urlencoded", body: "status=4&enabled=0", wantCode: 200,
			wantBody: []string{`"status":4`, `"enabled":false`}},
		{name: "guest cannot see disabled", method: "GET", path: "/components/2", wantCode: 404},
		{name: "token sees disabled", method: "GET", path: "/components/2", token: token, wantCode: 200, wantBody: []string{`"enabled":false`}},
		{name: "component JSON shape", method: "GET", path: "/components/1", wantCode: 200,
			wantBody: []string{`"id":1`, `"name":"one"`, `"description":""`, `"link":""`, `"group_id":2`, `"deleted_at":null`, `"meta":null`, `"tags":[]`, `"order":0`, `"created_at":"`}},
		{name: "unknown route", method: "GET", path: "/nope", wantCode: 404, wantHeader: map[string]string{"Content-Type": jsonCT}},
		{name: "subscribers need a token", method: "GET", path: "/subscribers", wantCode: 401},
		{name: "subscribers", method: "GET", path: "/subscribers?per_page=1", token: token, wantCode: 200, wantBody: []string{`"data":[]`, `"total_pages":1`}},
		{name: "filter mixed with page is 500", method: "GET", path: "/components?status=4&page=1", token: token, wantCode: 500,
			wantBody: []string{"An error has occurred and this resource cannot be displayed."}},
		{name: "filter alone", method: "GET", path: "/components?status=4", token: token, wantCode: 200, wantBody: []string{`"total":1`, `"name":"two"`}},
		{name: "delete", method: "DELETE", path: "/components/3", token: token, wantCode: 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			r := do(t, s, tt.method, "/api/v1"+tt.path, tt.token, tt.accept, tt.ct, tt.body)
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

type page struct {
	Meta struct {
		Pagination struct {
			Total, Count, PerPage, CurrentPage, TotalPages int
			Links                                          struct{ NextPage, PreviousPage *string }
		}
	}
	Data []map[string]any
}

// UnmarshalJSON maps Cachet's snake_case keys.
func (p *page) UnmarshalJSON(b []byte) error {
	var raw struct {
		Meta struct {
			Pagination struct {
				Total       int `json:"total"`
				Count       int `json:"count"`
				PerPage     int `json:"per_page"`
				CurrentPage int `json:"current_page"`
				TotalPages  int `json:"total_pages"`
				Links       struct {
					NextPage     *string `json:"next_page"`
					PreviousPage *string `json:"previous_page"`
				} `json:"links"`
			} `json:"pagination"`
		} `json:"meta"`
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	pg := raw.Meta.Pagination
	p.Meta.Pagination.Total, p.Meta.Pagination.Count, p.Meta.Pagination.PerPage = pg.Total, pg.Count, pg.PerPage
	p.Meta.Pagination.CurrentPage, p.Meta.Pagination.TotalPages = pg.CurrentPage, pg.TotalPages
	p.Meta.Pagination.Links.NextPage, p.Meta.Pagination.Links.PreviousPage = pg.Links.NextPage, pg.Links.PreviousPage
	p.Data = raw.Data
	return nil
}

func TestPagination(t *testing.T) {
	tests := []struct {
		name                              string
		components                        int
		serverPerPage                     int
		query                             string
		token                             string
		wantPerPage, wantCount, wantPages int
		wantTotal, wantCurrent            int
		wantNext                          string
	}{
		{"default 20", 45, 0, "", token, 20, 20, 3, 45, 1, "/api/v1/components?page=2"},
		{"server per page", 45, 10, "", token, 10, 10, 5, 45, 1, "/api/v1/components?page=2"},
		{"per_page 0 is 15", 45, 0, "?per_page=0", token, 15, 15, 3, 45, 1, "/api/v1/components?per_page=0&page=2"},
		{"no maximum", 45, 0, "?per_page=1000", token, 1000, 45, 1, 45, 1, ""},
		{"last page", 45, 0, "?per_page=20&page=3", token, 20, 5, 3, 45, 3, ""},
		{"past the end", 45, 0, "?per_page=20&page=9", token, 20, 0, 3, 45, 9, ""},
		{"bad page is 1", 45, 0, "?page=-4", token, 20, 20, 3, 45, 1, "/api/v1/components?page=2"},
		{"empty has one page", 0, 0, "", token, 20, 0, 1, 0, 1, ""},
		{"guests see enabled only", 45, 0, "?per_page=100", "", 100, 30, 1, 30, 1, ""},
		{"bad token is a guest", 45, 0, "?per_page=100", "wrong", 100, 30, 1, 30, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(token)
			defer s.Close()
			for i := 1; i <= tt.components; i++ {
				s.Add(Component{ID: i, Name: "c", Status: 1, Enabled: i%3 != 0})
			}
			if tt.serverPerPage > 0 {
				s.SetPerPage(tt.serverPerPage)
			}
			r := do(t, s, "GET", "/api/v1/components"+tt.query, tt.token, "application/json", "", "")
			var p page
			if err := json.Unmarshal([]byte(r.body), &p); err != nil {
				t.Fatalf("%v: %s", err, r.body)
			}
			pg := p.Meta.Pagination
			if pg.PerPage != tt.wantPerPage || pg.Count != tt.wantCount || len(p.Data) != tt.wantCount ||
				pg.TotalPages != tt.wantPages || pg.Total != tt.wantTotal || pg.CurrentPage != tt.wantCurrent {
				t.Errorf("pagination = %+v with %d items", pg, len(p.Data))
			}
			next := ""
			if pg.Links.NextPage != nil {
				next = strings.TrimPrefix(*pg.Links.NextPage, strings.TrimSuffix(s.URL(), "/api/v1"))
			}
			if next != tt.wantNext {
				t.Errorf("next_page = %q, want %q", next, tt.wantNext)
			}
			if p.Data == nil {
				t.Errorf("data is null, want []")
			}
		})
	}
}

func TestUpdateKeepsEnabled(t *testing.T) {
	s := newServer(t)
	r := do(t, s, "PUT", "/api/v1/components/2", token, "application/json", "application/json", `{"status":1}`)
	if r.code != 200 {
		t.Fatalf("code %d: %s", r.code, r.body)
	}
	if c, _ := s.Component(2); c.Enabled || c.Status != 1 {
		t.Errorf("component = %+v, want status 1 and still disabled", c)
	}
	do(t, s, "PUT", "/api/v1/components/2", token, "", "application/json", `{"enabled":true,"status":null}`)
	if c, _ := s.Component(2); !c.Enabled || c.Status != 1 {
		t.Errorf("component = %+v, want enabled with status 1", c)
	}
}

func TestStatusAsString(t *testing.T) {
	s := newServer(t)
	s.SetStatusAsString(true)
	r := do(t, s, "GET", "/api/v1/components/3", "", "", "", "")
	if !strings.Contains(r.body, `"status":"2"`) {
		t.Errorf("body = %s", r.body)
	}
}

func TestFaultsAndLog(t *testing.T) {
	s := newServer(t)
	s.FailNext(Fault500, 2, true)
	get := func() int { return do(t, s, "GET", "/api/v1/components/1", token, "", "", "").code }
	put := func() int {
		return do(t, s, "PUT", "/api/v1/components/1", token, "", "application/json", `{"status":3}`).code
	}
	got := []int{get(), put(), get(), put(), put()}
	want := []int{200, 500, 200, 500, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("codes = %v, want %v", got, want)
		}
	}
	if n := len(s.Requests()); n != 5 {
		t.Errorf("logged %d requests, want 5 (faults are logged too)", n)
	}
	w := s.Writes()
	if len(w) != 3 || w[0].Method != "PUT" || w[0].Path != "/api/v1/components/1" || w[0].Body != `{"status":3}` || !w[0].Authorized {
		t.Errorf("writes = %+v", w)
	}
	s.Reset()
	if len(s.Requests()) != 0 {
		t.Error("Reset kept the log")
	}

	s.FailNext(Fault429, -1, false)
	for range 3 {
		r := do(t, s, "GET", "/api/v1/ping", "", "", "", "")
		if r.code != 429 || r.header.Get("Retry-After") != "1" {
			t.Fatalf("got %d %v", r.code, r.header)
		}
	}
	s.FailNext(FaultNone, 0, false)
	if c := get(); c != 200 {
		t.Errorf("after clearing: %d", c)
	}

	s.FailNext(Fault502HTML, 1, false)
	if r := do(t, s, "GET", "/api/v1/ping", "", "", "", ""); r.code != 502 || !strings.HasPrefix(r.body, "<html>") {
		t.Errorf("502: %d %s", r.code, r.body)
	}
	s.FailNext(FaultHTML200, 1, false)
	if r := do(t, s, "GET", "/api/v1/ping", "", "", "", ""); r.code != 200 || !strings.Contains(r.body, "<!DOCTYPE html>") {
		t.Errorf("HTML 200: %d %s", r.code, r.body)
	}
	s.FailNext(FaultTruncated, 1, false)
	if r := do(t, s, "GET", "/api/v1/ping", "", "", "", ""); json.Valid([]byte(r.body)) {
		t.Errorf("truncated body is valid JSON: %s", r.body)
	}
}

func TestFaultClose(t *testing.T) {
	s := newServer(t)
	s.FailNext(FaultClose, 1, false)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("PUT", s.URL()+"/components/1", strings.NewReader(`{"status":2}`))
	if _, err := (&http.Client{Transport: tr}).Do(req); err == nil {
		t.Fatal("no error from a closed connection")
	}
}

func TestNewHandler(t *testing.T) {
	s := NewHandler(token)
	defer s.Close()
	if s.URL() != "" {
		t.Errorf("URL() = %q", s.URL())
	}
	s.Add(Component{Name: "auto"})
	s.Add(Component{Name: "auto2"})
	s.AddGroup(1, "g")
	cs := s.Components()
	if len(cs) != 2 || cs[0].ID != 1 || cs[1].ID != 2 {
		t.Errorf("components = %+v", cs)
	}
	if _, ok := s.Component(3); ok {
		t.Error("component 3 exists")
	}
}

func TestPaginationQuirks(t *testing.T) {
	s := New(token)
	defer s.Close()
	for i := 1; i <= 45; i++ {
		s.Add(Component{ID: i, Name: "c", Status: 1, Enabled: true})
	}
	s.SetPaginationQuirks(PaginationQuirks{TotalPagesShort: 1, TotalExtra: 2})
	tests := []struct {
		page                      string
		wantCount, wantCurrent    int
		wantNext                  bool
		wantTotal, wantTotalPages int
	}{
		{"1", 20, 1, true, 47, 2},
		{"2", 20, 2, false, 47, 2},
		{"3", 5, 3, false, 47, 2},
		{"4", 0, 4, false, 47, 2},
	}
	for _, tt := range tests {
		r := do(t, s, "GET", "/api/v1/components?per_page=20&page="+tt.page, token, "", "", "")
		var p page
		if err := json.Unmarshal([]byte(r.body), &p); err != nil {
			t.Fatalf("%v: %s", err, r.body)
		}
		pg := p.Meta.Pagination
		if pg.Count != tt.wantCount || len(p.Data) != tt.wantCount || pg.CurrentPage != tt.wantCurrent ||
			pg.Total != tt.wantTotal || pg.TotalPages != tt.wantTotalPages || (pg.Links.NextPage != nil) != tt.wantNext {
			t.Errorf("page %s: pagination = %+v with %d items", tt.page, pg, len(p.Data))
		}
	}
	s.SetPaginationQuirks(PaginationQuirks{})
	r := do(t, s, "GET", "/api/v1/components?per_page=20", token, "", "", "")
	if !strings.Contains(r.body, `"total":45`) || !strings.Contains(r.body, `"total_pages":3`) {
		t.Errorf("zero quirks: %s", r.body)
	}
}
