package cachet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/status"
)

// checkHeaders asserts that every request carried the token in its API's
// header only, 2.x asked for UTC, and Cachet took the token.
func checkHeaders(t *testing.T, srv *cachettest.Server, m cachettest.Mode) {
	t.Helper()
	for _, r := range srv.Requests() {
		xct, bearer := r.Header.Get("X-Cachet-Token") != "", r.Header.Get("Authorization") != ""
		if xct == (m == cachettest.Cachet3) || bearer != (m == cachettest.Cachet3) || !r.Authorized || m != cachettest.Cachet3 && r.Header.Get("Time-Zone") != "UTC" ||
			r.Header.Get("Accept") != "application/json" || r.Header.Get("User-Agent") != "cachet-updater-test" || (r.Body != "") != (r.Header.Get("Content-Type") == "application/json") {
			t.Errorf("%s %s reached %s with %v", r.Method, r.Path, m, r.Header)
		}
	}
}

// TestModesComponents: every component is listed once, disabled ones too
// with a token (3.x: in a second pass), only enabled ones without; 2.x is
// asked page and per_page only, 3.x per_page 100 with its group.
func TestModesComponents(t *testing.T) {
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			srv := fake(t, m, 250)
			srv.AddGroup(1, "one")
			got, err := client(t, srv.URL()).Components(context.Background())
			if err != nil || len(got) != 250 {
				t.Fatalf("%d components, %v", len(got), err)
			}
			for i, c := range got {
				want := cachet.Component{ID: i + 1, Name: fmt.Sprintf("server-%02d", i+1), Status: status.Operational, Shown: status.Operational, Enabled: (i+1)%10 != 0, GroupID: (i + 1) % 3}
				if m == cachettest.Cachet3 && want.GroupID == 2 {
					want.GroupID = 0 // a 3.x group is a relationship: one that does not exist is none
				}
				if c != want {
					t.Errorf("component %d = %+v, want %+v", i, c, want)
				}
			}
			checkHeaders(t, srv, m)
			var queries []string
			for _, r := range srv.Requests() {
				q, _ := url.ParseQuery(r.RawQuery)
				queries = append(queries, q.Encode())
			}
			want := "page=1&per_page=100 page=2&per_page=100 page=3&per_page=100"
			if m == cachettest.Cachet3 {
				want = "include=group&page=1&per_page=100 include=group&page=2&per_page=100 include=group&page=3&per_page=100 filter%5Benabled%5D=0&include=group&page=1&per_page=100"
			}
			if strings.Join(queries, " ") != want {
				t.Errorf("asked %v\nwant %s", queries, want)
			}
			guest, err := client(t, srv.URL(), func(o *cachet.Options) { o.Token = "" }).Components(context.Background())
			if len(guest) != 225 || err != nil {
				t.Errorf("a guest lists %d, %v; want 225 enabled", len(guest), err)
			}
		})
	}
}

// TestModesWrites: a status goes by PUT (2.x) or PATCH (3.x, unknown as
// 5) with enabled as it was; 2.3 stores any status; 3.x proves the
// components.manage ability with an empty PATCH, 2.x sends nothing.
func TestModesWrites(t *testing.T) {
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			srv := fake(t, m, 10)
			c := client(t, srv.URL())
			ctx := context.Background()
			var want []string
			for id, s := range []status.Status{status.Unknown, status.Operational, status.PerformanceIssues, status.PartialOutage, status.MajorOutage} {
				if err := c.SetStatus(ctx, id+6, s, id+6 != 10); err != nil {
					t.Fatal(err)
				}
				sent, method := int(s), map[bool]string{false: "PUT", true: "PATCH"}[m == cachettest.Cachet3]
				if m == cachettest.Cachet3 && s == status.Unknown {
					sent = 5
				}
				want = append(want, fmt.Sprintf(`%s /components/%d {"status":%d,"enabled":%v}`, method, id+6, sent, id+6 != 10))
				if got, _ := srv.Component(id + 6); got.Status != sent || got.Enabled != (id+6 != 10) {
					t.Errorf("stored %+v", got)
				}
			}
			err23 := c.SetStatus(ctx, 1, 7, true)
			if err := c.ProveComponentWrites(ctx, 1); err != nil {
				t.Errorf("ProveComponentWrites: %v", err)
			}
			switch m {
			case cachettest.Cachet23:
				want = append(want, `PUT /components/1 {"status":7,"enabled":true}`)
			case cachettest.Cachet24:
				want = append(want, `PUT /components/1 {"status":7,"enabled":true}`)
				if !strings.Contains(fmt.Sprint(err23), "400 Bad Request: The request cannot be fulfilled due to bad syntax. (The status may not be greater than 4.)") {
					t.Errorf("status 7 on 2.4: %v", err23)
				}
			default:
				want = append(want, `PATCH /components/1 {"status":7,"enabled":true}`, "PATCH /components/1 {}")
				srv.SetAbilities("incidents.manage")
				if err := c.ProveComponentWrites(ctx, 1); !strings.Contains(fmt.Sprint(err), "the API token lacks the components.manage ability") {
					t.Errorf("without components.manage: %v", err)
				}
			}
			if got := writeLog(srv); !strings.HasPrefix(got, strings.Join(want, "\n")) {
				t.Errorf("writes\n%s\nwant\n%s", got, strings.Join(want, "\n"))
			}
			checkHeaders(t, srv, m)
		})
	}
}

// TestModesGroupsPingToken: groups, ping and the token proof, in each
// API; a refused token says so without showing it. A 403 proves the
// token only on 3.x, which checks abilities after the token.
func TestModesGroupsPingToken(t *testing.T) {
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			srv := fake(t, m, 0)
			for i := 1; i <= 105; i++ {
				srv.AddGroup(i, fmt.Sprintf("group %d", i))
			}
			c, ctx := client(t, srv.URL()), context.Background()
			if got, err := c.Groups(ctx); err != nil || len(got) != 105 || got[104] != (cachet.Group{ID: 105, Name: "group 105"}) {
				t.Errorf("Groups = %d, %v", len(got), err)
			}
			if err := c.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
			if err := c.VerifyToken(ctx); err != nil {
				t.Errorf("VerifyToken: %v", err)
			}
			checkHeaders(t, srv, m)
			err := client(t, srv.URL(), func(o *cachet.Options) { o.Token = "bad-token" }).VerifyToken(ctx)
			if !strings.HasPrefix(fmt.Sprint(err), "cachet API token rejected (check the configured token; ") || !strings.Contains(err.Error(), "401 Unauthorized") || strings.Contains(err.Error(), "bad-token") {
				t.Errorf("a bad token: %v", err)
			}
			srv.SetAbilities("components.manage")
			if err := c.VerifyToken(ctx); err != nil {
				t.Errorf("without subscribers.manage: %v", err)
			}
			if err := client(t, srv.URL(), func(o *cachet.Options) { o.Token = "" }).VerifyToken(ctx); fmt.Sprint(err) != "cachet: no API token configured" {
				t.Errorf("no token: %v", err)
			}
		})
	}
	s := newStub(t, "127.0.0.1", reply{code: 403, body: `{"errors":[{"detail":"no"}]}`})
	if err := client(t, s.URL+"/api/v1").VerifyToken(context.Background()); !strings.HasPrefix(fmt.Sprint(err), "cachet API token rejected") {
		t.Errorf("a 403 on 2.x: %v", err)
	}
}

// TestModesIncidents: an incident is opened naming its component (2.x
// sets it too; 3.x takes an operational impact, so the page shows the
// component's own status), found again by Cachet's fields, updated with
// notify by an incident update (2.3, which has none, answers 404: it is
// changed in place, and the POST is not sent again), without notify in
// place keeping its visibility; one a person closed is let go.
func TestModesIncidents(t *testing.T) {
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			srv := fake(t, m, 3)
			c, ctx := client(t, srv.URL()), context.Background()
			srv.AddIncident(cachettest.Incident{Name: "old", Message: "m", Status: 4, Visible: true, ComponentID: 2})
			srv.AddIncident(cachettest.Incident{Name: "other", Message: "m", Status: 1, Visible: true, ComponentID: 3})
			opened, err := c.CreateIncident(ctx, cachet.NewIncident{Name: "server-02 is down", Message: "Timeouts since 10:00.",
				Status: cachet.IncidentInvestigating, Visible: false, Notify: true, ComponentID: 2, ComponentStatus: status.MajorOutage})
			if err != nil || opened.Name != "server-02 is down" || opened.Visible || opened.Status != cachet.IncidentInvestigating {
				t.Fatalf("CreateIncident = %+v, %v", opened, err)
			}
			srv.AddIncident(cachettest.Incident{Name: "newer", Message: "m", Status: 4, Visible: true, ComponentID: 2})
			if found, ok, err := c.OpenIncident(ctx, 2); !ok || err != nil || found.ID != opened.ID || !found.Names(2) || found.Message != "Timeouts since 10:00." {
				t.Errorf("OpenIncident(2) = %+v, %v, %v", found, ok, err)
			}
			if err := c.UpdateIncident(ctx, opened.ID, cachet.IncidentUpdate{Status: cachet.IncidentWatching, Message: "Recovering.", Notify: true}); err != nil {
				t.Fatal(err)
			}
			if err := c.ResolveIncident(ctx, opened.ID, "Resolved.", false, 2); err != nil {
				t.Fatal(err)
			}
			if got, _ := srv.Incident(opened.ID); got.Status != 4 || got.Visible || got.Message != "Resolved." {
				t.Errorf("resolved: %+v", got)
			}
			if found, ok, err := c.OpenIncident(ctx, 2); ok || err != nil {
				t.Errorf("OpenIncident(2) after resolving = %+v, %v", found, err)
			}
			if found, ok, _ := c.OpenIncident(ctx, 3); !ok || found.Name != "other" {
				t.Errorf("OpenIncident(3) = %+v", found)
			}
			id := fmt.Sprint(opened.ID)
			want := map[cachettest.Mode]string{
				cachettest.Cachet24: `POST /incidents {"component_id":2,"component_status":4,"message":"Timeouts since 10:00.","name":"server-02 is down","notify":true,"status":1,"visible":false}
POST /incidents/ID/updates {"message":"Recovering.","status":3}
PUT /incidents/ID {"component_id":2,"component_status":1,"message":"Resolved.","notify":false,"status":4,"stickied":false,"visible":false}`,
				cachettest.Cachet23: `POST /incidents {"component_id":2,"component_status":4,"message":"Timeouts since 10:00.","name":"server-02 is down","notify":true,"status":1,"visible":false}
POST /incidents/ID/updates {"message":"Recovering.","status":3}
PUT /incidents/ID {"message":"Recovering.","notify":true,"status":3,"stickied":false,"visible":false}
PUT /incidents/ID {"component_id":2,"component_status":1,"message":"Resolved.","notify":false,"status":4,"stickied":false,"visible":false}`,
				cachettest.Cachet3: `POST /incidents {"component_id":2,"component_status":1,"message":"Timeouts since 10:00.","name":"server-02 is down","notifications":true,"status":1,"visible":false}
POST /incidents/ID/updates {"message":"Recovering.","status":3}
PUT /incidents/ID {"message":"Resolved.","status":4}`,
			}[m]
			if got := writeLog(srv); got != strings.ReplaceAll(want, "ID", id) {
				t.Errorf("writes\n%s\nwant\n%s", got, strings.ReplaceAll(want, "ID", id))
			}
			if comp, _ := srv.Component(2); comp.Status != 1 { // 2.x: set by the incident, then back
				t.Errorf("component 2 is %d", comp.Status)
			}
			checkHeaders(t, srv, m)
			srv.RemoveIncident(3)
			for id, want := range map[int]string{1: "incident 1 was marked fixed in Cachet: left closed", 3: "incident 3 was deleted in Cachet: left closed"} {
				if err := c.UpdateIncident(ctx, id, cachet.IncidentUpdate{Status: 2, Message: "m"}); !errors.Is(err, cachet.ErrIncidentClosed) || err.Error() != "cachet: "+want {
					t.Errorf("UpdateIncident(%d) = %v", id, err)
				}
			}
		})
	}
}

// TestModesMetrics: metrics say whether they sum and their threshold; a
// point is posted with its Unix time, or none for Cachet's now.
func TestModesMetrics(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 14, 0, time.UTC)
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			srv := fake(t, m, 0)
			id := srv.AddMetric(cachettest.Metric{Name: "Timeout reports", Suffix: "reports", CalcType: 1, Threshold: 2})
			srv.AddMetric(cachettest.Metric{Name: "Other"})
			c, ctx := client(t, srv.URL()), context.Background()
			if got, err := c.Metrics(ctx); err != nil || len(got) != 2 || got[0] != (cachet.Metric{ID: id, Name: "Timeout reports", Suffix: "reports", Threshold: 2}) || !got[1].Sum || got[1].Threshold != 5 {
				t.Errorf("Metrics = %+v, %v", got, err)
			}
			if err := errors.Join(c.AddMetricPoint(ctx, id, 12.5, at), c.AddMetricPoint(ctx, id, 3, time.Time{})); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf(`POST /metrics/%d/points {"timestamp":%d,"value":12.5}
POST /metrics/%d/points {"value":3}`, id, at.Unix(), id)
			if p := srv.Points(id); writeLog(srv) != want || len(p) != 2 || !p[0].CreatedAt.Equal(at.Add(-14*time.Second)) {
				t.Errorf("writes %s, points %+v", writeLog(srv), p)
			}
			if err := c.AddMetricPoint(ctx, 99, 1, time.Time{}); !strings.Contains(fmt.Sprint(err), "404 Not Found") {
				t.Errorf("an unknown metric: %v", err)
			}
		})
	}
}

// TestModesSchedules: the windows in progress; 2.4 (no components, no end
// shown as now) and 3.x (from the times, with components) differ; 2.3 has
// none, found out from its 404, each time without an error of the run.
func TestModesSchedules(t *testing.T) {
	now := time.Now().UTC()
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			srv := fake(t, m, 3)
			running := srv.AddSchedule(cachettest.Schedule{Name: "db upgrade", Message: "Maintenance", Status: 1, ScheduledAt: now.Add(-time.Minute), ComponentIDs: []int{2}})
			srv.AddSchedule(cachettest.Schedule{Name: "done", Status: 1, ScheduledAt: now.Add(-3 * time.Hour), CompletedAt: now.Add(-2 * time.Hour), ComponentIDs: []int{1}})
			srv.AddSchedule(cachettest.Schedule{Name: "later", ScheduledAt: now.Add(time.Hour), ComponentIDs: []int{1}})
			srv.AddSchedule(cachettest.Schedule{Name: "marked complete", Status: 2, ScheduledAt: now.Add(-time.Hour), ComponentIDs: []int{1}})
			srv.AddSchedule(cachettest.Schedule{Name: "ends soon", ScheduledAt: now.Add(-time.Hour), CompletedAt: now.Add(time.Hour), ComponentIDs: []int{3}})
			got, err := client(t, srv.URL()).Schedules(context.Background())
			if m == cachettest.Cachet23 {
				if !errors.Is(err, cachet.ErrUnsupported) || got != nil || err.Error() != "cachet: Cachet 2.3 has no schedules API, so no maintenance windows are known: not supported by this Cachet" {
					t.Errorf("2.3: %+v, %v", got, err)
				}
				return
			}
			var names []string
			for _, s := range got {
				names = append(names, fmt.Sprint(s.Name, s.ComponentIDs, s.ListsComponents))
			}
			want := "[db upgrade[] false ends soon[] false]"
			if m == cachettest.Cachet3 {
				want = "[db upgrade[2] true marked complete[1] true ends soon[3] true]"
			}
			if err != nil || fmt.Sprint(names) != want || got[0].ID != running || got[0].Message != "Maintenance" || !got[0].CompletedAt.IsZero() ||
				got[0].ScheduledAt.Sub(now.Add(-time.Minute)).Abs() > 2*time.Second || got[len(got)-1].CompletedAt.IsZero() {
				t.Errorf("in progress: %v, %+v, %v; want %s", names, got, err, want)
			}
		})
	}
}

// TestSchedulesZone: 3.x writes its times in its app's zone without
// saying so; cachet.time_zone says which.
func TestSchedulesZone(t *testing.T) {
	start := time.Now().Add(-time.Hour).In(time.FixedZone("UTC+2", 2*3600))
	s := newStub(t, "127.0.0.1", reply{body: fmt.Sprintf(`{"data":[{"id":"1","attributes":{"name":"w","status":{"value":1},"scheduled":{"human":"x","string":%q},"completed":{"string":null}}}]}`,
		start.Format(time.DateTime))})
	got, err := client(t, s.URL+"/api", func(o *cachet.Options) { o.TimeZone = start.Location() }).Schedules(context.Background())
	if err != nil || len(got) != 1 || !got[0].ScheduledAt.Equal(start.Truncate(time.Second)) || !got[0].CompletedAt.IsZero() {
		t.Errorf("Schedules = %+v, %v; want one from %s", got, err, start)
	}
}

// TestDecode: Cachet's JSON is read tolerantly: numbers as strings (2.3),
// booleans as numbers, a 3.x status object, a missing enabled as enabled;
// a status that is no number does not fail the component.
func TestDecode(t *testing.T) {
	for _, tt := range []struct{ json, want string }{
		{`{"id":1,"name":"API","status":2,"group_id":0,"enabled":true,"tags":[],"meta":null}`, "{1 API 2 2 true 0 false }"},
		{`{"id":"14","name":"web","status":"3","enabled":"0","group_id":"2","tags":{"a":"A"}}`, "{14 web 3 3 false 2 false }"},
		{`{"id":3.0,"status":" 2.0 ","enabled":1,"group_id":null}`, "{3  2 2 true 0 false }"},
		{`{"id":3,"status":4}`, "{3  4 4 true 0 false }"},
		{`{"id":3,"status":4,"enabled":null}`, "{3  4 4 true 0 false }"},
		{`{"id":1,"status":7,"enabled":"false"}`, "{1  7 7 false 0 false }"},
		{`{"id":1,"status":{"human":"Operational","value":1}}`, "{1  1 1 true 0 false }"},
		{`{"id":1,"status":"foo"}`, `{1  0 0 true 0 false "foo"}`},
		{`{"id":1,"status":2.5}`, "{1  0 0 true 0 false 2.5}"},
		{`{"id":1,"status":true}`, "{1  0 0 true 0 false true}"},
		{`{"id":"4","type":"components","attributes":{"id":4,"name":"API","status":{"value":3},"latest_status":{"value":4},"enabled":false},"relationships":{"group":{"data":{"type":"componentGroups","id":"9"}}}}`, "{4 API 3 4 false 9 false }"},
		{`{"id":"4","attributes":{"status":{"value":6}},"relationships":{"group":{"data":null}}}`, "{4  0 0 true 0 true }"},
		{`{"id":"4","attributes":{"status":{"value":5},"latest_status":{"value":6}}}`, "{4  0 0 true 0 false }"},
		{`{"id":"1","attributes":{"status":{"value":"abc"},"latest_status":{"value":"x"}}}`, `{1  0 0 true 0 false {"value":"abc"}}`},
		{`{"id":1,"status":1,"enabled":"maybe"}`, `decoding component: cannot decode "maybe" as a boolean`},
		{`{"id":1,"status":1,"enabled":2}`, "cannot decode 2 as a boolean"},
		{`[1,2]`, "decoding component: json: cannot unmarshal array"},
	} {
		var c cachet.Component
		err := json.Unmarshal([]byte(tt.json), &c)
		if got := fmt.Sprintf("{%d %s %d %d %v %d %v %s}", c.ID, c.Name, c.Status, c.Shown, c.Enabled, c.GroupID, c.Maintenance, c.Unreadable); err == nil && got != tt.want || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s\n= %s, %v\nwant %s", tt.json, got, err, tt.want)
		}
	}
	var i []cachet.Incident
	_ = json.Unmarshal([]byte(`[{"id":1,"visible":1,"stickied":"1","component_id":"2"},{"id":2,"visible":"0","stickied":false},{"id":"3","attributes":{"visible":2},"relationships":{"components":{"data":[{"id":"5"},{"id":"6"}]}}}]`), &i)
	if fmt.Sprint(i) != "[{1   0 [2] true true} {2   0 [] false false} {3   0 [5 6] false false}]" {
		t.Errorf("incidents %v", i)
	}
}

// BenchmarkComponents10000 lists a 10,000-component fleet from the
// emulator, in each API.
func BenchmarkComponents10000(b *testing.B) {
	for _, m := range []cachettest.Mode{cachettest.Cachet24, cachettest.Cachet3} {
		b.Run(m.String(), func(b *testing.B) {
			c := client(b, fake(b, m, 10000).URL())
			for b.Loop() {
				if got, err := c.Components(context.Background()); err != nil || len(got) != 10000 {
					b.Fatalf("%d components, %v", len(got), err)
				}
			}
		})
	}
}
