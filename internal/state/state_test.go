package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

var t0 = time.Date(2026, 11, 25, 6, 35, 2, 0, time.UTC)

func sample() *State {
	var s State
	s.TokenProvedAt = t0.Add(-time.Minute)
	c := s.Component(14, "Stream 1")
	c.Record(Decision{At: t0.Add(-3 * time.Minute), Status: status.PerformanceIssues}, 0)
	c.Record(Decision{At: t0, Status: status.MajorOutage}, 0)
	c.Last, c.LastAt = status.PerformanceIssues, t0.Add(-3*time.Minute)
	h := s.Component(15, "Stream 2")
	h.Hold = &Hold{Since: t0.Add(-time.Hour), Status: status.PartialOutage}
	h.Incident = &Incident{ID: 7, Status: status.PartialOutage}
	s.Component(16, "Stream 3") // nothing known yet
	return &s
}

// checkError fails unless err's message holds every one of wants.
func checkError(t testing.TB, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestRecord(t *testing.T) {
	tests := []struct{ keep, records, want int }{
		{0, 40, MaxHistory}, // the newest 16
		{2, 5, 2},           // a rule that needs the last 2 keeps 2
		{40, 40, MaxHistory},
	}
	for _, tt := range tests {
		var c Component
		for i := range tt.records {
			c.Record(Decision{At: t0.Add(time.Duration(i) * time.Minute), Status: status.Operational}, tt.keep)
		}
		last := t0.Add(time.Duration(tt.records-1) * time.Minute)
		if len(c.History) != tt.want || !c.History[0].At.Equal(last.Add(-time.Duration(tt.want-1)*time.Minute)) || !c.History[tt.want-1].At.Equal(last) {
			t.Errorf("keep %d after %d: %+v, want the newest %d, oldest first", tt.keep, tt.records, c.History, tt.want)
		}
	}
}

func TestComponentAndPrune(t *testing.T) {
	var s State // the zero value is usable
	s.Prune(func(int) bool { return false })
	c := s.Component(14, "Stream 1")
	c.Last = status.MajorOutage
	if again := s.Component(14, "Stream 1 renamed"); again != c || again.Last != status.MajorOutage || again.Server != "Stream 1 renamed" {
		t.Errorf("second Component(14) = %+v, want the same entry with the new name", again)
	}
	for _, id := range []int{1, 2, 3} {
		s.Component(id, "")
	}
	s.Prune(func(id int) bool { return id%2 == 0 })
	if len(s.Components) != 2 || s.Components[2] == nil || s.Components[14] == nil {
		t.Errorf("after Prune: %v, want 2 and 14", s.Components)
	}
}

// stores is a file store and, for each database, an SQL store, so that a
// test of the Store contract runs against each.
func stores(t *testing.T) map[string]Store {
	out := map[string]Store{"file": newFile(t)}
	for _, b := range backends(t) {
		if b.dsn != "" {
			out[b.driver] = b.fresh(t, "fra1")
		}
	}
	return out
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, s := range stores(t) {
		if st, err := s.Load(ctx); st != nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), s.String()) {
			t.Errorf("%s: Load = %v, %v; want nil and context.Canceled naming the store", name, st, err)
		}
		if err := s.Save(ctx, sample()); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Save = %v, want context.Canceled", name, err)
		}
	}
}

// holdEnv makes the test binary a helper process that takes a lock, says
// "locked" and waits to be killed: "file <path>" for LockFile, "sql <driver>
// <prefix> <dsn>" for SQL.Lock.
const holdEnv = "CU_STATE_TEST_HOLD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(holdEnv); spec != "" {
		var err error
		if kind, rest, _ := strings.Cut(spec, " "); kind == "file" {
			_, err = LockFile(rest)
		} else {
			f := strings.SplitN(rest, " ", 3)
			var s *SQL
			if s, err = OpenSQL(context.Background(), SQLOptions{Driver: f[0], TablePrefix: f[1], DSN: f[2], Timeout: testTimeout}); err == nil {
				_, err = s.Lock(context.Background(), 0)
			}
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holder starts a helper process that holds the lock spec names, and
// returns the function that kills it.
func holder(t *testing.T, spec string) (kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+spec)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill = func() { cmd.Process.Kill(); cmd.Wait() }
	t.Cleanup(kill)
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("the helper said %q, %v", line, err)
	}
	return kill
}
