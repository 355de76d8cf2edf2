package state

import (
	"context"
	"errors"
	"fmt"
	"github.com/proxer/cachet-updater/internal/bounded"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Store keeps the state between runs. The caller holds the run lock from
// Load to Save: a Store does not lock by itself.
type Store interface {
	// Load returns the saved state, or an empty one on the first run.
	Load(ctx context.Context) (*State, error)
	// Save replaces the saved state with st.
	Save(ctx context.Context, st *State) error
	// String names the store for messages: "state file /path".
	String() string
}

var _ Store = (*File)(nil)

// MaxFileSize caps what Load reads; a larger file is treated as corrupt.
// A full history of thousands of components is a few MiB.
const MaxFileSize int64 = 64 << 20

// File is a Store in one JSON file. It does not lock: the caller holds the
// run lock while loading and saving.
type File struct {
	path     string
	config   string
	readOnly bool
	now      func() time.Time
}

// NewFile returns the store in the file at path for the config at
// configPath (recorded in the file for people reading it). It touches
// nothing.
func NewFile(path, configPath string) *File {
	return &File{path: path, config: configPath, now: time.Now}
}

// ReadOnly returns the store for a dry run: its Load leaves a corrupt file
// where and as it is, and its Save writes nothing.
func (f *File) ReadOnly() *File {
	c := *f
	c.readOnly = true
	return &c
}

// String returns "state file /path".
func (f *File) String() string { return "state file " + f.path }

// CorruptError means the file could not be read as a state file. It was moved
// aside to MovedTo (a read-only store leaves it: MovedTo is "") and Load
// returned an empty state: the run goes on without history and should end
// with exit code 1 so someone looks.
type CorruptError struct {
	Path    string
	MovedTo string
	Err     error // why it is corrupt
}

func (e *CorruptError) Error() string {
	if e.MovedTo == "" {
		return fmt.Sprintf("state file %s is corrupt (%v): left it as it is (dry run); this run went on with empty history, a real run moves the file aside",
			e.Path, e.Err)
	}
	return fmt.Sprintf("state file %s is corrupt (%v): moved it to %s; this run went on with empty history (look at that file, then delete it)",
		e.Path, e.Err, e.MovedTo)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// ErrOtherConfig is matched (errors.Is) by Load's error for a file another
// config wrote: two configs sharing one file would prune each other's
// entries. The file is left in place.
var ErrOtherConfig = errors.New("two configs must not share one state file")

// ErrNewerVersion is matched (errors.Is) by Load's error for a file written
// by a newer cachet-updater. The file is left in place.
var ErrNewerVersion = errors.New("written by a newer cachet-updater")

// Load reads the state. A missing file is the first run: an empty state and
// no error. A file that is not valid is moved aside: an empty state and a
// *CorruptError. Any other error (not a regular file, unreadable, a newer
// format version, written by another config, ctx done) leaves the file in
// place and returns a nil state: the caller must not Save over it.
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
		return &State{Components: make(map[int]*Component)}, nil
	case errors.Is(err, errTooLarge):
		// corrupt: moved aside below
	case err != nil:
		return nil, err
	default:
		st, config, derr := decode(data)
		if derr == nil && config != "" && f.config != "" && config != f.config {
			return nil, fmt.Errorf("%s belongs to the config %s, not to %s: %w; give each config its own state.path (unset, it is one per config), or, if that config was moved, write its new path into the file's \"config\" (the file was left as it is)",
				f, config, f.config, ErrOtherConfig)
		}
		if derr == nil {
			return st, nil
		}
		if e, ok := errors.AsType[*errNewer](derr); ok {
			return nil, fmt.Errorf("%s has format version %d, but this cachet-updater knows only version %d: %w; upgrade cachet-updater (the file was left in place)",
				f, e.version, Version, ErrNewerVersion)
		}
		err = derr
	}
	// A caller that gave up gets no file moved behind its back.
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr
	}
	if f.readOnly {
		return &State{Components: make(map[int]*Component)}, &CorruptError{Path: f.path, Err: err}
	}
	return f.moveAside(err)
}

var errTooLarge = fmt.Errorf("larger than %d MiB", MaxFileSize>>20)

// read returns the file's bytes, refusing anything but a regular file
// without blocking on it (a FIFO would block open and read).
func (f *File) read() ([]byte, error) {
	info, err := os.Stat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, f.unreadable(err)
	}
	if err := regular(info); err != nil {
		return nil, fmt.Errorf("%s %w: point state.path at a file, or remove what is there", f, err)
	}
	file, err := os.OpenFile(f.path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, f.unreadable(err)
	}
	defer file.Close()
	// Checked again on the open file: the path may have changed since Stat.
	if info, err = file.Stat(); err == nil {
		err = regular(info)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %w: point state.path at a file, or remove what is there", f, err)
	}
	if info.Size() > MaxFileSize {
		return nil, errTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(file, MaxFileSize+1))
	if err != nil {
		return nil, f.unreadable(err)
	}
	if int64(len(data)) > MaxFileSize {
		return nil, errTooLarge
	}
	return data, nil
}

func regular(info fs.FileInfo) error {
	if info.Mode().IsRegular() {
		return nil
	}
	kind := "not a regular file"
	switch t := info.Mode().Type(); {
	case t&fs.ModeDir != 0:
		kind = "a directory"
	case t&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		kind = "a socket"
	case t&fs.ModeDevice != 0:
		kind = "a device"
	}
	return fmt.Errorf("is %s, not a regular file", kind)
}

func (f *File) unreadable(err error) error {
	return fmt.Errorf("reading %s: %w: make it readable by the user that runs cachet-updater, or delete it to start with empty history", f, err)
}

// moveAside renames a corrupt file to <path>.corrupt-<UTC time> and returns
// an empty state. When the rename fails the file stays, and so must the
// caller's hands off it: a nil state.
func (f *File) moveAside(why error) (*State, error) {
	base := f.path + ".corrupt-" + f.now().UTC().Format("20060102T150405Z")
	to := base
	// Never rename over an earlier corrupt file: it may be the one someone
	// wants to look at.
	for i := 2; exists(to); i++ {
		to = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(f.path, to); err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v) and could not be moved aside: %w; move or delete it", f, why, err)
	}
	return &State{Components: make(map[int]*Component)}, &CorruptError{Path: f.path, MovedTo: to, Err: why}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// Save writes st atomically: a temporary file in the same directory, synced,
// renamed over the path, and the directory synced, so a crash leaves either
// the old file or the new one. It creates the directory (0700) when missing.
// A symbolic link at the path is replaced by the file. When ctx ends first
// nothing is renamed afterwards; a rename already begun is waited for (up
// to renameGrace, then the error wraps bounded.ErrInDoubt).
func (f *File) Save(ctx context.Context, st *State) error {
	if st == nil || f.readOnly {
		return fmt.Errorf("saving %s: no state, or a read-only store (dry run)", f)
	}
	data, err := encode(st, f.config, f.now().UTC())
	if err != nil {
		return fmt.Errorf("saving %s: %w (not written)", f, err)
	}
	_, err = bounded.Commit(ctx, renameGrace, func(point func() bool) (struct{}, error) { return struct{}{}, f.write(data, point) })
	switch {
	case errors.Is(err, bounded.ErrInDoubt):
		return fmt.Errorf("saving %s: the rename into place got no answer within %s more: %w; the next run reads whichever state is there", f, renameGrace, err)
	case bounded.IsCtxErr(ctx, err):
		return fmt.Errorf("saving %s: %w (gave up waiting on the file system; the previous state is unchanged)", f, err)
	case err != nil:
		return fmt.Errorf("saving %s: %w; check that its directory is writable and has space (the previous state is unchanged)", f, err)
	}
	return nil
}

// renameGrace is how long Save still waits for a rename into place that
// began before its context ended: the new state may land, and Save must
// know whether it did.
const renameGrace = 2 * time.Second

// write writes data to a temporary file and renames it over the path, unless
// point reports that the caller gave up before the rename.
func (f *File) write(data []byte, point func() bool) (err error) {
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// A caller that gave up must not find the file changed afterwards.
	if !point() {
		return context.Canceled
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return err
	}
	return syncDir(dir)
}

// CheckWritable checks that a state file at path can be saved: its directory
// exists or can be created (it is created), and a temporary file can be
// created and removed there. The state file itself is not touched.
func CheckWritable(ctx context.Context, path string) error {
	_, err := bounded.Do(ctx, func() (struct{}, error) { return struct{}{}, checkWritable(path) })
	if bounded.IsCtxErr(ctx, err) {
		return fmt.Errorf("checking state file %s: %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("state file %s: %w; set state.path to a writable place", path, err)
	}
	return nil
}

func checkWritable(path string) error {
	if info, err := os.Stat(path); err == nil {
		if err := regular(info); err != nil {
			return err
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".check-*")
	if err != nil {
		return err
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}
