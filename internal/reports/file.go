package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// File formats.
const (
	FormatCounts = "counts"
	FormatEvents = "events"
)

// DefaultMaxSize is the cap on the bytes read from a reports file when
// FileOptions.MaxSize is zero.
const DefaultMaxSize int64 = 32 << 20

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
// or after since.
type File struct {
	opts FileOptions
}

// NewFile returns a file source. It does not touch the file: Counts reads it.
func NewFile(o FileOptions) *File {
	if o.Format == "" {
		o.Format = FormatCounts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	return &File{opts: o}
}

// String names the source: file "path".
func (f *File) String() string { return fmt.Sprintf("file %q", f.opts.Path) }

// Close does nothing: the file is opened and closed within Counts.
func (f *File) Close() error { return nil }

// Counts reads the file and returns its counts. For the counts format since
// is ignored (see File).
func (f *File) Counts(ctx context.Context, since time.Time) (map[string]int, error) {
	counts, err := f.counts(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("reading reports from %s: %w", f, err)
	}
	return counts, nil
}

func (f *File) counts(ctx context.Context, since time.Time) (map[string]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var parse func(name string, data []byte) (map[string]int, error)
	switch f.opts.Format {
	case FormatCounts:
		parse = parseCounts
	case FormatEvents:
		parse = func(name string, data []byte) (map[string]int, error) {
			return parseEvents(name, data, since)
		}
	default:
		return nil, fmt.Errorf("unknown format %q: use %q or %q", f.opts.Format, FormatCounts, FormatEvents)
	}
	data, err := f.read()
	if err != nil {
		return nil, err
	}
	return parse(filepath.Base(f.opts.Path), data)
}

// read checks the file's age and size and returns its contents.
func (f *File) read() ([]byte, error) {
	info, err := os.Stat(f.opts.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: check the path, and the process that should write it", os.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, errors.New("is a directory, not a file")
	}
	if f.opts.MaxAge > 0 {
		now := f.opts.Now()
		if age := now.Sub(info.ModTime()); age > f.opts.MaxAge {
			return nil, fmt.Errorf("is too old: last written %s ago (at %s), over the max_age of %s; check the process that writes it",
				age.Round(time.Second), info.ModTime().UTC().Format(time.RFC3339), f.opts.MaxAge)
		}
	}
	file, err := os.Open(f.opts.Path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, f.opts.MaxSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > f.opts.MaxSize {
		return nil, fmt.Errorf("is larger than the limit of %s: check the path and what writes the file", formatBytes(f.opts.MaxSize))
	}
	return data, nil
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
