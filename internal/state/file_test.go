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
func newFile(t *testing.T) *File {
	t.Helper()
	f := NewFile(filepath.Join(t.TempDir(), "prod-1a2b3c4d.json"), "/etc/cachet-updater/prod.yaml")
	f.now = func() time.Time { return t0 }
	return f
}

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

func TestRoundTrip(t *testing.T) {
	f := newFile(t)
	want := sample()
	if err := f.Save(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	got, err := f.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load after Save:\n got %+v\nwant %+v", got, want)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"{\n  \"version\": 1,\n",
		`"config": "/etc/cachet-updater/prod.yaml"`,
		`"saved_at": "2026-11-25T06:35:02Z"`,
		`"token_proved_at": "2026-11-25T06:34:02Z"`,
		`"14": {`,
		`"hold": {`,
	} {
		if !strings.Contains(string(data), s) {
			t.Errorf("file lacks %s:\n%s", s, data)
		}
	}
	if f.String() != "state file "+f.path {
		t.Errorf("String() = %q", f.String())
	}
}

func TestLoadMissingIsFirstRun(t *testing.T) {
	f := newFile(t)
	st, err := f.Load(context.Background())
	if err != nil || st == nil || st.Components == nil || len(st.Components) != 0 || !st.TokenProvedAt.IsZero() {
		t.Fatalf("Load = %+v, %v; want an empty state", st, err)
	}
	if names := entries(t, filepath.Dir(f.path)); len(names) != 0 {
		t.Errorf("Load created %v", names)
	}
}

func TestLoadCorruptMovesAside(t *testing.T) {
	var good strings.Builder
	good.WriteString(`{"version": 1, "components": {"14": {"server": "a", "last": 1}}}`)
	tests := []struct {
		name, body, why string
	}{
		{"empty", "", "the file is empty"},
		{"blank", " \n\t\n", "the file is empty"},
		{"bad JSON", "{\n\"version\": 1,\n  oops\n}", "line 3: invalid character 'o'"},
		{"truncated", good.String()[:40], "line 1: truncated JSON"},
		{"trailing garbage", good.String() + "}", "invalid character '}' after top-level value"},
		{"array", "[1, 2]", "cannot unmarshal array"},
		{"null", "null", "no format version"},
		{"no version", `{"components": {}}`, "no format version"},
		{"version zero", `{"version": 0}`, "no format version"},
		{"version is a string", `{"version": "1"}`, "cannot unmarshal string"},
		{"components is an array", `{"version": 1, "components": []}`, "cannot unmarshal array"},
		{"id not a number", `{"version": 1, "components": {"abc": {}}}`, "abc"},
		{"id zero", `{"version": 1, "components": {"0": {}}}`, "component id 0: ids are positive"},
		{"null component", `{"version": 1, "components": {"14": null}}`, "component 14: null"},
		{"last out of range", `{"version": 1, "components": {"14": {"last": 9}}}`, "component 14: last status 9 is not 0-4"},
		{"history status 0", `{"version": 1, "components": {"14": {"history": [{"at": "2026-11-25T06:35:02Z", "status": 0}]}}}`, "history[0]: status 0 is not 1-4"},
		{"null decision", `{"version": 1, "components": {"14": {"history": [null]}}}`, "history[0]: status 0 is not 1-4"},
		{"hold status 5", `{"version": 1, "components": {"14": {"hold": {"status": 5}}}}`, "hold status 5 is not 1-4"},
		{"bad time", `{"version": 1, "token_proved_at": "yesterday"}`, "yesterday"},
		{"binary", "\x00\x01\x02", "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFile(t)
			writeFile(t, f.path, tt.body)
			st, err := f.Load(context.Background())
			checkMovedAside(t, f, st, err, tt.body, tt.why)
		})
	}
}

func checkMovedAside(t *testing.T, f *File, st *State, err error, body, why string) {
	t.Helper()
	moved := f.path + ".corrupt-20261125T063502Z"
	ce, ok := errors.AsType[*CorruptError](err)
	if !ok {
		t.Fatalf("Load error = %v, want a *CorruptError", err)
	}
	if ce.Path != f.path || ce.MovedTo != moved || !strings.Contains(ce.Err.Error(), why) {
		t.Errorf("CorruptError = %+v, want MovedTo %s and a reason containing %q", ce, moved, why)
	}
	for _, s := range []string{f.path + " is corrupt", moved, "empty history"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
	if st == nil || st.Components == nil || len(st.Components) != 0 {
		t.Errorf("state = %+v, want empty", st)
	}
	if _, err := os.Lstat(f.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old path still there: %v", err)
	}
	if data, err := os.ReadFile(moved); err != nil || string(data) != body {
		t.Errorf("moved file: %q, %v; want the original content", data, err)
	}
}

func TestLoadTooLargeIsCorrupt(t *testing.T) {
	f := newFile(t)
	writeFile(t, f.path, "")
	if err := os.Truncate(f.path, MaxFileSize+1); err != nil { // sparse: cheap
		t.Fatal(err)
	}
	_, err := f.Load(context.Background())
	if ce, ok := errors.AsType[*CorruptError](err); !ok || !strings.Contains(ce.Err.Error(), "larger than 64 MiB") {
		t.Fatalf("Load error = %v, want a *CorruptError about the size", err)
	}
}

func TestLoadCorruptTwiceInOneSecond(t *testing.T) {
	f := newFile(t)
	for i, want := range []string{".corrupt-20261125T063502Z", ".corrupt-20261125T063502Z-2", ".corrupt-20261125T063502Z-3"} {
		writeFile(t, f.path, fmt.Sprintf("garbage %d", i))
		_, err := f.Load(context.Background())
		if ce, ok := errors.AsType[*CorruptError](err); !ok || ce.MovedTo != f.path+want {
			t.Fatalf("Load %d: %v, want it moved to %s", i, err, f.path+want)
		}
	}
	if data, err := os.ReadFile(f.path + ".corrupt-20261125T063502Z"); err != nil || string(data) != "garbage 0" {
		t.Errorf("the first corrupt file was overwritten: %q, %v", data, err)
	}
}

func TestLoadNewerVersionLeftInPlace(t *testing.T) {
	f := newFile(t)
	body := `{"version": 2, "components": ["a shape version 1 does not know"]}`
	writeFile(t, f.path, body)
	st, err := f.Load(context.Background())
	if st != nil || !errors.Is(err, ErrNewerVersion) {
		t.Fatalf("Load = %v, %v; want nil and ErrNewerVersion", st, err)
	}
	for _, s := range []string{f.path, "format version 2", "knows only version 1", "upgrade cachet-updater", "left in place"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
	if _, ok := errors.AsType[*CorruptError](err); ok {
		t.Error("a newer version is not corrupt")
	}
	if data, err := os.ReadFile(f.path); err != nil || string(data) != body {
		t.Errorf("file changed: %q, %v", data, err)
	}
	if names := entries(t, filepath.Dir(f.path)); len(names) != 1 {
		t.Errorf("directory holds %v, want only the state file", names)
	}
}

func TestLoadDirectoryRefused(t *testing.T) {
	f := newFile(t)
	if err := os.Mkdir(f.path, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := f.Load(context.Background())
	if st != nil || err == nil || !strings.Contains(err.Error(), f.path+" is a directory, not a regular file") {
		t.Fatalf("Load = %v, %v; want nil and an error saying it is a directory", st, err)
	}
	if info, err := os.Stat(f.path); err != nil || !info.IsDir() {
		t.Errorf("the directory was moved: %v", err)
	}
}

func TestLoadTrimsLongHistory(t *testing.T) {
	f := newFile(t)
	var hist []string
	for i := range 20 {
		hist = append(hist, fmt.Sprintf(`{"at": "2026-11-25T06:%02d:00Z", "status": 1}`, i))
	}
	writeFile(t, f.path, `{"version": 1, "components": {"14": {"history": [`+strings.Join(hist, ",")+`]}}}`)
	st, err := f.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := st.Components[14].History
	if len(h) != MaxHistory || h[0].At.Minute() != 4 {
		t.Errorf("history: %d decisions from minute %d, want the newest %d", len(h), h[0].At.Minute(), MaxHistory)
	}
}

func TestLoadUnknownFieldsIgnored(t *testing.T) {
	f := newFile(t)
	writeFile(t, f.path, `{"version": 1, "note": "added by hand", "components": {"14": {"server": "a", "last": 2, "extra": true}}}`)
	st, err := f.Load(context.Background())
	if err != nil || st.Components[14].Last != status.PerformanceIssues {
		t.Fatalf("Load = %+v, %v", st, err)
	}
}

func TestSaveCreatesDirAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	f := NewFile(filepath.Join(dir, "s.json"), "c.yaml")
	if err := f.Save(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v, %v; want mode 0700", info.Mode(), err)
	}
	if info, err := os.Stat(f.path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("file: %v, %v; want mode 0600", info.Mode(), err)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only s.json", names)
	}
}

func TestSaveReplacesLooseMode(t *testing.T) {
	f := newFile(t)
	writeFile(t, f.path, "old")
	if err := os.Chmod(f.path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(f.path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("file: %v, %v; want mode 0600", info.Mode(), err)
	}
}

func TestSaveFailingRenameLeavesNothing(t *testing.T) {
	f := newFile(t)
	// A directory with something in it cannot be renamed over.
	if err := os.MkdirAll(filepath.Join(f.path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := f.Save(context.Background(), sample())
	if err == nil || !strings.Contains(err.Error(), "saving state file "+f.path) || !strings.Contains(err.Error(), "check that its directory is writable") {
		t.Fatalf("Save = %v, want an error naming the path and what to check", err)
	}
	if names := entries(t, filepath.Dir(f.path)); len(names) != 1 || names[0] != filepath.Base(f.path) {
		t.Errorf("directory holds %v, want no temporary file", names)
	}
}

func TestSaveUnderAFileFails(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "plain")
	writeFile(t, parent, "")
	f := NewFile(filepath.Join(parent, "s.json"), "c.yaml")
	if err := f.Save(context.Background(), sample()); err == nil || !strings.Contains(err.Error(), parent) {
		t.Fatalf("Save = %v, want an error", err)
	}
}

func TestSaveRefusesInvalidState(t *testing.T) {
	f := newFile(t)
	for name, st := range map[string]*State{
		"nil":         nil,
		"bad status":  {Components: map[int]*Component{14: {Last: 7}}},
		"nil entry":   {Components: map[int]*Component{14: nil}},
		"negative id": {Components: map[int]*Component{-1: {}}},
	} {
		if err := f.Save(context.Background(), st); err == nil || !strings.Contains(err.Error(), f.path) {
			t.Errorf("%s: Save = %v, want an error", name, err)
		}
	}
	if names := entries(t, filepath.Dir(f.path)); len(names) != 0 {
		t.Errorf("directory holds %v, want nothing written", names)
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
				// Different sizes, so a mix of two writes would not decode.
				for j := range w*50 + i {
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
	if _, err := f.Load(ctx); err != nil {
		t.Fatalf("Load after saves: %v", err)
	}
	if names := entries(t, filepath.Dir(f.path)); len(names) != 1 {
		t.Errorf("directory holds %v, want only the state file", names)
	}
}

func TestCanceledContext(t *testing.T) {
	f := newFile(t)
	writeFile(t, f.path, "garbage") // would be moved aside if Load got that far
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if st, err := f.Load(ctx); st != nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), f.path) {
		t.Errorf("Load = %v, %v; want nil and context.Canceled naming the file", st, err)
	}
	if err := f.Save(ctx, sample()); !errors.Is(err, context.Canceled) {
		t.Errorf("Save = %v, want context.Canceled", err)
	}
	if data, err := os.ReadFile(f.path); err != nil || string(data) != "garbage" {
		t.Errorf("file touched: %q, %v", data, err)
	}
	if err := CheckWritable(ctx, filepath.Join(t.TempDir(), "new", "s.json")); !errors.Is(err, context.Canceled) {
		t.Errorf("CheckWritable = %v, want context.Canceled", err)
	}
}

func TestCheckWritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	path := filepath.Join(dir, "s.json")
	if err := CheckWritable(context.Background(), path); err != nil {
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
	if data, err := os.ReadFile(existing.path); err != nil || string(data) != "left alone" {
		t.Errorf("state file touched: %q, %v", data, err)
	}

	parent := filepath.Join(t.TempDir(), "plain")
	writeFile(t, parent, "")
	for _, bad := range []string{filepath.Join(parent, "s.json"), t.TempDir()} {
		err := CheckWritable(context.Background(), bad)
		if err == nil || !strings.Contains(err.Error(), "state file "+bad) || !strings.Contains(err.Error(), "set state.path") {
			t.Errorf("CheckWritable(%s) = %v, want an error naming it and state.path", bad, err)
		}
	}
}

func TestLoadUnreadableLeftInPlace(t *testing.T) {
	// Under a regular file: stat fails with "not a directory". (Permission
	// errors cannot be made when the tests run as root.)
	parent := filepath.Join(t.TempDir(), "plain")
	writeFile(t, parent, "x")
	f := NewFile(filepath.Join(parent, "s.json"), "c.yaml")
	st, err := f.Load(context.Background())
	if st != nil || err == nil || !strings.Contains(err.Error(), "reading state file "+f.path) || !strings.Contains(err.Error(), "make it readable") {
		t.Fatalf("Load = %v, %v; want nil and an error naming the file", st, err)
	}
	if _, ok := errors.AsType[*CorruptError](err); ok {
		t.Error("an unreadable file is not corrupt")
	}
	if names := entries(t, filepath.Dir(parent)); len(names) != 1 {
		t.Errorf("directory holds %v, want only the file", names)
	}
}
