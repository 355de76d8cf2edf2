package probe

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bodyServer serves fixed bodies by path, some gzip-encoded, and records
// the requests.
type bodyServer struct {
	*httptest.Server
	recorder
}

type body struct {
	encoding string // Content-Encoding; "" for none
	code     int    // 0 means 200
	data     []byte
}

func newBodyServer(t *testing.T, bodies map[string]body) *bodyServer {
	t.Helper()
	s := &bodyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if b.encoding != "" {
			w.Header().Set("Content-Encoding", b.encoding)
		}
		w.Header().Set("Content-Type", "text/plain")
		if b.code != 0 {
			w.WriteHeader(b.code)
		}
		w.Write(b.data)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestProbeExpectBody(t *testing.T) {
	healthy := []byte(`{"status": "ok", "streams": 12}`)
	errorPage := []byte("<html><h1>We'll be back soon</h1> maintenance</html>")
	marker := []byte(`"status": "ok"`)
	// The marker lies just past maxBody, or ends exactly at it.
	afterCap := append(bytes.Repeat([]byte("a"), maxBody), marker...)
	atCap := append(bytes.Repeat([]byte("a"), maxBody-len(marker)), marker...)
	// Random bytes do not compress: their gzip stream is longer than
	// maxBody on the wire, so the probe cuts it off in the middle.
	random := make([]byte, 2*maxBody)
	rand.Read(random)
	incompressible := append(append([]byte{}, marker...), random...)
	good := gzipped(t, healthy)
	bodies := map[string]body{
		"/health":         {data: healthy},
		"/maintenance":    {data: errorPage},
		"/503":            {code: 503, data: healthy},
		"/long":           {data: afterCap},
		"/at-cap":         {data: atCap},
		"/gzip":           {encoding: "gzip", data: good},
		"/gzip-upper":     {encoding: " GZIP ", data: good},
		"/gzip-long":      {encoding: "gzip", data: gzipped(t, afterCap)},
		"/gzip-at-cap":    {encoding: "gzip", data: gzipped(t, atCap)},
		"/gzip-cut":       {encoding: "gzip", data: gzipped(t, incompressible)},
		"/gzip-broken":    {encoding: "gzip", data: []byte("this is not gzip at all")},
		"/gzip-truncated": {encoding: "gzip", data: good[:len(good)/2]},
		"/gzip-corrupt":   {encoding: "gzip", data: corruptCRC(good)},
		"/gzip-empty":     {code: 204, encoding: "gzip"},
		"/brotli":         {encoding: "br", data: healthy},
	}
	srv := newBodyServer(t, bodies)
	p := New("")
	healthyRe := regexp.MustCompile(`"status":\s*"ok"`)

	tests := []struct {
		path         string
		method       string
		expect       *regexp.Regexp // nil means healthyRe
		wantCode     int
		wantMismatch bool
		wantBodyErr  string // substring of BodyErr; "" means BodyErr nil
		wantBytes    int64  // checked when > 0
	}{
		{path: "/health", wantCode: 200, wantBytes: int64(len(healthy))},
		{path: "/maintenance", wantCode: 200, wantMismatch: true},
		{path: "/503", wantCode: 503},
		{path: "/long", wantCode: 200, wantMismatch: true, wantBytes: maxBody},
		{path: "/at-cap", wantCode: 200, wantBytes: maxBody},
		{path: "/gzip", wantCode: 200, wantBytes: int64(len(good))},
		{path: "/gzip-upper", wantCode: 200},
		{path: "/gzip-long", wantCode: 200, wantMismatch: true},
		{path: "/gzip-at-cap", wantCode: 200},
		{path: "/gzip-cut", wantCode: 200, wantBytes: maxBody},
		{path: "/gzip-broken", wantCode: 200, wantMismatch: true, wantBodyErr: "broken gzip body"},
		{path: "/gzip-truncated", wantCode: 200, wantMismatch: true, wantBodyErr: "broken gzip body"},
		{path: "/gzip-corrupt", wantCode: 200, wantMismatch: true, wantBodyErr: "broken gzip body"},
		{path: "/gzip-empty", expect: regexp.MustCompile(`^$`), wantCode: 204},
		{path: "/brotli", wantCode: 200, wantMismatch: true, wantBodyErr: `Content-Encoding br,`},
		{path: "/health", method: "HEAD", wantCode: 200, wantMismatch: true, wantBodyErr: "HEAD"},
	}
	for _, tt := range tests {
		name := strings.TrimSpace(tt.method + " " + tt.path)
		if tt.expect != nil {
			name += " " + tt.expect.String()
		}
		t.Run(name, func(t *testing.T) {
			re := tt.expect
			if re == nil {
				re = healthyRe
			}
			r := p.Probe(context.Background(), target{URL: srv.URL + tt.path, Method: tt.method, ExpectBody: re, Timeout: 5 * time.Second}.server())
			expect(t, r, tt.wantCode, "")
			if r.BodyMismatch != tt.wantMismatch {
				t.Errorf("BodyMismatch = %v (BodyErr %v), want %v", r.BodyMismatch, r.BodyErr, tt.wantMismatch)
			}
			if tt.wantBodyErr == "" && r.BodyErr != nil || !strings.Contains(fmt.Sprint(r.BodyErr), tt.wantBodyErr) {
				t.Errorf("BodyErr = %v, want %q", r.BodyErr, tt.wantBodyErr)
			}
			if r.BodyPattern != re.String() {
				t.Errorf("BodyPattern = %q, want %q", r.BodyPattern, re.String())
			}
			if tt.wantBytes > 0 && r.Bytes != tt.wantBytes {
				t.Errorf("Bytes = %d, want %d", r.Bytes, tt.wantBytes)
			}
			if note := r.BodyNote(); (note != "") != tt.wantMismatch || tt.wantMismatch && !strings.HasPrefix(note, "body does not match") {
				t.Errorf("BodyNote = %q", note)
			}
		})
	}
}

// corruptCRC flips a bit of the gzip trailer's checksum: the stream ends
// where it should, but the data does not add up.
func corruptCRC(gz []byte) []byte {
	out := bytes.Clone(gz)
	out[len(out)-8] ^= 1
	return out
}

// TestProbeAcceptEncoding asserts that only a GET probe that checks the body
// asks for gzip: every other probe keeps to User-Agent and Accept
// (TestProbeHeaders), so net/http's transparent gzip never kicks in.
func TestProbeAcceptEncoding(t *testing.T) {
	srv := newBodyServer(t, map[string]body{"/": {data: []byte("ok")}})
	p := New("")
	re := regexp.MustCompile("ok")
	for _, tt := range []struct {
		target target
		want   string
	}{
		{target{URL: srv.URL + "/"}, ""},
		{target{URL: srv.URL + "/", Method: "HEAD"}, ""},
		{target{URL: srv.URL + "/", ExpectBody: re}, "gzip"},
		{target{URL: srv.URL + "/", Method: "HEAD", ExpectBody: re}, ""},
	} {
		p.Probe(context.Background(), tt.target.server())
		got := srv.take()
		if len(got) != 1 || got[0].encoding != tt.want {
			t.Errorf("%s with ExpectBody %v: server saw Accept-Encoding %q, want [%q]", tt.target.Method, tt.target.ExpectBody, got, tt.want)
		}
	}
}

// TestProbeExpectBodyConnectionFails asserts that a connection that breaks
// while the body is read is a failure of its class, also inside a gzip
// stream, not a body that does not match.
func TestProbeExpectBodyConnectionFails(t *testing.T) {
	good := gzipped(t, []byte(`{"status": "ok"}`))
	re := regexp.MustCompile("ok")
	p := New("")
	for name, answer := range map[string]string{
		"plain":     "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nnot ",
		"gzip":      fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(good), good[:len(good)/2]),
		"gzip head": fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(good), good[:4]),
	} {
		t.Run(name, func(t *testing.T) {
			r := p.Probe(context.Background(), target{URL: newRawServer(t, answer) + "/", ExpectBody: re, Timeout: 5 * time.Second}.server())
			expect(t, r, 0, ClassReset)
			if r.BodyMismatch || r.BodyErr != nil {
				t.Errorf("mismatch %v (%v): a broken connection is no body check", r.BodyMismatch, r.BodyErr)
			}
		})
	}
}

// TestProbeExpectBodyTimeout asserts that the probe's deadline covers the
// body check.
func TestProbeExpectBodyTimeout(t *testing.T) {
	srv := newTestServer(t)
	r := New("").Probe(context.Background(), target{URL: srv.URL + "/hangbody", ExpectBody: regexp.MustCompile("never"), Timeout: 200 * time.Millisecond}.server())
	if r.Class != ClassTimeout || r.BodyMismatch {
		t.Fatalf("class %q (err %v), mismatch %v; want class %q", r.Class, r.Err, r.BodyMismatch, ClassTimeout)
	}
}

// BenchmarkExpectBody measures the body check of a 64 KiB body whose match
// is at its end, plain and gzipped.
func BenchmarkExpectBody(b *testing.B) {
	page := append(bytes.Repeat([]byte("<p>lorem ipsum</p>\n"), maxBody/20), "status: ok"...)
	for _, enc := range []string{"", "gzip"} {
		data := page
		if enc == "gzip" {
			data = gzipped(b, page)
		}
		b.Run("encoding="+enc, func(b *testing.B) {
			re := regexp.MustCompile(`status: (ok|fine)`)
			for b.Loop() {
				resp := &http.Response{Body: io.NopCloser(bytes.NewReader(data)), Header: http.Header{}, Request: &http.Request{Method: "GET"}}
				if enc != "" {
					resp.Header.Set("Content-Encoding", enc)
				}
				if _, err, ok, why := readBody(resp, re); err != nil || !ok || why != nil {
					b.Fatal("no match", why)
				}
			}
		})
	}
}
