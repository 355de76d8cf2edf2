package cachet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
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
// completed_at = the time of the request, so an end this close to now is
// taken as no end (the slack covers the clocks' difference).
const nullCompletedSlack = 5 * time.Minute

// Schedule is a maintenance window.
type Schedule struct {
	ID          int
	Name        string
	Message     string
	Status      ScheduleStatus // 2.4: as set in the dashboard; 3.x: from the times, by Cachet
	ScheduledAt time.Time      // UTC
	CompletedAt time.Time      // UTC; zero: no end
	// ComponentIDs are the components Cachet lists for the schedule.
	// ListsComponents is set on 3.x only: no 2.4 schedule lists any (its
	// API drops them), so it can say what it covers only in its name and
	// message.
	ComponentIDs    []int
	ListsComponents bool
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
		Message     string     `json:"message"`
		Status      flexInt    `json:"status"`
		ScheduledAt cachetTime `json:"scheduled_at"`
		CompletedAt cachetTime `json:"completed_at"`
		Scheduled   cachetTime `json:"scheduled"`
		Completed   cachetTime `json:"completed"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decoding schedule: %w", err)
	}
	*s = Schedule{ID: int(raw.ID), Message: raw.Message, Status: ScheduleStatus(raw.Status), ScheduledAt: time.Time(raw.ScheduledAt), CompletedAt: time.Time(raw.CompletedAt)}
	if raw.Name != nil {
		s.Name = *raw.Name
	}
	if v3 {
		if s.ID == 0 {
			s.ID = int(res.ID)
		}
		s.ScheduledAt, s.CompletedAt = time.Time(raw.Scheduled), time.Time(raw.Completed)
		s.ComponentIDs, s.ListsComponents = res.related("components"), true
	}
	return nil
}

func (s *Schedule) inZone(loc *time.Location) {
	s.ScheduledAt, s.CompletedAt = wallIn(s.ScheduledAt, loc), wallIn(s.CompletedAt, loc)
}

// inProgress2 decides from a 2.4 schedule's times, since 2.4 never moves
// a status on by itself: a window that has started (or was marked in
// progress) and has not ended, unless marked complete. It takes an end
// about now for none (nullCompletedSlack) and clears it.
func (s *Schedule) inProgress2(now time.Time) bool {
	if d := s.CompletedAt.Sub(now); d > -nullCompletedSlack && d < nullCompletedSlack {
		s.CompletedAt = time.Time{}
	}
	started := s.Status == ScheduleInProgress || (!s.ScheduledAt.IsZero() && !s.ScheduledAt.After(now))
	ended := !s.CompletedAt.IsZero() && s.CompletedAt.Before(now)
	return s.Status != ScheduleComplete && started && !ended
}

// Schedules lists the maintenance windows in progress. On 3.x each lists
// the components it covers (Cachet decides "in progress" from the times);
// on 2.4, whose schedules list none, a window counts as in progress from
// its scheduled_at until its completed_at unless marked complete. Cachet
// 2.3 has no schedules: the error then wraps ErrUnsupported, which a
// caller may take as "none".
func (c *Client) Schedules(ctx context.Context) ([]Schedule, error) {
	api, err := c.API(ctx)
	if err != nil {
		return nil, err
	}
	id := func(s Schedule) int { return s.ID }
	if api == APIv3 {
		all, err := listV3(ctx, c, "/schedules", url.Values{"include": {"components"}}, id)
		return keep(all, func(s *Schedule) bool { return s.Status == ScheduleInProgress }), err
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
	return keep(all, func(s *Schedule) bool { return s.inProgress2(now) }), err
}

var errNoSchedules = fmt.Errorf("cachet: Cachet 2.3 has no schedules API, so no maintenance windows are known: %w", ErrUnsupported)

func keep(all []Schedule, ok func(*Schedule) bool) []Schedule {
	var out []Schedule
	for i := range all {
		if ok(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out
}
