package cachettest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const jsonCT = "application/json"

func TestIncidents2(t *testing.T) {
	for _, mode := range []Mode{Cachet24, Cachet23} {
		t.Run(mode.String(), func(t *testing.T) {
			s := New(token, WithMode(mode))
			defer s.Close()
			s.Add(Component{ID: 1, Name: "one", Status: 1, Enabled: true})
			post := func(tok, body string) response {
				return do(t, s, "POST", "/api/v1/incidents", tok, "", jsonCT, body)
			}
			if r := post("", `{"name":"x","message":"m","status":1}`); r.code != 401 {
				t.Errorf("no token: %d", r.code)
			}
			if r := post(token, `{"message":"m"}`); r.code != 400 || !strings.Contains(r.body, `"details":["The name field is required.","The status field is required."]`) {
				t.Errorf("no name: %d %s", r.code, r.body)
			}
			if r := post(token, `{"name":"x","message":"m","status":1,"component_id":1}`); r.code != 400 ||
				!strings.Contains(r.body, "The component status field is required when component id is present.") {
				t.Errorf("component without status: %d %s", r.code, r.body)
			}
			r := post(token, `{"name":"API down","message":"m","status":1,"visible":false,"notify":false,"component_id":1,"component_status":4}`)
			if r.code != 200 || !strings.Contains(r.body, `"component_id":1`) || !strings.Contains(r.body, `"visible":0`) {
				t.Fatalf("create: %d %s", r.code, r.body)
			}
			inc := s.Incidents()[0]
			if inc.Name != "API down" || inc.Status != 1 || inc.Visible || inc.Notify || inc.ComponentID != 1 || inc.ComponentStatus != 4 {
				t.Errorf("stored %+v", inc)
			}
			if c, _ := s.Component(1); c.Status != 4 {
				t.Errorf("2.x sets the named component's status: %+v", c)
			}
			if r := do(t, s, "GET", "/api/v1/incidents", "", "", "", ""); !strings.Contains(r.body, `"total":0`) {
				t.Errorf("guests see an invisible incident: %s", r.body)
			}
			if r := do(t, s, "GET", "/api/v1/incidents", token, "", "", ""); !strings.Contains(r.body, `"total":1`) {
				t.Errorf("the token does not see the incident: %s", r.body)
			}
			path := "/api/v1/incidents/" + itoa(inc.ID)
			upd := do(t, s, "POST", path+"/updates", token, "", jsonCT, `{"status":2,"message":"found it"}`)
			if mode == Cachet23 {
				if upd.code != 404 || !strings.Contains(upd.body, detail404) {
					t.Errorf("2.3 has no updates: %d %s", upd.code, upd.body)
				}
				// PUT resets visible and notify to true when they are absent.
				r := do(t, s, "PUT", path, token, "", jsonCT, `{"status":4,"message":"fixed"}`)
				if got, _ := s.Incident(inc.ID); r.code != 200 || got.Status != 4 || got.Message != "fixed" || !got.Visible || !got.Notify {
					t.Errorf("PUT: %d %+v", r.code, got)
				}
				return
			}
			if upd.code != 200 || !strings.Contains(upd.body, `"incident_id":`+itoa(inc.ID)) || !strings.Contains(upd.body, `"status":2`) {
				t.Errorf("update: %d %s", upd.code, upd.body)
			}
			if got, _ := s.Incident(inc.ID); got.Status != 2 || len(s.IncidentUpdates(inc.ID)) != 1 {
				t.Errorf("after the update: %+v, %+v", got, s.IncidentUpdates(inc.ID))
			}
			if r := do(t, s, "POST", path+"/updates", token, "", jsonCT, `{"status":0,"message":"m"}`); r.code != 400 || !strings.Contains(r.body, "The status must be at least 1.") {
				t.Errorf("update status 0: %d %s", r.code, r.body)
			}
			if r := do(t, s, "POST", "/api/v1/incidents/99/updates", "", "", jsonCT, `{}`); r.code != 404 {
				t.Errorf("unknown incident before the token: %d", r.code)
			}
		})
	}
}

func TestComponentWrites23(t *testing.T) {
	s := New(token, WithMode(Cachet23))
	defer s.Close()
	s.Add(Component{ID: 1, Name: "one", Status: 1, Enabled: false})
	if r := do(t, s, "PUT", "/api/v1/components/1", token, "", jsonCT, `{"status":7}`); r.code != 200 {
		t.Errorf("2.3 stores 7: %d %s", r.code, r.body)
	}
	if c, _ := s.Component(1); c.Status != 7 || !c.Enabled {
		t.Errorf("2.3 re-enables a component whose PUT omits enabled: %+v", c)
	}
	for _, p := range []string{"/api/v1/schedules", "/api/v1/schedules/1"} {
		if r := do(t, s, "GET", p, "", "", "", ""); r.code != 404 || !strings.Contains(r.body, detail404) {
			t.Errorf("2.3 %s: %d %s", p, r.code, r.body)
		}
	}
	if r := do(t, s, "GET", "/api/v1/version", "", "", "", ""); !strings.Contains(r.body, `"data":"2.3.18"`) {
		t.Errorf("version: %s", r.body)
	}
}

func TestIncidents3(t *testing.T) {
	s := newServer3(t)
	post := func(path, body string) response { return send(t, s, "POST", path, bearer, body) }
	if r := post("/api/incidents", `{"name":"x","status":1}`); r.code != 422 ||
		!strings.Contains(r.body, `"message":["The message field is required when template is not present."]`) {
		t.Errorf("no message: %d %s", r.code, r.body)
	}
	if r := post("/api/incidents", `{"name":"x","message":"m","status":1,"component_id":1,"component_status":0}`); r.code != 422 ||
		!strings.Contains(r.body, "The selected component status is invalid.") {
		t.Errorf("component status 0: %d %s", r.code, r.body)
	}
	r := post("/api/incidents", `{"name":"API down","message":"m","status":1,"visible":true,"notify":true,"component_id":1,"component_status":4}`)
	if r.code != 201 || !strings.Contains(r.body, `"type":"incidents"`) || !strings.Contains(r.body, `"status":{"human":"Investigating","value":1}`) {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	inc := s.Incidents()[0]
	if inc.Notify || !inc.Visible || inc.ComponentID != 1 || inc.ComponentStatus != 4 {
		t.Errorf("stored %+v (3.x reads notifications, not notify)", inc)
	}
	if c, _ := s.Component(1); c.Status != 1 {
		t.Errorf("3.x records the impact, not the component's status: %+v", c)
	}
	if r := send(t, s, "GET", "/api/components/1", "", ""); !strings.Contains(r.body, `"latest_status":{"human":"Major outage","value":4}`) {
		t.Errorf("latest_status with the open incident: %s", r.body)
	}
	d := decode3(t, send(t, s, "GET", "/api/incidents?include=components", "", ""))
	if len(d.Data) != 1 || string(d.Data[0].Relationships["components"]) != `{"data":[{"id":"1","type":"components"}]}` {
		t.Errorf("list: %+v", d)
	}
	path := "/api/incidents/" + itoa(inc.ID) + "/updates"
	s.SetAbilities("incidents.manage")
	if r := post(path, `{"status":4,"message":"fixed"}`); r.code != 403 {
		t.Errorf("updates need incident-updates.manage: %d %s", r.code, r.body)
	}
	s.SetAbilities("incident-updates.manage")
	if r := post(path, `{"status":4,"message":"fixed"}`); r.code != 201 || !strings.Contains(r.body, `"updateable_id":`+itoa(inc.ID)) {
		t.Errorf("update: %d %s", r.code, r.body)
	}
	if got, _ := s.Incident(inc.ID); got.Status != 4 {
		t.Errorf("the update did not fix the incident: %+v", got)
	}
	if r := send(t, s, "GET", "/api/components/1", "", ""); !strings.Contains(r.body, `"latest_status":{"human":"Operational","value":1}`) {
		t.Errorf("latest_status after the fix: %s", r.body)
	}
	if r := send(t, s, "PATCH", "/api/incidents/"+itoa(inc.ID), bearer, `{"status":3}`); r.code != 403 {
		t.Errorf("PATCH an incident needs incidents.manage: %d", r.code)
	}
}

func TestMetricPoints(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 46, 0, time.UTC)
	for _, mode := range []Mode{Cachet24, Cachet23, Cachet3} {
		t.Run(mode.String(), func(t *testing.T) {
			s := New(token, WithMode(mode))
			defer s.Close()
			id := s.AddMetric(Metric{Name: "reports", Suffix: "reports"})
			auth, path := "X-Cachet-Token: "+token, "/api/v1/metrics/"+itoa(id)+"/points"
			if mode == Cachet3 {
				auth, path = bearer, "/api/metrics/"+itoa(id)+"/points"
			}
			if r := send(t, s, "POST", path, "", `{"value":1}`); r.code != 401 {
				t.Errorf("no token: %d", r.code)
			}
			wantBad, wantOK := 400, 200
			if mode == Cachet3 {
				wantBad, wantOK = 422, 201
			}
			if r := send(t, s, "POST", path, auth, `{"value":"many"}`); r.code != wantBad {
				t.Errorf("bad value: %d %s", r.code, r.body)
			}
			first := send(t, s, "POST", path, auth, `{"value":2.5,"timestamp":`+itoa(int(ts.Unix()))+`}`)
			if first.code != wantOK || !strings.Contains(first.body, `"value":2.5`) {
				t.Fatalf("post: %d %s", first.code, first.body)
			}
			send(t, s, "POST", path, auth, `{"value":2.5}`) // the same value now: folded on 2.x, a new point on 3.x (far from ts)
			send(t, s, "POST", path, auth, `{"value":7}`)   // 3.x: within the threshold of the last point, folded
			points := s.Points(id)
			if !points[0].CreatedAt.Equal(time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)) {
				t.Errorf("the timestamp is rounded to 30 s: %v", points[0].CreatedAt)
			}
			var got []float64
			for _, p := range points {
				got = append(got, p.Value, float64(p.Counter))
			}
			// 2.x folds only an equal value created within the threshold
			// of now (the first point's time is months back); 3.x folds
			// any value near the latest point, keeping that point's value.
			want := "[2.5 1 2.5 1 7 1]"
			if mode == Cachet3 {
				want = "[2.5 1 2.5 2]"
			}
			if fmt.Sprint(got) != want {
				t.Errorf("points (value, counter) = %v, want %s", got, want)
			}
			send(t, s, "POST", path, auth, `{"value":7}`)
			if n := len(s.Points(id)); (mode == Cachet3 && n != 2) || (mode != Cachet3 && n != 3) {
				t.Errorf("after a repeat: %d points %+v", n, s.Points(id))
			}
		})
	}
}

func TestSchedules(t *testing.T) {
	for _, mode := range []Mode{Cachet24, Cachet3} {
		t.Run(mode.String(), func(t *testing.T) {
			s := New(token, WithMode(mode))
			defer s.Close()
			s.SetTimezone(time.FixedZone("UTC+2", 2*3600))
			open := s.StartMaintenance("db", 1, 3)
			s.AddSchedule(Schedule{Name: "past", Status: 0, ScheduledAt: time.Now().Add(-2 * time.Hour), CompletedAt: time.Now().Add(-time.Hour)})
			if mode == Cachet3 {
				d := decode3(t, send(t, s, "GET", "/api/schedules?include=components", "", ""))
				if len(d.Data) != 2 || d.Data[0].Attributes["status"].(map[string]any)["value"] != float64(1) ||
					d.Data[1].Attributes["status"].(map[string]any)["value"] != float64(2) ||
					string(d.Data[0].Relationships["components"]) != `{"data":[{"id":"1","type":"components"},{"id":"3","type":"components"}]}` {
					t.Errorf("schedules: %+v", d)
				}
				if d.Data[0].Attributes["completed"].(map[string]any)["string"] != nil {
					t.Errorf("no end: %v", d.Data[0].Attributes["completed"])
				}
				return
			}
			var pg struct {
				Data []map[string]any `json:"data"`
			}
			r := send(t, s, "GET", "/api/v1/schedules", "X-Cachet-Token: "+token, "")
			if err := json.Unmarshal([]byte(r.body), &pg); err != nil || len(pg.Data) != 2 || pg.Data[0]["id"] != float64(open) {
				t.Fatalf("schedules: %s", r.body)
			}
			if c, ok := pg.Data[0]["components"].([]any); !ok || len(c) != 0 {
				t.Errorf("2.4 drops the components a schedule was posted with: %v", pg.Data[0]["components"])
			}
			completed, _ := time.ParseInLocation(timeLayout, pg.Data[0]["completed_at"].(string), time.FixedZone("UTC+2", 2*3600))
			if d := time.Since(completed); d < -5*time.Second || d > 5*time.Second {
				t.Errorf("2.4 shows a missing completed_at as now, in cachet.timezone: %v", pg.Data[0]["completed_at"])
			}
		})
	}
}

func TestTimeZoneHeader(t *testing.T) {
	s := New(token)
	defer s.Close()
	s.SetTimezone(time.FixedZone("UTC+2", 2*3600))
	id := s.AddIncident(Incident{Name: "x", Message: "m", Status: 1, Visible: true, CreatedAt: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)})
	path := "/api/v1/incidents/" + itoa(id)
	if r := do(t, s, "GET", path, "", "", "", ""); !strings.Contains(r.body, `"created_at":"2026-05-01 12:00:00"`) {
		t.Errorf("cachet.timezone: %s", r.body)
	}
	if r := sendH(t, s, "GET", path, http.Header{"Time-Zone": {"UTC"}}, ""); !strings.Contains(r.body, `"created_at":"2026-05-01 10:00:00"`) {
		t.Errorf("Time-Zone: UTC: %s", r.body)
	}
}

// TestTimeZone3: core renders toDateTimeString in the app's timezone
// (APP_TIMEZONE) and has no Time-Zone header.
func TestTimeZone3(t *testing.T) {
	s := New(token, WithMode(Cachet3))
	defer s.Close()
	s.SetTimezone(time.FixedZone("UTC+2", 2*3600))
	id := s.AddIncident(Incident{Name: "x", Message: "m", Status: 1, Visible: true, CreatedAt: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)})
	r := sendH(t, s, "GET", "/api/incidents/"+itoa(id), http.Header{"Time-Zone": {"UTC"}}, "")
	if !strings.Contains(r.body, `"created":{"human":`) || !strings.Contains(r.body, `"string":"2026-05-01 12:00:00"`) {
		t.Errorf("3.x created: %s", r.body)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// What the acceptance suite creates and removes: components, groups and
// metrics, with Cachet's status codes and rules (2.x: 200, 401 without a
// token, 404 before 401; 3.x: 201, abilities, decimal:1,2 on a metric's
// default_value). Removing a group ungroups its components.
func TestCreateAndRemove(t *testing.T) {
	s := New(token)
	defer s.Close()
	if r := do(t, s, "POST", "/api/v1/components/groups", "", "", jsonCT, `{"name":"G"}`); r.code != 401 {
		t.Errorf("group without a token: %d", r.code)
	}
	if r := do(t, s, "POST", "/api/v1/components/groups", token, "", jsonCT, `{"name":"G","visible":1}`); r.code != 200 || !strings.Contains(r.body, `"id":1`) {
		t.Fatalf("group: %d %s", r.code, r.body)
	}
	if r := do(t, s, "POST", "/api/v1/components", token, "", jsonCT, `{"name":"C","group_id":1}`); r.code != 400 {
		t.Errorf("component without a status: %d %s", r.code, r.body)
	}
	if r := do(t, s, "POST", "/api/v1/components", token, "", jsonCT, `{"name":"C","status":1,"group_id":1}`); r.code != 200 || !strings.Contains(r.body, `"enabled":true`) {
		t.Fatalf("component: %d %s", r.code, r.body)
	}
	if r := do(t, s, "POST", "/api/v1/metrics", token, "", jsonCT, `{"name":"M","suffix":"ms","calc_type":1,"default_value":0}`); r.code != 200 || !strings.Contains(r.body, `"calc_type":1`) {
		t.Fatalf("metric: %d %s", r.code, r.body)
	}
	for _, path := range []string{"/api/v1/components/groups/9", "/api/v1/metrics/9"} {
		if r := do(t, s, "DELETE", path, "", "", "", ""); r.code != 404 {
			t.Errorf("DELETE %s (unknown, no token): %d", path, r.code)
		}
	}
	if r := do(t, s, "DELETE", "/api/v1/components/groups/1", "", "", "", ""); r.code != 401 {
		t.Errorf("DELETE a group without a token: %d", r.code)
	}
	if r := do(t, s, "DELETE", "/api/v1/components/groups/1", token, "", "", ""); r.code != 204 {
		t.Errorf("DELETE a group: %d %s", r.code, r.body)
	}
	if c := s.Components(); len(c) != 1 || c[0].GroupID != 0 {
		t.Errorf("after removing its group: %+v", c)
	}

	s3 := NewV3(token)
	defer s3.Close()
	s3.SetAbilities("component-groups.manage", "metrics.manage")
	if r := send(t, s3, "POST", "/api/component-groups", bearer, `{"name":"G","visible":1}`); r.code != 201 {
		t.Fatalf("3.x group: %d %s", r.code, r.body)
	}
	if r := send(t, s3, "POST", "/api/metrics", bearer, `{"name":"M","suffix":"ms","calc_type":1,"default_value":0}`); r.code != 422 ||
		!strings.Contains(r.body, "The default value field must have 1-2 decimal places.") {
		t.Errorf("3.x metric with default_value 0: %d %s", r.code, r.body)
	}
	if r := send(t, s3, "POST", "/api/metrics", bearer, `{"name":"M","suffix":"ms","calc_type":1,"default_value":"0.5"}`); r.code != 201 {
		t.Errorf("3.x metric: %d %s", r.code, r.body)
	}
	if r := send(t, s3, "DELETE", "/api/component-groups/1", bearer, ""); r.code != 403 {
		t.Errorf("3.x DELETE without component-groups.delete: %d %s", r.code, r.body)
	}
	s3.SetAbilities("*")
	if r := send(t, s3, "DELETE", "/api/component-groups/1", bearer, ""); r.code != 204 {
		t.Errorf("3.x DELETE a group: %d %s", r.code, r.body)
	}
	if r := send(t, s3, "DELETE", "/api/component-groups/1", bearer, ""); r.code != 404 {
		t.Errorf("3.x DELETE it again: %d %s", r.code, r.body)
	}
}

// TestIncidentsAsStored: what Cachet stores and mails for each incident
// request, by mode: Binput escapes an HTML comment (2.4: not in POST
// /incidents); 2.4's PUT resets visible and stickied when they are
// omitted; 2.4 mails every update of a visible incident, notify or not,
// 3.x only with notifications, and PUT mails no one anywhere.
func TestIncidentsAsStored(t *testing.T) {
	const comment = "down <!-- x -->"
	const escaped = "down &lt;!-- x --&gt;"
	for _, mode := range []Mode{Cachet24, Cachet23, Cachet3} {
		t.Run(mode.String(), func(t *testing.T) {
			s := New(token, WithMode(mode))
			defer s.Close()
			s.Add(Component{ID: 1, Name: "one", Status: 1, Enabled: true})
			auth := "X-Cachet-Token: " + token
			if mode == Cachet3 {
				auth = bearer
			}
			base := s.APIPath()
			r := send(t, s, "POST", base+"/incidents", auth,
				`{"name":"n","message":"`+comment+`","status":1,"visible":true,"stickied":true,"notify":false,"notifications":false,"component_id":1,"component_status":4}`)
			if r.code/100 != 2 {
				t.Fatalf("create: %d %s", r.code, r.body)
			}
			inc := s.Incidents()[0]
			wantCreate := map[Mode]string{Cachet24: comment, Cachet23: escaped, Cachet3: comment}[mode]
			if inc.Message != wantCreate {
				t.Errorf("created with message %q, want %q", inc.Message, wantCreate)
			}
			mails := map[Mode]int{Cachet24: 1, Cachet23: 0, Cachet3: 0}[mode] // 2.4.1 mails the component change the incident makes
			if got := s.Mails(); got[MailIncident] != 0 || got[MailComponent] != mails {
				t.Errorf("mails after a create without notify: %v", got)
			}
			path := base + "/incidents/" + itoa(inc.ID)
			if r := send(t, s, "PUT", path, auth, `{"status":2,"message":"`+comment+`"}`); r.code != 200 {
				t.Fatalf("PUT: %d %s", r.code, r.body)
			}
			got, _ := s.Incident(inc.ID)
			wantPut := map[Mode]string{Cachet24: escaped, Cachet23: escaped, Cachet3: comment}[mode]
			if got.Message != wantPut || got.Status != 2 {
				t.Errorf("after PUT: %+v, want message %q", got, wantPut)
			}
			if wantStickied := mode == Cachet3; got.Stickied != wantStickied || !got.Visible {
				t.Errorf("after a PUT without stickied: stickied %v, want %v", got.Stickied, wantStickied)
			}
			if mode == Cachet23 {
				if n := len(s.Mails()); n != 0 {
					t.Errorf("2.3 mailed for incidents without notify: %v", s.Mails())
				}
				return
			}
			if r := send(t, s, "POST", path+"/updates", auth, `{"status":3,"message":"`+comment+`"}`); r.code/100 != 2 {
				t.Fatalf("update: %d %s", r.code, r.body)
			}
			u := s.IncidentUpdates(inc.ID)
			wantUpd := map[Mode]string{Cachet24: escaped, Cachet3: comment}[mode]
			if len(u) != 1 || u[0].Message != wantUpd {
				t.Errorf("update stored as %+v, want %q", u, wantUpd)
			}
			if want := map[Mode]int{Cachet24: 1, Cachet3: 0}[mode]; s.Mails()[MailIncidentUpdate] != want {
				t.Errorf("mails for an update of an incident without notify: %v, want %d", s.Mails(), want)
			}
		})
	}
}

// TestComponentMails: 2.3 mails every subscriber for every component PUT,
// 2.4 only for a status change (not to 0) without silent, 3.x never.
func TestComponentMails(t *testing.T) {
	for _, tt := range []struct {
		mode Mode
		want int
	}{{Cachet23, 4}, {Cachet24, 1}, {Cachet3, 0}} {
		s := New(token, WithMode(tt.mode))
		s.Add(Component{ID: 1, Name: "one", Status: 1, Enabled: true})
		auth := "X-Cachet-Token: " + token
		if tt.mode == Cachet3 {
			auth = bearer
		}
		for _, body := range []string{`{"status":1}`, `{"status":2}`, `{"status":3,"silent":true}`, `{"status":0}`} {
			send(t, s, "PUT", s.APIPath()+"/components/1", auth, body)
		}
		if got := s.Mails()[MailComponent]; got != tt.want {
			t.Errorf("%s: %d component mails, want %d", tt.mode, got, tt.want)
		}
		s.Close()
	}
}

// TestIncidentSearch2: a column filter on 2.x incidents works, sort always
// sorts descending, and a column filter with page is Cachet's 500.
func TestIncidentSearch2(t *testing.T) {
	s := New(token)
	defer s.Close()
	for _, c := range []int{1, 2, 1} {
		s.AddIncident(Incident{Name: "i", Message: "m", Status: 1, ComponentID: c})
	}
	r := do(t, s, "GET", "/api/v1/incidents?component_id=1&sort=id&order=asc&per_page=5", token, "", "", "")
	var doc struct {
		Data []struct{ ID int } `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil || len(doc.Data) != 2 || doc.Data[0].ID != 3 || doc.Data[1].ID != 1 {
		t.Errorf("component_id=1, sort=id: %d %s", r.code, r.body)
	}
	if r := do(t, s, "GET", "/api/v1/incidents?component_id=1&page=1", token, "", "", ""); r.code != 500 {
		t.Errorf("a column with page: %d %s", r.code, r.body)
	}
}

// TestFaultsOnWrites: FaultStored500 stores, then answers 500;
// FaultDatabase stores nothing and answers 2.x's 400.
func TestFaultsOnWrites(t *testing.T) {
	s := New(token)
	defer s.Close()
	s.Add(Component{ID: 1, Name: "one", Status: 1, Enabled: true})
	s.FailNext(FaultStored500, 1, true)
	r := do(t, s, "POST", "/api/v1/incidents", token, "", jsonCT, `{"name":"n","message":"m","status":1}`)
	if r.code != 500 || len(s.Incidents()) != 1 {
		t.Errorf("stored, then 500: %d, %d incidents", r.code, len(s.Incidents()))
	}
	s.FailNext(FaultDatabase, 1, true)
	r = do(t, s, "PUT", "/api/v1/components/1", token, "", jsonCT, `{"status":4}`)
	if c, _ := s.Component(1); r.code != 400 || !strings.Contains(r.body, detail400) || c.Status != 1 {
		t.Errorf("database error: %d %s, status %d", r.code, r.body, c.Status)
	}
}
