package cachettest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// What a person or the acceptance suite creates and removes through the
// API, as Cachet does it: components, component groups and metrics (2.x:
// POST 200; 3.x: POST 201 with the resource's .manage ability) and their
// removal (DELETE 204; 3.x: the .delete ability). Removing a group
// ungroups its components.

// create2 serves POST /components, /components/groups and /metrics on
// 2.x (CreateComponentCommand, CreateComponentGroupCommand,
// CreateMetricCommand: name, and a component's status, a metric's suffix
// are required).
func (s *Server) create2(w http.ResponseWriter, r *http.Request, what string, body []byte) {
	in, err := parseBody(r, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, detail400, []string{err.Error()})
		return
	}
	var problems []string
	name, _ := in["name"].(string)
	if strings.TrimSpace(name) == "" {
		problems = append(problems, "The name field is required.")
	}
	st, hasStatus, err := intField(in, "status")
	group, _, errGroup := intField(in, "group_id")
	enabled, hasEnabled, errEnabled := boolField(in, "enabled")
	calc, _, errCalc := intField(in, "calc_type")
	threshold, _, errThreshold := intField(in, "threshold")
	suffix, _ := in["suffix"].(string)
	switch {
	case what == "components" && (!hasStatus || err != nil || (s.mode == Cachet24 && (st < 0 || st > 4))):
		problems = append(problems, "The status must be an integer between 0 and 4.")
	case what == "components" && (errGroup != nil || errEnabled != nil):
		problems = append(problems, "The group id must be an integer and enabled true or false.")
	case what == "metrics" && (suffix == "" || errCalc != nil || errThreshold != nil):
		problems = append(problems, "The suffix field is required; calc type and threshold must be integers.")
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, detail400, problems)
		return
	}
	loc := s.zone(r)
	s.mu.Lock()
	var v map[string]any
	switch what {
	case "components":
		v = s.componentJSONLocked(s.addLocked(Component{Name: name, Status: st, Enabled: enabled || !hasEnabled, GroupID: group}), loc)
	case "components/groups":
		id := s.newGroupIDLocked()
		s.groups[id] = name
		v = groupJSON(id, name)
	default:
		v = metricJSON2(s.addMetricLocked(Metric{Name: name, Suffix: suffix, CalcType: calc, Threshold: threshold}))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": v})
}

// has reports whether the group or metric (what: a path's "metrics" or
// another) exists.
func (s *Server) has(what string, id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if what == "metrics" {
		return s.metrics[id] != nil
	}
	_, ok := s.groups[id]
	return ok
}

// remove deletes a metric and its points, or a group, ungrouping its
// components.
func (s *Server) remove(what string, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if what == "metrics" {
		delete(s.metrics, id)
		s.points = keepPoints(s.points, id)
		return
	}
	delete(s.groups, id)
	for _, e := range s.comps {
		if e.c.GroupID == id {
			e.c.GroupID, e.updated = 0, time.Now().UTC()
		}
	}
}

func model(what string) string {
	if what == "metrics" {
		return "Metric"
	}
	return "ComponentGroup"
}

func keepPoints(points []Point, metricID int) []Point {
	out := points[:0]
	for _, p := range points {
		if p.MetricID != metricID {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) newGroupIDLocked() int {
	id := 0
	for g := range s.groups {
		id = max(id, g)
	}
	return id + 1
}

// removeItem2 serves DELETE /components/groups/{id} and /metrics/{id} on
// 2.x: route-model binding (404) before the token (401).
func (s *Server) removeItem2(w http.ResponseWriter, r *http.Request, what, idStr string, authorized bool) {
	id, err := strconv.Atoi(idStr)
	switch {
	case err != nil || !s.has(what, id):
		writeError(w, http.StatusNotFound, noResults(model(what)), nil)
	case !authorized:
		writeError(w, http.StatusUnauthorized, detail401, nil)
	default:
		s.remove(what, id)
		w.WriteHeader(http.StatusNoContent)
	}
}

// write3 serves POST /component-groups and /metrics and DELETE
// /component-groups/{id} and /metrics/{id} on 3.x; what is
// "component-groups" or "metrics".
func (s *Server) write3(c *ctx3, what, tail string) {
	if !c.auth() || !c.throttle() {
		return
	}
	if tail != "" { // auth:sanctum, then route-model binding, then the guard
		id, ok := itemID(tail)
		switch {
		case !ok || !s.has(what, id):
			writeMessage(c.w, http.StatusNotFound, noModel3(model(what), tail))
		case c.can(what + ".delete"):
			s.remove(what, id)
			c.w.WriteHeader(http.StatusNoContent)
		}
		return
	}
	in := c.input()
	var v invalid
	name, _ := v.string3(in, "name", true)
	var m Metric
	if what == "metrics" {
		m.Suffix, _ = v.string3(in, "suffix", true)
		m.CalcType, _ = v.enum3(in, "calc_type", 0, 1, false)
		m.Threshold, _ = v.enum3(in, "threshold", 0, 60, false)
		if d, ok := in["default_value"]; ok && !decimal12(d) {
			v.add("default_value", "The default value field must have 1-2 decimal places.")
		}
	}
	if v.failed(c.w) || !c.can(what+".manage") {
		return
	}
	s.mu.Lock()
	var doc map[string]any
	if what == "metrics" {
		m.Name = name
		doc = map[string]any{"data": metricRes3(s.addMetricLocked(m))}
	} else {
		id := s.newGroupIDLocked()
		s.groups[id] = name
		doc = map[string]any{"data": groupRes(id, name)}
	}
	s.mu.Unlock()
	writeDoc(c.w, http.StatusCreated, doc)
}

// decimal12 is Laravel's decimal:1,2 on a value as PHP holds it: a JSON
// number is a PHP float or int printed shortest (0 and 1.0 have no decimal
// places, so they fail), a string is taken as written.
func decimal12(v any) bool {
	var str string
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return false
		}
		str = strconv.FormatFloat(f, 'f', -1, 64)
	case string:
		if _, err := strconv.ParseFloat(x, 64); err != nil {
			return false
		}
		str = x
	default:
		return false
	}
	_, frac, _ := strings.Cut(str, ".")
	return len(frac) >= 1 && len(frac) <= 2
}
