package probe

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/proxer/cachet-updater/internal/config"
)

const testUA = "cachet-updater/test"

// newTestServer serves every outcome the table tests need, on loopback.
func newTestServer(t testing.TB) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/found", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusMovedPermanently) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/chain/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n <= 0 {
			io.WriteString(w, "end of chain")
			return
		}
		http.Redirect(w, r, "/chain/"+strconv.Itoa(n-1), http.StatusFound)
	})
	mux.HandleFunc("/code/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/hangbody", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 8<<10)
		for {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		io.WriteString(w, "slow but fine")
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// newTLSServer is a self-signed HTTPS server that answers 200.
func newTLSServer(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the rejected handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// newTrickleServer answers every connection with response headers sent one
// byte per second, which no per-read timeout would ever catch.
func newTrickleServer(t testing.TB) string {
	return newTCPServer(t, func(conn net.Conn, done <-chan struct{}) {
		head := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; i < len(head); i++ {
			if _, err := conn.Write([]byte{head[i]}); err != nil {
				return
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}) + "/"
}

// newTCPServer is a loopback server that reads each request's head and
// then hands the connection to answer (done closes when the test ends). It
// returns the base URL.
func newTCPServer(t testing.TB, answer func(conn net.Conn, done <-chan struct{})) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(30 * time.Second)) // a test that goes wrong fails, but does not hang
				// Read the request first: bytes that come before it would be
				// an "unsolicited response", not a slow one.
				br := bufio.NewReader(conn)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				answer(conn, done)
			})
		}
	})
	return "http://" + ln.Addr().String()
}

// freePort returns an address nothing listens on.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProbe(t *testing.T) {
	srv := newTestServer(t)
	tlsSrv := newTLSServer(t)
	trickle := newTrickleServer(t)
	refused := "http://" + freePort(t) + "/"
	p := New(testUA)

	tests := []struct {
		name      string
		target    target
		wantCode  int
		wantClass Class
		wantFinal string // suffix of FinalURL, checked when set
		wantErr   string // substring of Err, checked when set
		check     func(t *testing.T, r Result)
	}{
		{name: "200", target: target{URL: srv.URL + "/ok"}, wantCode: 200, wantFinal: "/ok",
			check: func(t *testing.T, r Result) {
				if r.Bytes != int64(len("hello")) {
					t.Errorf("Bytes = %d, want 5", r.Bytes)
				}
			}},
		{name: "204 with HEAD", target: target{URL: srv.URL + "/nocontent", Method: "HEAD"}, wantCode: 204},
		{name: "lower-case method", target: target{URL: srv.URL + "/ok", Method: "head"}, wantCode: 200,
			check: func(t *testing.T, r Result) {
				if r.Bytes != 0 {
					t.Errorf("HEAD read %d body bytes", r.Bytes)
				}
			}},
		{name: "redirect followed", target: target{URL: srv.URL + "/found", FollowRedirects: true}, wantCode: 200, wantFinal: "/ok"},
		{name: "302 not followed", target: target{URL: srv.URL + "/found"}, wantCode: 302, wantFinal: "/found"},
		{name: "301 not followed", target: target{URL: srv.URL + "/moved"}, wantCode: 301, wantFinal: "/moved"},
		{name: "10 redirects followed", target: target{URL: srv.URL + "/chain/10", FollowRedirects: true}, wantCode: 200, wantFinal: "/chain/0"},
		{name: "11 redirects", target: target{URL: srv.URL + "/chain/11", FollowRedirects: true},
			wantClass: ClassRedirects, wantErr: "stopped after 10 redirects"},
		{name: "redirect loop", target: target{URL: srv.URL + "/loop", FollowRedirects: true}, wantClass: ClassRedirects},
		{name: "404", target: target{URL: srv.URL + "/code/404"}, wantCode: 404},
		{name: "503", target: target{URL: srv.URL + "/code/503"}, wantCode: 503},
		{name: "never answers", target: target{URL: srv.URL + "/hang", Timeout: 200 * time.Millisecond},
			wantClass: ClassTimeout, wantErr: "timeout after 200ms waiting for response headers",
			check: func(t *testing.T, r Result) {
				if r.Latency < 200*time.Millisecond {
					t.Errorf("Latency = %v, before the deadline", r.Latency)
				}
			}},
		{name: "body never ends", target: target{URL: srv.URL + "/hangbody", Timeout: 200 * time.Millisecond},
			wantClass: ClassTimeout, wantErr: "reading the body"},
		{name: "refused", target: target{URL: refused}, wantClass: ClassRefused, wantErr: "connection refused"},
		{name: "closed without answer", target: target{URL: srv.URL + "/hijack"}, wantClass: ClassReset},
		{name: "endless body", target: target{URL: srv.URL + "/endless", Timeout: 5 * time.Second}, wantCode: 200,
			check: func(t *testing.T, r Result) {
				if r.Bytes != maxBody {
					t.Errorf("Bytes = %d, want maxBody %d", r.Bytes, maxBody)
				}
			}},
		{name: "slow answer inside the deadline", target: target{URL: srv.URL + "/slow", Timeout: 2 * time.Second}, wantCode: 200,
			check: func(t *testing.T, r Result) {
				if r.Latency < 50*time.Millisecond {
					t.Errorf("Latency = %v, want >= 50ms", r.Latency)
				}
			}},
		{name: "headers trickled", target: target{URL: trickle, Timeout: 300 * time.Millisecond},
			wantClass: ClassTimeout, wantErr: "timeout after 300ms",
			check: func(t *testing.T, r Result) {
				if r.Latency > 5*time.Second {
					t.Errorf("Latency = %v, the deadline did not cover the headers", r.Latency)
				}
			}},
		{name: "self-signed, verify on", target: target{URL: tlsSrv.URL}, wantClass: ClassTLS, wantErr: "certificate"},
		{name: "https to a plain-HTTP port", target: target{URL: strings.Replace(srv.URL, "http://", "https://", 1) + "/ok"}, wantClass: ClassTLS},
		{name: "self-signed, verify off", target: target{URL: tlsSrv.URL, TLSSkipVerify: true}, wantCode: 200},
		{name: "bad URL", target: target{URL: "http://[::1"}, wantClass: ClassOther},
		{name: "bad scheme", target: target{URL: "ftp://127.0.0.1/"}, wantClass: ClassOther, wantErr: "scheme"},
		{name: "bad method", target: target{URL: srv.URL + "/ok", Method: "POST"}, wantClass: ClassOther, wantErr: "method"},
		{name: "password redacted", target: target{URL: strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1) + "/ok"}, wantCode: 200,
			check: func(t *testing.T, r Result) {
				if strings.Contains(r.FinalURL, "hunter2") {
					t.Errorf("FinalURL %q shows the password", r.FinalURL)
				}
			}},
		{name: "password not in error", target: target{URL: "http://user:hunter2@" + strings.TrimPrefix(refused, "http://")}, wantClass: ClassRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := p.Probe(context.Background(), tt.target.server())
			expect(t, r, tt.wantCode, tt.wantClass)
			if tt.wantErr != "" && !strings.Contains(fmt.Sprint(r.Err), tt.wantErr) {
				t.Errorf("Err = %q, want it to contain %q", r.Err, tt.wantErr)
			}
			if tt.wantFinal != "" && !strings.HasSuffix(r.FinalURL, tt.wantFinal) {
				t.Errorf("FinalURL = %q, want suffix %q", r.FinalURL, tt.wantFinal)
			}
			if r.Latency <= 0 {
				t.Errorf("Latency = %v", r.Latency)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

// expect fails unless r has code and class, and checks the Result
// invariants: Err iff Class, and a short Err without the URL or its password.
func expect(t *testing.T, r Result, code int, class Class) {
	t.Helper()
	if r.Code != code || r.Class != class {
		t.Fatalf("got code %d class %q (err %v), want code %d class %q", r.Code, r.Class, r.Err, code, class)
	}
	if (r.Err == nil) != (r.Class == "") {
		t.Errorf("Class %q with Err %v", r.Class, r.Err)
	}
	if msg := fmt.Sprint(r.Err); r.Err != nil && (strings.Contains(msg, `"http`) || strings.Contains(msg, "hunter2") || len(msg) > 200) {
		t.Errorf("Err %q is not short and clean", msg)
	}
}

func TestProbeDNS(t *testing.T) {
	p := New("")
	// .invalid is reserved (RFC 2606): it never resolves.
	r := p.Probe(context.Background(), target{URL: "http://cachet-updater-test.invalid/", Timeout: 3 * time.Second}.server())
	if r.Class == ClassTimeout {
		t.Skipf("the resolver here did not answer for .invalid within 3s: %v", r.Err)
	}
	expect(t, r, 0, ClassDNS)
}

// TestProbeCanceled: a run interrupted while a probe waits (in or after a
// TLS handshake too) or whose own deadline passed: the probe ends at once,
// ClassCanceled, which says nothing about the server. Run with -race.
func TestProbeCanceled(t *testing.T) {
	srv := newTestServer(t)
	// The TLS handlers answer only when the test ends: waiting for the
	// request's context would answer 200 whenever the server saw the
	// connection go first, and the probe would rightly take that for an answer.
	release := make(chan struct{})
	hang := func(w http.ResponseWriter, r *http.Request) { <-release }
	h1 := httptest.NewUnstartedServer(http.HandlerFunc(hang))
	h1.StartTLS()
	defer h1.Close()
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(hang))
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	defer close(release) // before the servers close: Close waits for the handlers
	p := New("")
	before := func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, cancel
	}
	later := func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		return ctx, cancel
	}
	deadline := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 100*time.Millisecond)
	}
	tests := []struct {
		name, url string
		ctx       func() (context.Context, context.CancelFunc)
	}{
		{"canceled before", srv.URL + "/hang", before},
		{"canceled while waiting", srv.URL + "/hang", later},
		{"parent deadline", srv.URL + "/hang", deadline}, // a run-wide deadline is an interrupted run
		{"no TLS handshake", strings.Replace(newTCPServer(t, func(_ net.Conn, done <-chan struct{}) { <-done }), "http:", "https:", 1) + "/", later}, // never says a word
		{"no answer over TLS", h1.URL + "/", later},
		{"no answer over HTTP/2", h2.URL + "/", later},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			r := p.Probe(ctx, target{URL: tt.url, TLSSkipVerify: true, Timeout: 10 * time.Second}.server())
			expect(t, r, 0, ClassCanceled)
			if r.Latency > 5*time.Second {
				t.Errorf("Latency = %v: cancellation did not stop the probe", r.Latency)
			}
		})
	}
}

// TestProbeLeavesNoConnection: net/http goes on with a dial or a TLS
// handshake that a canceled request started; a probe that gave up must not
// leave it holding a connection, and a file descriptor, until the run ends.
func TestProbeLeavesNoConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := New("").Probe(context.Background(), target{URL: "https://" + ln.Addr().String() + "/", Timeout: 200 * time.Millisecond}.server())
	expect(t, r, 0, ClassTimeout)
	c, err := ln.Accept() // it never answers the ClientHello
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Errorf("the probe's connection is still open after it gave up: %v", err)
	}
}

// TestProbeHeaders asserts that a probed server sees User-Agent and Accept
// and nothing that could carry a secret, also after a redirect.
func TestProbeHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/end", http.StatusFound)
		}
	}))
	defer srv.Close()
	p := New(testUA)

	r := p.Probe(context.Background(), target{URL: srv.URL + "/start", FollowRedirects: true}.server())
	if r.Code != 200 {
		t.Fatalf("code %d class %q err %v", r.Code, r.Class, r.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(seen))
	}
	allowed := map[string]bool{"User-Agent": true, "Accept": true, "Connection": true}
	for i, h := range seen {
		if got := h.Get("User-Agent"); got != testUA {
			t.Errorf("request %d: User-Agent %q, want %q", i, got, testUA)
		}
		if got := h.Get("Accept"); got != "*/*" {
			t.Errorf("request %d: Accept %q, want */*", i, got)
		}
		for _, secret := range []string{"X-Cachet-Token", "Authorization", "Cookie"} {
			if v := h.Values(secret); len(v) > 0 {
				t.Errorf("request %d: server saw %s: %q", i, secret, v)
			}
		}
		for k := range h {
			if !allowed[k] {
				t.Errorf("request %d: unexpected header %s: %q", i, k, h.Values(k))
			}
		}
	}

	// Without Options.UserAgent, our default replaces Go's.
	seen = nil
	mu.Unlock()
	p2 := New("")
	p2.Probe(context.Background(), target{URL: srv.URL + "/end"}.server())
	mu.Lock()
	if len(seen) != 1 || seen[0].Get("User-Agent") != defaultUserAgent {
		t.Errorf("default User-Agent: server saw %v", seen)
	}
}

// newRawServer answers every request with the bytes of answer, written as
// they are, and closes the connection. It returns the server's base URL.
func newRawServer(t testing.TB, answer string) string {
	return newTCPServer(t, func(conn net.Conn, _ <-chan struct{}) { io.WriteString(conn, answer) })
}

// TestProbeRawAnswers covers answers no well-behaved server sends:
// informational (1xx) answers with and without a final one, garbage,
// oversized heads, odd redirects.
func TestProbeRawAnswers(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	redirectTo := func(loc string) string {
		return "HTTP/1.1 302 Found\r\nLocation: " + loc + "\r\nContent-Length: 0\r\n\r\n"
	}
	okURL := newRawServer(t, ok)
	endless1xx := newTCPServer(t, func(conn net.Conn, done <-chan struct{}) {
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := io.WriteString(conn, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
				return
			}
		}
	})
	p := New("")

	tests := []struct {
		name      string
		answer    string // what the server sends; "" means target.URL is used as it is
		target    target
		wantCode  int
		wantClass Class
		wantBytes int64
		wantErr   string
	}{
		{name: "100 Continue, then the answer", answer: "HTTP/1.1 100 Continue\r\n\r\n" + ok, wantCode: 200, wantBytes: 2},
		{name: "103 Early Hints, then the answer", answer: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
			wantCode: 503},
		{name: "six 103 Early Hints, then the answer", answer: strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", 6) + ok,
			wantCode: 200, wantBytes: 2},
		{name: "100 Continue, then closed", answer: "HTTP/1.1 100 Continue\r\n\r\n",
			wantClass: ClassOther, wantErr: "no final HTTP answer: only informational (1xx) responses"},
		{name: "ten 100 Continue, then closed", answer: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 10),
			wantClass: ClassOther, wantErr: "no final HTTP answer: only informational (1xx) responses"},
		{name: "100 Continue without end", target: target{URL: endless1xx + "/"},
			wantClass: ClassOther, wantErr: "no final HTTP answer: only informational (1xx) responses"},
		{name: "not HTTP", answer: "SSH-2.0-OpenSSH_9.2\r\n", wantClass: ClassOther, wantErr: "malformed HTTP"},
		{name: "headers too long", answer: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("x", 70<<10) + "\r\n\r\n",
			wantClass: ClassOther, wantErr: "exceeded 65536 bytes"},
		{name: "closed in the head", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", wantClass: ClassReset},
		{name: "closed in the body", answer: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", wantClass: ClassReset, wantBytes: 2},
		{name: "100 Continue, then a redirect to nowhere", answer: "HTTP/1.1 100 Continue\r\n\r\n" + redirectTo("http://"+freePort(t)+"/"),
			target: target{FollowRedirects: true}, wantClass: ClassRefused},
		{name: "redirect without Location", answer: "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
			target: target{FollowRedirects: true}, wantCode: 302},
		{name: "redirect to another server", answer: redirectTo(okURL + "/elsewhere"),
			target: target{FollowRedirects: true}, wantCode: 200, wantBytes: 2},
		{name: "redirect to a bad Location", answer: redirectTo("http://[::1"),
			target: target{FollowRedirects: true}, wantClass: ClassOther, wantErr: "Location"},
		{name: "redirect to another scheme", answer: redirectTo("ftp://127.0.0.1/"),
			target: target{FollowRedirects: true}, wantClass: ClassOther, wantErr: "scheme"},
		{name: "redirect to no host name", answer: redirectTo("http://:80/"),
			target: target{FollowRedirects: true}, wantClass: ClassOther, wantErr: "no host name"},
		{name: "no host name", target: target{URL: "http://:80/"}, wantClass: ClassOther, wantErr: "no host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if tt.answer != "" {
				target.URL = newRawServer(t, tt.answer) + "/"
			}
			target.Timeout = 5 * time.Second
			r := p.Probe(context.Background(), target.server())
			expect(t, r, tt.wantCode, tt.wantClass)
			if r.Bytes != tt.wantBytes {
				t.Errorf("Bytes = %d, want %d", r.Bytes, tt.wantBytes)
			}
			if tt.wantErr != "" && !strings.Contains(fmt.Sprint(r.Err), tt.wantErr) {
				t.Errorf("Err = %q, want it to contain %q", r.Err, tt.wantErr)
			}
		})
	}
}

// recorder is a loopback server that records what each request looked like.
type recorder struct {
	mu   sync.Mutex
	seen []seen
}

type seen struct{ method, host, uri, auth, proto, encoding string }

func (rec *recorder) record(r *http.Request) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.seen = append(rec.seen, seen{r.Method, r.Host, r.RequestURI, r.Header.Get("Authorization"), r.Proto, r.Header.Get("Accept-Encoding")})
}

// take returns what was recorded since the last take.
func (rec *recorder) take() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	s := rec.seen
	rec.seen = nil
	return s
}

// handler records each request and answers the paths in redirect with a
// redirect ("301 /next": the code and the Location).
func (rec *recorder) handler(redirect map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		if code, to, ok := strings.Cut(redirect[r.URL.Path], " "); ok {
			n, _ := strconv.Atoi(code)
			http.Redirect(w, r, to, n)
		}
	})
}

// routeAll is a dialer that connects every address to addr (a loopback
// server) and records the addresses it was asked for.
func routeAll(addr string, dialed *[]string, mu *sync.Mutex) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, a string) (net.Conn, error) {
		mu.Lock()
		*dialed = append(*dialed, a)
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

// TestProbeRequest asserts what goes over the wire: HEAD stays HEAD across
// 301 and 307, userinfo in the URL becomes basic auth for that host:port
// only, and HTTPS speaks HTTP/2 to a server that offers it.
func TestProbeRequest(t *testing.T) {
	var rec recorder
	other := httptest.NewServer(rec.handler(nil))
	defer other.Close()
	// /next: the same IP address on another port, where net/http itself
	// would send the credentials along.
	srv := httptest.NewServer(rec.handler(map[string]string{"/start": "301 /next", "/next": "307 " + other.URL + "/last"}))
	defer srv.Close()
	h2 := httptest.NewUnstartedServer(rec.handler(nil))
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	p := New("")

	u := strings.Replace(srv.URL, "http://", "http://probe:s3cret@", 1) + "/start"
	r := p.Probe(context.Background(), target{URL: u, Method: "HEAD", FollowRedirects: true}.server())
	if r.Code != 200 {
		t.Fatalf("code %d class %q err %v", r.Code, r.Class, r.Err)
	}
	if want := other.URL + "/last"; r.FinalURL != want {
		t.Errorf("FinalURL = %q, want %q", r.FinalURL, want)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("probe:s3cret"))
	srvHost, otherHost := strings.TrimPrefix(srv.URL, "http://"), strings.TrimPrefix(other.URL, "http://")
	want := []seen{
		{"HEAD", srvHost, "/start", auth, "HTTP/1.1", ""},
		{"HEAD", srvHost, "/next", auth, "HTTP/1.1", ""}, // same server
		{"HEAD", otherHost, "/last", "", "HTTP/1.1", ""}, // another port: no credentials
	}
	if g := rec.take(); !slices.Equal(g, want) {
		t.Errorf("server saw\n%v\nwant\n%v", g, want)
	}

	if r := p.Probe(context.Background(), target{URL: h2.URL + "/h2", TLSSkipVerify: true}.server()); r.Code != 200 {
		t.Fatalf("https: code %d class %q err %v", r.Code, r.Class, r.Err)
	}
	if g := rec.take(); len(g) != 1 || g[0].proto != "HTTP/2.0" {
		t.Errorf("HTTP/2 server saw %v, want one HTTP/2.0 request", g)
	}
}

// TestProbeAuthSubdomain: net/http sends the Authorization header of the
// first request on to subdomains; a probe must not.
func TestProbeAuthSubdomain(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(rec.handler(map[string]string{"/start": "302 http://example.test:80/same", "/same": "302 http://status.example.test/sub"}))
	defer srv.Close()
	var mu sync.Mutex
	var dialed []string
	p := newProber("", routeAll(srv.Listener.Addr().String(), &dialed, &mu))

	r := p.Probe(context.Background(), target{URL: "http://probe:s3cret@example.test/start", FollowRedirects: true}.server())
	if r.Code != 200 {
		t.Fatalf("code %d class %q err %v", r.Code, r.Class, r.Err)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("probe:s3cret"))
	want := []seen{
		{"GET", "example.test", "/start", auth, "HTTP/1.1", ""},
		{"GET", "example.test:80", "/same", auth, "HTTP/1.1", ""}, // the same host:port, spelled out
		{"GET", "status.example.test", "/sub", "", "HTTP/1.1", ""},
	}
	if g := rec.take(); !slices.Equal(g, want) {
		t.Errorf("server saw\n%v\nwant\n%v", g, want)
	}
}

// TestProbeDial: what a probe dials and sends. A host name that is not
// ASCII goes out as punycode, the only form DNS and servers know; a server
// goes through the environment's proxy only when it asks for it.
func TestProbeDial(t *testing.T) {
	// net/http reads the environment once per process, on first use: the
	// value is the same in every run of this test (-count), and no other
	// test asks for a proxy.
	t.Setenv("HTTP_PROXY", "http://proxy.invalid:3128")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	t.Setenv("REQUEST_METHOD", "") // set, net/http would take this for CGI and ignore HTTP_PROXY
	var rec recorder
	srv := httptest.NewServer(rec.handler(nil))
	defer srv.Close()
	var mu sync.Mutex
	var dialed []string
	p := newProber("", routeAll(srv.Listener.Addr().String(), &dialed, &mu))

	for _, tt := range []struct {
		url                        string
		proxy                      bool
		wantDial, wantHost, wantRI string
	}{
		{"http://bücher.example/health", false, "xn--bcher-kva.example:80", "xn--bcher-kva.example", "/health"},
		{"http://target.invalid/health", false, "target.invalid:80", "target.invalid", "/health"},
		{"http://target.invalid/health", true, "proxy.invalid:3128", "target.invalid", "http://target.invalid/health"},
	} {
		expect(t, p.Probe(context.Background(), target{URL: tt.url, ProxyFromEnvironment: tt.proxy}.server()), 200, "")
		mu.Lock()
		if len(dialed) != 1 || dialed[0] != tt.wantDial {
			t.Errorf("%s, proxy %v: dialled %q, want %q", tt.url, tt.proxy, dialed, tt.wantDial)
		}
		dialed = nil
		mu.Unlock()
		if g := rec.take(); len(g) != 1 || g[0].host != tt.wantHost || g[0].uri != tt.wantRI {
			t.Errorf("%s, proxy %v: server saw %v, want Host %s and request URI %q", tt.url, tt.proxy, g, tt.wantHost, tt.wantRI)
		}
	}
}

// TestProbeLocal: a dial that fails for want of file descriptors or ports
// on this machine is ClassLocal after net/http's wrapping too.
func TestProbeLocal(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"EMFILE", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.EMFILE)}},
		{"ENFILE", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.ENFILE)}},
		{"EADDRNOTAVAIL", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}},
		{"ENOBUFS", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ENOBUFS)}},
		{"network unreachable", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}},
		{"no route to host", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}},
		{"resolver out of fds", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "dial udp 127.0.0.53:53: socket: too many open files", Name: "example.test"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProber("", func(context.Context, string, string) (net.Conn, error) { return nil, tt.err })
			for _, u := range []string{"http://example.test/", "https://example.test/"} {
				if r := p.Probe(context.Background(), target{URL: u}.server()); r.Class != ClassLocal {
					t.Errorf("%s: class %q (err %v), want %q", u, r.Class, r.Err, ClassLocal)
				}
			}
		})
	}
}

// TestClassifyLocal: failures of this machine are not the server's.
func TestClassifyLocal(t *testing.T) {
	tests := []struct {
		err  error
		want Class
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.EMFILE)}, ClassLocal},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.ENFILE)}, ClassLocal},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}, ClassLocal},
		{&net.DNSError{Err: "dial udp 127.0.0.53:53: socket: too many open files", Name: "example.org"}, ClassLocal},
		{&net.DNSError{Err: "no such host", Name: "example.org", IsNotFound: true}, ClassDNS},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, ClassRefused},
	}
	for _, tt := range tests {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestProbeAllOrder(t *testing.T) {
	srv := newTestServer(t)
	p := New("")
	var targets []target
	var want []int
	for i := range 50 {
		code := 200 + i%5*100 // 200, 300, 400, 500, 600
		targets = append(targets, target{URL: fmt.Sprintf("%s/code/%d", srv.URL, code)})
		want = append(want, code)
	}
	results := p.ProbeAll(context.Background(), servers(targets), 7)
	if len(results) != len(targets) {
		t.Fatalf("%d results for %d targets", len(results), len(targets))
	}
	for i, r := range results {
		if r.Code != want[i] {
			t.Errorf("results[%d].Code = %d (class %q, err %v), want %d", i, r.Code, r.Class, r.Err, want[i])
		}
	}
	if got := p.ProbeAll(context.Background(), nil, 10); len(got) != 0 {
		t.Errorf("no targets: %d results", len(got))
	}
}

func TestProbeAllConcurrency(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}))
	defer srv.Close()
	p := New("")

	for _, concurrency := range []int{0, 1, 4, 16} {
		t.Run(fmt.Sprint(concurrency), func(t *testing.T) {
			maxInFlight.Store(0)
			targets := make([]target, 40)
			for i := range targets {
				targets[i] = target{URL: srv.URL}
			}
			for i, r := range p.ProbeAll(context.Background(), servers(targets), concurrency) {
				if r.Code != 200 {
					t.Errorf("results[%d]: code %d class %q err %v", i, r.Code, r.Class, r.Err)
				}
			}
			limit := int32(max(concurrency, 1))
			if got := maxInFlight.Load(); got > limit {
				t.Errorf("%d probes in flight, concurrency %d", got, concurrency)
			}
		})
	}
}

func TestProbeAllHanging(t *testing.T) {
	srv := newTestServer(t)
	p := New("")
	targets := make([]target, 200)
	for i := range targets {
		// The answering servers get a generous deadline: under -race on a
		// busy machine 200 simultaneous connects can take a while.
		path, timeout := "/ok", 20*time.Second
		if i%10 == 3 {
			path, timeout = "/hang", 300*time.Millisecond
		}
		targets[i] = target{Name: fmt.Sprint("server", i), URL: srv.URL + path, Timeout: timeout}
	}
	results := p.ProbeAll(context.Background(), servers(targets), 1000)
	for i, r := range results {
		var want Class
		if i%10 == 3 {
			want = ClassTimeout
		}
		if r.Class != want {
			t.Errorf("results[%d]: class %q (err %v), want %q", i, r.Class, r.Err, want)
		}
	}
}

func TestProbeAllCanceled(t *testing.T) {
	srv := newTestServer(t)
	p := New("")
	targets := make([]target, 10)
	for i := range targets {
		targets[i] = target{URL: srv.URL + "/hang", Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	results := p.ProbeAll(ctx, servers(targets), 2)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ProbeAll took %v after the cancel", d)
	}
	for i, r := range results {
		if r.Class != ClassCanceled {
			t.Errorf("results[%d]: class %q (err %v), want %q", i, r.Class, r.Err, ClassCanceled)
		}
	}
}

// BenchmarkProbeAll probes 1,000 healthy loopback targets spread over a
// few servers (so the client's ephemeral ports don't run out over many
// iterations).
func BenchmarkProbeAll(b *testing.B) {
	var urls []string
	for range 4 {
		urls = append(urls, newTestServer(b).URL+"/ok")
	}
	targets := make([]target, 1000)
	for i := range targets {
		targets[i] = target{URL: urls[i%len(urls)], Timeout: 10 * time.Second}
	}
	p := New("")
	b.ReportAllocs()
	for b.Loop() {
		for i, r := range p.ProbeAll(context.Background(), servers(targets), 100) {
			if r.Code != 200 {
				b.Fatalf("results[%d]: code %d class %q err %v", i, r.Code, r.Class, r.Err)
			}
		}
	}
}

// BenchmarkProbeAllHanging is the scenario: 1,000 servers of which
// 100 never answer, timeout 2s. One op is one run; it must take well under
// 4s, i.e. about one timeout, as long as concurrency >= the hanging ones.
func BenchmarkProbeAllHanging(b *testing.B) {
	srv := newTestServer(b)
	targets := make([]target, 1000)
	for i := range targets {
		path := "/ok"
		if i%10 == 0 {
			path = "/hang"
		}
		targets[i] = target{URL: srv.URL + path, Timeout: 2 * time.Second}
	}
	for _, concurrency := range []int{100, 1000} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			p := New("")
			b.ReportAllocs()
			for b.Loop() {
				for i, r := range p.ProbeAll(context.Background(), servers(targets), concurrency) {
					var want Class
					if i%10 == 0 {
						want = ClassTimeout
					}
					if r.Class != want {
						b.Fatalf("results[%d]: class %q (err %v), want %q", i, r.Class, r.Err, want)
					}
				}
			}
		})
	}
}

// target is the tests' short form of a server to probe.
type target struct {
	Name, URL, Method                                    string
	Timeout                                              time.Duration
	TLSSkipVerify, FollowRedirects, ProxyFromEnvironment bool
	ExpectBody                                           *regexp.Regexp
}

func (t target) server() config.Server {
	var re config.Regexp
	if t.ExpectBody != nil {
		if err := yaml.Unmarshal([]byte(strconv.Quote(t.ExpectBody.String())), &re); err != nil {
			panic(err)
		}
	}
	return config.Server{Name: t.Name, URL: t.URL, Probe: config.Probe{Method: config.Method(t.Method), Timeout: config.Duration(t.Timeout),
		TLSSkipVerify: t.TLSSkipVerify, FollowRedirects: t.FollowRedirects, ProxyFromEnvironment: t.ProxyFromEnvironment, ExpectBody: re}}
}

func servers(targets []target) []config.Server {
	out := make([]config.Server, len(targets))
	for i, t := range targets {
		out[i] = t.server()
	}
	return out
}
