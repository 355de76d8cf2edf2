// Package cachettest is an in-memory fake of the Cachet 2.x API (under
// /api/v1) served over real HTTP. It behaves like Cachet 2.4 where the
// updater cares: pagination, token rules, route-model binding before auth,
// 400 validation errors, 405 on PATCH, 406 on a non-JSON Accept header. It
// can also inject faults (5xx, HTML pages, truncated JSON, hangs, dropped
// connections, 429) and make the listing's pagination meta lie.
//
// It is a normal package because the demo command serves it too.
package cachettest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"time"
)

const (
	apiPrefix      = "/api/v1"
	timeLayout     = "2006-01-02 15:04:05"
	maxRequestBody = 1 << 20
)

// Component is a component as the fake stores it.
type Component struct {
	ID      int
	Name    string
	Status  int
	Enabled bool
	GroupID int
}

// Request is one request the fake received.
type Request struct {
	Method     string
	Path       string // as received, e.g. /api/v1/components/3
	RawQuery   string
	Body       string
	Authorized bool // the X-Cachet-Token header matched the server's token
}

type entry struct {
	c                Component
	created, updated time.Time
}

// Server is the fake. It is safe for concurrent use.
type Server struct {
	token string
	ts    *httptest.Server
	done  chan struct{}
	once  sync.Once

	mu             sync.Mutex
	comps          map[int]*entry
	sorted         []*entry // comps by id; nil when stale
	groups         map[int]string
	log            []Request
	perPage        int
	statusAsString bool
	quirks         PaginationQuirks
	fault          Fault
	faultLeft      int // < 0: until cleared
	faultWrites    bool
}

// New starts a fake on 127.0.0.1 that accepts token for writes. URL()
// returns its API base (ending in /api/v1).
func New(token string) *Server {
	s := NewHandler(token)
	s.ts = httptest.NewServer(s.Handler())
	return s
}

// NewHandler returns a fake that is not listening; serve Handler() yourself.
func NewHandler(token string) *Server {
	return &Server{
		token:   token,
		done:    make(chan struct{}),
		comps:   map[int]*entry{},
		groups:  map[int]string{},
		perPage: 20,
	}
}

// Handler serves the API under /api/v1.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// URL is the API base URL, or "" when the fake was made by NewHandler.
func (s *Server) URL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL + apiPrefix
}

// Close releases hanging requests and stops the server if New started it.
func (s *Server) Close() {
	s.once.Do(func() { close(s.done) })
	if s.ts != nil {
		s.ts.Close()
	}
}

// Add adds or replaces a component. An ID <= 0 gets the next free id.
func (s *Server) Add(c Component) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ID <= 0 {
		for id := range s.comps {
			c.ID = max(c.ID, id)
		}
		c.ID++
	}
	now := time.Now().UTC()
	s.comps[c.ID] = &entry{c: c, created: now, updated: now}
	s.sorted = nil
}

// AddGroup adds or replaces a component group.
func (s *Server) AddGroup(id int, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = name
}

// Component returns the stored component with id.
func (s *Server) Component(id int) (Component, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.comps[id]
	if !ok {
		return Component{}, false
	}
	return e.c, true
}

// Components returns every stored component, sorted by id.
func (s *Server) Components() []Component {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Component, 0, len(s.comps))
	for _, e := range s.sortedLocked() {
		out = append(out, e.c)
	}
	return out
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Writes returns the logged PUT, POST, PATCH and DELETE requests.
func (s *Server) Writes() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.log {
		if isWrite(r.Method) {
			out = append(out, r)
		}
	}
	return out
}

// Reset clears the request log.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// SetStatusAsString makes the fake send "status":"2" like Cachet 2.3 on
// older PHP.
func (s *Server) SetStatusAsString(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statusAsString = on
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// sortedLocked returns the components by id. The order is cached: a large
// fleet lists many pages, and sorting for each made the fake the slowest
// part of a benchmark.
func (s *Server) sortedLocked() []*entry {
	if s.sorted != nil {
		return s.sorted
	}
	out := make([]*entry, 0, len(s.comps))
	for _, e := range s.comps {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].c.ID < out[j].c.ID })
	s.sorted = out
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	authorized := s.token != "" && r.Header.Get("X-Cachet-Token") == s.token
	s.mu.Lock()
	s.log = append(s.log, Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Body: string(body), Authorized: authorized,
	})
	f := s.takeFaultLocked(isWrite(r.Method))
	s.mu.Unlock()
	if f != FaultNone {
		s.serveFault(w, r, f)
		return
	}
	s.route(w, r, body, authorized)
}

func (s *Server) componentJSONLocked(e *entry) map[string]any {
	var st any = e.c.Status
	if s.statusAsString {
		st = strconv.Itoa(e.c.Status)
	}
	name := fmt.Sprintf("Status %d", e.c.Status)
	if e.c.Status >= 0 && e.c.Status <= 4 {
		name = [...]string{"Unknown", "Operational", "Performance Issues", "Partial Outage", "Major Outage"}[e.c.Status]
	}
	return map[string]any{
		"id": e.c.ID, "name": e.c.Name, "description": "", "link": "",
		"status": st, "order": 0, "group_id": e.c.GroupID,
		"created_at": e.created.Format(timeLayout), "updated_at": e.updated.Format(timeLayout),
		"deleted_at": nil, "enabled": e.c.Enabled, "meta": nil,
		"status_name": name, "tags": []string{},
	}
}

func groupJSON(id int, name string) map[string]any {
	return map[string]any{
		"id": id, "name": name, "order": 0, "collapsed": 0, "visible": 1,
		"enabled_components": []any{}, "lowest_human_status": nil,
	}
}
