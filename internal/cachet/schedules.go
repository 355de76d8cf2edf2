package cachet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// ErrUnsupported says that the Cachet in use lacks an API the call needs;
// Schedules wraps it on Cachet 2.3, which has no schedules.
var ErrUnsupported = errors.New("not supported by this Cachet")

// ScheduleStatus is a schedule's status.
type ScheduleStatus int

// Schedule statuses, alike in both APIs.
const (
	ScheduleUpcoming   ScheduleStatus = 0
	ScheduleInProgress ScheduleStatus = 1
	ScheduleComplete   ScheduleStatus = 2
)

// nullCompletedSlack: Cachet 2.4 renders a schedule without an end as
// completed_at = the time of the request, so an end up to this long before
// now may be no end at all (the slack covers the clocks' difference).
const nullCompletedSlack = 5 * time.Minute

// Schedule is a maintenance window.
type Schedule struct {
	ID          int
	Name        string
	Status      ScheduleStatus // 2.4: as set in the dashboard; 3.x: from the times, by Cachet
	ScheduledAt time.Time      // UTC
	CompletedAt time.Time      // UTC; zero for none (3.x), or about now (2.4, see above)
	// ComponentIDs are the components the window covers (3.x).
	ComponentIDs []int
	// AllComponents is set on 2.4, whose API does not say which components
	// a schedule covers: take it to cover all of them.
	AllComponents bool
}

// Covers reports whether the window covers the component.
func (s Schedule) Covers(componentID int) bool {
	return s.AllComponents || slices.Contains(s.ComponentIDs, componentID)
}

// UnmarshalJSON decodes a 2.4 schedule or a 3.x JSON:API resource (whose
// components come from the included relationship).
func (s *Schedule) UnmarshalJSON(b []byte) error {
	res, v3, err := jsonAPI(b)
	if err != nil {
		return fmt.Errorf("decoding schedule: %w", err)
	}
	if v3 {
		b = res.Attributes
	}
	var raw struct {
		ID          flexInt    `json:"id"`
		Name        *string    `json:"name"`
		Status      flexInt    `json:"status"`
		ScheduledAt cachetTime `json:"scheduled_at"`
		CompletedAt cachetTime `json:"completed_at"`
		Scheduled   cachetTime `json:"scheduled"`
		Completed   cachetTime `json:"completed"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decoding schedule: %w", err)
	}
	*s = Schedule{ID: int(raw.ID), Status: ScheduleStatus(raw.Status), ScheduledAt: time.Time(raw.ScheduledAt), CompletedAt: time.Time(raw.CompletedAt)}
	if raw.Name != nil {
		s.Name = *raw.Name
	}
	if v3 {
		if s.ID == 0 {
			s.ID = int(res.ID)
		}
		s.ScheduledAt, s.CompletedAt = time.Time(raw.Scheduled), time.Time(raw.Completed)
		s.ComponentIDs = res.related("components")
	} else {
		s.AllComponents = true
	}
	return nil
}

func (s *Schedule) inZone(loc *time.Location) {
	s.ScheduledAt, s.CompletedAt = wallIn(s.ScheduledAt, loc), wallIn(s.CompletedAt, loc)
}

// inProgress2 decides from a 2.4 schedule's times, since 2.4 never moves
// a status on by itself: a window that has started (or was marked in
// progress) and has not clearly ended, unless marked complete.
func (s Schedule) inProgress2(now time.Time) bool {
	if s.Status == ScheduleComplete {
		return false
	}
	started := s.Status == ScheduleInProgress || (!s.ScheduledAt.IsZero() && !s.ScheduledAt.After(now))
	ended := !s.CompletedAt.IsZero() && s.CompletedAt.Before(now.Add(-nullCompletedSlack))
	return started && !ended
}

// Schedules lists the maintenance windows in progress. On 3.x each names
// the components it covers (Cachet decides "in progress" from the times);
// on 2.4, whose API names no components, each has AllComponents set, and
// a window counts as in progress from its scheduled_at until its
// completed_at unless marked complete. Cachet 2.3 has no schedules: the
// error then wraps ErrUnsupported, which a caller may take as "none".
func (c *Client) Schedules(ctx context.Context) ([]Schedule, error) {
	api, err := c.API(ctx)
	if err != nil {
		return nil, err
	}
	id := func(s Schedule) int { return s.ID }
	if api == APIv3 {
		all, err := listV3(ctx, c, "/schedules", url.Values{"include": {"components"}}, id)
		return keep(all, func(s Schedule) bool { return s.Status == ScheduleInProgress }), err
	}
	if c.knownVersion() == "2.3" {
		return nil, errNoSchedules
	}
	all, err := list(ctx, c, "/schedules", "schedules", id)
	v, verr := versionFromSchedules(err)
	if v == "2.3" {
		c.setVersion(v)
		return nil, errNoSchedules
	}
	if verr == nil {
		c.setVersion(v)
	}
	now := c.now()
	return keep(all, func(s Schedule) bool { return s.inProgress2(now) }), err
}

var errNoSchedules = fmt.Errorf("cachet: Cachet 2.3 has no schedules API, so no maintenance windows are known: %w", ErrUnsupported)

func keep[T any](all []T, ok func(T) bool) []T {
	var out []T
	for _, x := range all {
		if ok(x) {
			out = append(out, x)
		}
	}
	return out
}
