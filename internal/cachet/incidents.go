package cachet

//lint:file-ignore ST1005 error texts start with "Cachet", the proper noun, when they say what Cachet answered.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/proxer/cachet-updater/internal/status"
)

// IncidentStatus is an incident's status; both APIs number them alike.
type IncidentStatus int

// Incident statuses.
const (
	IncidentUnknown       IncidentStatus = 0 // 2.x: scheduled (legacy); 3.x: reported
	IncidentInvestigating IncidentStatus = 1
	IncidentIdentified    IncidentStatus = 2
	IncidentWatching      IncidentStatus = 3
	IncidentFixed         IncidentStatus = 4
)

// String returns Cachet's English name of s.
func (s IncidentStatus) String() string {
	switch s {
	case IncidentUnknown:
		return "unknown"
	case IncidentInvestigating:
		return "investigating"
	case IncidentIdentified:
		return "identified"
	case IncidentWatching:
		return "watching"
	case IncidentFixed:
		return "fixed"
	}
	return fmt.Sprintf("incident status(%d)", int(s))
}

// Incident is the part of a Cachet incident the updater needs.
type Incident struct {
	ID      int
	Name    string
	Message string
	Status  IncidentStatus
	// ComponentID is the component the incident names: 2.x's component_id,
	// on 3.x the first of the components it is linked to; 0 for none.
	ComponentID int
	// ComponentIDs are all the components the incident names (2.x: at
	// most one).
	ComponentIDs []int
	Visible      bool // guests see it
	Stickied     bool // pinned to the top of the page
}

// Open reports whether the incident is not resolved yet.
func (i Incident) Open() bool { return i.Status != IncidentFixed }

// Names reports whether the incident names the component.
func (i Incident) Names(componentID int) bool { return slices.Contains(i.ComponentIDs, componentID) }

// UnmarshalJSON decodes a 2.x incident or a 3.x JSON:API resource (whose
// components come from the included relationship).
func (i *Incident) UnmarshalJSON(b []byte) error {
	res, v3, err := jsonAPI(b)
	if err != nil {
		return fmt.Errorf("decoding incident: %w", err)
	}
	if v3 {
		b = res.Attributes
	}
	var raw struct {
		ID          flexInt    `json:"id"`
		Name        *string    `json:"name"`
		Message     *string    `json:"message"`
		Status      flexInt    `json:"status"`
		ComponentID flexInt    `json:"component_id"`
		Visible     visibility `json:"visible"`
		Stickied    flexBool   `json:"stickied"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decoding incident: %w", err)
	}
	*i = Incident{ID: int(raw.ID), Status: IncidentStatus(raw.Status), Visible: bool(raw.Visible), Stickied: bool(raw.Stickied)}
	if raw.Name != nil {
		i.Name = *raw.Name
	}
	if raw.Message != nil {
		i.Message = *raw.Message
	}
	if raw.ComponentID > 0 {
		i.ComponentIDs = []int{int(raw.ComponentID)}
	}
	if v3 {
		i.fromV3(res)
	}
	if len(i.ComponentIDs) > 0 {
		i.ComponentID = i.ComponentIDs[0]
	}
	return nil
}

func (i *Incident) fromV3(res resource) {
	if i.ID == 0 {
		i.ID = int(res.ID)
	}
	if ids := res.related("components"); len(ids) > 0 {
		i.ComponentIDs = ids
	}
}

// NewIncident is what CreateIncident sends.
type NewIncident struct {
	Name    string // required
	Message string // required
	Status  IncidentStatus
	Visible bool // guests see it
	// Notify asks Cachet to e-mail subscribers (2.x notify, 3.x
	// notifications).
	Notify bool
	// ComponentID names the component the incident is about; 0 for none.
	ComponentID int
	// ComponentStatus is sent with ComponentID to 2.x, which also sets the
	// component to it. Cachet 3.x takes it as the incident's impact: the
	// page shows the worse of it and the component's status while the
	// incident is open, and the API cannot change it later. So 3.x is sent
	// operational (the least severe, never shown over the status the tool
	// writes), which still names the component.
	ComponentStatus status.Status
}

func (n NewIncident) check() error {
	switch {
	case strings.TrimSpace(n.Name) == "":
		return errors.New("cachet: an incident needs a name")
	case strings.TrimSpace(n.Message) == "":
		return errors.New("cachet: an incident needs a message")
	case n.Status < IncidentUnknown || n.Status > IncidentFixed:
		return fmt.Errorf("cachet: invalid incident status %d, want 0 to 4", int(n.Status))
	case n.ComponentID < 0:
		return fmt.Errorf("cachet: invalid component id %d", n.ComponentID)
	}
	return nil
}

// body is the JSON Cachet takes: 2.x calls the mail flag notify, 3.x
// notifications; 3.x numbers the component status its own way.
func (n NewIncident) body(api string) map[string]any {
	b := map[string]any{"name": n.Name, "message": n.Message, "status": int(n.Status), "visible": n.Visible}
	if api == APIv3 {
		b["notifications"] = n.Notify
	} else {
		b["notify"] = n.Notify
	}
	if n.ComponentID > 0 {
		b["component_id"], b["component_status"] = n.ComponentID, int(n.ComponentStatus)
		if api == APIv3 {
			b["component_status"] = int(status.Operational) // 1 on 3.x too
		}
	}
	return b
}

// CreateIncident opens an incident with POST /incidents and returns it as
// Cachet stored it. It counts as done only when Cachet answers with an
// incident id and the status sent.
func (c *Client) CreateIncident(ctx context.Context, n NewIncident) (Incident, error) {
	if err := n.check(); err != nil {
		return Incident{}, err
	}
	api, err := c.API(ctx)
	if err != nil {
		return Incident{}, err
	}
	var out struct {
		Data *Incident `json:"data"`
	}
	code, err := c.do(ctx, &call{api: api, method: http.MethodPost, path: "/incidents", in: n.body(api), out: &out})
	if err != nil {
		return Incident{}, err
	}
	switch got := out.Data; {
	case got == nil || got.ID <= 0:
		err = fmt.Errorf("Cachet answered %d without an incident: it may not have been created (%s)", code, hintFor(api))
	case got.Status != n.Status:
		err = fmt.Errorf("Cachet answered %d with incident %d holding status %d, not %d", code, got.ID, int(got.Status), int(n.Status))
	default:
		return *got, nil
	}
	return Incident{}, &opError{sec: c.sec, method: http.MethodPost, path: "/incidents", err: err}
}

// IncidentUpdate is what UpdateIncident sends.
type IncidentUpdate struct {
	Status  IncidentStatus
	Message string // required
	// Notify posts an incident update, which mails subscribers (2.4: every
	// update of a visible incident; 3.x: if the incident has
	// notifications); without it the incident is changed in place, which
	// mails no one.
	Notify bool
	// ComponentID and ComponentStatus, when set, say the component's status
	// now (2.x): an update that leaves them out may make Cachet set the
	// component to the status the incident was opened with.
	ComponentID     int
	ComponentStatus status.Status
}

// ErrIncidentClosed says that an incident was marked fixed or deleted in
// Cachet, by a person: UpdateIncident leaves it so.
var ErrIncidentClosed = errors.New("left closed")

// UpdateIncident records a new status and message for an incident, read
// first (GET /incidents/{id}): one fixed or deleted meanwhile is left so,
// with an error wrapping ErrIncidentClosed. With Notify, 2.4 and 3.x get an incident
// update (POST /incidents/{id}/updates, which also sets the incident's
// status); otherwise, and on 2.3, which has no updates, the incident is
// changed in place (PUT /incidents/{id}), keeping its visibility and pin
// as read, which 2.x resets when they are omitted. It counts as done only
// when Cachet answers with the status sent.
func (c *Client) UpdateIncident(ctx context.Context, id int, u IncidentUpdate) error {
	switch {
	case id <= 0:
		return fmt.Errorf("cachet: invalid incident id %d", id)
	case strings.TrimSpace(u.Message) == "":
		return errors.New("cachet: an incident update needs a message")
	case u.Status < IncidentUnknown || u.Status > IncidentFixed:
		return fmt.Errorf("cachet: invalid incident status %d, want 0 to 4", int(u.Status))
	}
	api, err := c.API(ctx)
	if err != nil {
		return err
	}
	path := "/incidents/" + strconv.Itoa(id)
	var cur struct {
		Data *Incident `json:"data"`
	}
	_, err = c.do(ctx, &call{api: api, method: http.MethodGet, path: path, out: &cur})
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound:
		return fmt.Errorf("cachet: incident %d was deleted in Cachet: %w", id, ErrIncidentClosed)
	case err != nil:
		return err
	case cur.Data == nil:
		return &opError{sec: c.sec, method: http.MethodGet, path: path, err: fmt.Errorf("Cachet answered without an incident (%s)", hintFor(api))}
	case !cur.Data.Open():
		return fmt.Errorf("cachet: incident %d was marked fixed in Cachet: %w", id, ErrIncidentClosed)
	}
	inPlace := !u.Notify
	if !inPlace && api == APIv2 {
		v, err := c.v2Version(ctx)
		if err != nil {
			return err
		}
		inPlace = v == "2.3"
	}
	if inPlace {
		return c.changeIncident(ctx, api, *cur.Data, u)
	}
	return c.addIncidentUpdate(ctx, api, id, u)
}

// ResolveIncident marks an incident fixed (status 4) with message, as
// UpdateIncident does; componentID, when not 0, is said to be operational
// again (see IncidentUpdate).
func (c *Client) ResolveIncident(ctx context.Context, id int, message string, notify bool, componentID int) error {
	return c.UpdateIncident(ctx, id, IncidentUpdate{Status: IncidentFixed, Message: message, Notify: notify,
		ComponentID: componentID, ComponentStatus: status.Operational})
}

func (c *Client) addIncidentUpdate(ctx context.Context, api string, id int, u IncidentUpdate) error {
	path := "/incidents/" + strconv.Itoa(id) + "/updates"
	body := map[string]any{"status": int(u.Status), "message": u.Message}
	if api == APIv2 && u.ComponentID > 0 && u.ComponentStatus.Valid() {
		body["component_id"], body["component_status"] = u.ComponentID, int(u.ComponentStatus)
	}
	var out struct {
		Data json.RawMessage `json:"data"`
	}
	code, err := c.do(ctx, &call{api: api, method: http.MethodPost, path: path, in: body, out: &out})
	if err != nil {
		return err
	}
	var got struct {
		Status     *flexInt `json:"status"`
		IncidentID flexInt  `json:"incident_id"`   // 2.4
		Updateable flexInt  `json:"updateable_id"` // 3.x
	}
	res, v3, err := jsonAPI(out.Data)
	raw := json.RawMessage(out.Data)
	if err == nil && v3 {
		raw = res.Attributes
	}
	switch {
	case err != nil || isNull(raw) || json.Unmarshal(raw, &got) != nil || got.Status == nil:
		err = fmt.Errorf("Cachet answered %d without an incident update: it may not have been recorded (%s)", code, hintFor(api))
	case int(*got.Status) != int(u.Status):
		err = fmt.Errorf("Cachet answered %d with an update holding status %d, not %d", code, int(*got.Status), int(u.Status))
	case max(got.IncidentID, got.Updateable) > 0 && int(max(got.IncidentID, got.Updateable)) != id:
		err = fmt.Errorf("Cachet answered %d with an update of incident %d, not %d", code, int(max(got.IncidentID, got.Updateable)), id)
	default:
		return nil
	}
	return &opError{sec: c.sec, method: http.MethodPost, path: path, err: err}
}

// changeIncident changes an incident in place with PUT /incidents/{id}.
func (c *Client) changeIncident(ctx context.Context, api string, cur Incident, u IncidentUpdate) error {
	path := "/incidents/" + strconv.Itoa(cur.ID)
	body := map[string]any{"status": int(u.Status), "message": u.Message}
	if api == APIv2 {
		body["visible"], body["stickied"], body["notify"] = cur.Visible, cur.Stickied, u.Notify
		if u.ComponentID > 0 && u.ComponentStatus.Valid() {
			body["component_id"], body["component_status"] = u.ComponentID, int(u.ComponentStatus)
		}
	}
	var out struct {
		Data *Incident `json:"data"`
	}
	code, err := c.do(ctx, &call{api: api, method: http.MethodPut, path: path, in: body, out: &out})
	if err != nil {
		return err
	}
	switch got := out.Data; {
	case got == nil || got.ID != cur.ID:
		err = fmt.Errorf("Cachet answered %d without incident %d: the update was not applied (%s)", code, cur.ID, hintFor(api))
	case got.Status != u.Status:
		err = fmt.Errorf("Cachet answered %d but the incident's status is %d, not %d: the update was not applied", code, int(got.Status), int(u.Status))
	default:
		return nil
	}
	return &opError{sec: c.sec, method: http.MethodPut, path: path, err: err}
}

// OpenIncident returns the newest incident that names the component and
// is not fixed, and whether there is one: what this tool opened for the
// component, found by Cachet's own fields. On 2.x it asks once,
// GET /incidents?component_id=N&sort=id&order=desc&per_page=100 (without
// page: a column filter mixed with page is Cachet's 500), the newest 100
// of the component's incidents; on 3.x it lists the incidents not fixed
// (filter[status]), newest first, with their components.
func (c *Client) OpenIncident(ctx context.Context, componentID int) (Incident, bool, error) {
	api, err := c.API(ctx)
	if err != nil {
		return Incident{}, false, err
	}
	var found []Incident
	if api == APIv3 {
		q := url.Values{"include": {"components"}, "filter[status]": {"0,1,2,3"}, "sort": {"-id"}}
		found, err = listV3(ctx, c, "/incidents", q, func(i Incident) int { return i.ID })
	} else {
		var out struct {
			Data []Incident `json:"data"`
		}
		q := url.Values{"component_id": {strconv.Itoa(componentID)}, "sort": {"id"}, "order": {"desc"}, "per_page": {strconv.Itoa(c.perPage)}}
		_, err = c.do(ctx, &call{api: api, method: http.MethodGet, path: "/incidents", query: q, out: &out})
		found = out.Data
	}
	if err != nil {
		return Incident{}, false, err
	}
	slices.SortStableFunc(found, func(a, b Incident) int { return b.ID - a.ID })
	for _, i := range found {
		if i.Open() && i.Names(componentID) {
			return i, true, nil
		}
	}
	return Incident{}, false, nil
}
