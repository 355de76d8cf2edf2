package cachet

//lint:file-ignore ST1005 error texts start with "Cachet", the proper noun, when they say what Cachet answered.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/proxer/cachet-updater/internal/foreign"
	"github.com/proxer/cachet-updater/internal/status"
)

// Component is the part of a Cachet component the updater needs.
type Component struct {
	ID   int
	Name string
	// Status may be outside 0..4 on Cachet 2.3, which does not validate;
	// 3.x's 5 (unknown) and 6 (under maintenance) are status.Unknown.
	Status status.Status
	// Shown is what visitors see: on 3.x latest_status (the worse of the
	// status and an open incident's impact), on 2.x the status.
	Shown   status.Status
	Enabled bool
	GroupID int // 0: ungrouped
	// Maintenance: a person set the 3.x status under maintenance (6). A
	// schedule in progress does not set it: Schedules says what they cover.
	Maintenance bool
	// Unreadable is the status as Cachet sent it when it is no number
	// (Status is then status.Unknown): one such component does not fail
	// a listing. Components returns it escaped, cut and without the token.
	Unreadable string
}

// UnmarshalJSON decodes tolerantly: numbers may come as strings (2.3),
// booleans as 0/1, a missing or null enabled is enabled (Cachet's
// default, so that SetStatus does not disable it). A 3.x resource has its
// group in the included relationship.
func (c *Component) UnmarshalJSON(b []byte) error {
	raw := struct {
		Name         string
		Status       json.RawMessage
		LatestStatus json.RawMessage `json:"latest_status"`
		Enabled      flexBool
		GroupID      flexInt `json:"group_id"`
	}{Enabled: true}
	r, v3, err := item(b, "component", &raw)
	if err != nil {
		return err
	}
	*c = Component{ID: int(r.ID), Name: raw.Name, Enabled: bool(raw.Enabled), GroupID: int(raw.GroupID)}
	var st flexInt
	if st.UnmarshalJSON(raw.Status) != nil {
		c.Unreadable = string(raw.Status)
	}
	c.Status, c.Shown = status.Status(st), status.Status(st)
	if v3 {
		c.Status, c.Maintenance = fromV3(int(st))
		c.Shown = c.Status
		var latest flexInt // one that is no number only loses what the page shows
		if latest.UnmarshalJSON(raw.LatestStatus) == nil && latest > 0 {
			c.Shown, _ = fromV3(int(latest))
		}
		if g := r.related("group"); len(g) > 0 {
			c.GroupID = g[0]
		}
	}
	return nil
}

// fromV3 maps 3.x's statuses, which have no 0: 5 is unknown, 6 under
// maintenance.
func fromV3(v int) (s status.Status, maintenance bool) {
	if v == 5 || v == 6 {
		return status.Unknown, v == 6
	}
	return status.Status(v), false
}

// Group is a Cachet component group.
type Group struct {
	ID   int
	Name string
}

func (g *Group) UnmarshalJSON(b []byte) error {
	var raw struct{ Name string }
	r, _, err := item(b, "component group", &raw)
	*g = Group{ID: int(r.ID), Name: raw.Name}
	return err
}

// Components lists every component. With a token Cachet lists disabled
// ones too; 3.x only when asked, so it is asked a second time
// (filter[enabled]=0). On 2.x a listing that ends short comes with an
// error wrapping ErrIncomplete: each component in it is as Cachet listed
// it, but one missing may exist.
func (c *Client) Components(ctx context.Context) ([]Component, error) {
	passes := []url.Values{{}}
	if c.api == APIv3 {
		passes = []url.Values{{"include": {"group"}}}
		if c.token { // guests never see disabled components
			passes = append(passes, url.Values{"include": {"group"}, "filter[enabled]": {"0"}})
		}
	}
	all, err := list(ctx, c, "/components", func(x Component) int { return x.ID }, passes...)
	slices.SortStableFunc(all, func(a, b Component) int { return a.ID - b.ID })
	for i := range all {
		all[i].Unreadable = foreign.Text(c.redact(all[i].Unreadable))
	}
	return all, err
}

// SetStatus sets a component's status: PUT /components/{id} on 2.x, PATCH
// on 3.x (unknown is 5 there). enabled is always sent, since 2.3
// re-enables a component when it is left out.
func (c *Client) SetStatus(ctx context.Context, id int, s status.Status, enabled bool) error {
	body := struct {
		Status  int  `json:"status"`
		Enabled bool `json:"enabled"`
	}{int(s), enabled}
	method := map[bool]string{false: http.MethodPut, true: http.MethodPatch}[c.api == APIv3]
	if c.api == APIv3 && s == status.Unknown {
		body.Status = 5
	}
	_, err := c.write(ctx, call{method: method, path: "/components/" + strconv.Itoa(id), in: body}, fmt.Sprintf("component %d at status %d", id, body.Status), id, 0, body.Status)
	return err
}

// write sends a write and returns the data Cachet answered, which must
// hold what was sent: a proxy, or a broken Cachet, may answer 2xx without
// storing it. It must have an id, id if that is not 0, the incident or
// metric of (0: none), the status st sent in the API's numbers (-1:
// none); want says it all.
func (c *Client) write(ctx context.Context, cl call, want string, id, of, st int) (json.RawMessage, error) {
	var out struct{ Data json.RawMessage }
	cl.out = &out
	code, err := c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	data := out.Data
	var got struct {
		Status     *flexInt
		IncidentID flexInt `json:"incident_id"`   // 2.4's update
		Updateable flexInt `json:"updateable_id"` // 3.x's update
		MetricID   flexInt `json:"metric_id"`     // a point
	}
	r, _, err := item(data, "the answer", &got)
	gotOf := int(max(got.IncidentID, got.Updateable, got.MetricID))
	if err == nil && r.ID > 0 && (id == 0 || int(r.ID) == id) && (of == 0 || gotOf == 0 || gotOf == of) && (st < 0 || got.Status != nil && int(*got.Status) == st) {
		return data, nil
	}
	return nil, c.fail(cl, fmt.Errorf("Cachet answered %d with %s, not %s: it may not have been stored%s", code, foreign.Text(c.redact(string(data))), want, urlHint))
}

// ProveComponentWrites proves, without a change, that the token may update
// components. On 3.x it sends PATCH /components/{id} without a field:
// Cachet validates it, checks the components.manage ability (403 without
// it) and changes no column. 2.x tokens have no abilities: nothing is sent.
func (c *Client) ProveComponentWrites(ctx context.Context, id int) error {
	if c.api != APIv3 {
		return nil
	}
	_, err := c.do(ctx, call{method: http.MethodPatch, path: "/components/" + strconv.Itoa(id), in: struct{}{}})
	return err
}

// Groups lists every component group (see Components for a short listing).
func (c *Client) Groups(ctx context.Context) ([]Group, error) {
	path := map[bool]string{false: "/components/groups", true: "/component-groups"}[c.api == APIv3]
	return list(ctx, c, path, func(g Group) int { return g.ID }, url.Values{})
}

// Ping checks that the API answers GET /ping with "Pong!". It cannot check
// the token: Cachet takes a bad token on a read for a guest.
func (c *Client) Ping(ctx context.Context) error {
	var out struct{ Data any }
	cl := call{method: http.MethodGet, path: "/ping", out: &out}
	if _, err := c.do(ctx, cl); err != nil {
		return err
	}
	if out.Data != "Pong!" {
		return c.fail(cl, fmt.Errorf("unexpected answer %s, want \"Pong!\"%s", foreign.Text(c.redact(fmt.Sprint(out.Data))), urlHint))
	}
	return nil
}

// VerifyToken proves the token with a read that needs one, GET
// /subscribers?per_page=1 (the subscriber is not kept). On 3.x a 403
// proves it too: Cachet checks the subscribers.manage ability only after
// it accepted the token.
func (c *Client) VerifyToken(ctx context.Context) error {
	if !c.token {
		return errors.New("cachet: no API token configured")
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/subscribers", query: url.Values{"per_page": {"1"}}, out: &struct{}{}})
	e, ok := errors.AsType[*Error](err)
	switch {
	case ok && c.api == APIv3 && e.StatusCode == http.StatusForbidden:
		return nil
	case ok && (e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden):
		how := map[bool]string{false: "it must belong to a Cachet user", true: "Cachet 3.x takes an API token made in its dashboard, sent as Authorization: Bearer"}[c.api == APIv3]
		return fmt.Errorf("cachet API token rejected (check the configured token; %s): %w", how, err)
	}
	return err
}

// IncidentStatus is an incident's status; both APIs number them alike.
type IncidentStatus int

// Incident statuses.
const (
	IncidentInvestigating IncidentStatus = 1
	IncidentWatching      IncidentStatus = 3
	IncidentFixed         IncidentStatus = 4
)

// Incident is the part of a Cachet incident the updater needs.
type Incident struct {
	ID                int
	Name, Message     string
	Status            IncidentStatus
	ComponentIDs      []int // the components it names (2.x: at most one)
	Visible, Stickied bool  // guests see it; pinned to the top of the page
}

// Names reports whether the incident names the component.
func (i Incident) Names(componentID int) bool { return slices.Contains(i.ComponentIDs, componentID) }

// UnmarshalJSON decodes a 2.x incident or a 3.x resource, whose components
// are an included relationship. visible is 0/1 on 2.x, 0/1/2 on 3.x
// (1: guests see it).
func (i *Incident) UnmarshalJSON(b []byte) error {
	var raw struct {
		Name, Message string
		Status        flexInt
		ComponentID   flexInt `json:"component_id"`
		Visible       json.RawMessage
		Stickied      flexBool
	}
	r, v3, err := item(b, "incident", &raw)
	if err != nil {
		return err
	}
	vis := strings.Trim(string(raw.Visible), ` "`) // 3.x: 0 users, 1 guests, 2 hidden
	*i = Incident{ID: int(r.ID), Name: raw.Name, Message: raw.Message, Status: IncidentStatus(raw.Status), Visible: vis == "1" || vis == "true", Stickied: bool(raw.Stickied)}
	if raw.ComponentID > 0 {
		i.ComponentIDs = []int{int(raw.ComponentID)}
	}
	if v3 {
		i.ComponentIDs = r.related("components")
	}
	return nil
}

// NewIncident is what CreateIncident sends.
type NewIncident struct {
	Name, Message string // both required
	Status        IncidentStatus
	Visible       bool // guests see it
	Notify        bool // Cachet mails subscribers (2.x notify, 3.x notifications)
	// ComponentID names the component it is about (0: none). 2.x also
	// sets the component to ComponentStatus. 3.x takes that as the
	// incident's impact, which the page shows over a better status while
	// the incident is open and the API cannot change: 3.x is sent
	// operational, which still names the component.
	ComponentID     int
	ComponentStatus status.Status
}

// IncidentUpdate is what UpdateIncident sends.
type IncidentUpdate struct {
	Status  IncidentStatus
	Message string // required
	// Notify posts an incident update, which mails subscribers (2.4: every
	// update of a visible incident; 3.x: if the incident notifies);
	// without it the incident is changed in place, which mails no one.
	Notify bool
	// ComponentID and ComponentStatus say the component's status now
	// (2.x), lest Cachet put back the one the incident was opened with.
	ComponentID     int
	ComponentStatus status.Status
}

// CreateIncident opens an incident (POST /incidents). It counts as done
// only when Cachet answers with an incident holding the status sent.
func (c *Client) CreateIncident(ctx context.Context, n NewIncident) (Incident, error) {
	body := map[string]any{"name": n.Name, "message": n.Message, "status": int(n.Status), "visible": n.Visible,
		map[bool]string{false: "notify", true: "notifications"}[c.api == APIv3]: n.Notify}
	if n.ComponentID > 0 {
		body["component_id"], body["component_status"] = n.ComponentID, int(n.ComponentStatus)
		if c.api == APIv3 {
			body["component_status"] = int(status.Operational)
		}
	}
	var got Incident
	data, err := c.write(ctx, call{method: http.MethodPost, path: "/incidents", in: body}, fmt.Sprintf("an incident at status %d", n.Status), 0, 0, int(n.Status))
	if err == nil {
		err = json.Unmarshal(data, &got)
	}
	return got, err
}

// UpdateIncident gives an incident a new status and message, after reading
// it: one a person marked fixed or deleted is left so, with an error
// wrapping ErrIncidentClosed. With Notify it posts an incident update
// (POST /incidents/{id}/updates); otherwise, and on Cachet 2.3, which
// answers that unknown route with 404, it changes the incident in place
// (PUT /incidents/{id}), keeping its visibility and pin as read, which 2.x
// resets when they are left out. It counts as done only when Cachet
// answers with the status sent.
func (c *Client) UpdateIncident(ctx context.Context, id int, u IncidentUpdate) error {
	var cur struct{ Data *Incident }
	cl := call{method: http.MethodGet, path: "/incidents/" + strconv.Itoa(id), out: &cur}
	_, err := c.do(ctx, cl)
	var e *Error
	switch {
	case errors.As(err, &e) && e.StatusCode == http.StatusNotFound:
		return fmt.Errorf("cachet: incident %d was deleted in Cachet: %w", id, ErrIncidentClosed)
	case err != nil:
		return err
	case cur.Data == nil:
		return c.fail(cl, fmt.Errorf("Cachet answered without an incident%s", urlHint))
	case cur.Data.Status == IncidentFixed:
		return fmt.Errorf("cachet: incident %d was marked fixed in Cachet: %w", id, ErrIncidentClosed)
	}
	body := map[string]any{"status": int(u.Status), "message": u.Message}
	if c.api == APIv2 && u.ComponentID > 0 && u.ComponentStatus.Valid() {
		body["component_id"], body["component_status"] = u.ComponentID, int(u.ComponentStatus)
	}
	if u.Notify {
		_, err := c.write(ctx, call{method: http.MethodPost, path: cl.path + "/updates", in: body}, fmt.Sprintf("an update of incident %d at status %d", id, u.Status), 0, id, int(u.Status))
		if !errors.As(err, &e) || e.StatusCode != http.StatusNotFound || c.api != APIv2 {
			return err
		}
	}
	if c.api == APIv2 {
		body["visible"], body["stickied"], body["notify"] = cur.Data.Visible, cur.Data.Stickied, u.Notify
	}
	_, err = c.write(ctx, call{method: http.MethodPut, path: cl.path, in: body}, fmt.Sprintf("incident %d at status %d", id, u.Status), id, 0, int(u.Status))
	return err
}

// ResolveIncident marks an incident fixed with message, as UpdateIncident
// does; componentID, when not 0, is said to be operational again.
func (c *Client) ResolveIncident(ctx context.Context, id int, message string, notify bool, componentID int) error {
	return c.UpdateIncident(ctx, id, IncidentUpdate{Status: IncidentFixed, Message: message, Notify: notify,
		ComponentID: componentID, ComponentStatus: status.Operational})
}

// OpenIncident returns the newest incident that names the component and
// is not fixed, found by Cachet's own fields: on 2.x GET
// /incidents?component_id=N&sort=id&order=desc&per_page=100, without page
// (a column filter mixed with page is Cachet's 500); on 3.x the incidents
// not fixed (filter[status]), newest first, with their components.
func (c *Client) OpenIncident(ctx context.Context, componentID int) (Incident, bool, error) {
	var found []Incident
	var err error
	if c.api == APIv3 {
		q := url.Values{"include": {"components"}, "filter[status]": {"0,1,2,3"}, "sort": {"-id"}}
		found, err = list(ctx, c, "/incidents", func(i Incident) int { return i.ID }, q)
	} else {
		var out struct{ Data []Incident }
		q := url.Values{"component_id": {strconv.Itoa(componentID)}, "sort": {"id"}, "order": {"desc"}, "per_page": {strconv.Itoa(perPage)}}
		_, err = c.do(ctx, call{method: http.MethodGet, path: "/incidents", query: q, out: &out})
		found = out.Data
	}
	if err != nil {
		return Incident{}, false, err
	}
	slices.SortStableFunc(found, func(a, b Incident) int { return b.ID - a.ID })
	for _, i := range found {
		if i.Status != IncidentFixed && i.Names(componentID) {
			return i, true, nil
		}
	}
	return Incident{}, false, nil
}

// Metric is a Cachet metric.
type Metric struct {
	ID           int
	Name, Suffix string
	// Sum: a sum metric (calc_type 0), whose chart multiplies a point's
	// value by the points Cachet folded into it.
	Sum bool
	// Threshold is in minutes (0: not said): Cachet folds the points
	// posted within it into one.
	Threshold int
}

func (m *Metric) UnmarshalJSON(b []byte) error {
	var raw struct {
		Name, Suffix string
		CalcType     *flexInt `json:"calc_type"`
		Threshold    flexInt
	}
	r, _, err := item(b, "metric", &raw)
	*m = Metric{ID: int(r.ID), Name: raw.Name, Suffix: raw.Suffix, Sum: raw.CalcType != nil && *raw.CalcType == 0, Threshold: int(raw.Threshold)}
	return err
}

// Metrics lists every metric the token may see (see Components for a
// short listing).
func (c *Client) Metrics(ctx context.Context) ([]Metric, error) {
	return list(ctx, c, "/metrics", func(m Metric) int { return m.ID }, url.Values{})
}

// AddMetricPoint adds a point (POST /metrics/{id}/points), at as a Unix
// time (zero: Cachet's now). It counts as done only when Cachet answers
// with a point of that metric, which may be an earlier one it folded this
// one into.
func (c *Client) AddMetricPoint(ctx context.Context, metricID int, value float64, at time.Time) error {
	body := map[string]any{"value": value}
	if !at.IsZero() {
		body["timestamp"] = at.Unix()
	}
	path := "/metrics/" + strconv.Itoa(metricID) + "/points"
	_, err := c.write(ctx, call{method: http.MethodPost, path: path, in: body}, fmt.Sprintf("a point of metric %d", metricID), 0, metricID, -1)
	return err
}

// Schedule is a maintenance window in progress.
type Schedule struct {
	ID            int
	Name, Message string
	ScheduledAt   time.Time // UTC
	CompletedAt   time.Time // UTC; zero: no end
	// ComponentIDs are the components it covers, listed on 3.x only
	// (ListsComponents): 2.4 drops them, so a 2.4 schedule says what it
	// covers only in its name and message.
	ComponentIDs    []int
	ListsComponents bool
	status          int // 0 upcoming, 1 in progress, 2 complete
}

func (s *Schedule) UnmarshalJSON(b []byte) error {
	var raw struct {
		Name, Message        string
		Status               flexInt
		ScheduledAt          cachetTime `json:"scheduled_at"`
		CompletedAt          cachetTime `json:"completed_at"`
		Scheduled, Completed cachetTime // 3.x
	}
	r, v3, err := item(b, "schedule", &raw)
	*s = Schedule{ID: int(r.ID), Name: raw.Name, Message: raw.Message, ScheduledAt: time.Time(raw.ScheduledAt), CompletedAt: time.Time(raw.CompletedAt), status: int(raw.Status)}
	if v3 {
		s.ScheduledAt, s.CompletedAt = time.Time(raw.Scheduled), time.Time(raw.Completed)
		s.ComponentIDs, s.ListsComponents = r.related("components"), true
	}
	return err
}

// Schedules lists the maintenance windows in progress. 3.x says which
// are (from their times) and what each covers, in its own zone (see
// Options.TimeZone). 2.4 never moves a status on by itself: a window is in
// progress from its scheduled_at until its completed_at unless marked
// complete, and one without an end shows completed_at as the time of the
// request, which is taken for none. Cachet 2.3 has no schedules: it
// answers the unknown route with 404, and the error wraps ErrUnsupported.
func (c *Client) Schedules(ctx context.Context) ([]Schedule, error) {
	q := url.Values{}
	if c.api == APIv3 {
		q.Set("include", "components")
	}
	all, err := list(ctx, c, "/schedules", func(s Schedule) int { return s.ID }, q)
	if e, ok := errors.AsType[*Error](err); ok && c.api == APIv2 && e.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("cachet: Cachet 2.3 has no schedules API, so no maintenance windows are known: %w", ErrUnsupported)
	}
	now := time.Now()
	var out []Schedule
	for _, s := range all {
		if c.api == APIv3 {
			s.ScheduledAt, s.CompletedAt = wallIn(s.ScheduledAt, c.zone), wallIn(s.CompletedAt, c.zone)
		} else if s.CompletedAt.Sub(now).Abs() < 5*time.Minute { // the clocks may differ
			s.CompletedAt = time.Time{}
		}
		on := s.status != 2 && (s.status == 1 || !s.ScheduledAt.IsZero() && !s.ScheduledAt.After(now)) && (s.CompletedAt.IsZero() || !s.CompletedAt.Before(now))
		if c.api == APIv3 && s.status == 1 || c.api == APIv2 && on {
			out = append(out, s)
		}
	}
	return out, err
}

// resource is the frame of a 3.x JSON:API resource; a 2.x item has its
// fields at the top, and attributes nil.
type resource struct {
	ID            flexInt
	Attributes    json.RawMessage
	Relationships map[string]struct{ Data json.RawMessage }
}

// item decodes a 2.x item, or a 3.x resource's attributes, into v.
func item(b []byte, what string, v any) (r resource, v3 bool, err error) {
	if err = json.Unmarshal(b, &r); err == nil {
		if v3 = !isNull(r.Attributes); v3 {
			b = r.Attributes
		}
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		err = fmt.Errorf("decoding %s: %w", what, err)
	}
	return r, v3, err
}

// related returns the ids of an included relationship: {"data":{"id"}},
// {"data":[...]} or {"data":null}.
func (r resource) related(name string) []int {
	data := bytes.TrimSpace(r.Relationships[name].Data)
	if bytes.HasPrefix(data, []byte("{")) {
		data = slices.Concat([]byte("["), data, []byte("]"))
	}
	var many []struct{ ID flexInt }
	_ = json.Unmarshal(data, &many)
	var ids []int
	for _, x := range many {
		ids = append(ids, int(x.ID))
	}
	return ids
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

// flexInt accepts 2, 2.0, "2", " 2 ", "", null and 3.x's {"value":2}.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	*f = 0
	if s := bytes.TrimSpace(b); len(s) > 0 && s[0] == '{' {
		return json.Unmarshal(b, &struct{ Value *flexInt }{f})
	}
	s := strings.TrimSpace(strings.Trim(strings.TrimSpace(string(b)), `"`))
	if s == "null" || s == "" {
		return nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x != math.Trunc(x) || math.Abs(x) > math.MaxInt32 {
		return fmt.Errorf("cannot decode %s as an integer", b)
	}
	*f = flexInt(x)
	return nil
}

// flexBool reads true, 1, "1", "true" and their false forms; null or ""
// leaves it as it was.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(strings.Trim(string(b), ` "`)) {
	case "true", "1":
		*f = true
	case "false", "0":
		*f = false
	case "null", "":
	default:
		return fmt.Errorf("cannot decode %s as a boolean", b)
	}
	return nil
}

// cachetTime reads "2006-01-02 15:04:05", bare or as 3.x's {"string"}, as
// UTC; anything else is the zero time: a time never fails a listing.
type cachetTime time.Time

func (t *cachetTime) UnmarshalJSON(b []byte) error {
	var obj struct{ String string }
	s := string(bytes.Trim(b, ` "`))
	if json.Unmarshal(b, &obj) == nil {
		s = obj.String
	}
	v, _ := time.Parse(time.DateTime, s)
	*t = cachetTime(v)
	return nil
}

// wallIn reads t's wall clock in loc: Cachet 3.x writes its times in its
// own zone without naming it.
func wallIn(t time.Time, loc *time.Location) time.Time {
	if t.IsZero() {
		return t
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc).UTC()
}
