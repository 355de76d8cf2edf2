package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// The run at 06:35 UTC looks at reports since 04:35 UTC.
var (
	testNow   = time.Date(2026, 11, 25, 6, 35, 0, 0, time.UTC)
	testSince = testNow.Add(-2 * time.Hour)
)

func TestFileCounts(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		format string
		want   map[string]int
	}{
		{"counts", "testdata/counts.json", FormatCounts, map[string]int{"s14": 12, "s15": 0, "s16": 3}},
		{"counts is the default format", "testdata/counts.json", "", map[string]int{"s14": 12, "s15": 0, "s16": 3}},
		// s14 at exactly since counts, s15 one second before doesn't, s16 is
		// in another zone; the header and the comment are skipped.
		{"events", "testdata/events.csv", FormatEvents, map[string]int{"s14": 2, "s16": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFile(t, File{Path: tt.path, Format: tt.format, Now: func() time.Time { return testNow }})
			got, err := src.Counts(context.Background(), testSince)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("Counts = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFileCountsErrors(t *testing.T) {
	tests := []struct {
		path   string
		format string
		want   string // substrings of the message, after the file's name
	}{
		{"testdata/missing.json", FormatCounts, "file does not exist"},
		{"testdata", FormatCounts, "is a directory"},
		{"testdata/invalid-empty.json", FormatCounts, `invalid-empty.json:1: expected a JSON object like {"s14": 12}, found ""`},
		{"testdata/invalid-truncated.json", FormatCounts, "invalid-truncated.json:2: truncated JSON: the file ends before the object is closed"},
		{"testdata/invalid-binary.json", FormatCounts, "looks binary: a NUL byte or invalid UTF-8 at offset 15; expected a text file"},
		{"testdata/invalid-duplicate.json", FormatCounts, `invalid-duplicate.json:3: key "s14" appears more than once`},
		{"testdata/invalid-negative.json", FormatCounts, `key "s14": count -3 is negative`},
		{"testdata/invalid-fraction.json", FormatCounts, `key "s14": count 12.5 is not a whole number`},
		{"testdata/invalid-string.json", FormatCounts, `key "s14": count "12" is not a whole number`},
		{"testdata/invalid-null.json", FormatCounts, `key "s14": count null is not a whole number`},
		{"testdata/invalid-nested.json", FormatCounts, `key "s14": count {"count": 1} is not a whole number`},
		{"testdata/invalid-array.json", FormatCounts, `invalid-array.json:1: expected a JSON object like {"s14": 12}, found "[1, 2]"`},
		{"testdata/invalid-time.csv", FormatEvents, `invalid-time.csv:3: expected key,time with an RFC 3339 time (2006-01-02T15:04:05Z07:00), got "s15,yesterday"`},
		{"testdata/invalid-fields.csv", FormatEvents, `invalid-fields.csv:1: expected key,time with an RFC 3339 time (2006-01-02T15:04:05Z07:00), got "s14,2026-11-25T06:10:00Z,extra"`},
		{"testdata/invalid-nocomma.csv", FormatEvents, `invalid-nocomma.csv:1: expected key,time with an RFC 3339 time (2006-01-02T15:04:05Z07:00), got "s14 2026-11-25T06:10:00Z"`},
		{"testdata/invalid-binary.json", FormatEvents, "looks binary"},
		{"testdata/counts.json", "xml", `has an unknown format "xml": use "counts" or "events"`},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path)+"/"+tt.format, func(t *testing.T) {
			src := newFile(t, File{Path: tt.path, Format: tt.format})
			_, err := src.Counts(context.Background(), testSince)
			checkError(t, err, `reading reports from file "`+tt.path+`": `, tt.want)
		})
	}
}

func TestFileMissingIsErrNotExist(t *testing.T) {
	_, err := newFile(t, File{Path: filepath.Join(t.TempDir(), "nope.json")}).Counts(context.Background(), testSince)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v does not match os.ErrNotExist", err)
	}
}

func TestFileMaxAge(t *testing.T) {
	tests := []struct {
		name    string
		mtime   time.Duration // from testNow
		maxAge  time.Duration
		wantErr string
	}{
		{"no check", -10 * time.Minute, 0, ""},
		{"fresh", -10 * time.Minute, 15 * time.Minute, ""},
		{"exactly the limit", -10 * time.Minute, 10 * time.Minute, ""},
		{"too old", -10 * time.Minute, 5 * time.Minute, "is too old: last written 10m0s ago (at 2026-11-25T06:25:00Z), over the max_age of 5m0s"},
		{"ahead within the clock skew", MaxClockSkew, 15 * time.Minute, ""},
		{"in the future", MaxClockSkew + time.Second, 15 * time.Minute,
			"was modified in the future (at 2026-11-25T06:40:01Z, 5m1s ahead of this machine's clock): check the clocks of this machine and of the one that writes it"},
		{"far in the future, no check", 24 * time.Hour, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "reports.json", `{"s14": 1}`)
			mtime := testNow.Add(tt.mtime)
			if err := os.Chtimes(path, mtime, mtime); err != nil {
				t.Fatal(err)
			}
			src := newFile(t, File{Path: path, MaxAge: tt.maxAge, Now: func() time.Time { return testNow }})
			got, err := src.Counts(context.Background(), testSince)
			if tt.wantErr == "" {
				if err != nil || got["s14"] != 1 {
					t.Fatalf("Counts = %v, %v; want s14=1", got, err)
				}
				return
			}
			checkError(t, err, `reading reports from file "`+path+`": `, tt.wantErr)
		})
	}
}

// A file larger than 32 MiB is an error, not a cut read (and not read).
func TestFileMaxSize(t *testing.T) {
	path := writeFile(t, "reports.csv", "")
	if err := os.Truncate(path, maxSize+1); err != nil {
		t.Fatal(err)
	}
	_, err := newFile(t, File{Path: path, Format: FormatEvents}).Counts(context.Background(), testSince)
	checkError(t, err, "", "is larger than the limit of 32 MiB: check the path")
}

func TestParseCounts(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]int
		wantErr string
	}{
		{`{}`, map[string]int{}, ""},
		{`{"a": 12.0, "b": 1.2e1, "c": 0, "d": -0}`, map[string]int{"a": 12, "b": 12, "c": 0, "d": 0}, ""},
		{`{"a": 1e400}`, nil, "count 1e400 is too large"},
		{`{"a": 9223372036854775808}`, nil, "is too large"},
		{`{"a": -0.5}`, nil, "is not a whole number"},
		{`{"a": true}`, nil, "count true is not a whole number"},
		{`{"a": [1]}`, nil, "count [1] is not a whole number"},
		{`{"a": 1} {"b": 2}`, nil, `x:1: "{\"b\": 2}" after the JSON object: expected the end of the file`},
		{`{"a": 1}}`, nil, `"}" after the JSON object`},
		{`{"a" 1}`, nil, "x:1: invalid JSON"},
		{`{"a": 1,`, nil, "truncated JSON"},
		{`{"a": "1`, nil, "truncated JSON"},
		{`12`, nil, `found "12"`},
	}
	for _, tt := range tests {
		got, err := parseCounts("x", []byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseCounts(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !maps.Equal(got.counts, tt.want) {
			t.Errorf("parseCounts(%q) = %v, %v; want %v", tt.in, got.counts, err, tt.want)
		}
	}
}

// A byte-order mark is skipped; invalid UTF-8 is not text.
func TestFileText(t *testing.T) {
	got, err := newFile(t, File{Path: writeFile(t, "bom.json", "\xEF\xBB\xBF{\"a\": 1}")}).Counts(context.Background(), testSince)
	if err != nil || got["a"] != 1 {
		t.Errorf("with a BOM: %v, %v", got, err)
	}
	_, err = newFile(t, File{Path: writeFile(t, "utf8.json", "{\"a\": 1, \"\xff\": 2}")}).Counts(context.Background(), testSince)
	checkError(t, err, "", "looks binary: a NUL byte or invalid UTF-8 at offset 10")
}

func TestParseEventsWindowEdge(t *testing.T) {
	tests := []struct {
		line string
		want int
	}{
		{"s14,2026-11-25T04:35:00Z", 1},            // exactly since
		{"s14,2026-11-25T04:34:59Z", 0},            // one second before
		{"s14,2026-11-25T04:34:59.999999999Z", 0},  // a nanosecond before
		{"s14,2026-11-25T04:35:00.000000001Z", 1},  // fractional seconds are RFC 3339 too
		{"s14,2026-11-25T18:35:00+14:00", 1},       // the same instant, far east
		{"s14,2026-11-24T18:34:59-10:00", 0},       // a second before, far west
		{"s14,2026-11-25T06:35:00Z\r", 1},          // CRLF line ends
		{"KEY,TIME\ns14,2026-11-25T06:35:00Z", 1},  // header, any case
		{"s14,2026-11-25T06:35:00Z\nkey,time", -1}, // a header after data is a bad line
	}
	for _, tt := range tests {
		got, err := parseEvents("x", []byte(tt.line), testSince, testNow.Add(MaxClockSkew))
		if tt.want < 0 {
			if err == nil {
				t.Errorf("parseEvents(%q) = %v, want an error", tt.line, got)
			}
			continue
		}
		if err != nil || got.counts["s14"] != tt.want {
			t.Errorf("parseEvents(%q) = %v, %v; want s14=%d", tt.line, got, err, tt.want)
		}
	}
}

func TestParseEventsFuture(t *testing.T) {
	until := testNow.Add(MaxClockSkew)
	data := strings.Join([]string{
		"s14,2026-11-25T06:35:00Z",           // now
		"s14,2026-11-25T06:40:00Z",           // exactly now + the skew allowance
		"s15,2026-11-25T06:40:00.000000001Z", // just past it
		"s16,2099-01-01T00:00:00Z",
		"s16,2026-11-25T15:35:00Z", // 15:35 local time at UTC+9, stamped Z
		"s16,2026-11-25T15:35:00+09:00",
	}, "\n")
	got, err := parseEvents("x", []byte(data), testSince, until)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"s14": 2, "s16": 1}; !maps.Equal(got.counts, want) {
		t.Errorf("counts = %v, want %v", got.counts, want)
	}
	if got.future != 3 || got.futureKey != "s15" || !got.futureAt.Equal(until.Add(time.Nanosecond)) {
		t.Errorf("future = %d, %s at %s; want 3, s15 at %s", got.future, got.futureKey, got.futureAt, until.Add(time.Nanosecond))
	}
}

// 50 reports dated 2099 must not make s14 a major outage on every run, and
// the operator must learn why they were left out.
func TestFileFutureEventsWarn(t *testing.T) {
	body := "s15,2026-11-25T06:00:00Z\n" + strings.Repeat("s14,2099-01-01T00:00:00Z\n", 50)
	var log bytes.Buffer
	src := newFile(t, File{
		Path: writeFile(t, "reports.csv", body), Format: FormatEvents,
		Now: func() time.Time { return testNow }, Log: zerolog.New(&log),
	})
	got, err := src.Counts(context.Background(), testSince)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"s15": 1}; !maps.Equal(got, want) {
		t.Errorf("Counts = %v, want %v", got, want)
	}
	var entry struct {
		Level, Message, Source, Key, At string
		Ignored                         int
	}
	if err := json.Unmarshal(log.Bytes(), &entry); err != nil {
		t.Fatalf("want one JSON log line, got %q: %v", log.String(), err)
	}
	if entry.Level != "warn" || entry.Ignored != 50 || entry.Key != "s14" || entry.At != "2099-01-01T00:00:00Z" || entry.Source != src.String() ||
		!strings.Contains(entry.Message, "ignored reports dated in the future (more than 5m0s ahead of this machine's clock)") ||
		!strings.Contains(entry.Message, "check the clock and time zone of the writer") {
		t.Errorf("log line %s", log.String())
	}

	// Nothing in the future: nothing to say.
	log.Reset()
	src.Path = writeFile(t, "ok.csv", "s15,2026-11-25T06:00:00Z\n")
	if _, err := src.Counts(context.Background(), testSince); err != nil || log.Len() != 0 {
		t.Errorf("Counts: %v; log %q, want none", err, log.String())
	}
}

func TestFileString(t *testing.T) {
	if got, want := newFile(t, File{Path: "/etc/x/reports.json"}).String(), `file "/etc/x/reports.json"`; got != want {
		t.Errorf("String = %s, want %s", got, want)
	}
}

// newFile returns a file source with a timeout long enough for any test
// that does not set its own.
func newFile(t *testing.T, f File) *File {
	t.Helper()
	if f.Timeout == 0 {
		f.Timeout = time.Minute
	}
	return &f
}

// A zero timeout (the config refuses it) ends the read at once and says so.
func TestFileZeroTimeout(t *testing.T) {
	_, err := (&File{Path: "testdata/counts.json"}).Counts(context.Background(), testSince)
	checkError(t, err, `reading reports from file "testdata/counts.json": `, "did not answer within the timeout of 0s")
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkError checks that err starts with prefix and contains want.
func checkError(t *testing.T, err error, prefix, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, want) {
		t.Errorf("error\n  %s\nwant prefix\n  %s\nand\n  %s", msg, prefix, want)
	}
}
