package cachettest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
)

const token = "t0ken"

// send sends one request to srv, with the token in the mode's header
// unless noToken, and returns the status code and body.
func send(t *testing.T, srv *cachettest.Server, m cachettest.Mode, method, path, body string, noToken bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	switch {
	case noToken:
	case m == cachettest.Cachet3:
		req.Header.Set("Authorization", "Bearer "+token)
	default:
		req.Header.Set("X-Cachet-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRealCachet: what the fake copies from the real ones that no test of
// the client or the updater pins.
func TestRealCachet(t *testing.T) {
	const v23, v24, v3 = cachettest.Cachet23, cachettest.Cachet24, cachettest.Cachet3
	for _, tt := range []struct {
		mode                cachettest.Mode
		name, method, path  string
		body                string
		noToken             bool
		fault               cachettest.Fault
		code                int
		want                string // in the answer's body
		stored, mails, comp string // after it: component 1, the mails, component 2 as "status enabled"
	}{
		{v24, "binding before the token", "PUT", "/components/9", `{"status":2}`, true, 0, 404, `No query results for model [CachetHQ\\Cachet\\Models\\Component].`, "", "", ""},
		{v24, "no token", "PUT", "/components/1", `{"status":2}`, true, 0, 401, "Authentication is required", "", "", ""},
		{v3, "the token before binding", "PUT", "/components/9", `{"status":2}`, true, 0, 401, `"message":"Unauthenticated."`, "", "", ""},
		{v24, "no PATCH on 2.x", "PATCH", "/components/1", `{"status":2}`, false, 0, 405, "", "", "", ""},
		{v24, "2.4 validates", "PUT", "/components/1", `{"status":5}`, false, 0, 400, `"meta":{"details":["The status may not be greater than 4."]}`, "", "", ""},
		{v3, "3.x validates", "PATCH", "/components/1", `{"status":0}`, false, 0, 422, `{"errors":{"status":["The selected status is invalid."]},"message":"The selected status is invalid."}`, "", "", ""},
		{v24, "2.4 mails for a change", "PUT", "/components/1", `{"status":3}`, false, 0, 200, `"status":3`, "3 false", "map[component status:1]", ""},
		{v24, "2.4 does not when silent", "PUT", "/components/1", `{"status":3,"silent":true}`, false, 0, 200, "", "3 false", "map[]", ""},
		{v24, "2.4 keeps enabled", "PUT", "/components/1", `{"status":1}`, false, 0, 200, "", "1 false", "map[]", ""},
		{v23, "2.3 enables and mails for every PUT", "PUT", "/components/1", `{"status":1}`, false, 0, 200, `"enabled":true`, "1 true", "map[component status:1]", ""},
		{v24, "an incident sets its component", "POST", "/incidents", `{"name":"n","message":"m <!-- x -->","status":1,"component_id":2,"component_status":4}`, false, 0, 200,
			`"message":"m \u003c!-- x --\u003e"`, "", "map[component status:1 new incident:1]", "4 true"},
		{v23, "2.3 cleans every message", "POST", "/incidents", `{"name":"n","message":"m <!-- x -->","status":1,"visible":0}`, false, 0, 200, `"message":"m \u0026lt;!-- x --\u0026gt;"`, "", "map[]", ""},
		{v3, "3.x keeps its impact to latest_status", "POST", "/incidents", `{"name":"n","message":"m","status":1,"visible":true,"component_id":2,"component_status":4}`, false, 0, 201, "", "", "map[]", "1 true"},
		{v24, "a column with page", "GET", "/incidents?component_id=1&page=1", "", false, 0, 500, "An error has occurred", "", "", ""},
		{v24, "a column with sort", "GET", "/incidents?component_id=1&sort=id&order=desc&per_page=5", "", false, 0, 200, `"total":0`, "", "", ""},
		{v3, "3.x without the ability", "POST", "/incidents", `{"name":"n","message":"m","status":1}`, false, 0, 403, "Invalid ability provided.", "", "", ""},
		{v24, "stored, then 500", "PUT", "/components/1", `{"status":2}`, false, cachettest.FaultStored500, 500, "", "2 false", "", ""},
	} {
		t.Run(tt.mode.String()+" "+tt.name, func(t *testing.T) {
			srv := cachettest.New(token, cachettest.WithMode(tt.mode))
			defer srv.Close()
			srv.Add(cachettest.Component{ID: 1, Name: "a", Status: 1, Enabled: false})
			srv.Add(cachettest.Component{ID: 2, Name: "b", Status: 1, Enabled: true})
			if tt.name == "3.x without the ability" {
				srv.SetAbilities("components.manage")
			}
			srv.FailNext(tt.fault, 1, false)
			code, body := send(t, srv, tt.mode, tt.method, tt.path, tt.body, tt.noToken)
			c1, _ := srv.Component(1)
			c2, _ := srv.Component(2)
			if code != tt.code || !strings.Contains(body, tt.want) || tt.stored != "" && fmt.Sprint(c1.Status, c1.Enabled) != tt.stored ||
				tt.mails != "" && fmt.Sprint(srv.Mails()) != tt.mails || tt.comp != "" && fmt.Sprint(c2.Status, c2.Enabled) != tt.comp {
				t.Errorf("%d %s; components %+v %+v; mails %v", code, body, c1, c2, srv.Mails())
			}
		})
	}
}

// TestFoldedPoints: within the metric's threshold 2.4 counts a point of
// the same value into the earlier one; 3.x counts any into the latest and
// keeps its value.
func TestFoldedPoints(t *testing.T) {
	for m, want := range map[cachettest.Mode]string{cachettest.Cachet24: "[{5 2} {7 1} {9 1}]", cachettest.Cachet3: "[{5 3} {9 1}]"} {
		srv := cachettest.New(token, cachettest.WithMode(m))
		defer srv.Close()
		id := srv.AddMetric(cachettest.Metric{Name: "m", Threshold: 5})
		now := time.Now().Unix()
		for _, p := range []string{`{"value":5}`, `{"value":7}`, `{"value":5}`, fmt.Sprintf(`{"value":9,"timestamp":%d}`, now+3600)} {
			if code, body := send(t, srv, m, "POST", fmt.Sprintf("/metrics/%d/points", id), p, false); code/100 != 2 {
				t.Fatalf("%s: %d %s", p, code, body)
			}
		}
		var got []string
		for _, p := range srv.Points(id) {
			got = append(got, fmt.Sprint(p.Value, p.Counter))
		}
		if fmt.Sprint("[{", strings.Join(got, "} {"), "}]") != want {
			t.Errorf("%s: points %v, want %s", m, got, want)
		}
	}
}
