package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/proxer/cachet-updater/internal/bounded"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
)

// File formats.
const (
	FormatCounts = "counts"
	FormatEvents = "events"
)

// DefaultMaxSize is the cap on the bytes read from a reports file when
// FileOptions.MaxSize is zero.
const DefaultMaxSize int64 = 32 << 20

// MaxClockSkew is how far ahead of this machine's clock a report's time, or
// a file's modification time, may be before it counts as dated in the
// future: clocks a little apart are normal, a writer in the wrong time zone
// or year is not.
const MaxClockSkew = 5 * time.Minute

// FileOptions configures a file source.
type FileOptions struct {
	Path string
	// Format is FormatCounts ("counts", also when empty) or FormatEvents
	// ("events").
	Format string
	// MaxAge, when positive, makes a file whose modification time is older
	// than Now()-MaxAge unavailable: the process writing it has probably
	// stopped, and its counts would be stale.
	MaxAge time.Duration
	// Now is the clock for the MaxAge check; nil means time.Now.
	Now func() time.Time
	// MaxSize caps the bytes read; 0 means DefaultMaxSize. A larger file is an
	// error rather than a silently truncated read.
	MaxSize int64
	// Timeout bounds one read (stat, open and read together) and must be
	// longer than 0; the config's default is 5s.
	Timeout time.Duration
	// Log gets one warning per read that left out reports dated in the
	// future; the zero value logs nothing.
	Log zerolog.Logger
}

// File is a Source that reads a local file on every call to Counts.
//
// In the "counts" format the file is a JSON object of whole, non-negative
// numbers per key ({"s14": 12, "s15": 0}). It already holds the window's
// counts, so the since argument of Counts is ignored: whoever writes the file
// decides the window.
//
// In the "events" format the file holds one report per line as
// `key,RFC 3339 time` (an optional `key,time` header, blank lines and lines
// starting with # are skipped), and Counts counts the lines whose time is at
// or after since. Lines dated more than MaxClockSkew after now are left out
// and logged.
//
// Only a regular file is read: a FIFO, socket, device or directory at the
// path is an error, not a read that waits for a writer.
type File struct {
	opts FileOptions
	// open opens the file for reading; tests replace it to make a read block.
	open func(name string) (*os.File, error)
}

// NewFile returns a file source. It does not touch the file: Counts reads it.
func NewFile(o FileOptions) (*File, error) {
	if o.Format == "" {
		o.Format = FormatCounts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	f := &File{opts: o, open: openFile}
	if o.Format != FormatCounts && o.Format != FormatEvents {
		return nil, fmt.Errorf("reading reports from %s: unknown format %q: use %q or %q", f, o.Format, FormatCounts, FormatEvents)
	}
	if o.Timeout <= 0 {
		return nil, fmt.Errorf("reading reports from %s: the timeout must be longer than 0, not %s (reports.source.timeout)", f, o.Timeout)
	}
	return f, nil
}

// String names the source: file "path".
func (f *File) String() string { return fmt.Sprintf("file %q", f.opts.Path) }

// Close does nothing: the file is opened and closed within Counts.
func (f *File) Close() error { return nil }

// Counts reads the file and returns its counts. For the counts format since
// is ignored (see File). It returns when the read is done, ctx ends or the
// timeout passes, whichever comes first.
func (f *File) Counts(ctx context.Context, since time.Time) (map[string]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, f.wrap(err)
	}
	rctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	// A FIFO, or a file on a hung NFS or FUSE mount, can block in the kernel
	// where no context reaches: such a read is left behind.
	now := f.opts.Now()
	r, err := bounded.Do(rctx, func() (readResult, error) {
		counts, future, err := f.counts(rctx, now, since)
		return readResult{counts, future}, err
	})
	if err != nil {
		return nil, f.wrap(f.ended(ctx, rctx, err))
	}
	f.warnFuture(r.future)
	return r.counts, nil
}

type readResult struct {
	counts map[string]int
	future futureReports
}

func (f *File) warnFuture(r futureReports) {
	if r.n == 0 {
		return
	}
	f.opts.Log.Warn().Str("source", f.String()).Int("ignored", r.n).Str("key", r.key).Time("at", r.at).
		Msgf("ignored reports dated in the future (more than %s ahead of this machine's clock): check the clock and time zone of the writer", MaxClockSkew)
}

// ended says why a read stopped once rctx, the read's own context, is done:
// the caller's ctx ended, or the read ran past the timeout. It returns err
// when rctx is still live.
func (f *File) ended(ctx, rctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case rctx.Err() != nil:
		return timeoutError{f.opts.Timeout}
	}
	return err
}

// timeoutError matches context.DeadlineExceeded with errors.Is, as an SQL
// source's timeout does, without repeating its text.
type timeoutError struct{ timeout time.Duration }

func (e timeoutError) Error() string {
	return fmt.Sprintf("did not answer within the timeout of %s (a FIFO or a hung network mount?)", e.timeout)
}

func (timeoutError) Unwrap() error { return context.DeadlineExceeded }

func (f *File) wrap(err error) error {
	return fmt.Errorf("reading reports from %s: %w", f, err)
}

func (f *File) counts(ctx context.Context, now, since time.Time) (map[string]int, futureReports, error) {
	data, err := f.read(ctx, now)
	if err != nil {
		return nil, futureReports{}, err
	}
	name := filepath.Base(f.opts.Path)
	if f.opts.Format == FormatEvents {
		return parseEvents(name, data, since, now.Add(MaxClockSkew))
	}
	counts, err := parseCounts(name, data)
	return counts, futureReports{}, err
}

// read checks the file's type, age and size and returns its contents.
func (f *File) read(ctx context.Context, now time.Time) ([]byte, error) {
	info, err := os.Stat(f.opts.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: check the path, and the process that should write it", os.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	if err := checkRegular(info); err != nil {
		return nil, err
	}
	if err := f.checkAge(info, now); err != nil {
		return nil, err
	}
	file, err := f.open(f.opts.Path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	// The path may have changed since the stat; the open file is what counts.
	if info, err = file.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(info); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, file}, f.opts.MaxSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > f.opts.MaxSize {
		return nil, fmt.Errorf("is larger than the limit of %s: check the path and what writes the file", formatBytes(f.opts.MaxSize))
	}
	return data, nil
}

func (f *File) checkAge(info fs.FileInfo, now time.Time) error {
	if f.opts.MaxAge <= 0 {
		return nil
	}
	// A modification time in the future hides a stopped writer until that
	// time comes, just as a stale one would.
	if ahead := info.ModTime().Sub(now); ahead > MaxClockSkew {
		return fmt.Errorf("was modified in the future (at %s, %s ahead of this machine's clock): check the clocks of this machine and of the one that writes it",
			info.ModTime().UTC().Format(time.RFC3339), ahead.Round(time.Second))
	}
	if age := now.Sub(info.ModTime()); age > f.opts.MaxAge {
		return fmt.Errorf("is too old: last written %s ago (at %s), over the max_age of %s; check the process that writes it",
			age.Round(time.Second), info.ModTime().UTC().Format(time.RFC3339), f.opts.MaxAge)
	}
	return nil
}

// checkRegular refuses anything but a regular file: opening a FIFO waits for
// a writer, and a device or socket is never what an exporter writes.
func checkRegular(info fs.FileInfo) error {
	m := info.Mode()
	var what string
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	default:
		what = fmt.Sprintf("of type %s", m.Type())
	}
	return fmt.Errorf("is %s, not a regular file: point reports.source.path at the file the exporter writes", what)
}

// ctxReader stops a read that was left behind once its context is done,
// instead of reading the rest of a large file for no one.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// checkText rejects content that is not text, so a wrong path (a database
// file, an archive) gets a clear message instead of a parser's confusion.
func checkText(data []byte) error {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return fmt.Errorf("looks binary: NUL byte at offset %d; expected a text file", i)
	}
	if i := invalidUTF8(data); i >= 0 {
		return fmt.Errorf("looks binary: invalid UTF-8 at offset %d; expected a text file", i)
	}
	return nil
}

// utf8BOM is stripped: some Windows editors write it at the start of a file.
const utf8BOM = "\xEF\xBB\xBF"

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
