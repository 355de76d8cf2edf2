// Package cachettest is an in-memory fake of the Cachet API served over
// real HTTP, in one of three modes.
//
// Cachet 2.4 (the default, under /api/v1) behaves like Cachet 2.4 where
// the updater cares: pagination, token rules (X-Cachet-Token),
// route-model binding before auth, 400 validation errors, 405 on PATCH,
// 406 on a non-JSON Accept header, the Time-Zone header; incidents and
// incident updates (searchable by column; a PUT resets an omitted visible
// and stickied; PUT and updates store an HTML comment escaped, as Binput
// does), metric points (folded into an equal one within the metric's
// threshold) and schedules (a schedule without an end shows completed_at
// as now, and none lists components, as on 2.4).
//
// Cachet 2.3 (WithMode(Cachet23)) has no incident updates and no
// schedules (unknown routes, 404), stores component statuses outside 0..4,
// re-enables a component whose PUT omits enabled and escapes an HTML
// comment in every incident message.
//
// Every mode counts the mails Cachet would send each subscriber (Mails).
//
// Cachet 3.x (NewV3, or WithMode(Cachet3), under /api or WithAPIPath)
// follows cachethq/core: Authorization: Bearer only, token abilities (403
// "Invalid ability provided."), JSON:API documents, simple pagination with
// links.next and no total (per_page 1..100, default 15), enabled
// components only unless filter[enabled]=0, statuses 1..6 with
// latest_status, PUT and PATCH updates, Laravel's errors (401
// "Unauthenticated.", 422 with errors by field, 429 with Retry-After),
// incidents with updates, metric points and schedules with components.
//
// In every mode components, component groups and metrics can be created
// and removed through the API, as the acceptance suite does.
//
// Every mode can inject faults (5xx, HTML pages, truncated JSON, hangs,
// dropped connections, 429, a 500 after storing, a database error); 2.x listings can make their pagination meta
// lie. It is a normal package because the demo command serves it too.
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
	apiPrefixV3    = "/api"
	timeLayout     = "2006-01-02 15:04:05"
	maxRequestBody = 1 << 20
	redactedHeader = "[redacted]"
)

// Mode is the Cachet version the fake plays.
type Mode int

// Modes.
const (
	Cachet24 Mode = iota // Cachet 2.4 under /api/v1 (the default)
	Cachet23             // Cachet 2.3 under /api/v1
	Cachet3              // Cachet 3.x under /api
)

func (m Mode) String() string {
	switch m {
	case Cachet24:
		return "2.4"
	case Cachet23:
		return "2.3"
	case Cachet3:
		return "3.x"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Option configures a fake.
type Option func(*Server)

// WithMode sets the Cachet version the fake plays.
func WithMode(m Mode) Option {
	return func(s *Server) {
		s.mode = m
		if m == Cachet3 && s.prefix == apiPrefix {
			s.prefix = apiPrefixV3
		}
	}
}

// WithLinkOrigin makes a 3.x fake build its links (links.next, ...) with
// this scheme and host, e.g. http://cachet.internal:8000, instead of the
// request's: Cachet behind a proxy that rewrites Host builds them from
// what it saw.
func WithLinkOrigin(origin string) Option {
	return func(s *Server) { s.linkOrigin = origin }
}

// WithAPIPath serves the API under path instead of /api/v1 (2.x) or /api
// (3.x), e.g. /status/api for a Cachet 3.x with CACHET_PATH=status. Give it
// after WithMode.
func WithAPIPath(path string) Option {
	return func(s *Server) { s.prefix = path }
}

// Component is a component as the fake stores it. Status is in the mode's
// own numbers: 0..4 on 2.x, 1..6 on 3.x (5 unknown, 6 under maintenance).
type Component struct {
	ID      int
	Name    string
	Status  int
	Enabled bool
	GroupID int
}

// Request is one request the fake received.
type Request struct {
	Method   string
	Path     string // as received, e.g. /api/v1/components/3
	RawQuery string
	Body     string
	// Authorized: the token matched the server's, in the mode's header
	// (X-Cachet-Token on 2.x, Authorization: Bearer on 3.x).
	Authorized bool
	// Header holds the request's headers, with the values of
	// X-Cachet-Token and Authorization replaced by "[redacted]".
	Header http.Header
}

type entry struct {
	c                Component
	created, updated time.Time
}

// Server is the fake. It is safe for concurrent use.
type Server struct {
	token  string
	mode   Mode
	prefix string
	// linkOrigin is the scheme and host of the 3.x links ("": the request's).
	linkOrigin string
	ts         *httptest.Server
	done       chan struct{}
	once       sync.Once

	mu             sync.Mutex
	comps          map[int]*entry
	sorted         []*entry // comps by id; nil when stale
	groups         map[int]string
	log            []Request
	perPage        int
	statusAsString bool
	statusValues   map[int]any // sent as a component's status instead of the stored one
	quirks         PaginationQuirks
	fault          Fault
	faultLeft      int // < 0: until cleared
	faultWrites    bool
	tz             *time.Location
	abilities      map[string]bool // 3.x token abilities; "*" is every one
	limit          rateLimit
	incidents      map[int]*Incident
	updates        []IncidentUpdate
	metrics        map[int]*Metric
	points         []Point
	schedules      map[int]*Schedule
	nextID         int            // for incidents, updates, points, schedules
	mails          map[string]int // by Mail kind
}

// The kinds of mail Cachet sends its subscribers, as Mails counts them.
const (
	MailComponent      = "component status" // 2.3: every component PUT; 2.4: a status change, unless silent
	MailIncident       = "new incident"     // a visible incident created with notify (3.x notifications)
	MailIncidentUpdate = "incident update"  // 2.4: every update of a visible incident; 3.x: only with notifications
)

// Mails returns how many mailings Cachet would have sent each subscriber,
// by kind (MailComponent, ...): what the requests so far set off in the
// mode's Cachet. PUT /incidents/{id} mails no one in any mode.
func (s *Server) Mails() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, n := range s.mails {
		out[k] = n
	}
	return out
}

func (s *Server) mailLocked(kind string) {
	if s.mails == nil {
		s.mails = map[string]int{}
	}
	s.mails[kind]++
}

// New starts a fake on 127.0.0.1 that accepts token for writes. URL()
// returns its API base (ending in /api/v1, or /api in 3.x mode).
func New(token string, opts ...Option) *Server {
	s := NewHandler(token, opts...)
	s.ts = httptest.NewServer(s.Handler())
	return s
}

// NewV3 starts a Cachet 3.x fake, as New(token, WithMode(Cachet3), opts...).
func NewV3(token string, opts ...Option) *Server {
	return New(token, append([]Option{WithMode(Cachet3)}, opts...)...)
}

// NewHandler returns a fake that is not listening; serve Handler() yourself
// and find the API under APIPath().
func NewHandler(token string, opts ...Option) *Server {
	s := &Server{
		token:     token,
		prefix:    apiPrefix,
		done:      make(chan struct{}),
		comps:     map[int]*entry{},
		groups:    map[int]string{},
		perPage:   20,
		tz:        time.UTC,
		abilities: map[string]bool{"*": true},
		incidents: map[int]*Incident{},
		metrics:   map[int]*Metric{},
		schedules: map[int]*Schedule{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// NewHandlerV3 is NewHandler in 3.x mode, e.g. for demo --api v3.
func NewHandlerV3(token string, opts ...Option) *Server {
	return NewHandler(token, append([]Option{WithMode(Cachet3)}, opts...)...)
}

// Handler serves the API under APIPath().
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Mode returns the Cachet version the fake plays.
func (s *Server) Mode() Mode { return s.mode }

// APIPath is the path the API is served under: /api/v1, /api, or the
// WithAPIPath one.
func (s *Server) APIPath() string { return s.prefix }

// URL is the API base URL, or "" when the fake was made by NewHandler.
func (s *Server) URL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL + s.prefix
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
	s.addLocked(c)
}

func (s *Server) addLocked(c Component) *entry {
	if c.ID <= 0 {
		for id := range s.comps {
			c.ID = max(c.ID, id)
		}
		c.ID++
	}
	now := time.Now().UTC()
	e := &entry{c: c, created: now, updated: now}
	s.comps[c.ID] = e
	s.sorted = nil
	return e
}

// SetStatus sets a component's status as a person would in Cachet's
// dashboard, in the mode's numbers (on 3.x, 5 is unknown and 6 under
// maintenance). It reports whether the component exists.
func (s *Server) SetStatus(id, status int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.comps[id]
	if ok && e.c.Status != status {
		e.c.Status, e.updated = status, time.Now().UTC()
	}
	return ok
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

// SetStatusValue makes the fake send v as component id's status, whatever
// it stores, as a broken install or a proxy might (e.g. "abc"); nil sends
// the stored status again.
func (s *Server) SetStatusValue(id int, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statusValues == nil {
		s.statusValues = map[int]any{}
	}
	if v == nil {
		delete(s.statusValues, id)
		return
	}
	s.statusValues[id] = v
}

// SetTimezone sets the zone the fake renders timestamps in: on 2.x when a
// request has no Time-Zone header (Cachet's cachet.timezone), on 3.x always
// (the app's timezone, APP_TIMEZONE). Default UTC.
func (s *Server) SetTimezone(loc *time.Location) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tz = loc
}

// SetAbilities sets the 3.x token's abilities, e.g. "components.manage";
// "*" (the default) is every ability.
func (s *Server) SetAbilities(abilities ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abilities = map[string]bool{}
	for _, a := range abilities {
		s.abilities[a] = true
	}
}

func (s *Server) can(ability string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.abilities["*"] || s.abilities[ability]
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

// newIDLocked returns the next id for an incident, update, point or
// schedule.
func (s *Server) newIDLocked() int {
	s.nextID++
	return s.nextID
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	authorized := s.authorized(r)
	h := r.Header.Clone()
	for _, k := range []string{"X-Cachet-Token", "Authorization"} {
		if len(h[k]) > 0 {
			h[k] = []string{redactedHeader}
		}
	}
	s.mu.Lock()
	s.log = append(s.log, Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Body: string(body), Authorized: authorized, Header: h,
	})
	f := s.takeFaultLocked(isWrite(r.Method))
	s.mu.Unlock()
	switch {
	case f == FaultStored500:
		s.answer(httptest.NewRecorder(), r, body, authorized)
		s.serveFault(w, r, Fault500)
	case f != FaultNone:
		s.serveFault(w, r, f)
	default:
		s.answer(w, r, body, authorized)
	}
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, body []byte, authorized bool) {
	if s.mode == Cachet3 {
		s.route3(w, r, body, authorized)
	} else {
		s.route(w, r, body, authorized)
	}
}

// authorized checks the token where the mode looks for it: Cachet 2.x
// reads X-Cachet-Token only, 3.x (Sanctum) a bearer token only.
func (s *Server) authorized(r *http.Request) bool {
	if s.token == "" {
		return false
	}
	if s.mode == Cachet3 {
		return r.Header.Get("Authorization") == "Bearer "+s.token
	}
	return r.Header.Get("X-Cachet-Token") == s.token
}

// zone is where a 2.x request wants its timestamps: its Time-Zone header,
// else the server's zone.
func (s *Server) zone(r *http.Request) *time.Location {
	if tz := r.Header.Get("Time-Zone"); tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tz
}

func (s *Server) componentJSONLocked(e *entry, loc *time.Location) map[string]any {
	var st any = e.c.Status
	if s.statusAsString {
		st = strconv.Itoa(e.c.Status)
	}
	if v, ok := s.statusValues[e.c.ID]; ok {
		st = v
	}
	name := fmt.Sprintf("Status %d", e.c.Status)
	if e.c.Status >= 0 && e.c.Status <= 4 {
		name = [...]string{"Unknown", "Operational", "Performance Issues", "Partial Outage", "Major Outage"}[e.c.Status]
	}
	return map[string]any{
		"id": e.c.ID, "name": e.c.Name, "description": "", "link": "",
		"status": st, "order": 0, "group_id": e.c.GroupID,
		"created_at": e.created.In(loc).Format(timeLayout), "updated_at": e.updated.In(loc).Format(timeLayout),
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
