package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/proxer/cachet-updater/internal/bounded"
)

// Store keeps the state between runs; the caller holds a lock from Load to
// Save (the run lock, or SQL's decision lock).
type Store interface {
	// Load returns the saved state, or an empty one on the first run.
	Load(ctx context.Context) (*State, error)
	// Save replaces the saved state with st.
	Save(ctx context.Context, st *State) error
	String() string // names the store for messages: "state file /path"
}

// MaxFileSize caps what Load reads; a larger file is corrupt.
const MaxFileSize int64 = 64 << 20

// grace is how long a Save still waits for a rename or commit that began
// before its context ended: it may land, and Save must know whether it did.
const grace = 2 * time.Second

// File is a Store in one JSON file of one config. Save is atomic (a
// temporary file, synced, renamed over the path, the directory synced); the
// file is 0600 in a directory created 0700.
type File struct {
	path, config string
	readOnly     bool
	now          func() time.Time
}

// NewFile returns the store in the file at path for the config at
// configPath, which the file records. It touches nothing.
func NewFile(path, configPath string) *File {
	return &File{path: path, config: configPath, now: time.Now}
}

// ReadOnly returns the store for a dry run: Load leaves a corrupt file as
// it is, and Save writes nothing.
func (f *File) ReadOnly() *File {
	c := *f
	c.readOnly = true
	return &c
}

func (f *File) String() string { return "state file " + f.path }

// CorruptError means the file is not a state file. It was moved aside to
// MovedTo ("" for a read-only store, which leaves it) and Load returned an
// empty state: the run goes on without history, and should exit 1.
type CorruptError struct {
	Path, MovedTo string
	Err           error // why it is corrupt
}

func (e *CorruptError) Error() string {
	if e.MovedTo == "" {
		return fmt.Sprintf("state file %s is corrupt (%v): left it as it is (dry run); this run went on with empty history, a real run moves the file aside", e.Path, e.Err)
	}
	return fmt.Sprintf("state file %s is corrupt (%v): moved it to %s; this run went on with empty history (look at that file, then delete it)", e.Path, e.Err, e.MovedTo)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// ErrOtherConfig is matched by Load's error for a file another config
// wrote: two configs sharing one would prune each other's entries.
var ErrOtherConfig = errors.New("two configs must not share one state file")

// Load reads the state. A missing file is the first run: an empty state.
// A corrupt file is moved aside: an empty state and a *CorruptError. Any
// other error (not a regular file, unreadable, a newer format, another
// config's, ctx ended) leaves the file and returns a nil state, which the
// caller must not save over.
func (f *File) Load(ctx context.Context) (*State, error) {
	st, err := bounded.Do(ctx, func() (*State, error) { return f.load(ctx) })
	if bounded.IsCtxErr(ctx, err) {
		return nil, fmt.Errorf("loading %s: %w", f, err)
	}
	return st, err
}

func (f *File) load(ctx context.Context) (*State, error) {
	data, err := f.read()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &State{Components: map[int]*Component{}}, nil
	case errors.Is(err, errTooLarge): // corrupt
	case err != nil:
		return nil, err
	default:
		st, config, derr := decode(data)
		switch {
		case derr == nil && config != "" && f.config != "" && config != f.config:
			return nil, fmt.Errorf("%s belongs to the config %s, not to %s: %w; give each config its own state.path (unset, it is one per config), or, if that config was moved, write its new path into the file's \"config\" (the file was left as it is)",
				f, config, f.config, ErrOtherConfig)
		case derr == nil:
			return st, nil
		case errors.Is(derr, ErrNewerVersion):
			return nil, fmt.Errorf("%s has %w", f, derr)
		}
		err = derr
	}
	empty := &State{Components: map[int]*Component{}}
	if ctx.Err() != nil { // a caller that gave up gets no file moved
		return nil, ctx.Err()
	}
	if f.readOnly {
		return empty, &CorruptError{Path: f.path, Err: err}
	}
	base := f.path + ".corrupt-" + f.now().UTC().Format("20060102T150405Z")
	to := base
	for i := 2; exists(to); i++ { // never over an earlier one: it may be the one to look at
		to = fmt.Sprintf("%s-%d", base, i)
	}
	if rerr := os.Rename(f.path, to); rerr != nil {
		return nil, fmt.Errorf("%s is corrupt (%v) and could not be moved aside: %w; move or delete it", f, err, rerr)
	}
	return empty, &CorruptError{Path: f.path, MovedTo: to, Err: err}
}

var errTooLarge = fmt.Errorf("larger than %d MiB", MaxFileSize>>20)

// read returns the file's bytes, refusing anything but a regular file
// without blocking on it.
func (f *File) read() ([]byte, error) {
	file, err := os.OpenFile(f.path, os.O_RDONLY|openNonblock, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, f.unreadable(err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, f.unreadable(err)
	}
	if err := regular(info); err != nil {
		return nil, fmt.Errorf("%s %w: point state.path at a file, or remove what is there", f, err)
	}
	if info.Size() > MaxFileSize {
		return nil, errTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(file, MaxFileSize+1))
	if err != nil {
		return nil, f.unreadable(err)
	}
	return data, nil
}

func (f *File) unreadable(err error) error {
	return fmt.Errorf("reading %s: %w: make it readable by the user that runs cachet-updater, or delete it to start with empty history", f, err)
}

// regular refuses what is not a regular file: a directory, a FIFO, ...
func regular(info fs.FileInfo) error {
	if info.Mode().IsRegular() {
		return nil
	}
	kind := map[fs.FileMode]string{fs.ModeDir: "a directory", fs.ModeNamedPipe: "a named pipe (FIFO)", fs.ModeSymlink: "a symbolic link"}[info.Mode().Type()]
	if kind == "" {
		kind = "a " + info.Mode().Type().String() + " file"
	}
	return fmt.Errorf("is %s, not a regular file", kind)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// Save writes st atomically, replacing a symbolic link at the path. When
// ctx ends first nothing is renamed afterwards; a rename already begun is
// waited for up to grace, then the error wraps bounded.ErrInDoubt.
func (f *File) Save(ctx context.Context, st *State) error {
	if f.readOnly {
		return fmt.Errorf("saving %s: a read-only store (dry run) writes nothing", f)
	}
	data, err := encode(st, document{Config: f.config, SavedAt: f.now().UTC()})
	if err != nil {
		return fmt.Errorf("saving %s: %w (not written)", f, err)
	}
	_, err = bounded.Commit(ctx, grace, func(point func() bool) (struct{}, error) {
		tmp, err := f.temp(".tmp-*")
		if err != nil {
			return struct{}{}, err
		}
		defer os.Remove(tmp.Name()) // fails once renamed
		_, err = tmp.Write(data)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil && !point() {
			err = context.Canceled // a caller that gave up must not find the file changed
		}
		if err == nil {
			err = os.Rename(tmp.Name(), f.path)
		}
		if err == nil {
			err = syncDir(filepath.Dir(f.path))
		}
		return struct{}{}, err
	})
	return saveError(ctx, f, err, "; check that its directory is writable and has space")
}

// temp creates a temporary file beside the path, and the directory (0700).
func (f *File) temp(pattern string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return nil, err
	}
	return os.CreateTemp(filepath.Dir(f.path), filepath.Base(f.path)+pattern)
}

// saveError says what a Save that failed left behind: whichever state is
// there when the step that cannot be taken back got no answer.
func saveError(ctx context.Context, store fmt.Stringer, err error, hint string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bounded.ErrInDoubt):
		return fmt.Errorf("saving %s: %w; the state may have been saved or not: the next run reads whichever is there", store, err)
	case bounded.IsCtxErr(ctx, err):
		hint = "; gave up waiting"
	}
	return fmt.Errorf("saving %s: %w%s (the previous state is unchanged)", store, err, hint)
}

// CheckWritable checks that the state file at path can be saved: its
// directory exists or is created, and a file can be created there. The
// state file itself is not touched.
func CheckWritable(ctx context.Context, path string) error {
	_, err := bounded.Do(ctx, func() (struct{}, error) {
		if info, err := os.Stat(path); err == nil && regular(info) != nil {
			return struct{}{}, regular(info)
		}
		tmp, err := (&File{path: path}).temp(".check-*")
		if err == nil {
			tmp.Close()
			err = os.Remove(tmp.Name())
		}
		return struct{}{}, err
	})
	switch {
	case bounded.IsCtxErr(ctx, err):
		return fmt.Errorf("checking state file %s: %w", path, err)
	case err != nil:
		return fmt.Errorf("state file %s: %w; set state.path to a writable place", path, err)
	}
	return nil
}
