package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

// newFile returns a store in a fresh directory with a fixed clock.
func newFile(t testing.TB) *File {
	t.Helper()
	f := NewFile(filepath.Join(t.TempDir(), "prod-1a2b3c4d.json"), "/etc/cachet-updater/prod.yaml")
	f.now = func() time.Time { return t0 }
	return f
}

func TestRoundTrip(t *testing.T) {
	f := newFile(t)
	if st, err := f.Load(context.Background()); err != nil || st == nil || st.Components == nil || len(st.Components) != 0 || !st.TokenProvedAt.IsZero() {
		t.Fatalf("first run: Load = %+v, %v; want an empty state", st, err)
	}
	if names := entries(t, filepath.Dir(f.path)); len(names) != 0 {
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
			st, err := f.ReadOnly().Load(context.Background())
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
	if st == nil || st.Components == nil || len(st.Components) != 0 {
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
			before := entries(t, dir)
			st, err := f.Load(context.Background())
			checkError(t, err, append(tt.want, f.path)...)
			if _, ok := errors.AsType[*CorruptError](err); st != nil || ok {
				t.Errorf("Load = %v, %v; want a nil state and no CorruptError", st, err)
			}
			if after := entries(t, dir); !reflect.DeepEqual(after, before) {
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
	f := NewFile(filepath.Join(dir, "s.json"), "c.yaml")
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
	if names := entries(t, dir); len(names) != 1 {
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
		{"nil", nil, nil, "no state (not written)"},
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
		{"read-only (dry run)", sample(), func(t *testing.T, f *File) { *f = *f.ReadOnly() }, "writes nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFile(t)
			dir := filepath.Dir(f.path)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			before := entries(t, dir)
			checkError(t, f.Save(context.Background(), tt.st), "saving state file "+f.path, tt.want)
			if after := entries(t, dir); !reflect.DeepEqual(after, before) {
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
	if names := entries(t, filepath.Dir(f.path)); len(names) != 1 {
		t.Errorf("directory holds %v, want only the state file", names)
	}
}

func TestCheckWritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	if err := CheckWritable(context.Background(), filepath.Join(dir, "s.json")); err != nil {
		t.Fatal(err)
	}
	if names := entries(t, dir); len(names) != 0 {
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
