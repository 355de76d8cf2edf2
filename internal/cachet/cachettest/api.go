package cachettest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// req is one request on its way through the fake, under s.mu.
type req struct {
	s           *Server
	w           http.ResponseWriter
	r           *http.Request
	query       url.Values
	in          map[string]any // the JSON body; Laravel takes one it cannot parse as none
	auth, write bool
}

func (q *req) v3() bool { return q.s.mode == Cachet3 }

func (q *req) reply(code int, v any) bool {
	q.w.Header().Set("Content-Type", "application/json")
	q.w.WriteHeader(code)
	_ = json.NewEncoder(q.w).Encode(v)
	return false
}

// fail answers an error as the mode does: 2.x {"errors":[{...}]} (a
// field's message in meta.details), 3.x (Laravel) {"message"[,"errors"]}.
func (q *req) fail(code int, msg, field string) bool {
	if q.v3() && field != "" {
		return q.reply(code, map[string]any{"message": msg, "errors": map[string][]string{field: {msg}}})
	} else if q.v3() {
		return q.reply(code, map[string]any{"message": msg})
	}
	e := map[string]any{"status": code, "title": http.StatusText(code), "detail": msg}
	if field != "" {
		e["detail"], e["meta"] = "The request cannot be fulfilled due to bad syntax.", map[string]any{"details": []string{msg}}
	}
	return q.reply(code, map[string]any{"errors": []any{e}})
}

// invalid is a validation failure: 2.x 400, 3.x 422.
func (q *req) invalid(field, msg string) bool {
	return q.fail(map[bool]int{false: http.StatusBadRequest, true: http.StatusUnprocessableEntity}[q.v3()], msg, field)
}

// can is 3.x's ability guard, after validation: 403 without it.
func (q *req) can(ability string) bool {
	return !q.v3() || slices.Contains(q.s.abilities, "*") || slices.Contains(q.s.abilities, ability) || q.fail(http.StatusForbidden, "Invalid ability provided.", "")
}

// int reads a field as Laravel's integer rule does; ok: it was sent.
func (q *req) int(key string) (n int, ok bool, err error) {
	v, ok := q.in[key]
	if ok && v != nil {
		n, err = strconv.Atoi(strings.TrimSpace(fmt.Sprint(v)))
	}
	return n, ok && v != nil, err
}

// bool reads a field as Laravel's boolean rule does; dflt when not sent.
func (q *req) bool(key string, dflt bool) bool {
	if v := fmt.Sprint(q.in[key]); v == "true" || v == "1" || v == "false" || v == "0" {
		return v == "true" || v == "1"
	}
	return dflt
}

func (q *req) str(key string) string { s, _ := q.in[key].(string); return s }

// status is 3.x's {"human","value"}, or 2.x's bare number.
func (q *req) status(v int) any {
	return map[bool]any{false: v, true: map[string]any{"human": fmt.Sprint(v), "value": v}}[q.v3()]
}

// at sets a time: 2.x name_at "Y-m-d H:i:s" in UTC (the client asks for
// it), 3.x name {"string"} in the app's zone (UTC here).
func (q *req) at(m map[string]any, name string, t time.Time) {
	var s any
	if !t.IsZero() {
		s = t.UTC().Format(time.DateTime)
	}
	if q.v3() {
		m[name] = map[string]any{"human": "", "string": s}
	} else {
		m[name+"_at"] = s
	}
}

// res is an item: 2.x's fields, or a 3.x JSON:API resource with the
// relationship rel (ids) when the request included it.
func (q *req) res(typ string, attrs map[string]any, rel string, ids ...int) any {
	if !q.v3() {
		return attrs
	}
	doc := map[string]any{"id": strconv.Itoa(attrs["id"].(int)), "type": typ, "attributes": attrs}
	if rel != "" && slices.Contains(strings.Split(q.query.Get("include"), ","), rel) {
		var data []any
		for _, id := range ids {
			data = append(data, map[string]any{"type": rel, "id": strconv.Itoa(id)})
		}
		var v any = append([]any{}, data...)
		if rel == "group" { // to one
			v = append(data, nil)[0]
		}
		doc["relationships"] = map[string]any{rel: map[string]any{"data": v}}
	}
	return doc
}

// one answers an item: 201 when 3.x created it.
func (q *req) one(created bool, v any) bool {
	return q.reply(map[bool]int{false: http.StatusOK, true: http.StatusCreated}[created && q.v3()], map[string]any{"data": v})
}

// page answers the requested page of n items, rendering only those: 2.x
// with meta.pagination (per_page 20 unless asked, no maximum), 3.x with
// links.next, which keeps only page (per_page 15, at most 100).
func (q *req) page(n int, item func(i int) any) {
	per, err := strconv.Atoi(q.query.Get("per_page"))
	if err != nil || per < 1 {
		per = map[bool]int{false: 20, true: 15}[q.v3()]
	} else if q.v3() {
		per = min(per, 100)
	}
	p, _ := strconv.Atoi(q.query.Get("page"))
	p = max(p, 1)
	data := []any{}
	for i := (p - 1) * per; i < min(p*per, n); i++ {
		data = append(data, item(i))
	}
	if !q.v3() {
		q.reply(http.StatusOK, map[string]any{"data": data, "meta": map[string]any{"pagination": map[string]any{
			"total": n, "count": len(data), "per_page": per, "current_page": p, "total_pages": max((n+per-1)/per, 1)}}})
		return
	}
	base := cmp.Or(q.s.linkOrigin, "http://"+q.r.Host) + q.r.URL.Path + "?page="
	links := map[string]any{"first": base + "1"}
	if p*per < n {
		links["next"] = base + strconv.Itoa(p+1)
	}
	q.reply(http.StatusOK, map[string]any{"data": data, "links": links, "meta": map[string]any{"current_page": p, "per_page": per}})
}

// route answers like Laravel: the route (404) and method (405), 3.x's
// token (401), the id (404), 2.x's token (401), then the handler:
// validation (400, 422) and 3.x's ability (403).
func (s *Server) route(q *req) {
	rest, ok := strings.CutPrefix(q.r.URL.Path, s.APIPath())
	parts := append(strings.Split(strings.Trim(rest, "/"), "/"), "", "", "")
	if s.mode != Cachet3 && parts[0] == "components" && parts[1] == "groups" {
		parts = parts[1:]
	} else if s.mode == Cachet3 && parts[0] == "component-groups" || parts[0] == "groups" {
		parts[0], ok = "groups", ok && parts[0] != "groups"
	}
	kind := parts[0] + map[bool]string{true: "/id"}[parts[1] != ""] + map[bool]string{true: "/"}[parts[2] != ""] + parts[2]
	methods := map[string]string{"ping": "GET", "subscribers": "GET", "components": "GET POST", "components/id": "GET PUT DELETE",
		"groups": "GET POST", "groups/id": "DELETE", "incidents": "GET POST", "incidents/id": "GET PUT DELETE",
		"incidents/id/updates": "GET POST", "metrics": "GET POST", "metrics/id": "DELETE", "metrics/id/points": "GET POST", "schedules": "GET"}[kind]
	if s.mode == Cachet3 && strings.Contains(methods, "PUT") {
		methods += " PATCH"
	}
	id, _ := strconv.Atoi(parts[1])
	exists := map[string]bool{"components": s.comps[id] != nil && (s.comps[id].Enabled || q.auth || q.write), // guests see enabled ones
		"groups": s.groups[id] != "", "incidents": s.incidents[id] != nil && (s.incidents[id].Visible || q.auth || q.write), "metrics": s.metrics[id] != nil}
	model := map[string]string{"components": "Component", "groups": "ComponentGroup", "incidents": "Incident", "metrics": "Metric"}[parts[0]]
	auth := q.auth || !q.write && kind != "subscribers"
	switch {
	case !ok || methods == "" || parts[3] != "" || s.mode == Cachet23 && (kind == "schedules" || kind == "incidents/id/updates"):
		q.fail(http.StatusNotFound, "The requested resource could not be found but may be available again in the future.", "")
	case !slices.Contains(strings.Fields(methods), q.r.Method):
		q.fail(http.StatusMethodNotAllowed, "The "+q.r.Method+" method is not supported for this route.", "")
	case s.mode == Cachet3 && !auth:
		q.fail(http.StatusUnauthorized, "Unauthenticated.", "")
	case parts[1] != "" && !exists[parts[0]]:
		q.fail(http.StatusNotFound, `No query results for model [CachetHQ\Cachet\Models\`+model+`].`, "")
	case !auth:
		q.fail(http.StatusUnauthorized, "Authentication is required and has failed or has not yet been provided.", "")
	case kind == "ping":
		q.reply(http.StatusOK, map[string]any{"data": "Pong!"})
	case kind == "subscribers":
		if q.can("subscribers.manage") {
			q.page(0, nil)
		}
	case q.r.Method == http.MethodDelete && q.can(strings.Replace(parts[0], "groups", "component-groups", 1)+".delete"):
		map[string]func(){"components": func() { delete(s.comps, id); s.compIDs = nil }, "groups": func() { delete(s.groups, id) },
			"incidents": func() { delete(s.incidents, id) }, "metrics": func() { delete(s.metrics, id) }}[parts[0]]()
		q.w.WriteHeader(http.StatusNoContent)
	case q.r.Method == http.MethodDelete:
	case parts[0] == "components":
		s.components(q, s.comps[id])
	case parts[0] == "groups":
		s.groupsAPI(q)
	case kind == "incidents/id/updates":
		s.updatesAPI(q, s.incidents[id])
	case parts[0] == "incidents":
		s.incidentsAPI(q, s.incidents[id])
	case parts[0] == "metrics":
		s.metricsAPI(q, s.metrics[id])
	default:
		s.schedulesAPI(q)
	}
}

// mail counts a mailing of kind, when it is sent.
func (s *Server) mail(kind string, sent bool) {
	if sent {
		s.mails[kind]++
	}
}

func (s *Server) component(q *req, c *Component) any {
	attrs := map[string]any{"id": c.ID, "name": c.Name, "status": q.status(c.Status), "enabled": c.Enabled, "group_id": c.GroupID}
	if q.v3() {
		delete(attrs, "group_id")
		attrs["latest_status"] = q.status(s.latest(c))
	}
	if v := s.statusValues[c.ID]; v != nil {
		attrs["status"] = v
	}
	return q.res("components", attrs, "group", slices.DeleteFunc([]int{c.GroupID}, func(id int) bool { return s.groups[id] == "" })...)
}

// components serves /components and /components/{id}. 3.x lists enabled
// components only unless filter[enabled]=0. An update validates the
// status (2.4: 0..4, 2.3: any, 3.x: 1..6) and keeps an omitted enabled
// (2.3: enables it). 2.3 mails for every PUT, 2.4 for a change to a
// status other than 0 unless silent, 3.x never.
func (s *Server) components(q *req, c *Component) {
	if q.r.Method == http.MethodGet && c == nil {
		var ids []int
		if s.compIDs == nil { // cached: a large fleet lists many pages
			s.compIDs = slices.Sorted(maps.Keys(s.comps))
		}
		for _, id := range s.compIDs {
			if c := s.comps[id]; (c.Enabled || q.auth) && (!q.v3() || c.Enabled == (q.query.Get("filter[enabled]") != "0")) {
				ids = append(ids, id)
			}
		}
		q.page(len(ids), func(i int) any { return s.component(q, s.comps[ids[i]]) })
		return
	} else if q.r.Method == http.MethodGet {
		q.one(false, s.component(q, c))
		return
	}
	st, hasStatus, err := q.int("status")
	group, _, _ := q.int(map[bool]string{false: "group_id", true: "component_group_id"}[q.v3()])
	if lo, hi := map[bool]int{true: 1}[q.v3()], map[bool]int{false: 4, true: 6}[q.v3()]; err != nil || hasStatus && s.mode != Cachet23 && (st < lo || st > hi) {
		q.invalid("status", map[bool]string{false: fmt.Sprintf("The status may not be greater than %d.", hi), true: "The selected status is invalid."}[q.v3()])
	} else if c == nil && strings.TrimSpace(q.str("name")) == "" {
		q.invalid("name", "The name field is required.")
	} else if q.can("components.manage") {
		created := c == nil
		if created {
			c = s.add(Component{Name: q.str("name"), Status: map[bool]int{false: 1, true: 5}[q.v3()], Enabled: true, GroupID: group})
		}
		changed := hasStatus && st != c.Status && st != 0 && !q.bool("silent", false)
		s.mail(MailComponent, !created && (s.mode == Cachet23 || s.mode == Cachet24 && changed))
		if hasStatus {
			c.Status = st
		}
		c.Enabled = q.bool("enabled", c.Enabled || s.mode == Cachet23)
		q.one(created, s.component(q, c))
	}
}

// groupsAPI lists and creates component groups.
func (s *Server) groupsAPI(q *req) {
	ids := slices.Sorted(maps.Keys(s.groups))
	group := func(id int) any { return q.res("componentGroups", map[string]any{"id": id, "name": s.groups[id]}, "") }
	if q.r.Method == http.MethodGet {
		q.page(len(ids), func(i int) any { return group(ids[i]) })
	} else if strings.TrimSpace(q.str("name")) == "" {
		q.invalid("name", "The name field is required.")
	} else if q.can("component-groups.manage") {
		id := 1 + slices.Max(append(ids, 0))
		s.groups[id] = q.str("name")
		q.one(true, group(id))
	}
}

func (s *Server) incident(q *req, in *Incident) any {
	attrs := map[string]any{"id": in.ID, "name": in.Name, "message": in.Message, "status": q.status(in.Status),
		"visible": map[bool]int{true: 1}[in.Visible], "stickied": in.Stickied, "component_id": in.ComponentID,
		map[bool]string{false: "notify", true: "notifications"}[q.v3()]: in.Notify}
	if q.v3() {
		delete(attrs, "component_id")
	}
	return q.res("incidents", attrs, "components", slices.DeleteFunc([]int{in.ComponentID}, func(id int) bool { return id == 0 })...)
}

// incidentsAPI serves /incidents and /incidents/{id}. 2.x finds them by
// column (?component_id=N&sort=id&order=desc, newest first; a column
// mixed with any other key but sort, order and per_page, page too, is a
// database error: 500), 3.x by filter[status]. A 2.x POST or PUT takes an
// omitted visible and notify as 1, stickied as 0 (2.3 has none), and
// Binput cleans the message (2.4: not on POST); it sets a component named
// with a status, which 2.4 mails for. 3.x keeps what a PUT leaves out.
func (s *Server) incidentsAPI(q *req, in *Incident) {
	query := q.query
	if q.r.Method == http.MethodGet && in != nil {
		q.one(false, s.incident(q, in))
		return
	} else if q.r.Method == http.MethodGet {
		column, statuses := query.Get("component_id"), query.Get("filter[status]")
		if column != "" && len(slices.DeleteFunc(slices.Collect(maps.Keys(query)), func(k string) bool { return strings.Contains(" sort order per_page ", " "+k+" ") })) > 1 {
			q.fail(http.StatusInternalServerError, "An error has occurred and this resource cannot be displayed.", "")
			return
		}
		var list []*Incident
		for _, id := range slices.Sorted(maps.Keys(s.incidents)) {
			in := s.incidents[id]
			if (in.Visible || q.auth) && (column == "" || column == strconv.Itoa(in.ComponentID)) && (statuses == "" || slices.Contains(strings.Split(statuses, ","), strconv.Itoa(in.Status))) {
				list = append(list, in)
			}
		}
		if query.Get("sort") == "-id" || query.Get("sort") == "id" && !q.v3() {
			slices.Reverse(list)
		}
		q.page(len(list), func(i int) any { return s.incident(q, list[i]) })
		return
	}
	next := Incident{Visible: !q.v3(), Notify: !q.v3()}
	if in != nil && q.v3() {
		next = *in
	} else if in != nil {
		next.ID, next.Name, next.Message, next.Status, next.ComponentID, next.ComponentStatus = in.ID, in.Name, in.Message, in.Status, in.ComponentID, in.ComponentStatus
	}
	st, hasStatus, err := q.int("status")
	cid, hasComponent, errComponent := q.int("component_id")
	cst, _, _ := q.int("component_status")
	next.Name, next.Message = cmp.Or(q.str("name"), next.Name), cmp.Or(q.str("message"), next.Message)
	if s.mode == Cachet23 || s.mode == Cachet24 && in != nil {
		next.Message = clean(next.Message)
	}
	next.Visible, next.Stickied = q.bool("visible", next.Visible), q.bool("stickied", next.Stickied) && s.mode != Cachet23
	next.Notify = q.bool(map[bool]string{false: "notify", true: "notifications"}[q.v3()], next.Notify)
	if hasComponent {
		next.ComponentID, next.ComponentStatus = cid, cst
	}
	if hasStatus {
		next.Status = st
	}
	switch {
	case err != nil || st < 0 || st > 4 || in == nil && !hasStatus:
		q.invalid("status", "The status must be an integer from 0 to 4.")
	case next.Name == "" || next.Message == "":
		q.invalid("message", "The name and message fields are required.")
	case errComponent != nil || hasComponent && q.v3() && s.comps[cid] == nil:
		q.invalid("component_id", "The selected component id is invalid.")
	case q.can("incidents.manage"):
		if in == nil {
			next.ID = s.newID(0)
			s.mail(MailIncident, next.Notify && next.Visible)
		}
		s.incidents[next.ID] = &next
		if c := s.comps[cid]; c != nil && !q.v3() && cst != 0 && cst != c.Status {
			c.Status = cst
			s.mail(MailComponent, s.mode == Cachet24)
		}
		q.one(in == nil, s.incident(q, &next))
	}
}

// updatesAPI serves /incidents/{id}/updates (2.4, 3.x). An update sets
// the incident's status; 2.4 cleans its message and mails for every update
// of a visible incident, 3.x only when the incident notifies.
func (s *Server) updatesAPI(q *req, in *Incident) {
	update := func(u IncidentUpdate) any {
		attrs := map[string]any{"id": u.ID, "status": q.status(u.Status), "message": u.Message,
			map[bool]string{false: "incident_id", true: "updateable_id"}[q.v3()]: u.IncidentID}
		return q.res("incidentUpdates", attrs, "")
	}
	list := slices.DeleteFunc(slices.Clone(s.updates), func(u IncidentUpdate) bool { return u.IncidentID != in.ID })
	st, _, err := q.int("status")
	switch msg := q.str("message"); {
	case q.r.Method == http.MethodGet:
		q.page(len(list), func(i int) any { return update(list[i]) })
	case err != nil || st < map[bool]int{false: 1}[q.v3()] || st > 4 || strings.TrimSpace(msg) == "":
		q.invalid("status", "The status (1 to 4) and message fields are required.")
	case q.can("incident-updates.manage"):
		if !q.v3() {
			msg = clean(msg)
		}
		u := IncidentUpdate{ID: s.newID(0), IncidentID: in.ID, Status: st, Message: msg}
		s.updates, in.Status = append(s.updates, u), st
		s.mail(MailIncidentUpdate, in.Visible && (!q.v3() || in.Notify))
		q.one(true, update(u))
	}
}

func (q *req) metric(m *Metric) any {
	return q.res("metrics", map[string]any{"id": m.ID, "name": m.Name, "suffix": m.Suffix, "calc_type": m.CalcType, "threshold": m.Threshold}, "")
}

func (q *req) point(p Point) any {
	attrs := map[string]any{"id": p.ID, "metric_id": p.MetricID, "value": p.Value, "counter": p.Counter}
	q.at(attrs, "created", p.CreatedAt)
	return q.res("metricPoints", attrs, "")
}

// metricsAPI lists and creates metrics, and lists (newest first) and adds
// their points. Within the threshold 2.4 folds a point into one of the
// same value since the start of the minute threshold-1 minutes ago; 3.x
// into the latest point, whatever its value, which it keeps.
func (s *Server) metricsAPI(q *req, m *Metric) {
	ids := slices.Sorted(maps.Keys(s.metrics))
	calc, _, err := q.int("calc_type")
	threshold, _, err2 := q.int("threshold")
	var points []*Point
	for i := range s.points {
		if m != nil && s.points[i].MetricID == m.ID {
			points = append(points, &s.points[i])
		}
	}
	value, errValue := strconv.ParseFloat(strings.Trim(fmt.Sprint(q.in["value"]), `"`), 64)
	ts, hasTS, errTS := q.int("timestamp")
	switch {
	case m == nil && q.r.Method == http.MethodGet:
		q.page(len(ids), func(i int) any { return q.metric(s.metrics[ids[i]]) })
	case m == nil && (q.str("name") == "" || q.str("suffix") == "" || err != nil || err2 != nil):
		q.invalid("suffix", "The name and suffix fields are required; calc type and threshold are integers.")
	case m == nil && q.can("metrics.manage"):
		m = &Metric{ID: s.newID(0), Name: q.str("name"), Suffix: q.str("suffix"), CalcType: calc, Threshold: cmp.Or(threshold, 5)}
		s.metrics[m.ID] = m
		q.one(true, q.metric(m))
	case m == nil:
	case q.r.Method == http.MethodGet:
		q.page(len(points), func(i int) any { return q.point(*points[len(points)-1-i]) })
	case errValue != nil || errTS != nil:
		q.invalid("value", "The value must be a number and the timestamp a Unix time.")
	case q.can("metric-points.manage"):
		now, at := time.Now(), time.Now()
		if hasTS {
			at = time.Unix(int64(ts), 0)
		}
		slices.SortStableFunc(points, func(a, b *Point) int { return a.CreatedAt.Compare(b.CreatedAt) })
		for i, p := range slices.Backward(points) {
			if !q.v3() && p.Value == value && !p.CreatedAt.Before(now.Add(-time.Duration(m.Threshold-1)*time.Minute).Truncate(time.Minute)) ||
				q.v3() && i == len(points)-1 && p.CreatedAt.Truncate(time.Minute).Sub(at.Truncate(time.Minute)).Abs() < time.Duration(m.Threshold)*time.Minute {
				p.Counter++
				q.one(true, q.point(*p))
				return
			}
		}
		p := Point{ID: s.newID(0), MetricID: m.ID, Value: value, Counter: 1, CreatedAt: time.Unix((at.Unix()+15)/30*30, 0).UTC()}
		s.points = append(s.points, p)
		q.one(true, q.point(p))
	}
}

// schedulesAPI lists the schedules (2.4, 3.x). 2.4 lists no components
// and shows a missing end as the time of the request; 3.x works the
// status out from the times.
func (s *Server) schedulesAPI(q *req) {
	ids := slices.Sorted(maps.Keys(s.schedules))
	q.page(len(ids), func(i int) any {
		sc := s.schedules[ids[i]]
		attrs := map[string]any{"id": sc.ID, "name": sc.Name, "message": sc.Message, "status": q.status(sc.Status), "components": []any{}}
		end := sc.CompletedAt
		if q.v3() {
			attrs["status"] = q.status(status3(sc))
			delete(attrs, "components")
		} else if end.IsZero() {
			end = time.Now()
		}
		q.at(attrs, "scheduled", sc.ScheduledAt)
		q.at(attrs, "completed", end)
		return q.res("schedules", attrs, "components", sc.ComponentIDs...)
	})
}
