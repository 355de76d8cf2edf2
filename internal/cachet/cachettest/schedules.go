package cachettest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Schedule is a maintenance window as the fake stores it. The fake serves
// schedules read-only; tests add them with AddSchedule or
// StartMaintenance.
type Schedule struct {
	ID      int
	Name    string
	Message string
	// Status is 2.4's status as set in the dashboard: 0 upcoming, 1 in
	// progress, 2 complete. 3.x works it out from the times instead.
	Status      int
	ScheduledAt time.Time
	CompletedAt time.Time // zero: no end set
	// ComponentIDs are the components it covers on 3.x. Cachet 2.4 takes
	// them when a schedule is created and drops them: its schedules always
	// list "components": [].
	ComponentIDs []int
}

// status3 is cachethq/core's Schedule::status: upcoming before
// scheduled_at, in progress until completed_at (or for good without one),
// complete after.
func (sc *Schedule) status3(now time.Time) int {
	switch {
	case sc.ScheduledAt.After(now):
		return 0
	case sc.CompletedAt.IsZero() || !sc.CompletedAt.Before(now):
		return 1
	}
	return 2
}

var scheduleNames = [...]string{"Upcoming", "In Progress", "Complete"}

func scheduleName(status int) string {
	if status >= 0 && status < len(scheduleNames) {
		return scheduleNames[status]
	}
	return ""
}

// AddSchedule adds or replaces a schedule and returns its id; an ID <= 0
// gets a new one.
func (s *Server) AddSchedule(sc Schedule) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc.ID <= 0 {
		sc.ID = s.newIDLocked()
	}
	s.nextID = max(s.nextID, sc.ID)
	sc.ComponentIDs = slices.Clone(sc.ComponentIDs)
	s.schedules[sc.ID] = &sc
	return sc.ID
}

// StartMaintenance adds a window in progress since a minute ago, without
// an end, covering the components (on 3.x, they show under maintenance in
// latest_status), and returns its id.
func (s *Server) StartMaintenance(name string, componentIDs ...int) int {
	return s.AddSchedule(Schedule{Name: name, Message: "Maintenance", Status: 1,
		ScheduledAt: time.Now().UTC().Add(-time.Minute), ComponentIDs: componentIDs})
}

func (s *Server) sortedSchedulesLocked() []*Schedule {
	out := make([]*Schedule, 0, len(s.schedules))
	for _, sc := range s.schedules {
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b *Schedule) int { return a.ID - b.ID })
	return out
}

// scheduleJSON2 is 2.4's SchedulePresenter, which renders a missing
// completed_at as the time of the request, with the schedule's components
// relation, always empty.
func scheduleJSON2(sc *Schedule, loc *time.Location, now time.Time) map[string]any {
	completed := sc.CompletedAt
	if completed.IsZero() {
		completed = now
	}
	return map[string]any{
		"id": sc.ID, "name": sc.Name, "message": sc.Message, "status": sc.Status,
		"scheduled_at": sc.ScheduledAt.In(loc).Format(timeLayout), "completed_at": completed.In(loc).Format(timeLayout),
		"created_at": sc.ScheduledAt.In(loc).Format(timeLayout), "updated_at": sc.ScheduledAt.In(loc).Format(timeLayout),
		"deleted_at": nil, "human_status": scheduleName(sc.Status), "components": []any{},
	}
}

// schedules2 serves /schedules... on 2.4 (read-only here).
func (s *Server) schedules2(w http.ResponseWriter, r *http.Request, tail string, authorized bool) {
	const allow = "GET, HEAD"
	loc, now := s.zone(r), time.Now()
	if tail == "" {
		s.handle(w, r, allow, false, authorized, func() {
			s.mu.Lock()
			var items []any
			for _, sc := range s.sortedSchedulesLocked() {
				items = append(items, scheduleJSON2(sc, loc, now))
			}
			s.mu.Unlock()
			writeList(w, r, items, s.pageSize(r))
		})
		return
	}
	if !allowed(w, r, allow) {
		return
	}
	id, err := strconv.Atoi(strings.TrimPrefix(tail, "/"))
	s.mu.Lock()
	sc, ok := s.schedules[id]
	var v map[string]any
	if ok {
		v = scheduleJSON2(sc, loc, now)
	}
	s.mu.Unlock()
	if err != nil || !ok {
		writeError(w, http.StatusNotFound, noResults("Schedule"), nil)
		return
	}
	s.handle(w, r, allow, false, authorized, func() { writeJSON(w, http.StatusOK, map[string]any{"data": v}) })
}

func scheduleRes3(sc *Schedule, includeComponents bool, now time.Time, loc *time.Location) map[string]any {
	st := sc.status3(now)
	attrs := map[string]any{
		"id": sc.ID, "name": sc.Name, "message": sc.Message, "status": labelled(scheduleName(st), st),
		"scheduled": when(sc.ScheduledAt, loc), "completed": when(sc.CompletedAt, loc), "published": when(sc.ScheduledAt, loc),
		"created": when(sc.ScheduledAt, loc), "updated": when(sc.ScheduledAt, loc),
	}
	var rels map[string]any
	if includeComponents {
		rels = map[string]any{"components": toMany("components", sc.ComponentIDs)}
	}
	return res("schedules", sc.ID, attrs, rels)
}

// schedules3 serves /schedules... on 3.x (read-only here).
func (s *Server) schedules3(c *ctx3, tail string) {
	if !c.allow("GET", "HEAD") || !c.throttle() {
		return
	}
	now := time.Now()
	if tail != "" {
		id, ok := itemID(tail)
		s.mu.Lock()
		sc, exists := s.schedules[id]
		var doc map[string]any
		if ok && exists {
			doc = map[string]any{"data": scheduleRes3(sc, false, now, c.loc)}
		}
		s.mu.Unlock()
		if doc == nil {
			writeMessage(c.w, http.StatusNotFound, noModel3("Schedule", tail))
			return
		}
		writeDoc(c.w, http.StatusOK, doc)
		return
	}
	p, ok := query3{
		filters:  []string{"name", "status", "meta"},
		includes: []string{"components", "components.group", "updates", "user", "meta"},
		sorts:    []string{"name", "id", "scheduled_at", "completed_at"},
	}.parse(c)
	if !ok {
		return
	}
	st, hasSt := p.filters["status"]
	s.mu.Lock()
	var items []map[string]any
	for _, sc := range s.sortedSchedulesLocked() {
		if !hasSt || slices.Contains(splitList(st), strconv.Itoa(sc.status3(now))) {
			items = append(items, scheduleRes3(sc, p.includes["components"], now, c.loc))
		}
	}
	s.mu.Unlock()
	sortItems(items, p.sort)
	c.collection(items, nil)
}
