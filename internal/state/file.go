package state

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/proxer/cachet-updater/internal/bounded"
)

// Store keeps the state between runs; the caller holds a lock from Load to
// Save (the run lock, or SQL's decision lock).
type Store interface {
	Load(ctx context.Context) (*State, error)  // the saved state, or an empty one on the first run
	Save(ctx context.Context, st *State) error // replaces the saved state with st
	String() string                            // names the store for messages: "state file /path"
}

// MaxFileSize caps what Load reads; a larger file is corrupt.
const MaxFileSize int64 = 64 << 20

// grace is how long a Save still waits for a rename that began before its
// context ended: it may land, and Save must know whether it did.
const grace = 2 * time.Second

var (
	errReadOnly = errors.New("a read-only store (dry run) writes nothing")
	// ErrOtherConfig is matched by Load's error for a file another config
	// wrote: two configs sharing one would prune each other's entries.
	ErrOtherConfig = errors.New("two configs must not share one state file")
)

// File is a Store in one JSON file of one config. Save is atomic (a
// temporary file, synced, renamed over the path, the directory synced); the
// file is 0600 in a directory created 0700.
type File struct {
	path, config string
	readOnly     bool
	now          func() time.Time
}

// NewFile returns the store in the file at path for the config at
// configPath, which the file records. It touches nothing. A readOnly store
// (a dry run) leaves a corrupt file as it is, and Save writes nothing.
func NewFile(path, configPath string, readOnly bool) *File {
	return &File{path: path, config: configPath, readOnly: readOnly, now: time.Now}
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

// Load reads the state. A missing file is the first run: an empty state.
// A corrupt file is moved aside: an empty state and a *CorruptError. Any
// other error (not a regular file, unreadable, a newer format, another
// config's, ctx ended) leaves the file and returns a nil state, which the
// caller must not save over.
func (f *File) Load(ctx context.Context) (*State, error) {
	st, err := bounded.Do(ctx, func() (*State, error) { return f.load(ctx) })
	if err != nil && errors.Is(err, ctx.Err()) {
		return nil, fmt.Errorf("loading %s: %w", f, err)
	}
	return st, err
}

func (f *File) load(ctx context.Context) (*State, error) {
	data, err := f.read()
	if errors.Is(err, fs.ErrNotExist) { // the first run
		return &State{}, nil
	} else if err != nil {
		return nil, err
	}
	st, config, err := decode(data)
	switch {
	case err == nil && config != "" && f.config != "" && config != f.config:
		return nil, fmt.Errorf("%s belongs to the config %s, not to %s: %w; give each config its own state.path (unset, it is one per config), or, if that config was moved, write its new path into the file's \"config\" (the file was left as it is)",
			f, config, f.config, ErrOtherConfig)
	case err == nil:
		return st, nil
	case errors.Is(err, ErrNewerVersion):
		return nil, fmt.Errorf("%s has %w", f, err)
	case ctx.Err() != nil: // a caller that gave up gets no file moved
		return nil, ctx.Err()
	}
	corrupt := &CorruptError{Path: f.path, Err: err}
	if !f.readOnly {
		base := f.path + ".corrupt-" + f.now().UTC().Format("20060102T150405Z")
		corrupt.MovedTo = base
		for i := 2; ; i++ { // never over an earlier one: it may be the one to look at
			if _, err := os.Lstat(corrupt.MovedTo); errors.Is(err, fs.ErrNotExist) {
				break
			}
			corrupt.MovedTo = fmt.Sprintf("%s-%d", base, i)
		}
		if rerr := os.Rename(f.path, corrupt.MovedTo); rerr != nil {
			return nil, fmt.Errorf("%s is corrupt (%v) and could not be moved aside: %w; move or delete it", f, err, rerr)
		}
	}
	return &State{}, corrupt
}

// read returns the file's bytes, up to one more than MaxFileSize, refusing
// anything but a regular file without blocking on it (a FIFO put there).
func (f *File) read() ([]byte, error) {
	file, err := os.OpenFile(f.path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	var info fs.FileInfo
	if err == nil {
		defer file.Close()
		info, err = file.Stat()
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w: make it readable by the user that runs cachet-updater, or delete it to start with empty history", f, err)
	}
	if err := regular(info); err != nil {
		return nil, fmt.Errorf("%s %w: point state.path at a file, or remove what is there", f, err)
	}
	return io.ReadAll(io.LimitReader(file, MaxFileSize+1))
}

func regular(info fs.FileInfo) error {
	if info.Mode().IsRegular() {
		return nil
	}
	kind := map[fs.FileMode]string{fs.ModeDir: "a directory", fs.ModeNamedPipe: "a named pipe (FIFO)"}[info.Mode().Type()]
	return fmt.Errorf("is %s, not a regular file", cmp.Or(kind, "something else ("+info.Mode().Type().String()+")"))
}

// Save writes st atomically, replacing a symbolic link at the path. When
// ctx ends first nothing is renamed afterwards; a rename already begun is
// waited for up to grace, then the error wraps bounded.ErrInDoubt.
func (f *File) Save(ctx context.Context, st *State) error {
	data, err := encode(st, document{Config: f.config, SavedAt: f.now().UTC()})
	if err != nil || f.readOnly {
		return fmt.Errorf("saving %s: %w (not written)", f, cmp.Or(err, errReadOnly))
	}
	_, err = bounded.Commit(ctx, grace, func(point func() bool) (struct{}, error) {
		tmp, err := f.temp(".tmp-*")
		if err == nil {
			defer os.Remove(tmp.Name()) // fails once renamed
			_, err = tmp.Write(data)
			err = errors.Join(err, tmp.Sync(), tmp.Close())
		}
		if err == nil && point() { // a caller that gave up must not find the file changed
			err = os.Rename(tmp.Name(), f.path)
		}
		if dir, derr := os.Open(filepath.Dir(f.path)); derr == nil { // makes the rename durable
			err = cmp.Or(err, dir.Sync(), dir.Close())
		}
		if err != nil {
			err = fmt.Errorf("%w; check that its directory is writable and has space", err)
		}
		return struct{}{}, err
	})
	if err != nil {
		err = fmt.Errorf("saving %s: %w", f, err)
	}
	return saved(err)
}

// saved says what a Save that failed with err left behind.
func saved(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bounded.ErrInDoubt):
		return fmt.Errorf("%w; the state may have been saved or not: the next run reads whichever is there", err)
	}
	return fmt.Errorf("%w (the previous state is unchanged)", err)
}

// temp creates a temporary file beside the path, and the directory (0700).
func (f *File) temp(pattern string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return nil, err
	}
	return os.CreateTemp(filepath.Dir(f.path), filepath.Base(f.path)+pattern)
}

// CheckWritable checks that the state file at path can be saved: its
// directory exists or is created, and a file can be created there. The
// state file itself is not touched.
func CheckWritable(ctx context.Context, path string) error {
	_, err := bounded.Do(ctx, func() (struct{}, error) {
		if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
			return struct{}{}, regular(info)
		}
		tmp, err := (&File{path: path}).temp(".check-*")
		if err == nil {
			err = errors.Join(tmp.Close(), os.Remove(tmp.Name()))
		}
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("state file %s: %w; set state.path to a writable place", path, err)
	}
	return nil
}

// LockFile takes an exclusive flock(2) on path, created 0600, without
// waiting: another holder is an error wrapping ErrLockBusy. The kernel drops
// the lock when its process dies. It refuses a symbolic link (O_NOFOLLOW),
// and a file of another user or that others can open: whoever can open it
// can hold the lock and keep every run from starting. release unlocks; the
// file stays: removing it would let a third run lock a new file while a
// second still holds the old one.
func LockFile(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("lock file %s is a symbolic link: refusing it, since whoever made it chooses which file a run opens; remove it, or set lock_file to a path in a folder only this user can write", path)
	} else if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w (set lock_file to a writable path)", path, err)
	}
	info, err := f.Stat()
	if err == nil {
		err = private(info, 0o077, "600")
	}
	if err == nil {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, fmt.Errorf("lock file %s: %w", path, ErrLockBusy)
	} else if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock file %s %w, or set lock_file to a path in a folder only this user can write", path, err)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid()) // for the operator who looks; the lock is the flock
	return sync.OnceFunc(func() { f.Close() }), nil
}

// DefaultLockPath returns the run lock of a config that sets no lock_file:
// cachet-updater-<config name>-<hash>.lock, named as DefaultPath names the
// state file, in a folder only this user can write: /run/cachet-updater for
// root, else $XDG_RUNTIME_DIR/cachet-updater, or, where that is unset (cron),
// the state file's folder. The folder is created 0700; one that is a link,
// another user's or writable by group or others is refused.
func DefaultLockPath(configPath string, getenv func(string) string, euid int) (string, error) {
	path, err := defaultPath(configPath, getenv, euid, true)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	err = os.MkdirAll(dir, 0o700)
	info, lerr := os.Lstat(dir)
	if err = cmp.Or(err, lerr); err == nil && !info.IsDir() {
		err = errors.New("is a symbolic link or not a folder: make it a folder only this user can write (mkdir -m 700)")
	} else if err == nil {
		err = private(info, 0o022, "700")
	}
	if err != nil {
		return "", fmt.Errorf("lock folder %s %w, or set lock_file", dir, err)
	}
	return path, nil
}

// private refuses what another user could use to hold the lock: what is not
// this user's, or what the mode bits in open let others open or write.
func private(info fs.FileInfo, open fs.FileMode, chmod string) error {
	if uid := int(info.Sys().(*syscall.Stat_t).Uid); uid != os.Geteuid() {
		return fmt.Errorf("belongs to uid %d, not to this user (uid %d): another user could hold the lock and keep every run from starting; find out who, remove it", uid, os.Geteuid())
	} else if info.Mode().Perm()&open != 0 {
		return fmt.Errorf("is open to other users (mode %s), who could hold the lock: chmod %s it", info.Mode().Perm(), chmod)
	}
	return nil
}
