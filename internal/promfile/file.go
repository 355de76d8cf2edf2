package promfile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/proxer/cachet-updater/internal/bounded"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// maxRead caps what ReadPrevious reads of an earlier file: the run's own
// metrics come first, and ten thousand servers' make a few MiB.
const maxRead = 64 << 20

// Write replaces the file at path with m: a temporary file in the same
// directory (named path.tmp-*, which the collector's *.prom pattern skips),
// synced, made readable by all (0644: node_exporter runs as another user),
// renamed over path, and the directory synced. Only a regular file (or none)
// is replaced: a rename would go over a device (/dev/null) as well. On any
// error the old file stays as it was and no temporary file is left. The
// directory must exist: it is node_exporter's, not ours to create. ctx
// bounds the file work.
func Write(ctx context.Context, path string, m Metrics) error {
	if err := m.check(); err != nil {
		return fmt.Errorf("textfile %s: %w (not written)", path, err)
	}
	var buf bytes.Buffer
	if err := render(&buf, m.families()); err != nil {
		return fmt.Errorf("textfile %s: %w (not written)", path, err)
	}
	data := buf.Bytes()
	_, err := bounded.Do(ctx, func() (struct{}, error) { return struct{}{}, write(ctx, path, data) })
	if bounded.IsCtxErr(ctx, err) {
		return fmt.Errorf("writing textfile %s: %w (gave up waiting on the file system)", path, err)
	}
	if errors.Is(err, errNotRegular) {
		return fmt.Errorf("textfile %s %w: nothing was replaced; point metrics_file at a file in node_exporter's textfile directory", path, err)
	}
	if err != nil {
		return fmt.Errorf("writing textfile %s: %w; check that its directory exists and that the user running cachet-updater may write there (the previous file is unchanged)", path, err)
	}
	return nil
}

var errNotRegular = errors.New("is not a regular file")

func write(ctx context.Context, path string, data []byte) (err error) {
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		return fmt.Errorf("%w (%s)", errNotRegular, info.Mode())
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
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
	// CreateTemp makes it 0600; Chmod is not subject to the umask.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// A caller that gave up must not find the file changed afterwards.
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes the rename durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// Previous is what an earlier run wrote that the next one carries on.
type Previous struct {
	LastSuccess   time.Time         // zero: none recorded
	RequestTotals map[string]uint64 // cachet_updater_cachet_requests_total by method; empty: none
}

// ReadPrevious reads the file an earlier run wrote at path. A missing,
// unreadable or foreign file gives what could be read of it, possibly
// nothing: the metrics then start afresh, which is no reason to fail a run
// (and Write will say what is wrong with the place). ctx bounds the read.
func ReadPrevious(ctx context.Context, path string) Previous {
	prev, _ := bounded.Do(ctx, func() (Previous, error) { return readPrevious(path), nil })
	if prev.RequestTotals == nil {
		prev.RequestTotals = map[string]uint64{}
	}
	return prev
}

// ReadLastSuccess returns cachet_updater_last_success_timestamp_seconds
// from the file at path, and false when there is none to read.
func ReadLastSuccess(ctx context.Context, path string) (time.Time, bool) {
	t := ReadPrevious(ctx, path).LastSuccess
	return t, !t.IsZero()
}

func readPrevious(path string) Previous {
	prev := Previous{RequestTotals: map[string]uint64{}}
	// A named pipe at path would block the open and the read.
	if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
		return prev
	}
	f, err := os.Open(path)
	if err != nil {
		return prev
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxRead))
	sc.Buffer(make([]byte, 0, 4<<10), 1<<20)
	for sc.Scan() {
		prev.add(sc.Text())
	}
	return prev
}

// add takes one line of the file into prev when it is one of the two
// samples ReadPrevious looks for.
func (prev *Previous) add(line string) {
	if v, ok := strings.CutPrefix(line, LastSuccessTimestamp+" "); ok {
		if secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && secs > 0 && !math.IsInf(secs, 0) {
			whole, frac := math.Modf(secs)
			prev.LastSuccess = time.Unix(int64(whole), int64(frac*1e9))
		}
		return
	}
	rest, ok := strings.CutPrefix(line, CachetRequestsTotal+`{method="`)
	if !ok {
		return
	}
	method, rest, ok := cutLabelValue(rest)
	if !ok {
		return
	}
	v, ok := strings.CutPrefix(rest, "} ")
	if !ok {
		return
	}
	if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
		prev.RequestTotals[method] = n
	}
}

// cutLabelValue unescapes a label value up to its closing quote and
// returns the rest of the line after the quote.
func cutLabelValue(s string) (value, rest string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), s[i+1:], true
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == 'n' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}
