package probe

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/proxer/cachet-updater/internal/foreign"
)

// errHEADBody is the BodyErr of a HEAD probe with ExpectBody: a HEAD answer
// has no body, so nothing can match. The config refuses the combination;
// the prober only must not trust such a server.
var errHEADBody = errors.New("a HEAD answer has no body to match: probe with GET")

// wire is the body as it comes over the connection, at most MaxBody bytes.
// It counts what was read and keeps the connection's error apart from a
// decoder's, so that a reset is still a reset and a broken gzip stream is
// the body's fault.
type wire struct {
	r   io.Reader
	n   int64
	err error // the first read error other than io.EOF
}

func newWire(body io.Reader) *wire { return &wire{r: io.LimitReader(body, MaxBody)} }

func (w *wire) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.n += int64(n)
	if err != nil && err != io.EOF && w.err == nil {
		w.err = err
	}
	return n, err
}

// capped reports whether the read stopped at MaxBody rather than at the
// body's end.
func (w *wire) capped() bool { return w.n >= MaxBody }

// readBody reads at most MaxBody of resp's body and, when re is set, matches
// it. It returns a connection error (the probe failed) or the body check's
// outcome: matched, or not with a reason when it could not be checked.
func readBody(resp *http.Response, re *regexp.Regexp) (w *wire, matched bool, why error) {
	w = newWire(resp.Body)
	if re == nil {
		_, _ = io.Copy(io.Discard, w)
		return w, true, nil
	}
	if resp.Request.Method == http.MethodHead {
		return w, false, errHEADBody
	}
	data, why := decodeBody(w, resp.Header.Get("Content-Encoding"))
	if w.err != nil || why != nil {
		return w, false, why
	}
	return w, re.Match(data), nil
}

// decodeBody returns at most MaxBody bytes of the body, gunzipped when the
// server compressed it. The memory it takes grows with what the server sent.
func decodeBody(w *wire, encoding string) ([]byte, error) {
	switch enc := strings.ToLower(strings.TrimSpace(encoding)); enc {
	case "", "identity":
		data, _ := io.ReadAll(w) // w keeps the connection's error
		return data, nil
	case "gzip", "x-gzip":
		return gunzip(w)
	default:
		_, _ = io.Copy(io.Discard, w)
		return nil, fmt.Errorf("body sent with Content-Encoding %s, which cachet-updater cannot decode (it asks for gzip only)", foreign.Text(enc))
	}
}

// gunzip decompresses at most MaxBody bytes. A gzip stream cut off by the
// MaxBody cap on the wire is not broken: what was decompressed is matched.
func gunzip(w *wire) ([]byte, error) {
	zr, err := gzip.NewReader(w)
	switch {
	case w.err != nil:
		return nil, nil
	case err == io.EOF && w.n == 0:
		return nil, nil // an empty body (204, 304) labelled gzip
	case err != nil:
		return nil, fmt.Errorf("broken gzip body: %w", err)
	}
	defer zr.Close()
	data, err := io.ReadAll(io.LimitReader(zr, MaxBody))
	switch {
	case w.err != nil:
		return nil, nil
	case err != nil && !(w.capped() && errors.Is(err, io.ErrUnexpectedEOF)):
		return nil, fmt.Errorf("broken gzip body: %w", err)
	}
	return data, nil
}
