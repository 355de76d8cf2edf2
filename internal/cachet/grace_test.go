package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/status"
)

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type result struct {
	comp cachet.Component
	err  error
	at   time.Time
}

// setStatusAsync runs SetStatus(1, MajorOutage) and sends its result.
func setStatusAsync(ctx context.Context, c *cachet.Client) <-chan result {
	done := make(chan result, 1)
	go func() {
		comp, err := c.SetStatus(ctx, 1, status.MajorOutage, true)
		done <- result{comp, err, time.Now()}
	}()
	return done
}

func await(t *testing.T, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("SetStatus did not return")
		return result{}
	}
}

// longClient has an HTTP timeout far beyond any grace, so only the grace
// can end a hanging write.
func longClient(t *testing.T, url string, mod func(*cachet.Options)) *cachet.Client {
	c, _ := newClient(t, url, func(o *cachet.Options) {
		o.HTTPClient = httpClient(t, 5*time.Minute)
		if mod != nil {
			mod(o)
		}
	})
	return c
}

func TestWriteInFlightGetsGrace(t *testing.T) {
	for _, tt := range []struct {
		name  string
		grace time.Duration // 0 = the default
		want  string
	}{
		{"short grace", 200 * time.Millisecond, "the write in flight got no answer within the 200ms grace"},
		{"default grace", 0, "the write in flight got no answer within the 3s grace"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.grace == 0 && testing.Short() {
				t.Skip("waits the default 3s grace")
			}
			srv := newFake(t, 1)
			srv.FailNext(cachettest.FaultHang, -1, true)
			c := longClient(t, srv.URL(), func(o *cachet.Options) { o.WriteGrace = tt.grace })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := setStatusAsync(ctx, c)
			waitFor(t, "the PUT", func() bool { return len(srv.Writes()) == 1 })
			canceled := time.Now()
			cancel()
			r := await(t, done)
			grace := tt.grace
			if grace == 0 {
				grace = 3 * time.Second
			}
			if waited := r.at.Sub(canceled); waited < grace {
				t.Errorf("the write ended %s after the cancel, before its %s grace", waited, grace)
			}
			want := "cachet: PUT /components/1: Put \"" + srv.URL() + "/components/1\": the run ended: context canceled; " + tt.want
			if !errors.Is(r.err, context.Canceled) || r.err == nil || r.err.Error() != want {
				t.Errorf("err = %v\nwant %s", r.err, want)
			}
			if n := len(srv.Writes()); n != 1 {
				t.Errorf("fake saw %d writes, want 1: no retry after the run ended", n)
			}
		})
	}
}

// heldServer answers PUT /api/v1/components/1 only when release is closed,
// with code and the component at status 4.
func heldServer(t *testing.T, code int) (ts *httptest.Server, arrived *atomic.Int32, release chan struct{}) {
	arrived = &atomic.Int32{}
	release = make(chan struct{})
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		if code == http.StatusOK {
			_, _ = fmt.Fprint(w, `{"data":{"id":1,"name":"a","status":4,"enabled":true}}`)
		} else {
			_, _ = fmt.Fprintf(w, `{"errors":[{"status":%d,"title":"%s","detail":"busy"}]}`, code, http.StatusText(code))
		}
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return ts, arrived, release
}

func TestWriteAnsweredWithinGrace(t *testing.T) {
	t.Run("succeeds", func(t *testing.T) {
		ts, arrived, release := heldServer(t, http.StatusOK)
		c := longClient(t, ts.URL+"/api/v1", func(o *cachet.Options) { o.WriteGrace = 20 * time.Second })
		ctx, cancel := context.WithCancel(context.Background())
		done := setStatusAsync(ctx, c)
		waitFor(t, "the PUT", func() bool { return arrived.Load() == 1 })
		cancel()
		time.Sleep(50 * time.Millisecond) // the run has ended well before Cachet answers
		close(release)
		r := await(t, done)
		if r.err != nil || r.comp.Status != status.MajorOutage {
			t.Errorf("SetStatus = %+v, %v; want the write done", r.comp, r.err)
		}
	})
	t.Run("a 500 is not retried", func(t *testing.T) {
		ts, arrived, release := heldServer(t, http.StatusInternalServerError)
		c := longClient(t, ts.URL+"/api/v1", func(o *cachet.Options) { o.WriteGrace = 20 * time.Second })
		ctx, cancel := context.WithCancel(context.Background())
		done := setStatusAsync(ctx, c)
		waitFor(t, "the PUT", func() bool { return arrived.Load() == 1 })
		cancel()
		time.Sleep(50 * time.Millisecond)
		close(release)
		r := await(t, done)
		want := "cachet: PUT /components/1: 500 Internal Server Error: busy (stopped retrying: the run ended: context canceled)"
		if r.err == nil || r.err.Error() != want || !errors.Is(r.err, context.Canceled) {
			t.Errorf("err = %v\nwant %s", r.err, want)
		}
		if n := arrived.Load(); n != 1 || attempts(c) != 1 {
			t.Errorf("server saw %d PUTs, client made %d attempts; want 1", n, attempts(c))
		}
	})
}

func TestNoAttemptAfterTheRunEnded(t *testing.T) {
	srv := newFake(t, 1)
	srv.FailNext(cachettest.Fault500, -1, false)
	cause := errors.New("interrupt signal received")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// A Sleep that ignores the context: only do's own check stops the retry.
	c, _ := newClient(t, srv.URL(), func(o *cachet.Options) {
		o.Retries = 5
		o.Sleep = func(context.Context, time.Duration) error {
			cancel(cause)
			return nil
		}
	})
	_, err := c.SetStatus(ctx, 1, status.MajorOutage, true)
	want := "cachet: PUT /components/1: 500 Internal Server Error: An error has occurred and this resource cannot be displayed. " +
		"(stopped retrying: the run ended: interrupt signal received (context canceled))"
	if err == nil || err.Error() != want || !errors.Is(err, cause) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	var apiErr *cachet.APIError
	if !errors.As(err, &apiErr) {
		t.Errorf("the last answer is not wrapped: %v", err)
	}
	if n := len(srv.Writes()); n != 1 || attempts(c) != 1 {
		t.Errorf("fake saw %d writes, client made %d attempts; want 1", n, attempts(c))
	}
}

func TestReadsEndAtOnce(t *testing.T) {
	srv := newFake(t, 1)
	srv.FailNext(cachettest.FaultHang, -1, false)
	c := longClient(t, srv.URL(), func(o *cachet.Options) { o.WriteGrace = 5 * time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Components(ctx); done <- err }()
	waitFor(t, "the GET", func() bool { return len(srv.Requests()) == 1 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.HasSuffix(err.Error(), ": the run ended: context canceled") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(30 * time.Second): // far below the 5 minutes a grace would give
		t.Fatal("the read did not end when the context did")
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("fake saw %d requests, want 1", n)
	}
}
