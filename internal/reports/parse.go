package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// parseCounts parses the counts format: one JSON object whose values are
// whole, non-negative numbers. name prefixes positions in error messages.
//
// The object is read token by token because encoding/json silently keeps the
// last of two duplicate keys, and a duplicate here is a bug in the writer that
// should be seen, not half-hidden.
func parseCounts(name string, data []byte) (map[string]int, error) {
	if err := checkText(data); err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte(utf8BOM))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New(`is empty: expected a JSON object like {"s14": 12}`)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	at := func() string { return fmt.Sprintf("%s:%d", name, lineAt(data, dec.InputOffset())) }
	fail := func(err error) error { return jsonError(name, data, err) }

	tok, err := dec.Token()
	if err != nil {
		return nil, fail(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf(`%s: expected a JSON object like {"s14": 12}, got %s`, at(), describeToken(tok))
	}
	counts := make(map[string]int)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fail(err)
		}
		key, ok := tok.(string) // the decoder only yields strings here
		if !ok {
			return nil, fmt.Errorf("%s: expected a key, got %s", at(), describeToken(tok))
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, fail(err)
		}
		n, err := countValue(tok)
		if err != nil {
			return nil, fmt.Errorf("%s: key %q: %w", at(), key, err)
		}
		if _, dup := counts[key]; dup {
			return nil, fmt.Errorf("%s: key %q appears more than once", at(), key)
		}
		counts[key] = n
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fail(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fail(err)
		}
		return nil, fmt.Errorf("%s: unexpected %s after the JSON object", at(), describeToken(tok))
	}
	return counts, nil
}

// countValue accepts a JSON number that is a whole, non-negative number
// (12 and 12.0 and 1.2e1 alike).
func countValue(tok any) (int, error) {
	num, ok := tok.(json.Number)
	if !ok {
		return 0, fmt.Errorf("value is %s, expected a whole number", describeToken(tok))
	}
	n, err := wholeNumber(string(num))
	if err != nil {
		return 0, fmt.Errorf("count %s %w", num, err)
	}
	return n, nil
}

// Reasons a count is rejected; messages read after "count 12.5 ".
var (
	errNotWhole = errors.New("is not a whole number")
	errNegative = errors.New("is negative")
	errTooLarge = errors.New("is too large")
)

// wholeNumber parses s as a non-negative whole number that fits an int.
func wholeNumber(s string) (int, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, errNegative
		}
		if n > math.MaxInt {
			return 0, errTooLarge
		}
		return int(n), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return 0, errNotWhole
	case math.IsNaN(f) || f != math.Trunc(f):
		return 0, errNotWhole
	case f < 0:
		return 0, errNegative
	case f >= math.MaxInt64:
		return 0, errTooLarge
	}
	return int(f), nil
}

func describeToken(tok any) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", v.String())
	case string:
		return fmt.Sprintf("a string (%q)", v)
	case json.Number:
		return fmt.Sprintf("a number (%s)", v)
	case bool:
		return fmt.Sprintf("%t", v)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// jsonError turns a decoder error into one that names the position and, for
// a file that stops early, says so.
func jsonError(name string, data []byte, err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s:%d: truncated JSON: the file ends before the object is closed", name, lineAt(data, int64(len(data))))
	case errors.As(err, &syn):
		return fmt.Errorf("%s:%d: invalid JSON: %s", name, lineAt(data, syn.Offset), syn.Error())
	}
	return fmt.Errorf("%s: invalid JSON: %w", name, err)
}

// lineAt returns the 1-based line of byte offset off.
func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// futureReports are the event lines left out for being dated after until:
// how many, and the first of them as an example for the operator.
type futureReports struct {
	n   int
	key string
	at  time.Time
}

// parseEvents parses the events format and counts, per key, the lines whose
// time is at or after since and not after until. A line after until is
// dated in the future: its writer's clock or time zone is wrong, and
// counting it would keep the report in every window until that time comes.
func parseEvents(name string, data []byte, since, until time.Time) (map[string]int, futureReports, error) {
	var future futureReports
	if err := checkText(data); err != nil {
		return nil, future, err
	}
	data = bytes.TrimPrefix(data, []byte(utf8BOM))
	counts := make(map[string]int)
	seenData := false
	for lineNo := 1; len(data) > 0; lineNo++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, ts, err := splitEvent(line)
		if err != nil {
			return nil, future, fmt.Errorf("%s:%d: %w", name, lineNo, err)
		}
		first := !seenData
		seenData = true
		if first && strings.EqualFold(key, "key") && strings.EqualFold(ts, "time") {
			continue
		}
		t, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			return nil, future, fmt.Errorf("%s:%d: time %q is not RFC 3339 (%s)", name, lineNo, ts, time.RFC3339)
		}
		switch {
		case t.After(until):
			if future.n == 0 {
				future.key, future.at = key, t
			}
			future.n++
		case !t.Before(since):
			counts[key]++
		}
	}
	return counts, future, nil
}

func splitEvent(line []byte) (key, ts string, err error) {
	k, t, ok := bytes.Cut(line, []byte(","))
	if !ok {
		return "", "", fmt.Errorf("expected key,time but found no comma in %q", line)
	}
	if bytes.IndexByte(t, ',') >= 0 {
		return "", "", fmt.Errorf("expected 2 fields (key,time), got %d in %q", bytes.Count(line, []byte(","))+1, line)
	}
	key = string(bytes.TrimSpace(k))
	ts = string(bytes.TrimSpace(t))
	if key == "" {
		return "", "", fmt.Errorf("empty key in %q", line)
	}
	return key, ts, nil
}

// invalidUTF8 returns the offset of the first invalid UTF-8 sequence, or -1.
func invalidUTF8(data []byte) int {
	if utf8.Valid(data) {
		return -1
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}
