package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/state"
)

// TestRunJSON decodes `run --output json` into its struct: every row, the
// decision and the rule, the action, the summary; the exit code is the
// table's. A basic-auth password never appears in it.
func TestRunJSON(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{"s1": 3, "s2": 25}`, "")
	cfg, _ := os.ReadFile(f.cfg)
	withAuth := strings.Replace(string(cfg), "    url: http://127.0.0.1:", "    url: http://probe:pw-s3cret@127.0.0.1:", 1)
	if err := os.WriteFile(f.cfg, []byte(withAuth), 0o600); err != nil {
		t.Fatal(err)
	}
	r := f.run(context.Background(), "run", "--output", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	if strings.Contains(r.out, "pw-s3cret") {
		t.Fatalf("the password is in the JSON:\n%s", r.out)
	}
	var doc RunJSON
	dec := json.NewDecoder(strings.NewReader(r.out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not one RunJSON document: %v\n%s", err, r.out)
	}
	if doc.Version != JSONVersion || len(doc.Rows) != 4 || doc.Summary.Servers != 4 || doc.Summary.Written != 3 || doc.Summary.Unchanged != 1 || doc.Summary.Failed {
		t.Errorf("summary: %+v", doc.Summary)
	}
	s2 := doc.Rows[1]
	if s2.Server != "Stream 2" || s2.Action != "updated" || s2.Current != "operational" || s2.Publish != "partial_outage" ||
		s2.Reports == nil || *s2.Reports != 25 || s2.Decision == nil || s2.Decision.Rule != "25 reports ≥ 20 → partial_outage" {
		t.Errorf("row Stream 2: %+v", s2)
	}
	if s3 := doc.Rows[2]; s3.Probe.Code != 503 || s3.Publish != "major_outage" {
		t.Errorf("row Stream 3: %+v", s3)
	}
	if s1 := doc.Rows[0]; !strings.Contains(s1.URL, "probe:xxxxx@") || s1.Action != "unchanged" {
		t.Errorf("row Stream 1: %+v", s1)
	}
	if doc.Reports.Name == "" || doc.Reports.Error != nil || doc.State.Error != nil || doc.CachetError != nil {
		t.Errorf("sources: %+v %+v", doc.Reports, doc.State)
	}

	// A quiet run still prints its document; a failing one keeps exit 1.
	r = f.run(context.Background(), "run", "-o", "json")
	if r.code != ExitOK || !strings.Contains(r.out, `"unchanged": 4`) {
		t.Errorf("second run: exit %d\n%s", r.code, r.out)
	}
	f.cachet.FailNext(cachettest.Fault500, -1, false)
	r = f.run(context.Background(), "run", "-o", "json")
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil || r.code != ExitFailed || doc.CachetError == nil || !doc.Summary.Failed {
		t.Errorf("Cachet down: exit %d, %v, %+v", r.code, err, doc)
	}
	if r := f.run(context.Background(), "run", "-o", "xml"); r.code != ExitUsage {
		t.Errorf("--output xml: exit %d", r.code)
	}
}

// TestRunJSONNotRun: a run that does nothing still prints its one
// document, saying why: another run holds the lock (exit 3), or the config
// is broken (exit 2, the error on stderr too).
func TestRunJSONNotRun(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	decode := func(r result) RunJSON {
		t.Helper()
		var doc RunJSON
		dec := json.NewDecoder(strings.NewReader(r.out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil || dec.More() {
			t.Fatalf("exit %d: not one RunJSON document: %v\n%s%s", r.code, err, r.out, r.err)
		}
		return doc
	}
	l, err := state.LockFile(filepath.Join(f.dir, "run.lock"))
	if err != nil {
		t.Fatal(err)
	}
	r := f.run(context.Background(), "run", "-o", "json")
	l.Release()
	doc := decode(r)
	if r.code != ExitLocked || doc.NotRun == nil || !strings.Contains(*doc.NotRun, "lock") || doc.Summary.Failed || doc.Rows == nil || len(doc.Rows) != 0 {
		t.Errorf("lock held: exit %d, %+v", r.code, doc)
	}
	if len(f.cachet.Requests()) != 0 {
		t.Error("a locked-out run must not talk to Cachet")
	}

	cfg, _ := os.ReadFile(f.cfg)
	os.WriteFile(f.cfg, append(cfg, "no_such_key: 1\n"...), 0o600)
	r = f.run(context.Background(), "run", "-o", "json", "--dry-run")
	doc = decode(r)
	if r.code != ExitUsage || doc.NotRun == nil || !strings.Contains(*doc.NotRun, "no_such_key") || !doc.Summary.Failed || !doc.DryRun ||
		!strings.Contains(r.err, "no_such_key") {
		t.Errorf("broken config: exit %d, %+v\n%s", r.code, doc, r.err)
	}
	os.WriteFile(f.cfg, cfg, 0o600)
	if doc := decode(f.run(context.Background(), "run", "-o", "json")); doc.NotRun != nil {
		t.Errorf("a run that ran: not_run %q", *doc.NotRun)
	}
}

func TestCheckAndComponentsJSON(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	f.cachet.AddGroup(7, "Streams")
	f.cachet.Add(cachettest.Component{ID: 9, Name: "Mail", Status: 2, Enabled: false, GroupID: 7})
	r := f.run(context.Background(), "check", "--output", "json")
	var check CheckJSON
	if err := json.Unmarshal([]byte(r.out), &check); err != nil || r.code != ExitOK || !check.Passed || len(check.Checks) < 5 {
		t.Fatalf("check: exit %d, %v\n%s", r.code, err, r.out)
	}
	if c := check.Checks[0]; c.Status != "ok" || !strings.Contains(c.Message, "4 servers") {
		t.Errorf("first check: %+v", c)
	}
	f.token = "wrong-token"
	r = f.run(context.Background(), "check", "-o", "json")
	if err := json.Unmarshal([]byte(r.out), &check); err != nil || r.code != ExitFailed || check.Passed {
		t.Errorf("wrong token: exit %d, %v, %+v", r.code, err, check)
	}
	f.token = testToken

	r = f.run(context.Background(), "components", "-o", "json")
	var comps ComponentsJSON
	if err := json.Unmarshal([]byte(r.out), &comps); err != nil || r.code != ExitOK || len(comps.Components) != 5 {
		t.Fatalf("components: exit %d, %v\n%s", r.code, err, r.out)
	}
	if m := comps.Components[4]; m.ID != 9 || m.Group != "Streams" || m.Status != "performance_issues" || m.Enabled {
		t.Errorf("component 9: %+v", m)
	}
}

// TestCompletion: the shell completes --only with the config's server
// names, and the flags that take a fixed set of values with those.
func TestCompletion(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	complete := func(args ...string) result {
		var out, errb bytes.Buffer
		env := Env{Out: &out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now,
			IsTerminal: func(io.Writer) bool { return false }, Version: "test"}
		code := Execute(append([]string{"__complete", "--config", f.cfg}, args...), env)
		return result{code, out.String(), errb.String()}
	}
	r := complete("run", "--only", "")
	for _, name := range []string{"Stream 1", "Stream 4"} {
		if !strings.Contains(r.out, name+"\n") {
			t.Errorf("--only does not complete %q:\n%s", name, r.out)
		}
	}
	r = complete("run", "--log-level", "")
	if !strings.Contains(r.out, "debug\ninfo\nwarn\nerror\n") {
		t.Errorf("--log-level:\n%s", r.out)
	}
	r = complete("components", "--output", "")
	if !strings.Contains(r.out, "table\nyaml\njson\n") {
		t.Errorf("components --output:\n%s", r.out)
	}
}
