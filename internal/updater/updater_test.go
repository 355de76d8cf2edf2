package updater

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/state"
	"github.com/proxer/cachet-updater/internal/status"
)

func servers() []config.Server {
	return []config.Server{
		{Name: "Stream 1", ComponentID: 1},
		{Name: "Stream 2", ComponentID: 2},
		{Name: "14", ComponentID: 3}, // a name that looks like an id
	}
}

func names(ss []config.Server) string {
	var n []string
	for _, s := range ss {
		n = append(n, s.Name)
	}
	return strings.Join(n, ",")
}

func TestSelect(t *testing.T) {
	tests := []struct {
		only    []string
		want    string
		wantErr string
	}{
		{nil, "Stream 1,Stream 2,14", ""},
		{[]string{"Stream 2"}, "Stream 2", ""},
		{[]string{"1"}, "Stream 1", ""},
		{[]string{"14"}, "14", ""},
		{[]string{"3", "Stream 1"}, "Stream 1,14", ""},
		{[]string{"Stream 2", "Stream 2"}, "Stream 2", ""},
		{[]string{"stream 2"}, "", `"stream 2" matches no server name or component_id in the config: the servers are "Stream 1", "Stream 2", "14"`},
		{[]string{"Stream 1", "99"}, "", `"99" matches no server`},
	}
	for _, tt := range tests {
		got, err := Select(servers(), tt.only)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: want error %q, got %v", tt.only, tt.wantErr, err)
			}
			continue
		}
		if err != nil || names(got) != tt.want {
			t.Errorf("%v: got %q, %v; want %q", tt.only, names(got), err, tt.want)
		}
	}
}

// TestSelectHintsInALargeFleet: with many servers, an unknown name gets the
// closest names, not the whole list.
func TestSelectHintsInALargeFleet(t *testing.T) {
	var fleet []config.Server
	for i := 1; i <= 40; i++ {
		fleet = append(fleet, config.Server{Name: fmt.Sprintf("Stream %d", i), ComponentID: i})
	}
	_, err := Select(fleet, []string{"Straem 17"})
	if err == nil || !strings.Contains(err.Error(), `did you mean "Stream 17"?`) {
		t.Errorf("got %v", err)
	}
	_, err = Select(fleet, []string{"Website"})
	if err == nil || !strings.Contains(err.Error(), "none of its 40 servers has a similar name") {
		t.Errorf("got %v", err)
	}
}

func TestObserve(t *testing.T) {
	tests := []struct {
		in   probe.Result
		want status.Observation
	}{
		{probe.Result{Code: 200}, status.Observation{Code: 200}},
		{probe.Result{Class: probe.ClassTimeout}, status.Observation{Failure: status.TimedOut}},
		{probe.Result{Class: probe.ClassRefused}, status.Observation{Failure: status.TransportFailed, ErrorClass: "refused"}},
		{probe.Result{Class: probe.ClassTLS}, status.Observation{Failure: status.TransportFailed, ErrorClass: "tls"}},
	}
	for _, tt := range tests {
		if got := Observe(tt.in, false); got != tt.want {
			t.Errorf("Observe(%+v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// noMemory is a first run's memory: nothing remembered, no hold.
func noMemory() memory { return memory{state: &state.State{}, now: time.Now()} }

func TestPlan(t *testing.T) {
	rows := []Row{
		{Server: config.Server{Name: "same", ComponentID: 1}, Decision: status.Decision{Status: status.Operational}},
		{Server: config.Server{Name: "changed", ComponentID: 2}, Decision: status.Decision{Status: status.MajorOutage}},
		{Server: config.Server{Name: "ghost", ComponentID: 9}, Decision: status.Decision{Status: status.Operational}},
		{Server: config.Server{Name: "cut", ComponentID: 3}, Action: Interrupted},
	}
	comps := []cachet.Component{
		{ID: 1, Status: status.Operational, Enabled: true},
		{ID: 2, Status: status.Operational, Enabled: false, Name: "Two"},
		{ID: 3, Status: status.Operational},
	}
	plan(rows, comps, nil, nil, noMemory())
	want := []Action{Unchanged, WouldUpdate, UnknownComponent, Interrupted}
	for i, w := range want {
		if rows[i].Action != w {
			t.Errorf("row %s: action %q, want %q", rows[i].Server.Name, rows[i].Action, w)
		}
	}
	if rows[1].Enabled || rows[1].ComponentName != "Two" || !rows[1].Changed() {
		t.Errorf("row changed: %+v", rows[1])
	}
	if rows[2].Err == nil || !strings.Contains(rows[2].Err.Error(), `server "ghost": component 9`) {
		t.Errorf("ghost error: %v", rows[2].Err)
	}

	// When Cachet cannot be read nothing is planned for writing.
	rows2 := []Row{{Server: config.Server{ComponentID: 1}, Decision: status.Decision{Status: status.MajorOutage}}}
	plan(rows2, nil, nil, errors.New("down"), noMemory())
	if rows2[0].Action != NotWritten {
		t.Errorf("Cachet unreadable: action %q", rows2[0].Action)
	}

	// A listing that ended short of Cachet's own count: a component not in
	// it may exist, so it is neither written nor called unknown.
	rows3 := []Row{
		{Server: config.Server{Name: "listed", ComponentID: 1}, Decision: status.Decision{Status: status.MajorOutage}},
		{Server: config.Server{Name: "beyond", ComponentID: 7}, Decision: status.Decision{Status: status.MajorOutage}},
	}
	plan(rows3, comps[:1], fmt.Errorf("Cachet listed 1 of 3 components: %w", cachet.ErrIncomplete), nil, noMemory())
	if rows3[0].Action != WouldUpdate || rows3[1].Action != NotWritten {
		t.Errorf("short listing: actions %q, %q", rows3[0].Action, rows3[1].Action)
	}
	if err := rows3[1].Err; err == nil || !strings.Contains(err.Error(), "Cachet listed 1 of 3 components") || strings.Contains(err.Error(), "does not exist") {
		t.Errorf("short listing error: %v", err)
	}
}

// TestDecideAllNotProbed: a probe this machine could not make (out of file
// descriptors) and an interrupted one decide nothing, and plan leaves them
// alone; only the first is an error of the run.
func TestDecideAllNotProbed(t *testing.T) {
	ss := servers()
	results := []probe.Result{
		{Code: 200},
		{Class: probe.ClassLocal, Err: errors.New("dial tcp 127.0.0.1:80: socket: too many open files")},
		{Class: probe.ClassCanceled, Err: errors.New("probe canceled")},
	}
	rows := decideAll(ss, results, nil, false, status.DefaultThresholds(), time.Now())
	if rows[0].Decision.Rule == "" {
		t.Errorf("the answered probe was not decided: %+v", rows[0])
	}
	plan(rows, []cachet.Component{
		{ID: 1, Status: rows[0].Decision.Status}, {ID: 2, Status: status.Operational}, {ID: 3, Status: status.Operational},
	}, nil, nil, noMemory())
	want := []Action{Unchanged, NotProbed, Interrupted}
	for i, w := range want {
		if rows[i].Action != w {
			t.Errorf("row %s: action %q, want %q", rows[i].Server.Name, rows[i].Action, w)
		}
	}
	if err := rows[1].Err; err == nil || !strings.Contains(err.Error(), `server "Stream 2" could not be probed from this machine`) ||
		!strings.Contains(err.Error(), "too many open files") || !strings.Contains(err.Error(), "ulimit -n") {
		t.Errorf("not probed: error %v", err)
	}
	if rows[1].Decision.Status != 0 || rows[1].CurrentKnown {
		t.Errorf("not probed: decided %+v", rows[1])
	}
	if !(Summary{Rows: rows}).Failed() {
		t.Error("a server that could not be probed must fail the run (exit 1)")
	}
}
