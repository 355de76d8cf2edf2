package cachettest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Cachet 3.x (Laravel 11, Sanctum) messages.
const (
	msg401 = "Unauthenticated."
	msg403 = "Invalid ability provided."
	msg429 = "Too Many Attempts."
	msg500 = "Server Error"
)

// Cachet 3.x component status labels, by value.
var labels3 = map[int]string{1: "Operational", 2: "Performance issues", 3: "Partial outage", 4: "Major outage", 5: "Unknown", 6: "Under maintenance"}

// route3 dispatches like cachethq/core on Laravel 11: route match (404,
// 405), then per route auth:sanctum (401), throttle (429), route-model
// binding (404), the request data's validation (422), and last the
// controller's ability guard (403). Accept is forced to JSON: no 406.
func (s *Server) route3(w http.ResponseWriter, r *http.Request, body []byte, authorized bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		writeMessage(w, http.StatusNotFound, routeNotFound(r))
		return
	}
	rest = strings.TrimSuffix(rest, "/")
	head, tail, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	s.mu.Lock()
	c := &ctx3{s: s, w: w, r: r, body: body, authorized: authorized, loc: s.tz}
	s.mu.Unlock()
	switch head {
	case "ping", "version", "status":
		if tail == "" {
			s.general3(c, head)
			return
		}
	case "components":
		s.components3(c, tail)
		return
	case "component-groups":
		s.groups3(c, tail)
		return
	case "incidents":
		s.incidents3(c, tail)
		return
	case "metrics":
		s.metrics3(c, tail)
		return
	case "schedules":
		s.schedules3(c, tail)
		return
	case "subscribers":
		if tail == "" && c.allow("GET", "HEAD") && c.auth() && c.throttle() && c.can("subscribers.manage") {
			c.collection(nil, nil)
		}
		return
	}
	writeMessage(w, http.StatusNotFound, routeNotFound(r))
}

// ctx3 is one 3.x request on its way through the checks.
type ctx3 struct {
	s          *Server
	w          http.ResponseWriter
	r          *http.Request
	body       []byte
	authorized bool
	loc        *time.Location // the app's zone (APP_TIMEZONE); core has no Time-Zone header
}

func routeNotFound(r *http.Request) string {
	return fmt.Sprintf("The route %s could not be found.", strings.TrimPrefix(r.URL.Path, "/"))
}

func (s *Server) general3(c *ctx3, what string) {
	if !c.allow("GET", "HEAD") || !c.throttle() {
		return
	}
	switch what {
	case "ping":
		writeJSON(c.w, http.StatusOK, map[string]any{"data": "Pong!"})
	case "version":
		writeJSON(c.w, http.StatusOK, map[string]any{"data": map[string]any{"version": "3.x-dev"}})
	default:
		writeJSON(c.w, http.StatusOK, map[string]any{"data": map[string]any{"status": "operational", "message": "All Systems Operational"}})
	}
}

// allow answers 405 unless the method is one of allowed.
func (c *ctx3) allow(allowed ...string) bool {
	if slices.Contains(allowed, c.r.Method) {
		return true
	}
	c.w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeMessage(c.w, http.StatusMethodNotAllowed, fmt.Sprintf("The %s method is not supported for route %s. Supported methods: %s.",
		c.r.Method, strings.TrimPrefix(c.r.URL.Path, "/"), strings.Join(allowed, ", ")))
	return false
}

// auth is auth:sanctum: no or a bad bearer token is 401.
func (c *ctx3) auth() bool {
	if !c.authorized {
		writeMessage(c.w, http.StatusUnauthorized, msg401)
	}
	return c.authorized
}

// can is the controller's guard: a token without the ability is 403.
func (c *ctx3) can(ability string) bool {
	if !c.s.can(ability) {
		writeMessage(c.w, http.StatusForbidden, msg403)
		return false
	}
	return true
}

// throttle is Laravel's ThrottleRequests on the cachet-api limiter.
func (c *ctx3) throttle() bool {
	limit, remaining, reset, ok := c.s.takeRate()
	if limit <= 0 {
		return true
	}
	h := c.w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(remaining, 0)))
	if ok {
		return true
	}
	h.Set("Retry-After", strconv.Itoa(int(max(time.Until(reset).Round(time.Second)/time.Second, 1))))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	writeMessage(c.w, http.StatusTooManyRequests, msg429)
	return false
}

// rateLimit is a fixed one-minute window, as Laravel's limiter keeps it.
type rateLimit struct {
	max   int
	start time.Time
	n     int
}

// SetRateLimit makes the 3.x fake answer 429 (with Retry-After) past
// perMinute requests a minute, as Cachet's cachet-api limiter does (300 by
// default there); 0, the fake's default, is no limit.
func (s *Server) SetRateLimit(perMinute int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = rateLimit{max: perMinute}
}

func (s *Server) takeRate() (limit, remaining int, reset time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.limit
	if l.max <= 0 {
		return 0, 0, time.Time{}, true
	}
	now := time.Now()
	if l.start.IsZero() || now.Sub(l.start) >= time.Minute {
		l.start, l.n = now, 0
	}
	l.n++
	return l.max, l.max - l.n, l.start.Add(time.Minute), l.n <= l.max
}

// input parses the JSON body; Laravel takes a body it cannot parse as no
// input at all.
func (c *ctx3) input() map[string]any {
	in, err := parseBody(c.r, c.body)
	if err != nil {
		return map[string]any{}
	}
	return in
}

// invalid collects Laravel's validation messages by field.
type invalid struct {
	fields []string
	msgs   map[string][]string
}

func (v *invalid) add(field, msg string) {
	if v.msgs == nil {
		v.msgs = map[string][]string{}
	}
	if _, ok := v.msgs[field]; !ok {
		v.fields = append(v.fields, field)
	}
	v.msgs[field] = append(v.msgs[field], msg)
}

// failed writes the 422 when there are messages.
func (v *invalid) failed(w http.ResponseWriter) bool {
	if len(v.fields) == 0 {
		return false
	}
	msg, n := v.msgs[v.fields[0]][0], -1
	for _, f := range v.fields {
		n += len(v.msgs[f])
	}
	switch {
	case n == 1:
		msg += " (and 1 more error)"
	case n > 1:
		msg += fmt.Sprintf(" (and %d more errors)", n)
	}
	writeJSONType(w, http.StatusUnprocessableEntity, "application/json", map[string]any{"message": msg, "errors": v.msgs})
	return true
}

func attr(field string) string { return strings.ReplaceAll(field, "_", " ") }

// enum3 checks Rule::enum for an int-backed enum of lo..hi.
func (v *invalid) enum3(in map[string]any, key string, lo, hi int, required bool) (int, bool) {
	n, present, err := intField(in, key)
	switch {
	case !present && err == nil:
		if required {
			v.add(key, fmt.Sprintf("The %s field is required.", attr(key)))
		}
		return 0, false
	case err != nil || n < lo || n > hi:
		v.add(key, fmt.Sprintf("The selected %s is invalid.", attr(key)))
		return 0, false
	}
	return n, true
}

func (v *invalid) bool3(in map[string]any, key string) (b, present bool) {
	b, present, err := boolField(in, key)
	if err != nil {
		v.add(key, fmt.Sprintf("The %s field must be true or false.", attr(key)))
	}
	return b, present && err == nil
}

func (v *invalid) string3(in map[string]any, key string, required bool) (string, bool) {
	x, present := in[key]
	str, isString := x.(string)
	switch {
	case (!present || x == nil || (isString && strings.TrimSpace(str) == "")) && required:
		v.add(key, fmt.Sprintf("The %s field is required.", attr(key)))
	case present && x != nil && !isString:
		v.add(key, fmt.Sprintf("The %s field must be a string.", attr(key)))
	case isString && len(str) > 255 && key == "name":
		v.add(key, fmt.Sprintf("The %s field must not be greater than 255 characters.", attr(key)))
	default:
		return str, isString
	}
	return "", false
}

func writeMessage(w http.ResponseWriter, code int, msg string) {
	writeJSONType(w, code, "application/json", map[string]any{"message": msg})
}

// writeJSONType writes v with the given Content-Type.
func writeJSONType(w http.ResponseWriter, code int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"message":"Server Error"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// writeDoc writes a JSON:API document.
func writeDoc(w http.ResponseWriter, code int, doc map[string]any) {
	writeJSONType(w, code, "application/vnd.api+json", doc)
}

// res is a JSON:API resource object; rels holds the relationships the
// request included.
func res(typ string, id int, attrs map[string]any, rels map[string]any) map[string]any {
	o := map[string]any{"id": strconv.Itoa(id), "type": typ, "attributes": attrs}
	if len(rels) > 0 {
		o["relationships"] = rels
	}
	return o
}

// toOne and toMany are relationship objects.
func toOne(typ string, id int) map[string]any {
	if id <= 0 {
		return map[string]any{"data": nil}
	}
	return map[string]any{"data": map[string]any{"type": typ, "id": strconv.Itoa(id)}}
}

func toMany(typ string, ids []int) map[string]any {
	data := make([]any, 0, len(ids))
	for _, id := range ids {
		data = append(data, map[string]any{"type": typ, "id": strconv.Itoa(id)})
	}
	return map[string]any{"data": data}
}

// when is cachethq/core's {"human", "string"} timestamp: toDateTimeString,
// the wall clock in the app's zone without the zone.
func when(t time.Time, loc *time.Location) map[string]any {
	if t.IsZero() {
		return map[string]any{"human": nil, "string": nil}
	}
	return map[string]any{"human": humanize(time.Since(t)), "string": t.In(loc).Format(timeLayout)}
}

func humanize(d time.Duration) string {
	ago := " ago"
	if d < 0 {
		d, ago = -d, " from now"
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d seconds%s", int(d/time.Second), ago)
	case d < time.Hour:
		return fmt.Sprintf("%d minutes%s", int(d/time.Minute), ago)
	}
	return fmt.Sprintf("%d hours%s", int(d/time.Hour), ago)
}

func labelled(label string, v int) map[string]any { return map[string]any{"human": label, "value": v} }

// query3 is what spatie/laravel-query-builder allows on a list.
type query3 struct {
	filters, includes, sorts []string
}

// parsed is a list request's filters (by name), includes and sort.
type parsed struct {
	filters  map[string]string
	includes map[string]bool
	sort     string
}

// parse checks the query like spatie/laravel-query-builder: an unknown
// filter, include or sort is 400.
func (q query3) parse(c *ctx3) (parsed, bool) {
	p := parsed{filters: map[string]string{}, includes: map[string]bool{}}
	vals := c.r.URL.Query()
	for k := range vals {
		name, ok := strings.CutPrefix(k, "filter[")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, "]")
		if !slices.Contains(q.filters, name) {
			return p, bad400(c, "filter(s)", name, "are", q.filters)
		}
		p.filters[name] = vals.Get(k)
	}
	for _, inc := range splitList(vals.Get("include")) {
		if !slices.Contains(q.includes, inc) {
			return p, bad400(c, "include(s)", inc, "are", q.includes)
		}
		p.includes[inc] = true
	}
	if srt := vals.Get("sort"); srt != "" {
		if !slices.Contains(q.sorts, strings.TrimPrefix(srt, "-")) {
			return p, bad400(c, "sort(s)", srt, "is", q.sorts)
		}
		p.sort = srt
	}
	return p, true
}

func bad400(c *ctx3, what, got, verb string, allowed []string) bool {
	writeMessage(c.w, http.StatusBadRequest, fmt.Sprintf("Requested %s `%s` %s not allowed. Allowed %s are `%s`.", what, got, verb, what, strings.Join(allowed, ", ")))
	return false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// perPage3 is Number::clamp($request->integer('per_page', 15), 1, 100):
// PHP's intval takes the leading digits, and garbage is 0, clamped to 1.
func perPage3(r *http.Request) int {
	q := r.URL.Query()
	if !q.Has("per_page") {
		return 15
	}
	v := strings.TrimSpace(q.Get("per_page"))
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(v[:end])
	return min(max(n, 1), 100)
}

// window is the requested page of n items: [start, end).
type window struct{ page, per, start, end, n int }

func (c *ctx3) window(n int) window {
	per := perPage3(c.r)
	page, err := strconv.Atoi(c.r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	start := min((page-1)*per, n)
	return window{page: page, per: per, start: start, end: min(start+per, n), n: n}
}

// collection writes the requested page of items.
func (c *ctx3) collection(items []map[string]any, included []map[string]any) {
	win := c.window(len(items))
	c.writePage(items[win.start:win.end], included, win)
}

// writePage writes one page of a simple-paginated JSON:API list: no
// total; links.next only when more items follow; every link keeps only
// page, like Laravel's paginator without withQueryString().
func (c *ctx3) writePage(items []map[string]any, included []map[string]any, win window) {
	page, per, start, end := win.page, win.per, win.start, win.end
	data := make([]any, 0, len(items))
	for _, it := range items {
		data = append(data, it)
	}
	links := map[string]any{"first": c.pageURL(1)}
	if page > 1 {
		links["prev"] = c.pageURL(page - 1)
	}
	if end < win.n {
		links["next"] = c.pageURL(page + 1)
	}
	meta := map[string]any{"current_page": page, "from": nil, "path": c.pageURL(0), "per_page": per, "to": nil}
	if end > start {
		meta["from"], meta["to"] = start+1, end
	}
	doc := map[string]any{"data": data, "links": links, "meta": meta}
	if len(included) > 0 {
		doc["included"] = included
	}
	writeDoc(c.w, http.StatusOK, doc)
}

// pageURL is the absolute URL of page p (0: the path alone), built from
// the scheme and Host Cachet saw (WithLinkOrigin: a proxy's).
func (c *ctx3) pageURL(p int) string {
	origin := c.s.linkOrigin
	if origin == "" {
		origin = "http://" + c.r.Host
		if c.r.TLS != nil {
			origin = "https://" + c.r.Host
		}
	}
	u := origin + c.r.URL.Path
	if p > 0 {
		u += "?page=" + strconv.Itoa(p)
	}
	return u
}

// itemID parses {id}; ok is false when it is not a number (a 404 then).
func itemID(s string) (int, bool) {
	id, err := strconv.Atoi(s)
	return id, err == nil && id > 0
}

func noModel3(model string, id string) string {
	return fmt.Sprintf(`No query results for model [Cachet\Models\%s] %s`, model, id)
}

// severity3 ranks 3.x statuses, most severe highest (ComponentStatusEnum).
func severity3(v int) int {
	return map[int]int{4: 5, 3: 4, 2: 3, 6: 2, 5: 1, 1: 0}[v]
}

// latestLocked is a component's effective status: under maintenance while
// a schedule in progress covers it, else its status, unless an open
// incident's impact on it is more severe (only a visible incident counts:
// unresolvedIncidents()->viewableBy(false)).
func (s *Server) latestLocked(c Component, now time.Time) int {
	latest := c.Status
	for _, sc := range s.schedules {
		if sc.status3(now) == 1 && slices.Contains(sc.ComponentIDs, c.ID) {
			latest = 6
		}
	}
	for _, in := range s.incidents {
		if in.Status != 4 && in.Visible && in.ComponentID == c.ID && in.ComponentStatus > 0 && severity3(in.ComponentStatus) > severity3(latest) {
			latest = in.ComponentStatus
		}
	}
	return latest
}

// Shown returns what visitors see of component id, in the mode's numbers:
// on 3.x its latest_status, on 2.x its status.
func (s *Server) Shown(id int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.comps[id]
	switch {
	case !ok:
		return 0
	case s.mode == Cachet3:
		return s.latestLocked(e.c, time.Now())
	}
	return e.c.Status
}

func (s *Server) componentResLocked(e *entry, includeGroup bool, now time.Time) map[string]any {
	latest := s.latestLocked(e.c, now)
	attrs := map[string]any{
		"id": e.c.ID, "name": e.c.Name, "description": "", "link": nil, "order": 0,
		"status": labelled(labels3[e.c.Status], e.c.Status), "latest_status": labelled(labels3[latest], latest),
		"enabled": e.c.Enabled, "created": when(e.created, s.tz), "updated": when(e.updated, s.tz),
	}
	if v, ok := s.statusValues[e.c.ID]; ok {
		attrs["status"] = v
	}
	var rels map[string]any
	if includeGroup {
		group := e.c.GroupID
		if _, ok := s.groups[group]; !ok {
			group = 0 // a foreign key: a group that does not exist is none
		}
		rels = map[string]any{"group": toOne("componentGroups", group)}
	}
	return res("components", e.c.ID, attrs, rels)
}

func groupRes(id int, name string) map[string]any {
	return res("componentGroups", id, map[string]any{
		"id": id, "name": name, "order": 0, "collapsed": 0, "visible": 1,
		"created": when(time.Time{}, nil), "updated": when(time.Time{}, nil),
	}, nil)
}

func (s *Server) components3(c *ctx3, tail string) {
	if tail == "" {
		switch {
		case !c.allow("GET", "HEAD", "POST"):
		case c.r.Method == http.MethodPost:
			if c.auth() && c.throttle() {
				s.createComponent3(c)
			}
		case c.throttle():
			s.listComponents3(c)
		}
		return
	}
	if !c.allow("GET", "HEAD", "PUT", "PATCH", "DELETE") {
		return
	}
	write := c.r.Method != http.MethodGet && c.r.Method != http.MethodHead
	if (write && !c.auth()) || !c.throttle() {
		return
	}
	id, ok := itemID(tail)
	s.mu.Lock()
	e := s.comps[id]
	var doc map[string]any
	if ok && e != nil && !write && (e.c.Enabled || c.authorized) {
		doc = map[string]any{"data": s.componentResLocked(e, false, time.Now())}
	}
	s.mu.Unlock()
	switch {
	case !ok || e == nil || (!write && doc == nil): // guests do not see disabled components
		writeMessage(c.w, http.StatusNotFound, noModel3("Component", tail))
	case !write:
		writeDoc(c.w, http.StatusOK, doc)
	case c.r.Method == http.MethodDelete:
		if c.can("components.delete") {
			s.mu.Lock()
			delete(s.comps, id)
			s.sorted = nil
			s.mu.Unlock()
			c.w.WriteHeader(http.StatusNoContent)
		}
	default:
		s.updateComponent3(c, id)
	}
}

func (s *Server) listComponents3(c *ctx3) {
	p, ok := query3{filters: []string{"name", "status", "enabled", "meta"}, includes: []string{"group", "incidents", "meta"}, sorts: []string{"name", "order", "id"}}.parse(c)
	if !ok {
		return
	}
	enabled, hasEnabled := p.filters["enabled"]
	if !hasEnabled {
		enabled = "1" // AllowedFilter::exact('enabled')->default(true)
	}
	now := time.Now()
	s.mu.Lock()
	var found []*entry
	for _, e := range s.sortedLocked() {
		if matches3(e.c, p.filters, enabled) && (e.c.Enabled || c.authorized) {
			found = append(found, e)
		}
	}
	sortEntries(found, p.sort)
	// Only the requested page is rendered: a large fleet lists many pages.
	win := c.window(len(found))
	var items, included []map[string]any
	groups := map[int]bool{}
	for _, e := range found[win.start:win.end] {
		items = append(items, s.componentResLocked(e, p.includes["group"], now))
		if name, ok := s.groups[e.c.GroupID]; ok && p.includes["group"] && !groups[e.c.GroupID] {
			groups[e.c.GroupID] = true
			included = append(included, groupRes(e.c.GroupID, name))
		}
	}
	s.mu.Unlock()
	c.writePage(items, included, win)
}

// sortEntries applies sort=name|order|id (with "-" descending); every
// component's order is 0 here.
func sortEntries(es []*entry, sort string) {
	desc := strings.HasPrefix(sort, "-")
	if strings.TrimPrefix(sort, "-") != "name" {
		if desc {
			slices.Reverse(es)
		}
		return
	}
	slices.SortStableFunc(es, func(a, b *entry) int {
		if desc {
			a, b = b, a
		}
		return strings.Compare(a.c.Name, b.c.Name)
	})
}

func matches3(comp Component, filters map[string]string, enabled string) bool {
	on := map[string]bool{"1": true, "true": true}[strings.ToLower(enabled)]
	off := map[string]bool{"0": true, "false": true}[strings.ToLower(enabled)]
	if (comp.Enabled && !on) || (!comp.Enabled && !off) {
		return false
	}
	if st, ok := filters["status"]; ok && !slices.Contains(splitList(st), strconv.Itoa(comp.Status)) {
		return false
	}
	name, ok := filters["name"]
	return !ok || strings.Contains(strings.ToLower(comp.Name), strings.ToLower(name))
}

// sortItems sorts resources by an attribute, "-" first for descending;
// without a sort they stay in id order.
func sortItems(items []map[string]any, sort string) {
	if sort == "" {
		return
	}
	key, desc := strings.TrimPrefix(sort, "-"), strings.HasPrefix(sort, "-")
	slices.SortStableFunc(items, func(a, b map[string]any) int {
		x, y := a["attributes"].(map[string]any)[key], b["attributes"].(map[string]any)[key]
		if desc {
			x, y = y, x
		}
		if i, ok := x.(int); ok {
			if j, ok := y.(int); ok {
				return i - j
			}
		}
		return strings.Compare(fmt.Sprint(x), fmt.Sprint(y))
	})
}

// updateComponent3 is PUT or PATCH /components/{id}
// (UpdateComponentRequestData): every field optional, status 1..6,
// enabled kept when absent.
func (s *Server) updateComponent3(c *ctx3, id int) {
	in := c.input()
	var v invalid
	st, hasStatus := v.enum3(in, "status", 1, 6, false)
	enabled, hasEnabled := v.bool3(in, "enabled")
	name, hasName := v.string3(in, "name", false)
	group, hasGroup, err := intField(in, "component_group_id")
	s.mu.Lock()
	_, groupExists := s.groups[group]
	s.mu.Unlock()
	if err != nil || (hasGroup && !groupExists) {
		v.add("component_group_id", "The selected component group id is invalid.")
	}
	if v.failed(c.w) || !c.can("components.manage") {
		return
	}
	s.mu.Lock()
	e, ok := s.comps[id]
	if !ok {
		s.mu.Unlock()
		writeMessage(c.w, http.StatusNotFound, noModel3("Component", strconv.Itoa(id)))
		return
	}
	old := e.c
	if hasStatus {
		e.c.Status = st
	}
	if hasEnabled {
		e.c.Enabled = enabled
	}
	if hasName {
		e.c.Name = name
	}
	if hasGroup {
		e.c.GroupID = group
	}
	if e.c != old { // no dirty column, no UPDATE: updated_at stays
		e.updated = time.Now().UTC()
	}
	doc := map[string]any{"data": s.componentResLocked(e, false, time.Now())}
	s.mu.Unlock()
	writeDoc(c.w, http.StatusOK, doc)
}

// createComponent3 is POST /components: name required, status 5 unless
// given; 201.
func (s *Server) createComponent3(c *ctx3) {
	in := c.input()
	var v invalid
	name, _ := v.string3(in, "name", true)
	st, hasStatus := v.enum3(in, "status", 1, 6, false)
	enabled, hasEnabled := v.bool3(in, "enabled")
	group, hasGroup, err := intField(in, "component_group_id")
	if err != nil || (hasGroup && !s.has("component-groups", group)) {
		v.add("component_group_id", "The selected component group id is invalid.")
	}
	if v.failed(c.w) || !c.can("components.manage") {
		return
	}
	comp := Component{Name: name, Status: 5, Enabled: true, GroupID: group}
	if hasStatus {
		comp.Status = st
	}
	if hasEnabled {
		comp.Enabled = enabled
	}
	s.mu.Lock()
	e := s.addLocked(comp)
	doc := map[string]any{"data": s.componentResLocked(e, false, time.Now())}
	s.mu.Unlock()
	writeDoc(c.w, http.StatusCreated, doc)
}

func (s *Server) groups3(c *ctx3, tail string) {
	if c.r.Method == http.MethodPost && tail == "" || c.r.Method == http.MethodDelete && tail != "" {
		s.write3(c, "component-groups", tail)
		return
	}
	if !c.allow("GET", "HEAD", "POST", "DELETE") || !c.throttle() {
		return
	}
	s.mu.Lock()
	ids := make([]int, 0, len(s.groups))
	for id := range s.groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	items := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		items = append(items, groupRes(id, s.groups[id]))
	}
	id, ok := itemID(tail)
	name, exists := s.groups[id]
	s.mu.Unlock()
	switch {
	case tail == "":
		c.collection(items, nil)
	case !ok || !exists:
		writeMessage(c.w, http.StatusNotFound, noModel3("ComponentGroup", tail))
	default:
		writeDoc(c.w, http.StatusOK, map[string]any{"data": groupRes(id, name)})
	}
}
