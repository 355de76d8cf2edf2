package cachet_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
)

const token = "s3cret-t0ken-value"

var modes = []cachettest.Mode{cachettest.Cachet24, cachettest.Cachet23, cachettest.Cachet3}

// fake starts the emulator in mode m with components 1..n, "server-NN",
// operational, enabled but every tenth, in group id%3.
func fake(t testing.TB, m cachettest.Mode, n int) *cachettest.Server {
	t.Helper()
	srv := cachettest.New(token, cachettest.WithMode(m))
	t.Cleanup(srv.Close)
	for i := 1; i <= n; i++ {
		srv.Add(cachettest.Component{ID: i, Name: fmt.Sprintf("server-%02d", i), Status: 1, Enabled: i%10 != 0, GroupID: i % 3})
	}
	return srv
}

// client is a client of base with 3 retries and a 1ms first backoff;
// mods may change the options.
func client(t testing.TB, base string, mods ...func(*cachet.Options)) *cachet.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	o := cachet.Options{BaseURL: base, Token: token, HTTPClient: &http.Client{Transport: tr, Timeout: 5 * time.Second},
		UserAgent: "cachet-updater-test", Retries: 3, MinBackoff: time.Millisecond}
	for _, mod := range mods {
		mod(&o)
	}
	c, err := cachet.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func attempts(c *cachet.Client) int64 {
	r, w := c.Requests()
	return r + w
}

// reply is one answer of a stub: code (0: 200; -1: the connection is
// dropped; -2: no answer until the client gives up), body and headers
// (Content-Type application/json unless given).
type reply struct {
	code   int
	body   string
	header []string // name, value, ...
}

// stub is a loopback server answering its replies in turn (the last one
// again once they run out), on host (127.0.0.2 is another origin; where it
// cannot be bound, another port of 127.0.0.1 still is).
type stub struct {
	*httptest.Server
	mu       sync.Mutex
	replies  []reply
	requests []*http.Request
	sawToken atomic.Bool
}

func newStub(t testing.TB, host string, replies ...reply) *stub {
	s := &stub{replies: replies}
	return s.start(t, host, http.HandlerFunc(s.answer))
}

// handlerStub is a stub that answers with h.
func handlerStub(t testing.TB, host string, h http.HandlerFunc) *stub {
	return (&stub{}).start(t, host, h)
}

func (s *stub) start(t testing.TB, host string, h http.Handler) *stub {
	t.Helper()
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // else the server does not notice a client that left
		s.mu.Lock()
		s.requests = append(s.requests, r)
		s.mu.Unlock()
		if r.Header.Get("X-Cachet-Token")+r.Header.Get("Authorization") != "" {
			s.sawToken.Store(true)
		}
		h.ServeHTTP(w, r)
	}))
	if ln, err := net.Listen("tcp", host+":0"); err == nil {
		_ = s.Listener.Close()
		s.Listener = ln
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *stub) answer(w http.ResponseWriter, r *http.Request) {
	rp := s.replies[min(s.got(), len(s.replies))-1]
	switch rp.code {
	case -1:
		panic(http.ErrAbortHandler)
	case -2:
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	for i := 0; i+1 < len(rp.header); i += 2 {
		w.Header().Set(rp.header[i], rp.header[i+1])
	}
	w.WriteHeader(max(rp.code, 200))
	_, _ = fmt.Fprint(w, rp.body)
}

// got returns how many requests the stub received.
func (s *stub) got() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// writeLog is the emulator's writes as "METHOD path body" below the API.
func writeLog(srv *cachettest.Server) string {
	var out []string
	for _, r := range srv.Writes() {
		out = append(out, fmt.Sprintf("%s %s %s", r.Method, strings.TrimPrefix(r.Path, srv.APIPath()), r.Body))
	}
	return strings.Join(out, "\n")
}
