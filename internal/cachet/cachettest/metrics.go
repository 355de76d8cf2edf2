package cachettest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Metric is a metric as the fake stores it.
type Metric struct {
	ID        int
	Name      string
	Suffix    string
	Threshold int // minutes within which points are folded together; 0 is Cachet's default, 5
	CalcType  int // 0 sum (Cachet's default: a folded point counts its value counter times), 1 average
}

// Point is a metric point as the fake stores it.
type Point struct {
	ID        int
	MetricID  int
	Value     float64
	Counter   int       // how many points were folded into this one
	CreatedAt time.Time // the timestamp sent (or the time it arrived), rounded to 30 seconds
}

// AddMetric adds or replaces a metric and returns its id; an ID <= 0 gets
// a new one.
func (s *Server) AddMetric(m Metric) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addMetricLocked(m).ID
}

func (s *Server) addMetricLocked(m Metric) *Metric {
	if m.ID <= 0 {
		m.ID = s.newIDLocked()
	}
	s.nextID = max(s.nextID, m.ID)
	if m.Threshold <= 0 {
		m.Threshold = 5
	}
	s.metrics[m.ID] = &m
	return &m
}

// Points returns a metric's points, oldest first.
func (s *Server) Points(metricID int) []Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Point
	for _, p := range s.points {
		if p.MetricID == metricID {
			out = append(out, p)
		}
	}
	return out
}

func roundTo30s(t time.Time) time.Time {
	return time.Unix(int64(math.Round(float64(t.Unix())/30)*30), 0).UTC()
}

// addPoint2Locked folds the point like Cachet 2.4: into a point of the
// same value created since the start of the minute threshold-1 minutes ago.
func (s *Server) addPoint2Locked(m *Metric, value float64, at time.Time) Point {
	now := time.Now()
	since := now.Add(-time.Duration(m.Threshold-1) * time.Minute).Truncate(time.Minute)
	for i := len(s.points) - 1; i >= 0; i-- {
		if p := &s.points[i]; p.MetricID == m.ID && p.Value == value && !p.CreatedAt.Before(since) {
			p.Counter++
			return *p
		}
	}
	return s.newPointLocked(m, value, at, now)
}

// addPoint3Locked folds the point like cachethq/core: into the metric's
// latest point when that is within the threshold of the point's time,
// whatever the value, which it keeps.
func (s *Server) addPoint3Locked(m *Metric, value float64, at time.Time) Point {
	now := time.Now()
	ref := at
	if ref.IsZero() {
		ref = now
	}
	last := -1
	for i, p := range s.points {
		if p.MetricID == m.ID && (last < 0 || !p.CreatedAt.Before(s.points[last].CreatedAt)) {
			last = i
		}
	}
	if last >= 0 {
		diff := s.points[last].CreatedAt.Truncate(time.Minute).Sub(ref.Truncate(time.Minute))
		if diff < 0 {
			diff = -diff
		}
		if diff < time.Duration(m.Threshold)*time.Minute {
			s.points[last].Counter++
			return s.points[last]
		}
	}
	return s.newPointLocked(m, value, at, now)
}

func (s *Server) newPointLocked(m *Metric, value float64, at, now time.Time) Point {
	if at.IsZero() {
		at = now
	}
	p := Point{ID: s.newIDLocked(), MetricID: m.ID, Value: value, Counter: 1, CreatedAt: roundTo30s(at)}
	s.points = append(s.points, p)
	return p
}

func metricJSON2(m *Metric) map[string]any {
	return map[string]any{
		"id": m.ID, "name": m.Name, "suffix": m.Suffix, "description": "", "default_value": 0, "calc_type": m.CalcType,
		"display_chart": 1, "places": 2, "default_view": 1, "threshold": m.Threshold, "order": 0, "visible": 1,
		"default_view_name": "Last 12 Hours",
	}
}

func pointJSON2(p Point, loc *time.Location) map[string]any {
	return map[string]any{
		"id": p.ID, "metric_id": p.MetricID, "value": p.Value, "counter": p.Counter,
		"created_at": p.CreatedAt.In(loc).Format(timeLayout), "updated_at": p.CreatedAt.In(loc).Format(timeLayout),
		"calculated_value": p.Value * float64(p.Counter),
	}
}

// metrics2 serves /metrics... on 2.x; tail is what follows /metrics.
func (s *Server) metrics2(w http.ResponseWriter, r *http.Request, tail string, body []byte, authorized bool) {
	idStr, sub, nested := strings.Cut(strings.TrimPrefix(tail, "/"), "/")
	switch {
	case tail == "":
		s.handle(w, r, "GET, HEAD, POST", r.Method == http.MethodPost, authorized, func() {
			if r.Method == http.MethodPost {
				s.create2(w, r, "metrics", body)
				return
			}
			s.mu.Lock()
			var items []any
			for _, m := range s.sortedMetricsLocked() {
				items = append(items, metricJSON2(m))
			}
			s.mu.Unlock()
			writeList(w, r, items, s.pageSize(r))
		})
		return
	case nested && sub != "points":
		writeError(w, http.StatusNotFound, detail404, nil)
		return
	}
	allow := "GET, HEAD, DELETE"
	if nested {
		allow = "GET, HEAD, POST"
	}
	if !allowed(w, r, allow) {
		return
	}
	if !nested && r.Method == http.MethodDelete {
		s.removeItem2(w, r, "metrics", idStr, authorized)
		return
	}
	id, err := strconv.Atoi(idStr)
	s.mu.Lock()
	m, ok := s.metrics[id]
	s.mu.Unlock()
	if err != nil || !ok {
		writeError(w, http.StatusNotFound, noResults("Metric"), nil)
		return
	}
	s.handle(w, r, allow, isWrite(r.Method), authorized, func() {
		switch {
		case !nested:
			writeJSON(w, http.StatusOK, map[string]any{"data": metricJSON2(m)})
		case r.Method == http.MethodPost:
			s.createPoint2(w, r, m, body)
		default:
			loc := s.zone(r)
			var items []any
			points := s.Points(id)
			for i := len(points) - 1; i >= 0; i-- { // newest first
				items = append(items, pointJSON2(points[i], loc))
			}
			writeList(w, r, items, s.pageSize(r))
		}
	})
}

func (s *Server) sortedMetricsLocked() []*Metric {
	out := make([]*Metric, 0, len(s.metrics))
	for _, m := range s.metrics {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *Metric) int { return a.ID - b.ID })
	return out
}

// createPoint2: value required and numeric, timestamp an optional Unix
// time (nullable|int).
func (s *Server) createPoint2(w http.ResponseWriter, r *http.Request, m *Metric, body []byte) {
	in, err := parseBody(r, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, detail400, []string{err.Error()})
		return
	}
	var problems []string
	value, hasValue, err := numberField(in, "value")
	switch {
	case err != nil:
		problems = append(problems, "The value must be a number.")
	case !hasValue:
		problems = append(problems, "The value field is required.")
	}
	ts, hasTS, err := intField(in, "timestamp")
	if err != nil {
		problems = append(problems, "The timestamp must be an integer.")
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, detail400, problems)
		return
	}
	var at time.Time
	if hasTS {
		at = time.Unix(int64(ts), 0)
	}
	loc := s.zone(r)
	s.mu.Lock()
	p := s.addPoint2Locked(m, value, at)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": pointJSON2(p, loc)})
}

// numberField reads a number the way Laravel's "numeric" rule accepts it.
func numberField(in map[string]any, key string) (x float64, present bool, err error) {
	v, ok := in[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	var s string
	switch y := v.(type) {
	case json.Number:
		s = y.String()
	case string:
		s = strings.TrimSpace(y)
	default:
		return 0, true, fmt.Errorf("not a number")
	}
	x, err = strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, true, fmt.Errorf("not a number")
	}
	return x, true, nil
}

func metricRes3(m *Metric) map[string]any {
	attrs := metricJSON2(m)
	delete(attrs, "default_view_name")
	attrs["created"], attrs["updated"] = when(time.Time{}, nil), when(time.Time{}, nil)
	return res("metrics", m.ID, attrs, nil)
}

func pointRes3(p Point, loc *time.Location) map[string]any {
	return res("metricPoints", p.ID, map[string]any{
		"id": p.ID, "metric_id": p.MetricID, "calculated_value": p.Value * float64(p.Counter),
		"value": p.Value, "counter": p.Counter, "created": when(p.CreatedAt, loc), "updated": when(p.CreatedAt, loc),
	}, nil)
}

// metrics3 serves /metrics... on 3.x; tail is what follows /metrics/.
func (s *Server) metrics3(c *ctx3, tail string) {
	idStr, sub, nested := strings.Cut(tail, "/")
	if c.r.Method == http.MethodPost && tail == "" || c.r.Method == http.MethodDelete && tail != "" && !strings.Contains(tail, "/") {
		s.write3(c, "metrics", tail)
		return
	}
	if tail == "" {
		if c.allow("GET", "HEAD", "POST") && c.throttle() {
			s.mu.Lock()
			var items []map[string]any
			for _, m := range s.sortedMetricsLocked() {
				items = append(items, metricRes3(m))
			}
			s.mu.Unlock()
			c.collection(items, nil)
		}
		return
	}
	if nested && sub != "points" {
		writeMessage(c.w, http.StatusNotFound, routeNotFound(c.r))
		return
	}
	allow := []string{"GET", "HEAD"}
	if nested {
		allow = append(allow, "POST")
	}
	write := isWrite(c.r.Method)
	if !c.allow(allow...) || (write && !c.auth()) || !c.throttle() {
		return
	}
	id, ok := itemID(idStr)
	s.mu.Lock()
	m, exists := s.metrics[id]
	s.mu.Unlock()
	switch {
	case !ok || !exists:
		writeMessage(c.w, http.StatusNotFound, noModel3("Metric", idStr))
	case !nested:
		writeDoc(c.w, http.StatusOK, map[string]any{"data": metricRes3(m)})
	case write:
		s.createPoint3(c, m)
	default:
		var items []map[string]any
		for _, p := range s.Points(id) {
			items = append(items, pointRes3(p, c.loc))
		}
		c.collection(items, nil)
	}
}

// createPoint3 is CreateMetricPointRequestData: value required and
// numeric, timestamp a date or a Unix time; the ability is
// metric-points.manage; 201.
func (s *Server) createPoint3(c *ctx3, m *Metric) {
	in := c.input()
	var v invalid
	value, hasValue, err := numberField(in, "value")
	switch {
	case err != nil:
		v.add("value", "The value field must be a number.")
	case !hasValue:
		v.add("value", "The value field is required.")
	}
	at, err := timestamp3(in["timestamp"])
	if err != nil {
		v.add("timestamp", "The timestamp must be a date or Unix timestamp.")
	}
	if v.failed(c.w) || !c.can("metric-points.manage") {
		return
	}
	s.mu.Lock()
	p := s.addPoint3Locked(m, value, at)
	s.mu.Unlock()
	writeDoc(c.w, http.StatusCreated, map[string]any{"data": pointRes3(p, c.loc)})
}

// timestamp3 reads a Unix time (a JSON number) or a date string, as
// Carbon::parse does; a numeric string is not a Unix time there.
func timestamp3(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return time.Time{}, err
		}
		return time.Unix(int64(f), 0), nil
	case string:
		for _, layout := range []string{time.RFC3339, timeLayout, "2006-01-02"} {
			if t, err := time.ParseInLocation(layout, strings.TrimSpace(x), time.UTC); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("not a date")
}
