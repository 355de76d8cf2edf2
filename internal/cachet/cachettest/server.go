// Package cachettest is a small stateful fake of the Cachet API served over
// real HTTP, for tests and the demo command: components, groups,
// incidents and their updates, metrics and points, schedules, as Cachet
// 2.4 (the default, under /api/v1), 2.3 or 3.x (under /api) answers where
// this tool cares.
//
// What it copies from the real ones (see ../../../../shared/cachet-api.md):
// 2.x takes X-Cachet-Token and binds the id before the token (404 before
// 401), validates with 400 and meta.details, paginates with a total,
// turns every query key into a column when one is a column (with page: a
// 500), takes an omitted visible and stickied of an incident PUT as 1 and
// 0, and stores an HTML comment in a message escaped (Binput): 2.4 on PUT
// and updates, 2.3 always. 2.3 has no incident updates and no schedules,
// stores any status and re-enables a component whose PUT leaves out
// enabled; a 2.4 schedule lists no components and shows a missing end as
// now. 3.x takes a bearer token with abilities (403), answers JSON:API
// documents with links.next (only page, from the Host it saw), 201 on
// create and 422 on validation, lists only enabled components unless
// asked, and shows latest_status: the worse of a component's status and an
// open incident's impact, or under maintenance (6) in a schedule. Points
// within a metric's threshold are folded as each version does, and Mails
// counts the mail each version would send.
package cachettest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Mode is the Cachet version the fake plays.
type Mode int

// Modes.
const (
	Cachet24 Mode = iota // under /api/v1 (the default)
	Cachet23             // under /api/v1
	Cachet3              // under /api
)

func (m Mode) String() string { return [...]string{"2.4", "2.3", "3.x"}[m] }

// Option configures a fake.
type Option func(*Server)

// WithMode sets the Cachet version the fake plays.
func WithMode(m Mode) Option { return func(s *Server) { s.mode = m } }

// WithLinkOrigin makes 3.x build its links with this scheme and host
// instead of the request's, as Cachet behind a proxy that rewrites Host.
func WithLinkOrigin(origin string) Option { return func(s *Server) { s.linkOrigin = origin } }

// Component is a component as stored, its status in the mode's numbers:
// 0..4 on 2.x, 1..6 on 3.x (5 unknown, 6 under maintenance).
type Component struct {
	ID      int
	Name    string
	Status  int
	Enabled bool
	GroupID int
}

// Incident is an incident as stored.
type Incident struct {
	ID                        int
	Name, Message             string
	Status                    int  // 0..4, 4 fixed
	Visible, Stickied, Notify bool // Notify: 2.x notify, 3.x notifications
	// ComponentID and ComponentStatus are the component it names and its
	// status then (on 3.x the impact, in 3.x numbers).
	ComponentID, ComponentStatus int
}

// IncidentUpdate is an incident update (2.4 and 3.x).
type IncidentUpdate struct {
	ID, IncidentID, Status int
	Message                string
}

// Metric is a metric as stored.
type Metric struct {
	ID           int
	Name, Suffix string
	Threshold    int // minutes within which points are folded; 0 is Cachet's default, 5
	CalcType     int // 0 sum (Cachet's default), 1 average
}

// Point is a metric point as stored.
type Point struct {
	ID, MetricID int
	Value        float64
	Counter      int       // how many points were folded into it
	CreatedAt    time.Time // the timestamp sent, or its arrival, rounded to 30 seconds
}

// Schedule is a maintenance window as stored.
type Schedule struct {
	ID            int
	Name, Message string
	Status        int // 2.4's, as set in the dashboard: 0 upcoming, 1 in progress, 2 complete; 3.x goes by the times
	ScheduledAt   time.Time
	CompletedAt   time.Time // zero: no end
	ComponentIDs  []int     // 3.x only: 2.4 drops them
}

// Request is a request the fake received.
type Request struct {
	Method, Path, RawQuery, Body string
	Authorized                   bool // the token matched, in the mode's header
	Header                       http.Header
}

// Fault is a failure the fake answers instead (see FailNext).
type Fault int

// Faults.
const (
	FaultNone      Fault = iota
	Fault500             // 500 with the mode's error JSON
	FaultHang            // no answer until the client gives up
	FaultClose           // the connection closed without an answer
	FaultStored500       // carried out, then 500 (stored, then the mail failed)
)

// The mail Cachet sends its subscribers, as Mails counts it.
const (
	MailComponent      = "component status" // 2.3: every component PUT; 2.4: a status change, unless silent
	MailIncident       = "new incident"     // a visible incident created with notify
	MailIncidentUpdate = "incident update"  // 2.4: every update of a visible incident; 3.x: with notifications
)

// Server is the fake. It is safe for concurrent use.
type Server struct {
	token, linkOrigin string
	mode              Mode
	ts                *httptest.Server
	done              chan struct{}
	once              sync.Once

	mu           sync.Mutex
	comps        map[int]*Component
	compIDs      []int // sorted; nil when stale
	groups       map[int]string
	incidents    map[int]*Incident
	updates      []IncidentUpdate
	metrics      map[int]*Metric
	points       []Point
	schedules    map[int]*Schedule
	statusValues map[int]any
	abilities    []string
	mails        map[string]int
	log          []Request
	fault        Fault
	faultLeft    int
	faultWrites  bool
	lastID       int // of incidents, updates, metrics, points, schedules
}

// New starts a fake on 127.0.0.1 that takes token; URL is its API base.
func New(token string, opts ...Option) *Server {
	s := NewHandler(token, opts...)
	s.ts = httptest.NewServer(s.Handler())
	return s
}

// NewHandler returns a fake that does not listen: serve Handler, under
// APIPath.
func NewHandler(token string, opts ...Option) *Server {
	s := &Server{token: token, done: make(chan struct{}), comps: map[int]*Component{}, groups: map[int]string{},
		incidents: map[int]*Incident{}, metrics: map[int]*Metric{}, schedules: map[int]*Schedule{},
		statusValues: map[int]any{}, abilities: []string{"*"}, mails: map[string]int{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// NewHandlerV3 is NewHandler as Cachet 3.x.
func NewHandlerV3(token string, opts ...Option) *Server {
	return NewHandler(token, append([]Option{WithMode(Cachet3)}, opts...)...)
}

// Handler serves the API under APIPath.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// APIPath is the path the API is served under.
func (s *Server) APIPath() string {
	return map[bool]string{false: "/api/v1", true: "/api"}[s.mode == Cachet3]
}

// URL is the API base URL of the server New started.
func (s *Server) URL() string { return s.ts.URL + s.APIPath() }

// Close releases hanging requests and stops the server New started.
func (s *Server) Close() {
	s.once.Do(func() { close(s.done) })
	if s.ts != nil {
		s.ts.Close()
	}
}

// Add adds or replaces a component; an ID <= 0 gets the next free one.
func (s *Server) Add(c Component) {
	defer s.lock()()
	s.add(c)
}

func (s *Server) add(c Component) *Component {
	if c.ID <= 0 {
		c.ID = 1 + slices.Max(append(slices.Collect(maps.Keys(s.comps)), 0))
	}
	s.comps[c.ID], s.compIDs = &c, nil
	return &c
}

// AddGroup adds or replaces a component group.
func (s *Server) AddGroup(id int, name string) {
	defer s.lock()()
	s.groups[id] = name
}

// Component returns the stored component with id.
func (s *Server) Component(id int) (Component, bool) { return one(s, s.comps, id) }

// Components returns every stored component, by id.
func (s *Server) Components() []Component { return all(s, s.comps) }

// SetStatusValue makes the fake send v as component id's status, whatever
// it stores, as a broken install might (e.g. "abc"); nil stops it.
func (s *Server) SetStatusValue(id int, v any) {
	defer s.lock()()
	s.statusValues[id] = v
}

// SetAbilities sets the 3.x token's abilities, e.g. "components.manage";
// "*", the default, is every one.
func (s *Server) SetAbilities(abilities ...string) {
	defer s.lock()()
	s.abilities = abilities
}

// AddIncident adds or replaces an incident, as a person would in the
// dashboard, and returns its id; an ID <= 0 gets a new one.
func (s *Server) AddIncident(in Incident) int { return put(s, s.incidents, &in, &in.ID) }

// put stores v under *id, a new one when it is <= 0, and returns it.
func put[T any](s *Server, m map[int]*T, v *T, id *int) int {
	defer s.lock()()
	*id = s.newID(*id)
	m[*id] = v
	return *id
}

// newID returns id, or a new one when it is <= 0.
func (s *Server) newID(id int) int {
	if id <= 0 {
		id = s.lastID + 1
	}
	s.lastID = max(s.lastID, id)
	return id
}

// RemoveIncident deletes an incident, as a person would.
func (s *Server) RemoveIncident(id int) {
	defer s.lock()()
	delete(s.incidents, id)
}

// Incidents returns the stored incidents, by id.
func (s *Server) Incidents() []Incident { return all(s, s.incidents) }

// Incident returns the stored incident with id.
func (s *Server) Incident(id int) (Incident, bool) { return one(s, s.incidents, id) }

// IncidentUpdates returns an incident's updates, oldest first.
func (s *Server) IncidentUpdates(incidentID int) []IncidentUpdate {
	return where(s, &s.updates, func(u IncidentUpdate) bool { return u.IncidentID == incidentID })
}

// AddMetric adds or replaces a metric and returns its id; an ID <= 0 gets
// a new one. Threshold 0 is Cachet's default, 5.
func (s *Server) AddMetric(m Metric) int {
	m.Threshold = cmp.Or(m.Threshold, 5)
	return put(s, s.metrics, &m, &m.ID)
}

// Points returns a metric's points, oldest first.
func (s *Server) Points(metricID int) []Point {
	return where(s, &s.points, func(p Point) bool { return p.MetricID == metricID })
}

// AddSchedule adds or replaces a schedule and returns its id; an ID <= 0
// gets a new one.
func (s *Server) AddSchedule(sc Schedule) int { return put(s, s.schedules, &sc, &sc.ID) }

// Mails returns how many mailings Cachet would have sent each subscriber
// so far, by kind (MailComponent, ...).
func (s *Server) Mails() map[string]int {
	defer s.lock()()
	return maps.Clone(s.mails)
}

// Shown returns what visitors see of component id, in the mode's numbers:
// on 3.x latest_status, on 2.x the status. The component must exist.
func (s *Server) Shown(id int) int {
	defer s.lock()()
	return s.latest(s.comps[id])
}

// latest is 3.x's latest_status: under maintenance while a schedule in
// progress covers the component, else its status, unless a visible open
// incident's impact on it is worse. On 2.x, the status.
func (s *Server) latest(c *Component) int {
	if s.mode != Cachet3 {
		return c.Status
	}
	latest := c.Status
	for _, sc := range s.schedules {
		if status3(sc) == 1 && slices.Contains(sc.ComponentIDs, c.ID) {
			latest = 6
		}
	}
	severity := func(v int) int { return strings.IndexByte("156234", byte('0'+v)) } // least first
	for _, in := range s.incidents {
		if in.Status != 4 && in.Visible && in.ComponentID == c.ID && severity(in.ComponentStatus) > severity(latest) {
			latest = in.ComponentStatus
		}
	}
	return latest
}

// status3 is a 3.x schedule's status, from its times.
func status3(sc *Schedule) int {
	switch now := time.Now(); {
	case sc.ScheduledAt.After(now):
		return 0
	case sc.CompletedAt.IsZero() || sc.CompletedAt.After(now):
		return 1
	}
	return 2
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request { return where(s, &s.log, func(Request) bool { return true }) }

// Writes returns the requests received so far that are not reads.
func (s *Server) Writes() []Request {
	return where(s, &s.log, func(r Request) bool { return r.Method != http.MethodGet && r.Method != http.MethodHead })
}

// Reset forgets the requests received.
func (s *Server) Reset() {
	defer s.lock()()
	s.log = nil
}

// FailNext answers the next n requests (writes only, if onlyWrites) with
// f; n < 0 every one, until FailNext(FaultNone, 0, false).
func (s *Server) FailNext(f Fault, n int, onlyWrites bool) {
	defer s.lock()()
	s.fault, s.faultLeft, s.faultWrites = f, n, onlyWrites
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	q := &req{s: s, w: w, r: r, query: r.URL.Query(), write: r.Method != http.MethodGet && r.Method != http.MethodHead}
	q.auth = s.token != "" && (s.mode != Cachet3 && r.Header.Get("X-Cachet-Token") == s.token ||
		s.mode == Cachet3 && r.Header.Get("Authorization") == "Bearer "+s.token)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	_ = dec.Decode(&q.in)
	s.mu.Lock()
	s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Body: string(body), Authorized: q.auth, Header: r.Header})
	f := FaultNone
	if s.faultLeft != 0 && (q.write || !s.faultWrites) {
		f, s.faultLeft = s.fault, s.faultLeft-1
	}
	if f == FaultStored500 {
		q.w = httptest.NewRecorder() // stored, but the answer is lost
	}
	if f == FaultNone || f == FaultStored500 {
		s.route(q)
	}
	s.mu.Unlock()
	switch q.w = w; f {
	case Fault500, FaultStored500:
		q.fail(http.StatusInternalServerError, "An error has occurred and this resource cannot be displayed.", "")
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	case FaultClose:
		panic(http.ErrAbortHandler) // closes the connection without an answer
	}
}

func (s *Server) lock() func() {
	s.mu.Lock()
	return s.mu.Unlock
}

// one returns a copy of m[id], under the lock.
func one[T any](s *Server, m map[int]*T, id int) (T, bool) {
	defer s.lock()()
	if v, ok := m[id]; ok {
		return *v, true
	}
	return *new(T), false
}

// all returns copies of m's values, by id.
func all[T any](s *Server, m map[int]*T) []T {
	defer s.lock()()
	var out []T
	for _, id := range slices.Sorted(maps.Keys(m)) {
		out = append(out, *m[id])
	}
	return out
}

// where returns the items of *list that keep takes, under the lock.
func where[T any](s *Server, list *[]T, keep func(T) bool) []T {
	defer s.lock()()
	return slices.DeleteFunc(slices.Clone(*list), func(x T) bool { return !keep(x) })
}

// clean is Binput's XSS filter where the updater cares: an HTML comment is
// stored escaped, and the page shows it as text.
func clean(msg string) string {
	return strings.NewReplacer("<!--", "&lt;!--", "-->", "--&gt;").Replace(msg)
}
