package bounded

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestDo(t *testing.T) {
	v, err := Do(context.Background(), func() (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Errorf("Do = %d, %v", v, err)
	}
	boom := errors.New("boom")
	if _, err := Do(context.Background(), func() (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("the call's error: %v", err)
	}

	// A call that blocks: Do returns when ctx ends, and the call's late
	// result goes nowhere.
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = Do(ctx, func() (int, error) { <-release; return 1, nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a blocked call: %v", err)
	}

	// A context that has ended already: the call does not even start.
	ran := false
	if _, err := Do(ctx, func() (int, error) { ran = true; return 0, nil }); err == nil || ran {
		t.Errorf("an ended context: %v, ran %v", err, ran)
	}
}

// TestCommitNeverLandsUnseen: whenever the caller gives up (ctx's error),
// the call never takes its last step, not even later; once the call passed
// its point of no return, the caller waits for it (up to the grace) and
// reports what happened. Run many times, with the deadline falling
// anywhere around the point.
func TestCommitNeverLandsUnseen(t *testing.T) {
	for i := range 500 {
		ctx, cancel := context.WithCancel(context.Background())
		var stepped atomic.Bool
		started, finished := make(chan struct{}), make(chan struct{})
		go func() {
			<-started
			if i%2 == 0 {
				runtime.Gosched()
			}
			cancel()
		}()
		v, err := Commit(ctx, time.Minute, func(point func() bool) (int, error) {
			defer close(finished)
			close(started)
			if i%3 == 0 {
				runtime.Gosched()
			}
			if !point() {
				return 0, errors.New("gave up before the step")
			}
			stepped.Store(true) // the step that cannot be taken back
			return 1, nil
		})
		<-finished
		switch {
		case err == nil && (v != 1 || !stepped.Load()):
			t.Fatalf("run %d: Commit = %d, nil, but the step was not taken", i, v)
		case err != nil && !errors.Is(err, context.Canceled):
			t.Fatalf("run %d: Commit error %v, want nil or ctx's", i, err)
		case err != nil && stepped.Load():
			t.Fatalf("run %d: Commit said it gave up (%v), but the step was taken", i, err)
		}
		cancel()
	}
}

// TestCommitPastThePoint: a call past its point of no return when ctx ends
// is waited for; one that does not finish within the grace is in doubt.
func TestCommitPastThePoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	past, release := make(chan struct{}), make(chan struct{})
	go func() { <-past; cancel(); close(release) }()
	v, err := Commit(ctx, time.Minute, func(point func() bool) (int, error) {
		point()
		close(past)
		<-release
		return 7, nil
	})
	if v != 7 || err != nil {
		t.Errorf("Commit = %d, %v; want the call's own result", v, err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	hung := make(chan struct{})
	defer close(hung)
	_, err = Commit(ctx, time.Millisecond, func(point func() bool) (int, error) {
		point()
		cancel()
		<-hung
		return 0, nil
	})
	if !errors.Is(err, ErrInDoubt) || !errors.Is(err, context.Canceled) {
		t.Errorf("a call hung past its point: %v, want ErrInDoubt and ctx's error", err)
	}
}
