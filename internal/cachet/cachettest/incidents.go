package cachettest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Incident is an incident as the fake stores it.
type Incident struct {
	ID       int
	Name     string
	Message  string
	Status   int  // 0..4, 4 fixed
	Visible  bool // guests see it (2.x visible 1, 3.x "guest")
	Stickied bool // pinned to the top of the page (2.4 and 3.x)
	Notify   bool // 2.x notify, 3.x notifications, as sent
	// ComponentID and ComponentStatus are the component the incident
	// names and its status then (3.x numbers on 3.x).
	ComponentID     int
	ComponentStatus int
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// IncidentUpdate is an incident update (Cachet 2.4 and 3.x).
type IncidentUpdate struct {
	ID         int
	IncidentID int
	Status     int
	Message    string
	CreatedAt  time.Time
}

// AddIncident stores an incident, e.g. one this tool opened before its
// state was lost, and returns its id. An ID <= 0 gets a new one, a zero
// CreatedAt now.
func (s *Server) AddIncident(in Incident) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.ID <= 0 {
		in.ID = s.newIDLocked()
	}
	s.nextID = max(s.nextID, in.ID)
	if in.CreatedAt.IsZero() {
		in.CreatedAt = time.Now().UTC()
	}
	if in.UpdatedAt.IsZero() {
		in.UpdatedAt = in.CreatedAt
	}
	s.incidents[in.ID] = &in
	return in.ID
}

// RemoveIncident deletes an incident, as a person would in the dashboard.
func (s *Server) RemoveIncident(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.incidents, id)
}

// Incidents returns the stored incidents by id.
func (s *Server) Incidents() []Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Incident, 0, len(s.incidents))
	for _, in := range s.incidents {
		out = append(out, *in)
	}
	slices.SortFunc(out, func(a, b Incident) int { return a.ID - b.ID })
	return out
}

// Incident returns the stored incident with id.
func (s *Server) Incident(id int) (Incident, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.incidents[id]
	if !ok {
		return Incident{}, false
	}
	return *in, true
}

// IncidentUpdates returns an incident's updates, oldest first.
func (s *Server) IncidentUpdates(incidentID int) []IncidentUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []IncidentUpdate
	for _, u := range s.updates {
		if u.IncidentID == incidentID {
			out = append(out, u)
		}
	}
	return out
}

// addUpdateLocked records an update and moves the incident's status to
// it, as both 2.4 and 3.x do.
func (s *Server) addUpdateLocked(in *Incident, status int, message string) IncidentUpdate {
	now := time.Now().UTC()
	u := IncidentUpdate{ID: s.newIDLocked(), IncidentID: in.ID, Status: status, Message: message, CreatedAt: now}
	s.updates = append(s.updates, u)
	in.Status, in.UpdatedAt = status, now
	return u
}

var incidentNames2 = [...]string{"Scheduled", "Investigating", "Identified", "Watching", "Fixed"}

func humanIncident(status int, names [5]string) string {
	if status >= 0 && status < len(names) {
		return names[status]
	}
	return ""
}

// incidentJSON2 is Cachet 2.x's IncidentPresenter.
func incidentJSON2(in *Incident, loc *time.Location) map[string]any {
	visible := 0
	if in.Visible {
		visible = 1
	}
	human := humanIncident(in.Status, incidentNames2)
	return map[string]any{
		"id": in.ID, "component_id": in.ComponentID, "name": in.Name, "status": in.Status, "visible": visible,
		"stickied": in.Stickied, "notifications": in.Notify, "message": in.Message, "user_id": 1,
		"occurred_at": in.CreatedAt.In(loc).Format(timeLayout), "created_at": in.CreatedAt.In(loc).Format(timeLayout),
		"updated_at": in.UpdatedAt.In(loc).Format(timeLayout), "deleted_at": nil,
		"human_status": human, "latest_status": in.Status, "latest_human_status": human,
		"permalink": fmt.Sprintf("http://status.test/incidents/%d", in.ID), "meta": []any{},
	}
}

func updateJSON2(u IncidentUpdate, loc *time.Location) map[string]any {
	return map[string]any{
		"id": u.ID, "incident_id": u.IncidentID, "status": u.Status, "message": u.Message, "user_id": 1,
		"created_at": u.CreatedAt.In(loc).Format(timeLayout), "updated_at": u.CreatedAt.In(loc).Format(timeLayout),
		"human_status": humanIncident(u.Status, incidentNames2), "permalink": fmt.Sprintf("http://status.test/incidents/%d#update-%d", u.IncidentID, u.ID),
	}
}

// incidents2 serves /incidents... on 2.x; tail is what follows /incidents.
func (s *Server) incidents2(w http.ResponseWriter, r *http.Request, tail string, body []byte, authorized bool) {
	idStr, sub, nested := strings.Cut(strings.TrimPrefix(tail, "/"), "/")
	switch {
	case tail == "":
		s.handle(w, r, "GET, HEAD, POST", r.Method == http.MethodPost, authorized, func() {
			if r.Method == http.MethodPost {
				s.createIncident2(w, r, body)
			} else {
				s.listIncidents2(w, r, authorized)
			}
		})
		return
	case nested && (sub != "updates" || s.mode == Cachet23): // 2.3 has no incident updates
		writeError(w, http.StatusNotFound, detail404, nil)
		return
	}
	allow := "GET, HEAD, PUT, DELETE"
	if nested {
		allow = "GET, HEAD, POST"
	}
	if !allowed(w, r, allow) {
		return
	}
	id, err := strconv.Atoi(idStr)
	s.mu.Lock()
	_, exists := s.incidents[id]
	s.mu.Unlock()
	if err != nil || !exists { // route-model binding runs before the token check
		writeError(w, http.StatusNotFound, noResults("Incident"), nil)
		return
	}
	s.handle(w, r, allow, isWrite(r.Method), authorized, func() {
		switch {
		case nested && r.Method == http.MethodPost:
			s.createUpdate2(w, r, id, body)
		case nested:
			s.listUpdates2(w, r, id)
		default:
			s.incident2(w, r, id, body)
		}
	})
}

// listIncidents2 filters on columns as Cachet's SearchableTrait does (a
// column mixed with page is a 500) and sorts like its SortableTrait, which
// always sorts descending (only sort=id is modelled).
func (s *Server) listIncidents2(w http.ResponseWriter, r *http.Request, authorized bool) {
	columns := incidentColumns
	if s.mode == Cachet23 {
		columns = incidentColumns23
	}
	filters, ok := columnFilters(r.URL.Query(), columns)
	if !ok {
		writeError(w, http.StatusInternalServerError, detail500, nil)
		return
	}
	loc := s.zone(r)
	s.mu.Lock()
	all := s.sortedIncidentsLocked()
	if r.URL.Query().Get("sort") == "id" {
		slices.Reverse(all)
	}
	var items []any
	for _, in := range all {
		cols := map[string]string{
			"id": strconv.Itoa(in.ID), "user_id": "1", "component_id": strconv.Itoa(in.ComponentID), "name": in.Name,
			"status": strconv.Itoa(in.Status), "visible": bit(in.Visible), "stickied": bit(in.Stickied),
		}
		if (in.Visible || authorized) && matchColumns(cols, filters) { // guests see visible >= 1 only
			items = append(items, incidentJSON2(in, loc))
		}
	}
	s.mu.Unlock()
	writeList(w, r, items, s.pageSize(r))
}

func (s *Server) sortedIncidentsLocked() []*Incident {
	out := make([]*Incident, 0, len(s.incidents))
	for _, in := range s.incidents {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b *Incident) int { return a.ID - b.ID })
	return out
}

// checkStatus2 validates an incident status like 2.4's command rules
// (lo..4); 2.3 only asks for an integer.
func (s *Server) checkStatus2(in map[string]any, lo int, required bool, problems *[]string) (int, bool) {
	st, has, err := intField(in, "status")
	switch {
	case err != nil:
		*problems = append(*problems, "The status must be an integer.")
	case !has && required:
		*problems = append(*problems, "The status field is required.")
	case !has || s.mode == Cachet23:
	case st < lo:
		*problems = append(*problems, fmt.Sprintf("The status must be at least %d.", lo))
	case st > 4:
		*problems = append(*problems, "The status may not be greater than 4.")
	}
	return st, has && err == nil
}

// incidentFields2 reads the fields POST and PUT share, as Cachet's
// controllers do: visible and notify default to true, stickied (2.4) to
// false, on a PUT too. Binput cleans the message (see clean) except in
// 2.4's POST /incidents, which reads it raw.
func (s *Server) incidentFields2(in map[string]any, inc *Incident, raw bool, problems *[]string) {
	if msg, ok := in["message"].(string); ok && msg != "" {
		inc.Message = msg
		if !raw {
			inc.Message = clean(msg)
		}
	}
	flags := map[string]*bool{"visible": &inc.Visible, "notify": &inc.Notify, "stickied": &inc.Stickied}
	if s.mode == Cachet23 {
		delete(flags, "stickied") // 2.3 has no stickied incidents
	}
	for key, dst := range flags {
		b, has, err := boolField(in, key)
		switch {
		case err != nil:
			*problems = append(*problems, fmt.Sprintf("The %s field must be true or false.", key))
		case has:
			*dst = b
		default:
			*dst = key != "stickied"
		}
	}
	cid, hasID, err1 := intField(in, "component_id")
	cst, hasSt, err2 := intField(in, "component_status")
	switch {
	case err1 != nil:
		*problems = append(*problems, "The component id must be an integer.")
	case err2 != nil:
		*problems = append(*problems, "The component status must be an integer.")
	case hasID && !hasSt:
		*problems = append(*problems, "The component status field is required when component id is present.")
	case hasSt && !hasID:
		*problems = append(*problems, "The component id field is required when component status is present.")
	case hasSt && s.mode == Cachet24 && (cst < 0 || cst > 4):
		*problems = append(*problems, "The component status may not be greater than 4.")
	case hasID:
		inc.ComponentID, inc.ComponentStatus = cid, cst
	}
}

func (s *Server) createIncident2(w http.ResponseWriter, r *http.Request, body []byte) {
	in, err := parseBody(r, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, detail400, []string{err.Error()})
		return
	}
	var problems []string
	inc := Incident{}
	if name, ok := in["name"].(string); ok && strings.TrimSpace(name) != "" {
		inc.Name = name
	} else {
		problems = append(problems, "The name field is required.")
	}
	inc.Status, _ = s.checkStatus2(in, 0, true, &problems)
	s.incidentFields2(in, &inc, s.mode == Cachet24, &problems)
	if inc.Message == "" {
		problems = append(problems, "The message field is required.")
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, detail400, problems)
		return
	}
	loc := s.zone(r)
	s.mu.Lock()
	inc.ID, inc.CreatedAt = s.newIDLocked(), time.Now().UTC()
	inc.UpdatedAt = inc.CreatedAt
	s.incidents[inc.ID] = &inc
	s.impactLocked(&inc)
	if inc.Notify && inc.Visible {
		s.mailLocked(MailIncident)
	}
	v := incidentJSON2(&inc, loc)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": v})
}

// impactLocked is 2.x's side effect of an incident naming a component
// and a (truthy) status: the component takes that status. 2.4.1 changes it
// without silent, so a change mails as a component PUT would; 2.3 writes
// the column directly, without events.
func (s *Server) impactLocked(inc *Incident) {
	if e, ok := s.comps[inc.ComponentID]; ok && inc.ComponentStatus != 0 && e.c.Status != inc.ComponentStatus {
		e.c.Status, e.updated = inc.ComponentStatus, time.Now().UTC()
		if s.mode == Cachet24 {
			s.mailLocked(MailComponent)
		}
	}
}

// clean is what Binput's XSS filter does to an incident message where the
// updater cares: an HTML comment is stored escaped, and the status page
// then shows it as text.
func clean(msg string) string {
	return strings.NewReplacer("<!--", "&lt;!--", "-->", "--&gt;").Replace(msg)
}

// incident2 serves GET, PUT and DELETE /incidents/{id}.
func (s *Server) incident2(w http.ResponseWriter, r *http.Request, id int, body []byte) {
	loc := s.zone(r)
	switch r.Method {
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.incidents, id)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPut:
		if !s.updateIncident2(w, r, id, body) {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if inc, ok := s.incidents[id]; ok {
		writeJSON(w, http.StatusOK, map[string]any{"data": incidentJSON2(inc, loc)})
	} else {
		writeError(w, http.StatusNotFound, noResults("Incident"), nil)
	}
}

// updateIncident2 applies a PUT; an absent visible or notify is true.
func (s *Server) updateIncident2(w http.ResponseWriter, r *http.Request, id int, body []byte) bool {
	in, err := parseBody(r, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, detail400, []string{err.Error()})
		return false
	}
	var problems []string
	s.mu.Lock()
	inc := *s.incidents[id]
	s.mu.Unlock()
	st, hasSt := s.checkStatus2(in, 0, false, &problems)
	s.incidentFields2(in, &inc, false, &problems)
	if name, ok := in["name"].(string); ok && name != "" {
		inc.Name = name
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, detail400, problems)
		return false
	}
	if hasSt {
		inc.Status = st
	}
	inc.UpdatedAt = time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.incidents[id]; ok {
		s.incidents[id] = &inc
		s.impactLocked(&inc)
	}
	return true
}

func (s *Server) listUpdates2(w http.ResponseWriter, r *http.Request, id int) {
	loc := s.zone(r)
	var items []any
	for _, u := range s.IncidentUpdates(id) {
		items = append(items, updateJSON2(u, loc))
	}
	writeList(w, r, items, s.pageSize(r))
}

// createUpdate2 is 2.4's POST /incidents/{id}/updates: status 1..4 and a
// message, both required.
func (s *Server) createUpdate2(w http.ResponseWriter, r *http.Request, id int, body []byte) {
	in, err := parseBody(r, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, detail400, []string{err.Error()})
		return
	}
	var problems []string
	st, _ := s.checkStatus2(in, 1, true, &problems)
	msg, _ := in["message"].(string)
	if strings.TrimSpace(msg) == "" {
		problems = append(problems, "The message field is required.")
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, detail400, problems)
		return
	}
	loc := s.zone(r)
	s.mu.Lock()
	inc, ok := s.incidents[id]
	var u IncidentUpdate
	if ok {
		u = s.addUpdateLocked(inc, st, clean(msg))
		if inc.Visible { // 2.4 mails every update of a visible incident, notify or not
			s.mailLocked(MailIncidentUpdate)
		}
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, noResults("Incident"), nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": updateJSON2(u, loc)})
}

var incidentNames3 = [...]string{"Reported", "Investigating", "Identified", "Watching", "Fixed"}

func incidentRes3(in *Incident, includeComponents bool, loc *time.Location) map[string]any {
	visible := 0
	if in.Visible {
		visible = 1
	}
	attrs := map[string]any{
		"id": in.ID, "guid": fmt.Sprintf("00000000-0000-4000-8000-%012d", in.ID), "name": in.Name, "message": in.Message,
		"visible": visible, "stickied": in.Stickied, "notifications": in.Notify,
		"status":   labelled(humanIncident(in.Status, incidentNames3), in.Status),
		"occurred": when(in.CreatedAt, loc), "published": when(in.CreatedAt, loc), "created": when(in.CreatedAt, loc), "updated": when(in.UpdatedAt, loc),
	}
	var rels map[string]any
	if includeComponents {
		var ids []int
		if in.ComponentID > 0 {
			ids = []int{in.ComponentID}
		}
		rels = map[string]any{"components": toMany("components", ids)}
	}
	return res("incidents", in.ID, attrs, rels)
}

func updateRes3(u IncidentUpdate, loc *time.Location) map[string]any {
	return res("updates", u.ID, map[string]any{
		"id": u.ID, "updateable_id": u.IncidentID, "updateable_type": "incident", "message": u.Message,
		"status": labelled(humanIncident(u.Status, incidentNames3), u.Status), "created": when(u.CreatedAt, loc), "updated": when(u.CreatedAt, loc),
	}, nil)
}

// incidents3 serves /incidents... on 3.x; tail is what follows /incidents/.
func (s *Server) incidents3(c *ctx3, tail string) {
	idStr, sub, nested := strings.Cut(tail, "/")
	switch {
	case tail == "":
		if c.allow("GET", "HEAD", "POST") && (c.r.Method != http.MethodPost || c.auth()) && c.throttle() {
			if c.r.Method == http.MethodPost {
				s.createIncident3(c)
			} else {
				s.listIncidents3(c)
			}
		}
		return
	case nested && sub != "updates":
		writeMessage(c.w, http.StatusNotFound, routeNotFound(c.r))
		return
	}
	allow := []string{"GET", "HEAD", "PUT", "PATCH", "DELETE"}
	if nested {
		allow = []string{"GET", "HEAD", "POST"}
	}
	write := isWrite(c.r.Method)
	if !c.allow(allow...) || (write && !c.auth()) || !c.throttle() {
		return
	}
	id, ok := itemID(idStr)
	s.mu.Lock()
	inc, exists := s.incidents[id]
	visible := exists && (inc.Visible || c.authorized)
	s.mu.Unlock()
	if !ok || !exists || (!write && !visible) {
		writeMessage(c.w, http.StatusNotFound, noModel3("Incident", idStr))
		return
	}
	switch {
	case nested && write:
		s.createUpdate3(c, id)
	case nested:
		var items []map[string]any
		for _, u := range s.IncidentUpdates(id) {
			items = append(items, updateRes3(u, c.loc))
		}
		c.collection(items, nil)
	default:
		s.incident3(c, id)
	}
}

func (s *Server) listIncidents3(c *ctx3) {
	p, ok := query3{
		filters:  []string{"name", "status", "occurs_after", "occurs_before", "occurs_on", "meta"},
		includes: []string{"components", "components.group", "updates", "user", "meta"},
		sorts:    []string{"name", "status", "id", "created_at"},
	}.parse(c)
	if !ok {
		return
	}
	s.mu.Lock()
	all := s.sortedIncidentsLocked()
	slices.SortStableFunc(all, func(a, b *Incident) int { // defaultSort('-created_at')
		if x := b.CreatedAt.Compare(a.CreatedAt); x != 0 {
			return x
		}
		return b.ID - a.ID
	})
	var items []map[string]any
	for _, in := range all {
		st, hasSt := p.filters["status"]
		if (in.Visible || c.authorized) && (!hasSt || slices.Contains(splitList(st), strconv.Itoa(in.Status))) {
			items = append(items, incidentRes3(in, p.includes["components"], c.loc))
		}
	}
	s.mu.Unlock()
	sortItems(items, p.sort)
	c.collection(items, nil)
}

// incidentFields3 reads CreateIncidentRequestData: notifications, not
// notify; visible and notifications default to false.
func (s *Server) incidentFields3(in map[string]any, inc *Incident, v *invalid) {
	inc.Visible, _ = v.bool3(in, "visible")
	inc.Stickied, _ = v.bool3(in, "stickied")
	inc.Notify, _ = v.bool3(in, "notifications")
	cid, hasID, err := intField(in, "component_id")
	s.mu.Lock()
	_, exists := s.comps[cid]
	s.mu.Unlock()
	if err != nil || (hasID && !exists) {
		v.add("component_id", "The selected component id is invalid.")
	}
	cst, hasSt := v.enum3(in, "component_status", 1, 6, false)
	if hasID && !hasSt && v.msgs["component_status"] == nil {
		v.add("component_status", "The component status field is required when component id is present.")
	}
	if hasID && hasSt {
		inc.ComponentID, inc.ComponentStatus = cid, cst
	}
}

func (s *Server) createIncident3(c *ctx3) {
	in := c.input()
	var v invalid
	inc := Incident{}
	inc.Name, _ = v.string3(in, "name", true)
	inc.Status, _ = v.enum3(in, "status", 0, 4, true)
	if msg, ok := in["message"].(string); ok && strings.TrimSpace(msg) != "" {
		inc.Message = msg
	} else {
		v.add("message", "The message field is required when template is not present.")
	}
	s.incidentFields3(in, &inc, &v)
	if v.failed(c.w) || !c.can("incidents.manage") {
		return
	}
	s.mu.Lock()
	inc.ID, inc.CreatedAt = s.newIDLocked(), time.Now().UTC()
	inc.UpdatedAt = inc.CreatedAt
	s.incidents[inc.ID] = &inc
	if inc.Notify && inc.Visible {
		s.mailLocked(MailIncident)
	}
	doc := map[string]any{"data": incidentRes3(&inc, false, c.loc)}
	s.mu.Unlock()
	writeDoc(c.w, http.StatusCreated, doc)
}

// incident3 serves GET, PUT, PATCH and DELETE /incidents/{id}.
func (s *Server) incident3(c *ctx3, id int) {
	switch c.r.Method {
	case http.MethodDelete:
		if c.can("incidents.delete") {
			s.mu.Lock()
			delete(s.incidents, id)
			s.mu.Unlock()
			c.w.WriteHeader(http.StatusNoContent)
		}
		return
	case http.MethodPut, http.MethodPatch:
		in := c.input()
		var v invalid
		name, hasName := v.string3(in, "name", false)
		st, hasSt := v.enum3(in, "status", 0, 4, false)
		msg, hasMsg := v.string3(in, "message", false)
		visible, hasVisible := v.bool3(in, "visible")
		if v.failed(c.w) || !c.can("incidents.manage") {
			return
		}
		s.mu.Lock()
		inc := s.incidents[id]
		if inc == nil { // deleted meanwhile
			s.mu.Unlock()
			writeMessage(c.w, http.StatusNotFound, noModel3("Incident", strconv.Itoa(id)))
			return
		}
		if hasName {
			inc.Name = name
		}
		if hasSt {
			inc.Status = st
		}
		if hasMsg {
			inc.Message = msg
		}
		if hasVisible {
			inc.Visible = visible
		}
		inc.UpdatedAt = time.Now().UTC()
		s.mu.Unlock()
	}
	s.mu.Lock()
	inc := s.incidents[id]
	var doc map[string]any
	if inc != nil {
		doc = map[string]any{"data": incidentRes3(inc, false, c.loc)}
	}
	s.mu.Unlock()
	if doc == nil {
		writeMessage(c.w, http.StatusNotFound, noModel3("Incident", strconv.Itoa(id)))
		return
	}
	writeDoc(c.w, http.StatusOK, doc)
}

// createUpdate3 is CreateIncidentUpdateRequestData: status (0..4) and
// message, both required; the ability is incident-updates.manage.
func (s *Server) createUpdate3(c *ctx3, id int) {
	in := c.input()
	var v invalid
	st, _ := v.enum3(in, "status", 0, 4, true)
	msg, _ := v.string3(in, "message", true)
	if v.failed(c.w) || !c.can("incident-updates.manage") {
		return
	}
	s.mu.Lock()
	inc, ok := s.incidents[id]
	var u IncidentUpdate
	if ok {
		u = s.addUpdateLocked(inc, st, msg)
		if inc.Notify && inc.Visible { // NotifyIncidentUpdateSubscribers checks the incident's notifications
			s.mailLocked(MailIncidentUpdate)
		}
	}
	s.mu.Unlock()
	if !ok {
		writeMessage(c.w, http.StatusNotFound, noModel3("Incident", strconv.Itoa(id)))
		return
	}
	writeDoc(c.w, http.StatusCreated, map[string]any{"data": updateRes3(u, c.loc)})
}
