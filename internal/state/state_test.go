package state

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
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

// entries lists what is in dir.
func entries(dir string) []string {
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
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

// newFile returns a store in a fresh directory with a fixed clock.
func newFile(t testing.TB) *File {
	t.Helper()
	f := NewFile(filepath.Join(t.TempDir(), "prod-1a2b3c4d.json"), "/etc/cachet-updater/prod.yaml", false)
	f.now = func() time.Time { return t0 }
	return f
}

func TestRoundTrip(t *testing.T) {
	f := newFile(t)
	if st, err := f.Load(context.Background()); err != nil || st == nil || len(st.Components) != 0 || !st.TokenProvedAt.IsZero() {
		t.Fatalf("first run: Load = %+v, %v; want an empty state", st, err)
	}
	if names := entries(filepath.Dir(f.path)); len(names) != 0 {
		t.Errorf("Load created %v", names)
	}
	want := sample()
	if err := f.Save(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Load(context.Background()); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Load after Save:\n got %+v, %v\nwant %+v", got, err, want)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"{\n  \"version\": 1,\n", `"config": "/etc/cachet-updater/prod.yaml"`, `"saved_at": "2026-11-25T06:35:02Z"`,
		`"token_proved_at": "2026-11-25T06:34:02Z"`, `"14": {`, `"hold": {`} {
		if !strings.Contains(string(data), s) {
			t.Errorf("file lacks %s:\n%s", s, data)
		}
	}
	if f.String() != "state file "+f.path {
		t.Errorf("String() = %q", f.String())
	}
}

// TestLoadCorrupt: a file that is not a state file is moved aside (never
// over an earlier one) and Load returns an empty state; a read-only store
// (a dry run) says so and leaves it.
func TestLoadCorrupt(t *testing.T) {
	good := `{"version": 1, "components": {"14": {"server": "a", "last": 1}}}`
	tests := []struct{ name, body, why string }{
		{"empty", "", "the document is empty"},
		{"blank", " \n\t\n", "the document is empty"},
		{"bad JSON", "{\n\"version\": 1,\n  oops\n}", "line 3: invalid character 'o'"},
		{"truncated", good[:40], "line 1: unexpected end of JSON input"},
		{"trailing garbage", good + "}", "invalid character '}' after top-level value"},
		{"array", "[1, 2]", "cannot unmarshal array"},
		{"null", "null", "no format version"},
		{"no version", `{"components": {}}`, "no format version"},
		{"version zero", `{"version": 0}`, "no format version"},
		{"version is a string", `{"version": "1"}`, "cannot unmarshal string"},
		{"components is an array", `{"version": 1, "components": []}`, "cannot unmarshal array"},
		{"id not a number", `{"version": 1, "components": {"abc": {}}}`, "abc"},
		{"id zero", `{"version": 1, "components": {"0": {}}}`, "component 0: want a positive id"},
		{"null component", `{"version": 1, "components": {"14": null}}`, "component 14: want a positive id and an object"},
		{"last out of range", `{"version": 1, "components": {"14": {"last": 9}}}`, `component 14: {"server":"","last":9}: want statuses 1-4 (last: 0-4)`},
		{"history status 0", `{"version": 1, "components": {"14": {"history": [{"at": "2026-11-25T06:35:02Z", "status": 0}]}}}`, `"status":0`},
		{"null decision", `{"version": 1, "components": {"14": {"history": [null]}}}`, `"status":0`},
		{"hold status 5", `{"version": 1, "components": {"14": {"hold": {"status": 5}}}}`, `"status":5}`},
		{"incident id 0", `{"version": 1, "components": {"14": {"incident": {"status": 4}}}}`, `"incident":{"id":0`},
		{"bad time", `{"version": 1, "token_proved_at": "yesterday"}`, "yesterday"},
		{"binary", "\x00\x01\x02", "invalid character"},
		{"too large", "", "larger than 64 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFile(t)
			writeFile(t, f.path, tt.body)
			if tt.name == "too large" {
				if err := os.Truncate(f.path, MaxFileSize+1); err != nil { // sparse: cheap
					t.Fatal(err)
				}
			}
			ro := *f
			ro.readOnly = true
			st, err := ro.Load(context.Background())
			checkCorrupt(t, st, err, CorruptError{Path: f.path}, tt.why, "left it as it is (dry run)")
			if tt.name != "too large" {
				checkContent(t, f.path, tt.body)
			}
			st, err = f.Load(context.Background())
			moved := f.path + ".corrupt-20261125T063502Z"
			checkCorrupt(t, st, err, CorruptError{Path: f.path, MovedTo: moved}, tt.why, f.path+" is corrupt", "moved it to "+moved, "empty history")
			if _, err := os.Lstat(f.path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("old path still there: %v", err)
			}
			if tt.name != "too large" {
				checkContent(t, moved, tt.body)
			}
		})
	}
}

func checkCorrupt(t *testing.T, st *State, err error, want CorruptError, why string, msg ...string) {
	t.Helper()
	checkError(t, err, msg...)
	ce, ok := errors.AsType[*CorruptError](err)
	if !ok || ce.Path != want.Path || ce.MovedTo != want.MovedTo || !strings.Contains(ce.Err.Error(), why) {
		t.Errorf("error %#v, want a *CorruptError %+v and a reason containing %q", err, want, why)
	}
	if st == nil || len(st.Components) != 0 {
		t.Errorf("state = %+v, want empty", st)
	}
}

func checkContent(t *testing.T, path, want string) {
	t.Helper()
	if data, err := os.ReadFile(path); err != nil || string(data) != want {
		t.Errorf("%s holds %q, %v; want %q", path, data, err, want)
	}
}

func TestLoadCorruptTwiceInOneSecond(t *testing.T) {
	f := newFile(t)
	for i, want := range []string{".corrupt-20261125T063502Z", ".corrupt-20261125T063502Z-2", ".corrupt-20261125T063502Z-3"} {
		writeFile(t, f.path, fmt.Sprintf("garbage %d", i))
		if _, err := f.Load(context.Background()); err == nil || !strings.Contains(err.Error(), "moved it to "+f.path+want+";") {
			t.Fatalf("Load %d: %v, want it moved to %s", i, err, f.path+want)
		}
	}
	checkContent(t, f.path+".corrupt-20261125T063502Z", "garbage 0")
}

// TestLoadLeftInPlace: what is not corrupt but cannot be used is refused
// and left as it is, with a nil state: the caller must not save over it.
func TestLoadLeftInPlace(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *File)
		want  []string
	}{
		{"newer version", func(t *testing.T, f *File) {
			writeFile(t, f.path, `{"version": 2, "components": ["a shape version 1 does not know"]}`)
		},
			[]string{"has format version 2, but this cachet-updater knows only version 1", "upgrade cachet-updater", "left in place"}},
		{"another config's", func(t *testing.T, f *File) {
			writeFile(t, f.path, `{"version": 1, "config": "/etc/other.yaml", "components": {}}`)
		}, []string{"belongs to the config /etc/other.yaml, not to /etc/cachet-updater/prod.yaml", "own state.path"}},
		{"a directory", func(t *testing.T, f *File) {
			if err := os.Mkdir(f.path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, []string{" is a directory, not a regular file: point state.path at a file"}},
		{"unreadable", func(t *testing.T, f *File) { // under a regular file: not a directory (root reads anything)
			writeFile(t, filepath.Dir(f.path)+"/plain", "x")
			f.path = filepath.Dir(f.path) + "/plain/s.json"
		}, []string{"reading state file ", "make it readable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFile(t)
			dir := filepath.Dir(f.path)
			tt.setup(t, f)
			before := entries(dir)
			st, err := f.Load(context.Background())
			checkError(t, err, append(tt.want, f.path)...)
			if _, ok := errors.AsType[*CorruptError](err); st != nil || ok {
				t.Errorf("Load = %v, %v; want a nil state and no CorruptError", st, err)
			}
			if after := entries(dir); !reflect.DeepEqual(after, before) {
				t.Errorf("directory holds %v, was %v", after, before)
			}
		})
	}
}

func TestLoadCanceledMovesNothing(t *testing.T) {
	f := newFile(t)
	writeFile(t, f.path, "garbage")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Load(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Load = %v", err)
	}
	checkContent(t, f.path, "garbage")
	if err := CheckWritable(ctx, filepath.Join(t.TempDir(), "new", "s.json")); !errors.Is(err, context.Canceled) {
		t.Errorf("CheckWritable = %v, want context.Canceled", err)
	}
}

func TestLoadTrimsLongHistoryIgnoresUnknownFields(t *testing.T) {
	f := newFile(t)
	var hist []string
	for i := range 20 {
		hist = append(hist, fmt.Sprintf(`{"at": "2026-11-25T06:%02d:00Z", "status": 1}`, i))
	}
	writeFile(t, f.path, `{"version": 1, "note": "by hand", "components": {"14": {"last": 2, "extra": true, "history": [`+strings.Join(hist, ",")+`]}}}`)
	st, err := f.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h := st.Components[14].History; len(h) != MaxHistory || h[0].At.Minute() != 4 || st.Components[14].Last != status.PerformanceIssues {
		t.Errorf("component: %+v, want the newest %d decisions", st.Components[14], MaxHistory)
	}
}

func TestSaveModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	f := NewFile(filepath.Join(dir, "s.json"), "c.yaml", false)
	if err := f.Save(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f.path, 0o644); err != nil { // the next Save makes it 0600 again
		t.Fatal(err)
	}
	if err := f.Save(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, f.path: 0o600} {
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %v", path, info.Mode(), err, want)
		}
	}
	if names := entries(dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only s.json", names)
	}
}

// TestSaveFails: nothing is written, and no temporary file is left.
func TestSaveFails(t *testing.T) {
	tests := []struct {
		name  string
		st    *State
		setup func(t *testing.T, f *File)
		want  string
	}{
		{"bad status", &State{Components: map[int]*Component{14: {Last: 7}}}, nil, "component 14"},
		{"nil entry", &State{Components: map[int]*Component{14: nil}}, nil, "component 14"},
		{"negative id", &State{Components: map[int]*Component{-1: {}}}, nil, "component -1"},
		{"a directory in the way", sample(), func(t *testing.T, f *File) {
			if err := os.MkdirAll(filepath.Join(f.path, "x"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, "check that its directory is writable"},
		{"under a file", sample(), func(t *testing.T, f *File) {
			writeFile(t, filepath.Dir(f.path)+"/plain", "")
			f.path = filepath.Dir(f.path) + "/plain/s.json"
		}, "/plain"},
		{"read-only (dry run)", sample(), func(t *testing.T, f *File) { f.readOnly = true }, "writes nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFile(t)
			dir := filepath.Dir(f.path)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			before := entries(dir)
			checkError(t, f.Save(context.Background(), tt.st), "saving state file "+f.path, tt.want)
			if after := entries(dir); !reflect.DeepEqual(after, before) {
				t.Errorf("directory holds %v, was %v", after, before)
			}
		})
	}
}

// Saves race each other and a reader; every Load must see a whole file.
// (Runs hold the run lock, so this is stricter than real use.)
func TestConcurrentSavesNeverHalfWritten(t *testing.T) {
	f := newFile(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	loadErrs := make(chan error, 1)
	go func() {
		defer close(loadErrs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := f.Load(ctx); err != nil {
				loadErrs <- err
				return
			}
		}
	}()
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				st := sample()
				for j := range w*50 + i { // different sizes: a mix of two would not decode
					st.Component(100+j, strings.Repeat("x", w+1)).Last = status.Operational
				}
				if err := f.Save(ctx, st); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-loadErrs; err != nil {
		t.Fatalf("Load during saves: %v", err)
	}
	if names := entries(filepath.Dir(f.path)); len(names) != 1 {
		t.Errorf("directory holds %v, want only the state file", names)
	}
}

func TestCheckWritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	if err := CheckWritable(context.Background(), filepath.Join(dir, "s.json")); err != nil {
		t.Fatal(err)
	}
	if names := entries(dir); len(names) != 0 {
		t.Errorf("CheckWritable left %v", names)
	}
	existing := newFile(t)
	writeFile(t, existing.path, "left alone")
	if err := CheckWritable(context.Background(), existing.path); err != nil {
		t.Fatal(err)
	}
	checkContent(t, existing.path, "left alone")
	parent := filepath.Join(t.TempDir(), "plain")
	writeFile(t, parent, "")
	for _, bad := range []string{filepath.Join(parent, "s.json"), t.TempDir()} {
		checkError(t, CheckWritable(context.Background(), bad), "state file "+bad, "set state.path")
	}
}

func env(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

// TestDefaultPaths: one rule names the state file and the run lock of a
// config; the same config through a symlink or a relative path shares them.
func TestDefaultPaths(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	config, link, missing := filepath.Join(dir, "prod.yaml"), filepath.Join(dir, "link.yml"), filepath.Join(dir, "gone.yaml")
	writeFile(t, config, "servers: []\n")
	if err := os.Symlink(config, link); err != nil {
		t.Fatal(err)
	}
	hash := func(path string) string { sum := sha256.Sum256([]byte(path)); return hex.EncodeToString(sum[:4]) }
	name, lock := "prod-"+hash(config)+".json", "cachet-updater-prod-"+hash(config)+".lock"
	home := []string{"HOME", "/home/u"}
	tests := []struct {
		name, config string
		lock         bool
		env          []string
		uid          int
		want         string
	}{
		{"root", config, false, []string{"HOME", "/root", "XDG_STATE_HOME", "/x"}, 0, "/var/lib/cachet-updater/" + name},
		{"root's lock", config, true, []string{"XDG_RUNTIME_DIR", "/run/user/0"}, 0, "/run/cachet-updater/" + lock},
		{"XDG_STATE_HOME", config, false, []string{"HOME", "/home/u", "XDG_RUNTIME_DIR", "/r", "XDG_STATE_HOME", "/x/state"}, 1000, "/x/state/cachet-updater/" + name},
		{"XDG_RUNTIME_DIR for the lock", config, true, []string{"XDG_RUNTIME_DIR", "/r", "XDG_STATE_HOME", "/x/state"}, 1000, "/r/cachet-updater/" + lock},
		{"cron: HOME only", config, true, home, 1000, "/home/u/.local/state/cachet-updater/" + lock},
		{"HOME", config, false, home, 1000, "/home/u/.local/state/cachet-updater/" + name},
		{"relative XDG paths are ignored", config, true, []string{"XDG_RUNTIME_DIR", "run", "XDG_STATE_HOME", "state", "HOME", "/home/u"}, 1000, "/home/u/.local/state/cachet-updater/" + lock},
		{"a symlinked config shares them", link, false, home, 1000, "/home/u/.local/state/cachet-updater/" + name},
		{"a relative config path too", "prod.yaml", false, home, 1000, "/home/u/.local/state/cachet-updater/" + name},
		{"a missing config: its absolute path", missing, false, home, 1000, "/home/u/.local/state/cachet-updater/gone-" + hash(missing) + ".json"},
		{"no folder", config, false, nil, 1000, "error: no folder for the default state.path of " + config + ": none of XDG_STATE_HOME and HOME is set to an absolute path: set state.path"},
		{"no folder for the lock", config, true, nil, 1000, "error: no folder for the default lock_file of " + config + ": none of XDG_STATE_HOME and HOME is set to an absolute path: set lock_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := defaultPath(tt.config, env(tt.env...), tt.uid, tt.lock)
			if err != nil {
				got = "error: " + err.Error()
			}
			if !strings.HasPrefix(tt.want, "error: ") && got != tt.want || !strings.Contains(got, strings.TrimPrefix(tt.want, "error: ")) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got, err := DefaultPath(config, env(home...), 1000); err != nil || got != tests[5].want {
		t.Errorf("DefaultPath = %q, %v", got, err)
	}
}

// TestDefaultLockPath: the lock's folder is created 0700, and one another
// user could put a lock file in is refused.
func TestDefaultLockPath(t *testing.T) {
	config := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, config, "")
	lockPath := func(base string) (string, error) { // not root's /run: a user's XDG_RUNTIME_DIR
		return DefaultLockPath(config, env("XDG_RUNTIME_DIR", base), 1000)
	}
	base := t.TempDir()
	path, err := lockPath(base)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Dir(path)); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("lock folder: %v, %v; want mode 0700", info, err)
	}
	release, err := LockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	release()

	tests := []struct {
		name string
		make func(dir string) error
		want string
	}{
		{"group-writable", func(dir string) error { os.Mkdir(dir, 0o700); return os.Chmod(dir, 0o770) }, "is open to other users (mode -rwxrwx---), who could hold the lock: chmod 700 it"},
		{"a symlink", func(dir string) error { return os.Symlink(t.TempDir(), dir) }, "is a symbolic link or not a folder"},
		{"another user's", func(dir string) error { os.Mkdir(dir, 0o700); return os.Chown(dir, 65534, 65534) }, "belongs to uid 65534, not to this user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if os.Geteuid() != 0 && tt.name == "another user's" {
				t.Skip("needs root to give a folder to another user")
			}
			base := t.TempDir()
			if err := tt.make(filepath.Join(base, "cachet-updater")); err != nil {
				t.Fatal(err)
			}
			_, err := lockPath(base)
			checkError(t, err, "lock folder "+filepath.Join(base, "cachet-updater")+" "+tt.want, "or set lock_file")
		})
	}
}

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	release, err := LockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file: a second open in this process
	// conflicts as another process would.
	if _, err := LockFile(path); !errors.Is(err, ErrLockBusy) {
		t.Fatalf("second LockFile = %v, want ErrLockBusy", err)
	}
	release()
	release() // twice is harmless
	if release, err = LockFile(path); err != nil {
		t.Fatalf("after release: %v", err)
	}
	release()
}

// TestLockFileRefuses: a lock file someone else could hold or point
// elsewhere is refused, and nothing it points at is touched.
func TestLockFileRefuses(t *testing.T) {
	tests := []struct {
		name string
		make func(path string) error
		want string
	}{
		{"a symlink", func(path string) error { return os.Symlink(path+".precious", path) }, "is a symbolic link: refusing it"},
		{"open to others", func(path string) error { os.WriteFile(path, nil, 0o600); return os.Chmod(path, 0o644) }, " is open to other users (mode -rw-r--r--), who could hold the lock: chmod 600 it, or set lock_file"},
		{"a directory", func(path string) error { return os.Mkdir(path, 0o700) }, "is a directory (set lock_file to a writable path)"},
		{"another user's", func(path string) error { os.WriteFile(path, nil, 0o600); return os.Chown(path, 65534, 65534) }, " belongs to uid 65534, not to this user (uid 0)"},
		{"in a missing folder", func(path string) error { return os.RemoveAll(filepath.Dir(path)) }, "set lock_file to a writable path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if os.Geteuid() != 0 && tt.name == "another user's" {
				t.Skip("needs root to give the lock file to another user")
			}
			path := filepath.Join(t.TempDir(), "d", "x.lock")
			os.Mkdir(filepath.Dir(path), 0o700)
			writeFile(t, path+".precious", "keep me\n")
			if err := tt.make(path); err != nil {
				t.Fatal(err)
			}
			release, err := LockFile(path)
			if err == nil {
				release()
			}
			checkError(t, err, "lock file "+path, tt.want)
			if tt.name == "a symlink" {
				checkContent(t, path+".precious", "keep me\n")
			}
		})
	}
}

// TestLockFileKilledHolder: the kernel drops the lock of a process that dies.
func TestLockFileKilledHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	kill := holder(t, "file "+path)
	if _, err := LockFile(path); !errors.Is(err, ErrLockBusy) {
		t.Fatalf("while the helper holds it: %v, want ErrLockBusy", err)
	}
	kill()
	release, err := LockFile(path)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	release()
}

// TestLoadFIFO: a FIFO where the state file should be is refused without
// blocking (no deadline: only the code keeps it from blocking) and left.
func TestLoadFIFO(t *testing.T) {
	f := newFile(t)
	if err := syscall.Mkfifo(f.path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		st, err := f.Load(context.Background())
		if st != nil {
			err = errors.New("a state")
		}
		done <- err
	}()
	select {
	case err := <-done:
		checkError(t, err, f.path+" is a named pipe (FIFO), not a regular file")
	case <-time.After(30 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
	if info, err := os.Lstat(f.path); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was moved: %v", err)
	}
	checkError(t, CheckWritable(context.Background(), f.path), "named pipe")
}

// fleetState is the state of n components after many runs, each keeping
// the keep decisions its confirmation needs.
func fleetState(n, keep int) *State {
	st := &State{TokenProvedAt: time.Now()}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for id := 1; id <= n; id++ {
		c := st.Component(id, fmt.Sprintf("s%d", id))
		for i := range MaxHistory {
			c.Record(Decision{At: at.Add(time.Duration(i) * 3 * time.Minute), Status: status.Operational}, keep)
		}
		c.Last, c.LastAt = status.Operational, at
	}
	return st
}

// BenchmarkSave10000 saves the state of a 10,000-server fleet with the
// default confirmation (2 decisions kept); a run saves once, after its
// writes.
func BenchmarkSave10000(b *testing.B) {
	st := fleetState(10000, 2)
	f := NewFile(filepath.Join(b.TempDir(), "state.json"), "/etc/cachet-updater/config.yaml", false)
	for b.Loop() {
		if err := f.Save(context.Background(), st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad10000 loads it (a run loads once, while it probes).
func BenchmarkLoad10000(b *testing.B) {
	f := NewFile(filepath.Join(b.TempDir(), "state.json"), "/etc/cachet-updater/config.yaml", false)
	if err := f.Save(context.Background(), fleetState(10000, 2)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := f.Load(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
