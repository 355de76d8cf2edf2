// Package cachettest is an in-memory fake of the Cachet 2.x API (under
// /api/v1) served over real HTTP. It behaves like Cachet 2.4 where the
// updater cares: pagination, token rules, route-model binding before auth,
// 400 validation errors, 405 on PATCH, 406 on a non-JSON Accept header. It
// can also inject faults (5xx, HTML pages, truncated JSON, hangs, dropped
// connections, 429).
//
// It is a normal package because the demo command serves it too.
package cachettest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	apiPrefix      = "/api/v1"
	timeLayout     = "2006-01-02 15:04:05"
	maxRequestBody = 1 << 20

	detail400 = "The request cannot be fulfilled due to bad syntax."
	detail401 = "Authentication is required and has failed or has not yet been provided."
	detail404 = "The requested resource could not be found but may be available again in the future."
	detail405 = "A request was made of a resource using a request method not supported by that resource."
	detail429 = "The user has sent too many requests in a given amount of time."
	detail500 = "An error has occurred and this resource cannot be displayed."
	noModel   = `No query results for model [CachetHQ\Cachet\Models\Component].`
	noGroup   = `No query results for model [CachetHQ\Cachet\Models\ComponentGroup].`
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

// Fault is a failure the fake injects instead of answering normally.
type Fault int

// Faults.
const (
	FaultNone      Fault = iota
	Fault500             // 500 with Cachet's JSON error body
	Fault502HTML         // 502 with an HTML page (a proxy in front)
	FaultHTML200         // 200 with an HTML page
	FaultTruncated       // 200 with truncated JSON
	FaultHang            // no answer until the client gives up
	FaultClose           // the connection is closed without an answer
	Fault429             // 429 with Retry-After: 1
)

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

// SetPerPage sets the page size used when a request has no per_page
// (Cachet's default is 20).
func (s *Server) SetPerPage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perPage = n
}

// SetStatusAsString makes the fake send "status":"2" like Cachet 2.3 on
// older PHP.
func (s *Server) SetStatusAsString(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statusAsString = on
}

// FailNext makes the next n requests (only writes if onlyWrites) fail with
// f. n < 0 fails every matching request until FailNext(FaultNone, 0, false).
func (s *Server) FailNext(f Fault, n int, onlyWrites bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == FaultNone || n == 0 {
		f, n = FaultNone, 0
	}
	s.fault, s.faultLeft, s.faultWrites = f, n, onlyWrites
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

func (s *Server) takeFaultLocked(write bool) Fault {
	if s.fault == FaultNone || s.faultLeft == 0 || (s.faultWrites && !write) {
		return FaultNone
	}
	if s.faultLeft > 0 {
		s.faultLeft--
	}
	return s.fault
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

// route dispatches like Laravel: route match (404/405), then route-model
// binding (404), then Acceptable (406), then the token (401).
func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte, authorized bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	if !ok || (rest != "" && rest[0] != '/') {
		writeError(w, http.StatusNotFound, detail404, nil)
		return
	}
	rest = strings.TrimSuffix(rest, "/")
	const readOnly = "GET, HEAD"
	switch {
	case rest == "/ping":
		s.handle(w, r, readOnly, false, authorized, func() {
			writeJSON(w, http.StatusOK, map[string]any{"data": "Pong!"})
		})
	case rest == "/version":
		s.handle(w, r, readOnly, false, authorized, func() {
			writeJSON(w, http.StatusOK, map[string]any{
				"meta": map[string]any{"on_latest": true, "latest": map[string]any{"tag_name": "v2.4.1", "prelease": false, "draft": false}},
				"data": "2.4.1",
			})
		})
	case rest == "/status":
		s.handle(w, r, readOnly, false, authorized, func() {
			writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"status": "success", "message": "System operational"}})
		})
	case rest == "/components":
		s.handle(w, r, readOnly, false, authorized, func() { s.listComponents(w, r, authorized) })
	case rest == "/components/groups":
		s.handle(w, r, readOnly, false, authorized, func() { s.listGroups(w, r) })
	case strings.HasPrefix(rest, "/components/groups/"):
		if !allowed(w, r, readOnly) {
			return
		}
		id, err := strconv.Atoi(strings.TrimPrefix(rest, "/components/groups/"))
		s.mu.Lock()
		name, ok := s.groups[id]
		s.mu.Unlock()
		if err != nil || !ok {
			writeError(w, http.StatusNotFound, noGroup, nil)
			return
		}
		s.handle(w, r, readOnly, false, authorized, func() {
			writeJSON(w, http.StatusOK, map[string]any{"data": groupJSON(id, name)})
		})
	case strings.HasPrefix(rest, "/components/"):
		s.component(w, r, strings.TrimPrefix(rest, "/components/"), body, authorized)
	case rest == "/subscribers":
		s.handle(w, r, readOnly, true, authorized, func() { writeList(w, r, nil, s.pageSize(r)) })
	default:
		writeError(w, http.StatusNotFound, detail404, nil)
	}
}

// handle runs the method, Accept and token checks, then fn.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, allow string, needToken, authorized bool, fn func()) {
	if !allowed(w, r, allow) || !acceptable(w, r) {
		return
	}
	if needToken && !authorized {
		writeError(w, http.StatusUnauthorized, detail401, nil)
		return
	}
	fn()
}

func allowed(w http.ResponseWriter, r *http.Request, allow string) bool {
	for _, m := range strings.Split(allow, ", ") {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, detail405, nil)
	return false
}

// acceptable mirrors Cachet's Acceptable middleware: no Accept header or one
// that accepts application/json passes; anything else gets an HTML 406.
func acceptable(w http.ResponseWriter, r *http.Request) bool {
	accept := r.Header.Values("Accept")
	if len(accept) == 0 {
		return true
	}
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "application/json", "application/*", "*/*", "*", "":
				return true
			}
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(http.StatusNotAcceptable)
	_, _ = io.WriteString(w, "<!DOCTYPE html><html><head><title>Not Acceptable</title></head><body><h1>406 Not Acceptable</h1></body></html>\n")
	return false
}

func (s *Server) component(w http.ResponseWriter, r *http.Request, idStr string, body []byte, authorized bool) {
	const allow = "GET, HEAD, PUT, DELETE"
	if !allowed(w, r, allow) {
		return
	}
	id, err := strconv.Atoi(idStr)
	s.mu.Lock()
	_, exists := s.comps[id]
	s.mu.Unlock()
	if err != nil || !exists { // route-model binding runs before the token check
		writeError(w, http.StatusNotFound, noModel, nil)
		return
	}
	if !acceptable(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.mu.Lock()
		e := s.comps[id]
		var v map[string]any
		if e != nil && (e.c.Enabled || authorized) {
			v = s.componentJSONLocked(e)
		}
		s.mu.Unlock()
		if v == nil { // guests only see enabled components
			writeError(w, http.StatusNotFound, noModel, nil)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": v})
	case http.MethodPut:
		if !authorized {
			writeError(w, http.StatusUnauthorized, detail401, nil)
			return
		}
		s.update(w, r, id, body)
	case http.MethodDelete:
		if !authorized {
			writeError(w, http.StatusUnauthorized, detail401, nil)
			return
		}
		s.mu.Lock()
		delete(s.comps, id)
		s.sorted = nil
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

// update applies a PUT body like Cachet 2.4: absent or null fields keep
// their value (enabled too), status must be an integer in 0..4.
func (s *Server) update(w http.ResponseWriter, r *http.Request, id int, body []byte) {
	in, err := parseBody(r, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, detail400, []string{err.Error()})
		return
	}
	var problems []string
	st, hasStatus, err := intField(in, "status")
	switch {
	case err != nil:
		problems = append(problems, "The status must be an integer.")
	case hasStatus && st < 0:
		problems = append(problems, "The status must be at least 0.")
	case hasStatus && st > 4:
		problems = append(problems, "The status may not be greater than 4.")
	}
	enabled, hasEnabled, err := boolField(in, "enabled")
	if err != nil {
		problems = append(problems, "The enabled field must be true or false.")
	}
	group, hasGroup, err := intField(in, "group_id")
	if err != nil {
		problems = append(problems, "The group id must be an integer.")
	}
	name, hasName := in["name"].(string)
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, detail400, problems)
		return
	}

	s.mu.Lock()
	e, ok := s.comps[id]
	if !ok { // deleted meanwhile
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, noModel, nil)
		return
	}
	old := e.c
	if hasStatus {
		e.c.Status = st
	}
	if hasEnabled {
		e.c.Enabled = enabled
	}
	if hasGroup {
		e.c.GroupID = group
	}
	if hasName && name != "" {
		e.c.Name = name
	}
	if e.c != old { // Cachet 2.4 only touches updated_at when something changed
		e.updated = time.Now().UTC()
	}
	v := s.componentJSONLocked(e)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": v})
}

// parseBody reads a JSON object or a form-encoded body. The error is the
// message Cachet's 400 body carries in meta.details.
func parseBody(r *http.Request, body []byte) (map[string]any, error) {
	in := map[string]any{}
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return in, nil
	}
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/x-www-form-urlencoded") {
		vals, err := url.ParseQuery(trimmed)
		if err != nil {
			return nil, errors.New("the request body is not valid form data")
		}
		for k := range vals {
			in[k] = strings.TrimSpace(vals.Get(k))
		}
		return in, nil
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return nil, errors.New("the request body is not valid JSON")
	}
	return in, nil
}

// intField reads an integer the way Laravel's "integer" rule accepts it.
func intField(in map[string]any, key string) (n int, present bool, err error) {
	v, ok := in[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, true, fmt.Errorf("not an integer")
	}
	if i, err := strconv.Atoi(s); err == nil {
		return i, true, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int(f)) && !strings.ContainsAny(s, "eE") {
		return int(f), true, nil
	}
	return 0, true, fmt.Errorf("not an integer")
}

// boolField reads a boolean the way Laravel's "boolean" rule accepts it.
func boolField(in map[string]any, key string) (b, present bool, err error) {
	v, ok := in[key]
	if !ok || v == nil {
		return false, false, nil
	}
	switch x := v.(type) {
	case bool:
		return x, true, nil
	case json.Number:
		v = x.String()
	}
	switch v {
	case "1":
		return true, true, nil
	case "0":
		return false, true, nil
	}
	return false, true, fmt.Errorf("not a boolean")
}

// searchable reports whether Cachet lets a query filter components on col.
func searchable(col string) bool {
	switch col {
	case "id", "name", "status", "order", "group_id", "enabled":
		return true
	}
	return false
}

func (s *Server) listComponents(w http.ResponseWriter, r *http.Request, authorized bool) {
	filters, ok := columnFilters(r.URL.Query())
	if !ok {
		// Cachet turns every other parameter into a column too: SQL error, 500.
		writeError(w, http.StatusInternalServerError, detail500, nil)
		return
	}
	perPage := s.pageSize(r)
	s.mu.Lock()
	var visible []*entry
	for _, e := range s.sortedLocked() {
		if (e.c.Enabled || authorized) && matches(e.c, filters) {
			visible = append(visible, e)
		}
	}
	// Only the requested page is rendered.
	page, start, end := pageBounds(r, len(visible), perPage)
	items := make([]any, 0, end-start)
	for _, e := range visible[start:end] {
		items = append(items, s.componentJSONLocked(e))
	}
	s.mu.Unlock()
	writePage(w, r, items, page, len(visible), perPage)
}

// columnFilters mimics Cachet's SearchableTrait: when any query key is a
// searchable column, every key except sort, order and per_page becomes a
// WHERE clause; an unknown column (page included) is a SQL error.
func columnFilters(q url.Values) (map[string]string, bool) {
	filters := map[string]string{}
	hasColumn := false
	for k := range q {
		switch k {
		case "sort", "order", "per_page":
			continue
		}
		filters[k] = q.Get(k)
		hasColumn = hasColumn || searchable(k)
	}
	if !hasColumn {
		return nil, true
	}
	for k := range filters {
		if !searchable(k) {
			return nil, false
		}
	}
	return filters, true
}

func matches(c Component, filters map[string]string) bool {
	if len(filters) == 0 {
		return true
	}
	enabled := "0"
	if c.Enabled {
		enabled = "1"
	}
	cols := map[string]string{
		"id": strconv.Itoa(c.ID), "name": c.Name, "status": strconv.Itoa(c.Status),
		"order": "0", "group_id": strconv.Itoa(c.GroupID), "enabled": enabled,
	}
	for k, v := range filters {
		if cols[k] != v {
			return false
		}
	}
	return true
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ids := make([]int, 0, len(s.groups))
	for id := range s.groups {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	items := make([]any, 0, len(ids))
	for _, id := range ids {
		items = append(items, groupJSON(id, s.groups[id]))
	}
	s.mu.Unlock()
	writeList(w, r, items, s.pageSize(r))
}

// pageSize follows Cachet: per_page defaults to the server setting (20);
// 0 or garbage falls back to the model default of 15; there is no maximum.
func (s *Server) pageSize(r *http.Request) int {
	q := r.URL.Query()
	if !q.Has("per_page") {
		s.mu.Lock()
		defer s.mu.Unlock()
		return max(s.perPage, 1)
	}
	n, err := strconv.Atoi(strings.TrimSpace(q.Get("per_page")))
	if err != nil || n <= 0 {
		return 15
	}
	return n
}

// pageBounds returns the requested page and the item range [start, end)
// it covers, as Cachet's paginator does.
func pageBounds(r *http.Request, total, perPage int) (page, start, end int) {
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	start = min((page-1)*perPage, total)
	return page, start, min(start+perPage, total)
}

// writePage writes one page of a paginated list; data holds that page's items.
func writePage(w http.ResponseWriter, r *http.Request, data []any, page, total, perPage int) {
	totalPages := max((total+perPage-1)/perPage, 1)
	if data == nil {
		data = []any{}
	}
	link := func(p int) any {
		if p < 1 || p > totalPages {
			return nil
		}
		return pageURL(r, p)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"meta": map[string]any{"pagination": map[string]any{
			"total": total, "count": len(data), "per_page": perPage,
			"current_page": page, "total_pages": totalPages,
			"links": map[string]any{"next_page": link(page + 1), "previous_page": link(page - 1)},
		}},
		"data": data,
	})
}

// writeList writes the requested page of items.
func writeList(w http.ResponseWriter, r *http.Request, items []any, perPage int) {
	page, start, end := pageBounds(r, len(items), perPage)
	writePage(w, r, items[start:end], page, len(items), perPage)
}

// pageURL is an absolute link with every query parameter but page, then page.
func pageURL(r *http.Request, page int) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q := r.URL.Query()
	q.Del("page")
	enc := q.Encode()
	if enc != "" {
		enc += "&"
	}
	return fmt.Sprintf("%s://%s%s?%spage=%d", scheme, r.Host, r.URL.Path, enc, page)
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

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"errors":[{"status":500,"title":"Internal Server Error"}]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// writeError writes Cachet 2.x's error body (GrahamCampbell/Exceptions).
// Keys keep Cachet's order: id, status, title, detail[, meta].
func writeError(w http.ResponseWriter, code int, detail string, details []string) {
	type meta struct {
		Details []string `json:"details"`
	}
	type item struct {
		ID     string `json:"id"`
		Status int    `json:"status"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Meta   *meta  `json:"meta,omitempty"`
	}
	e := item{ID: uuid(), Status: code, Title: http.StatusText(code), Detail: detail}
	if details != nil {
		e.Meta = &meta{Details: details}
	}
	writeJSON(w, code, map[string]any{"errors": []item{e}})
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

const (
	html502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	html200 = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Status</title></head>\n<body><div class=\"status-page\"><h1>All systems operational</h1></div></body>\n</html>\n"
	jsonCut = `{"meta":{"pagination":{"total":45,"count":20,"per_page":20,"current_page":1,"total_pages":3}},"data":[{"id":1,"name":"Trunc`
)

func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f {
	case Fault500:
		writeError(w, http.StatusInternalServerError, detail500, nil)
	case Fault502HTML:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, html502)
	case FaultHTML200:
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, html200)
	case FaultTruncated:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, jsonCut)
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	case FaultClose:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the stream without logging
	case Fault429:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, detail429, nil)
	default:
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("unknown fault %d", f), nil)
	}
}
