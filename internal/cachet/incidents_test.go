package cachet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/status"
)

// writeLog is the fake's writes as "METHOD path body" lines, the path
// below the API base.
func writeLog(srv *cachettest.Server) []string {
	var out []string
	for _, r := range srv.Writes() {
		out = append(out, fmt.Sprintf("%s %s %s", r.Method, strings.TrimPrefix(r.Path, srv.APIPath()), r.Body))
	}
	return out
}

func TestIncidentLifecycle(t *testing.T) {
	const marker = "[cachet-updater]"
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := newFakeMode(t, m.m, 3)
			c, _ := newClient(t, srv.URL(), nil)
			ctx := context.Background()
			// Another incident, already fixed, and one about another component.
			srv.AddIncident(cachettest.Incident{Name: "old", Message: "m", Status: 4, Visible: true, ComponentID: 2, ComponentStatus: 4})
			srv.AddIncident(cachettest.Incident{Name: "other", Message: "m", Status: 1, Visible: true, ComponentID: 3, ComponentStatus: 4})

			created, err := c.CreateIncident(ctx, cachet.NewIncident{
				Name: "server-02 is down " + marker, Message: "Timeouts since 10:00.", Status: cachet.IncidentInvestigating,
				Visible: false, Notify: true, ComponentID: 2, ComponentStatus: status.MajorOutage,
			})
			if err != nil {
				t.Fatal(err)
			}
			if created.ID <= 0 || created.Status != cachet.IncidentInvestigating || created.Name != "server-02 is down "+marker || created.Visible {
				t.Errorf("created %+v", created)
			}
			stored, _ := srv.Incident(created.ID)
			if !stored.Notify || stored.Visible || stored.ComponentID != 2 || stored.Message != "Timeouts since 10:00." {
				t.Errorf("stored %+v (notify must reach Cachet under its own name)", stored)
			}
			wantImpact := 4
			if m.api == cachet.APIv3 {
				wantImpact = 1 // operational: the page shows the component's own status
			}
			if stored.ComponentStatus != wantImpact {
				t.Errorf("component_status stored %d, want %d", stored.ComponentStatus, wantImpact)
			}

			// A newer incident of the same component, already fixed.
			srv.AddIncident(cachettest.Incident{Name: "newer", Message: "m", Status: 4, Visible: true, ComponentID: 2, ComponentStatus: 4})
			open, ok, err := c.OpenIncident(ctx, 2)
			if err != nil || !ok || open.ID != created.ID || !strings.Contains(open.Name, marker) ||
				open.ComponentID != 2 || open.Message != "Timeouts since 10:00." {
				t.Fatalf("OpenIncident(2) = %+v, %v, %v", open, ok, err)
			}

			if err := c.UpdateIncident(ctx, created.ID, cachet.IncidentUpdate{Status: cachet.IncidentWatching, Message: "Recovering.", Notify: true}); err != nil {
				t.Fatal(err)
			}
			if got, _ := srv.Incident(created.ID); got.Status != 3 || got.Visible {
				t.Errorf("after the update: %+v (visibility must not change)", got)
			}
			// Without notify, the incident is changed in place (2.4 would
			// mail for an update), keeping its visibility.
			if err := c.ResolveIncident(ctx, created.ID, "Resolved.", false, 0); err != nil {
				t.Fatal(err)
			}
			if got, _ := srv.Incident(created.ID); got.Status != 4 || got.Visible {
				t.Errorf("after resolving: %+v", got)
			}
			if open, ok, err := c.OpenIncident(ctx, 2); err != nil || ok {
				t.Errorf("OpenIncident(2) after resolving = %+v, %v, %v", open, ok, err)
			}
			if open, ok, err := c.OpenIncident(ctx, 3); err != nil || !ok || open.Name != "other" {
				t.Errorf("OpenIncident(3) = %+v, %v, %v", open, ok, err)
			}
			checkTokenHeaders(t, srv, m.api)
			id := fmt.Sprint(created.ID)
			want := map[string][]string{
				"2.4": {
					`POST /incidents {"component_id":2,"component_status":4,"message":"Timeouts since 10:00.","name":"server-02 is down [cachet-updater]","notify":true,"status":1,"visible":false}`,
					`POST /incidents/` + id + `/updates {"message":"Recovering.","status":3}`,
					`PUT /incidents/` + id + ` {"message":"Resolved.","notify":false,"status":4,"stickied":false,"visible":false}`,
				},
				"2.3": {
					`POST /incidents {"component_id":2,"component_status":4,"message":"Timeouts since 10:00.","name":"server-02 is down [cachet-updater]","notify":true,"status":1,"visible":false}`,
					`PUT /incidents/` + id + ` {"message":"Recovering.","notify":true,"status":3,"stickied":false,"visible":false}`,
					`PUT /incidents/` + id + ` {"message":"Resolved.","notify":false,"status":4,"stickied":false,"visible":false}`,
				},
				"3.x": {
					`POST /incidents {"component_id":2,"component_status":1,"message":"Timeouts since 10:00.","name":"server-02 is down [cachet-updater]","notifications":true,"status":1,"visible":false}`,
					`POST /incidents/` + id + `/updates {"message":"Recovering.","status":3}`,
					`PUT /incidents/` + id + ` {"message":"Resolved.","status":4}`,
				},
			}[m.name]
			if got := writeLog(srv); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if _, w := c.Requests(); w != 3 {
				t.Errorf("Requests() writes = %d, want 3", w)
			}
		})
	}
}

// TestIncidentComponentStatus: 2.x sets the component too; 3.x names it
// with an operational impact, so the page shows its own status.
func TestIncidentComponentStatus(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := newFakeMode(t, m.m, 1)
			c, _ := newClient(t, srv.URL(), nil)
			_, err := c.CreateIncident(context.Background(), cachet.NewIncident{Name: "n", Message: "m", Status: cachet.IncidentIdentified,
				ComponentID: 1, ComponentStatus: status.PartialOutage})
			if err != nil {
				t.Fatal(err)
			}
			comp, _ := srv.Component(1)
			if m.api == cachet.APIv2 && comp.Status != 3 {
				t.Errorf("2.x sets the component: %+v", comp)
			}
			if m.api == cachet.APIv3 {
				got, err := c.Components(context.Background())
				if comp.Status != 1 || err != nil || len(got) != 1 || got[0].Status != status.Operational || got[0].Shown != status.Operational {
					t.Errorf("3.x keeps the stored status (the impact shows in latest_status only): %+v, %+v, %v", comp, got, err)
				}
			}
		})
	}
}

// TestIncidentUpdate23FindsOut: on a 2.x base the client tells 2.3 from
// 2.4 once, by GET /schedules.
func TestIncidentUpdate23FindsOut(t *testing.T) {
	for _, m := range modes[:2] {
		t.Run(m.name, func(t *testing.T) {
			srv := newFakeMode(t, m.m, 1)
			id := srv.AddIncident(cachettest.Incident{Name: "n", Message: "m", Status: 1, Visible: true})
			c, _ := newClient(t, srv.URL(), nil)
			for range 2 {
				if err := c.UpdateIncident(context.Background(), id, cachet.IncidentUpdate{Status: 2, Message: "x", Notify: true}); err != nil {
					t.Fatal(err)
				}
			}
			var probes int
			for _, r := range srv.Requests() {
				if strings.HasSuffix(r.Path, "/schedules") {
					probes++
				}
			}
			if probes != 1 {
				t.Errorf("%d GET /schedules, want 1", probes)
			}
			if got, _ := srv.Incident(id); !got.Visible || got.Status != 2 {
				t.Errorf("incident %+v", got)
			}
		})
	}
}

func TestIncidentErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("checked before sending", func(t *testing.T) {
		c, _ := newClient(t, "http://127.0.0.1:1/api/v1", nil)
		for _, n := range []cachet.NewIncident{{Message: "m"}, {Name: "n"}, {Name: "n", Message: "m", Status: 5}, {Name: "n", Message: "m", ComponentID: -1}} {
			if _, err := c.CreateIncident(ctx, n); err == nil {
				t.Errorf("CreateIncident(%+v) accepted", n)
			}
		}
		if err := c.UpdateIncident(ctx, 0, cachet.IncidentUpdate{Status: 1, Message: "m"}); err == nil {
			t.Error("incident 0 accepted")
		}
		if err := c.UpdateIncident(ctx, 1, cachet.IncidentUpdate{Status: 1}); err == nil {
			t.Error("an update without a message accepted")
		}
		if attempts(c) != 0 {
			t.Errorf("%d requests", attempts(c))
		}
	})
	tests := []struct {
		mode      cachettest.Mode
		name      string
		abilities []string
		call      func(*cachet.Client) error
		want      string
	}{
		{cachettest.Cachet24, "unknown incident", nil, func(c *cachet.Client) error {
			return c.UpdateIncident(ctx, 99, cachet.IncidentUpdate{Status: 2, Message: "m"})
		}, `cachet: incident 99 was deleted in Cachet: left closed`},
		{cachettest.Cachet3, "fixed incident", nil, func(c *cachet.Client) error {
			return c.UpdateIncident(ctx, 2, cachet.IncidentUpdate{Status: 2, Message: "m", Notify: true})
		}, `cachet: incident 2 was marked fixed in Cachet: left closed`},
		{cachettest.Cachet24, "update status 0", nil, func(c *cachet.Client) error {
			return c.UpdateIncident(ctx, 1, cachet.IncidentUpdate{Status: 0, Message: "m", Notify: true})
		}, "cachet: POST /incidents/1/updates: 400 Bad Request: The request cannot be fulfilled due to bad syntax. (The status must be at least 1.)"},
		{cachettest.Cachet3, "create without incidents.manage", []string{"components.manage"}, func(c *cachet.Client) error {
			_, err := c.CreateIncident(ctx, cachet.NewIncident{Name: "n", Message: "m", Status: 1})
			return err
		}, "cachet: POST /incidents: 403 Forbidden: Invalid ability provided. (the API token lacks the incidents.manage ability"},
		{cachettest.Cachet3, "resolve without incident-updates.manage", []string{"incidents.manage"}, func(c *cachet.Client) error {
			return c.ResolveIncident(ctx, 1, "m", true, 0)
		}, "cachet: POST /incidents/1/updates: 403 Forbidden: Invalid ability provided. (the API token lacks the incident-updates.manage ability"},
		{cachettest.Cachet3, "unknown component", nil, func(c *cachet.Client) error {
			_, err := c.CreateIncident(ctx, cachet.NewIncident{Name: "n", Message: "m", Status: 1, ComponentID: 42, ComponentStatus: 4})
			return err
		}, "cachet: POST /incidents: 422 Unprocessable Entity: The selected component id is invalid."},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String()+"/"+tt.name, func(t *testing.T) {
			srv := newFakeMode(t, tt.mode, 1)
			srv.AddIncident(cachettest.Incident{ID: 1, Name: "n", Message: "m", Status: 1})
			srv.AddIncident(cachettest.Incident{ID: 2, Name: "n", Message: "m", Status: 4})
			if tt.abilities != nil {
				srv.SetAbilities(tt.abilities...)
			}
			c, _ := newClient(t, srv.URL(), nil)
			err := tt.call(c)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant %s...", err, tt.want)
			}
		})
	}
}

// TestIncidentAnswerVerified: a 2xx that does not hold what was sent is
// an error.
func TestIncidentAnswerVerified(t *testing.T) {
	tests := []struct {
		name, answer string
		call         func(context.Context, *cachet.Client) error
		want         string
	}{
		{"create without data", `{"data":null}`, func(ctx context.Context, c *cachet.Client) error {
			_, err := c.CreateIncident(ctx, cachet.NewIncident{Name: "n", Message: "m", Status: 1})
			return err
		}, "cachet: POST /incidents: Cachet answered 200 without an incident: it may not have been created"},
		{"create with another status", `{"data":{"id":5,"status":2}}`, func(ctx context.Context, c *cachet.Client) error {
			_, err := c.CreateIncident(ctx, cachet.NewIncident{Name: "n", Message: "m", Status: 1})
			return err
		}, "cachet: POST /incidents: Cachet answered 200 with incident 5 holding status 2, not 1"},
		{"update of another incident", `{"data":{"id":9,"incident_id":4,"status":4}}`, func(ctx context.Context, c *cachet.Client) error {
			return c.ResolveIncident(ctx, 3, "m", true, 0)
		}, "cachet: POST /incidents/3/updates: Cachet answered 200 with an update of incident 4, not 3"},
		{"change answered with another incident", `{"data":{"id":4,"status":4}}`, func(ctx context.Context, c *cachet.Client) error {
			return c.ResolveIncident(ctx, 3, "m", false, 0)
		}, "cachet: PUT /incidents/3: Cachet answered 200 without incident 3: the update was not applied"},
		{"point of another metric", `{"data":{"id":9,"metric_id":4,"value":1}}`, func(ctx context.Context, c *cachet.Client) error {
			_, err := c.AddMetricPoint(ctx, 3, 1, time.Time{})
			return err
		}, "cachet: POST /metrics/3/points: Cachet answered 200 with a point of metric 4, not 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newOrigin(t, "127.0.0.1", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodGet && r.URL.Path == "/api/v1/incidents/3":
					_, _ = fmt.Fprint(w, `{"data":{"id":3,"status":1,"visible":1}}`)
					return
				case r.Method == http.MethodGet: // the 2.4 probe
					_, _ = fmt.Fprint(w, `{"meta":{"pagination":{"total":0,"current_page":1,"total_pages":1}},"data":[]}`)
					return
				}
				_, _ = fmt.Fprint(w, tt.answer)
			}))
			c, _ := newClient(t, ts.URL+"/api/v1", nil)
			err := tt.call(context.Background(), c)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestMetricPoints(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 14, 0, time.UTC) // Cachet rounds to 12:00:00
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := newFakeMode(t, m.m, 0)
			zone := time.FixedZone("UTC-5", -5*3600) // Cachet's; the client is told
			srv.SetTimezone(zone)
			id := srv.AddMetric(cachettest.Metric{Name: "Timeout reports", Suffix: "reports", CalcType: 1, Threshold: 2})
			srv.AddMetric(cachettest.Metric{Name: "Other"})
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.PerPage, o.TimeZone = 1, zone })
			ctx := context.Background()
			metrics, err := c.Metrics(ctx)
			if err != nil || len(metrics) != 2 || metrics[0] != (cachet.Metric{ID: id, Name: "Timeout reports", Suffix: "reports", Threshold: 2}) || !metrics[1].Sum {
				t.Fatalf("Metrics = %+v, %v", metrics, err)
			}
			p, err := c.AddMetricPoint(ctx, id, 12.5, at)
			if err != nil {
				t.Fatal(err)
			}
			if p.MetricID != id || p.Value != 12.5 || p.Counter != 1 || !p.CreatedAt.Equal(at.Add(-14*time.Second)) {
				t.Errorf("point %+v", p)
			}
			if _, err := c.AddMetricPoint(ctx, id, 3, time.Time{}); err != nil {
				t.Fatal(err)
			}
			points := srv.Points(id)
			if len(points) != 2 || points[0].Value != 12.5 || points[1].Value != 3 || !points[0].CreatedAt.Equal(at.Add(-14*time.Second)) {
				t.Errorf("stored %+v", points)
			}
			want := fmt.Sprintf(`[POST /metrics/%d/points {"value":12.5,"timestamp":%d} POST /metrics/%d/points {"value":3}]`, id, at.Unix(), id)
			if got := fmt.Sprint(writeLog(srv)); got != want {
				t.Errorf("writes %s\nwant   %s", got, want)
			}
			if _, w := c.Requests(); w != 2 {
				t.Errorf("writes = %d, want 2", w)
			}
			checkTokenHeaders(t, srv, m.api)
		})
	}
}

func TestMetricPointErrors(t *testing.T) {
	srv := newFakeMode(t, cachettest.Cachet3, 0)
	c, _ := newClient(t, srv.URL(), nil)
	ctx := context.Background()
	for _, v := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := c.AddMetricPoint(ctx, 1, v, time.Time{}); err == nil {
			t.Errorf("%v accepted", v)
		}
	}
	if _, err := c.AddMetricPoint(ctx, 0, 1, time.Time{}); err == nil {
		t.Error("metric 0 accepted")
	}
	if attempts(c) != 0 {
		t.Errorf("%d requests", attempts(c))
	}
	_, err := c.AddMetricPoint(ctx, 9, 1, time.Time{})
	if err == nil || err.Error() != `cachet: POST /metrics/9/points: 404 Not Found: No query results for model [Cachet\Models\Metric] 9` {
		t.Errorf("unknown metric: %v", err)
	}
	id := srv.AddMetric(cachettest.Metric{Name: "m"})
	srv.SetAbilities("components.manage")
	_, err = c.AddMetricPoint(ctx, id, 1, time.Time{})
	if err == nil || !strings.Contains(err.Error(), "the API token lacks the metric-points.manage ability") {
		t.Errorf("without metric-points.manage: %v", err)
	}
}

func TestSchedules(t *testing.T) {
	now := time.Now().UTC()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := newFakeMode(t, m.m, 3)
			// 2.x renders in UTC when asked; 3.x in its app zone, which the
			// client is told (cachet.time_zone).
			zone := time.FixedZone("UTC+2", 2*3600)
			srv.SetTimezone(zone)
			running := srv.StartMaintenance("db upgrade", 2)
			srv.AddSchedule(cachettest.Schedule{Name: "done", Status: 1, ScheduledAt: now.Add(-3 * time.Hour), CompletedAt: now.Add(-2 * time.Hour), ComponentIDs: []int{1}})
			srv.AddSchedule(cachettest.Schedule{Name: "later", Status: 0, ScheduledAt: now.Add(time.Hour), ComponentIDs: []int{1}})
			// 2.4 takes a status set by hand; 3.x goes by the times only.
			srv.AddSchedule(cachettest.Schedule{Name: "marked complete", Status: 2, ScheduledAt: now.Add(-time.Hour), ComponentIDs: []int{1}})
			ends := srv.AddSchedule(cachettest.Schedule{Name: "ends soon", Status: 0, ScheduledAt: now.Add(-time.Hour), CompletedAt: now.Add(time.Hour), ComponentIDs: []int{3}})
			c, _ := newClient(t, srv.URL(), func(o *cachet.Options) { o.TimeZone = zone })
			got, err := c.Schedules(context.Background())
			if m.m == cachettest.Cachet23 {
				if !errors.Is(err, cachet.ErrUnsupported) || got != nil || err.Error() != "cachet: Cachet 2.3 has no schedules API, so no maintenance windows are known: not supported by this Cachet" {
					t.Errorf("2.3: %+v, %v", got, err)
				}
				if _, err := c.Schedules(context.Background()); !errors.Is(err, cachet.ErrUnsupported) || attempts(c) != 1 {
					t.Errorf("2.3 asked again: %v, %d requests", err, attempts(c))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			want := "[db upgrade ends soon]"
			if m.api == cachet.APIv3 {
				want = "[db upgrade marked complete ends soon]"
			}
			if fmt.Sprint(names) != want || got[0].ID != running || got[len(got)-1].ID != ends {
				t.Fatalf("in progress: %+v, want %s", got, want)
			}
			if d := got[0].ScheduledAt.Sub(now.Add(-time.Minute)); d < -2*time.Second || d > 2*time.Second {
				t.Errorf("scheduled_at %v, want about %v", got[0].ScheduledAt, now.Add(-time.Minute))
			}
			if got[0].Message != "Maintenance" || !got[0].CompletedAt.IsZero() || got[len(got)-1].CompletedAt.IsZero() {
				t.Errorf("message, or no end (2.4 shows it as now): %+v", got)
			}
			if m.api == cachet.APIv3 {
				if !got[0].ListsComponents || fmt.Sprint(got[0].ComponentIDs, got[2].ComponentIDs) != "[2] [3]" {
					t.Errorf("3.x coverage: %+v", got)
				}
				return
			}
			if got[0].ListsComponents || len(got[0].ComponentIDs) != 0 {
				t.Errorf("2.4 lists no components: %+v", got)
			}
		})
	}
}

// TestComponentMaintenance3: a component set under maintenance by hand (6)
// is recognisable; one under a schedule in progress (latest_status 6) is
// left to the schedules.
func TestComponentMaintenance3(t *testing.T) {
	srv := newFakeMode(t, cachettest.Cachet3, 0)
	srv.Add(cachettest.Component{ID: 1, Name: "by hand", Status: 1, Enabled: true})
	srv.Add(cachettest.Component{ID: 2, Name: "window", Status: 2, Enabled: true})
	srv.Add(cachettest.Component{ID: 3, Name: "unknown", Status: 5, Enabled: true})
	srv.Add(cachettest.Component{ID: 4, Name: "fine", Status: 3, Enabled: true})
	if !srv.SetStatus(1, 6) || srv.SetStatus(99, 6) {
		t.Fatal("SetStatus")
	}
	srv.StartMaintenance("w", 2)
	c, _ := newClient(t, srv.URL(), nil)
	got, err := c.Components(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []cachet.Component{
		{ID: 1, Name: "by hand", Status: status.Unknown, Enabled: true, Maintenance: true},
		{ID: 2, Name: "window", Status: status.PerformanceIssues, Enabled: true},
		{ID: 3, Name: "unknown", Status: status.Unknown, Enabled: true},
		{ID: 4, Name: "fine", Status: status.PartialOutage, Shown: status.PartialOutage, Enabled: true},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("components\n%+v\nwant\n%+v", got, want)
	}
	// Writing to a component under a schedule is the caller's choice; the
	// answer is checked against the stored status, not latest_status.
	upd, err := c.SetStatus(context.Background(), 2, status.MajorOutage, true)
	if err != nil || upd.Status != status.MajorOutage || upd.Maintenance {
		t.Errorf("SetStatus under a window = %+v, %v", upd, err)
	}
}

func TestComponentJSONAPIUnmarshal(t *testing.T) {
	tests := []struct {
		in   string
		want cachet.Component
	}{
		{`{"id":"4","type":"components","attributes":{"id":4,"name":"API","status":{"human":"Partial outage","value":3},"enabled":false}}`,
			cachet.Component{ID: 4, Name: "API", Status: status.PartialOutage, Shown: status.PartialOutage}},
		{`{"id":"4","type":"components","attributes":{"name":"API","status":2}}`, // before core#186: a bare int; no attributes.id
			cachet.Component{ID: 4, Name: "API", Status: status.PerformanceIssues, Shown: status.PerformanceIssues, Enabled: true}},
		{`{"id":"4","attributes":{"status":{"value":5},"latest_status":{"value":6}},"relationships":{"group":{"data":{"type":"componentGroups","id":"9"}}}}`,
			cachet.Component{ID: 4, Status: status.Unknown, Enabled: true, GroupID: 9}},
		{`{"id":"4","attributes":{"status":{"value":6}},"relationships":{"group":{"data":null}}}`,
			cachet.Component{ID: 4, Status: status.Unknown, Enabled: true, Maintenance: true}},
	}
	for _, tt := range tests {
		var got cachet.Component
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil || got != tt.want {
			t.Errorf("%s\n= %+v, %v\nwant %+v", tt.in, got, err, tt.want)
		}
	}
}
