package cachettest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Cachet 2.4's error texts.
const (
	detail400 = "The request cannot be fulfilled due to bad syntax."
	detail401 = "Authentication is required and has failed or has not yet been provided."
	detail404 = "The requested resource could not be found but may be available again in the future."
	detail405 = "A request was made of a resource using a request method not supported by that resource."
	detail429 = "The user has sent too many requests in a given amount of time."
	detail500 = "An error has occurred and this resource cannot be displayed."
	noModel   = `No query results for model [CachetHQ\Cachet\Models\Component].`
	noGroup   = `No query results for model [CachetHQ\Cachet\Models\ComponentGroup].`
)

// noResults is Cachet 2.x's 404 detail for an unknown id of a model.
func noResults(model string) string {
	return `No query results for model [CachetHQ\Cachet\Models\` + model + `].`
}

// route dispatches like Laravel: route match (404/405), then route-model
// binding (404), then Acceptable (406), then the token (401).
func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte, authorized bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.prefix)
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
			v := "2.4.1"
			if s.mode == Cachet23 {
				v = "2.3.18"
			}
			writeJSON(w, http.StatusOK, map[string]any{
				"meta": map[string]any{"on_latest": v == "2.4.1", "latest": map[string]any{"tag_name": "v2.4.1", "prelease": false, "draft": false}},
				"data": v,
			})
		})
	case rest == "/status":
		s.handle(w, r, readOnly, false, authorized, func() {
			writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"status": "success", "message": "System operational"}})
		})
	case rest == "/components" || rest == "/components/groups":
		s.handle(w, r, "GET, HEAD, POST", r.Method == http.MethodPost, authorized, func() {
			switch {
			case r.Method == http.MethodPost:
				s.create2(w, r, strings.TrimPrefix(rest, "/"), body)
			case rest == "/components":
				s.listComponents(w, r, authorized)
			default:
				s.listGroups(w, r)
			}
		})
	case strings.HasPrefix(rest, "/components/groups/"):
		if !allowed(w, r, "GET, HEAD, DELETE") {
			return
		}
		if r.Method == http.MethodDelete {
			s.removeItem2(w, r, "components/groups", strings.TrimPrefix(rest, "/components/groups/"), authorized)
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
	case rest == "/incidents" || strings.HasPrefix(rest, "/incidents/"):
		s.incidents2(w, r, strings.TrimPrefix(rest, "/incidents"), body, authorized)
	case rest == "/metrics" || strings.HasPrefix(rest, "/metrics/"):
		s.metrics2(w, r, strings.TrimPrefix(rest, "/metrics"), body, authorized)
	case s.mode == Cachet24 && (rest == "/schedules" || strings.HasPrefix(rest, "/schedules/")):
		s.schedules2(w, r, strings.TrimPrefix(rest, "/schedules"), authorized)
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
		loc := s.zone(r)
		s.mu.Lock()
		e := s.comps[id]
		var v map[string]any
		if e != nil && (e.c.Enabled || authorized) {
			v = s.componentJSONLocked(e, loc)
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
// their value (enabled too), status must be an integer in 0..4. Cachet 2.3
// stores any integer status and takes an absent enabled as true.
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
	case s.mode == Cachet23:
	case hasStatus && st < 0:
		problems = append(problems, "The status must be at least 0.")
	case hasStatus && st > 4:
		problems = append(problems, "The status may not be greater than 4.")
	}
	enabled, hasEnabled, err := boolField(in, "enabled")
	if !hasEnabled && err == nil && s.mode == Cachet23 {
		enabled, hasEnabled = true, true
	}
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

	loc := s.zone(r)
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
	if e.c != old || s.mode == Cachet23 { // Cachet 2.4 only touches updated_at when something changed
		e.updated = time.Now().UTC()
	}
	if silent, _, _ := boolField(in, "silent"); s.mode == Cachet23 || (e.c.Status != old.Status && e.c.Status != 0 && !silent) {
		s.mailLocked(MailComponent) // 2.3 mails for every PUT; 2.4 not for 0, which it takes for "no status"

	}
	v := s.componentJSONLocked(e, loc)
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
