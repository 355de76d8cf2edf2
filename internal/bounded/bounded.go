// Package bounded runs a call that may block without a deadline of its own
// (a file on a hung network mount, a FIFO) so that the caller waits no longer
// than its context allows.
package bounded

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Do runs fn and returns its result, or ctx's error as soon as ctx is done.
// fn then finishes on its own goroutine and its result is dropped; it must
// not touch what the caller owns after Do returns.
func Do[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	return Commit(ctx, 0, func(func() bool) (T, error) { return fn() })
}

// ErrInDoubt is wrapped by Commit's error when the call had passed its point
// of no return and did not finish within the grace: its last step may still
// complete.
var ErrInDoubt = errors.New("gave up waiting after the step that cannot be taken back began: it may still complete")

// Commit is Do for a call whose last step cannot be taken back (a rename
// into place). fn calls point right before that step: point reports false
// when the caller has given up already, and fn must then not take it. Once
// point reported true, ctx's end does not stop the wait at once: Commit
// waits up to grace more for fn's result, then returns an error wrapping
// ErrInDoubt and ctx's. So a caller told that Commit gave up is never
// surprised by the step landing later.
func Commit[T any](ctx context.Context, grace time.Duration, fn func(point func() bool) (T, error)) (T, error) {
	var zero, v T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	var step atomic.Int32 // 0 before the point, 1 past it, 2 abandoned before it
	point := func() bool { step.CompareAndSwap(0, 1); return step.Load() == 1 }
	var err error
	done := make(chan struct{}) // v and err are read only once it is closed
	go func() { v, err = fn(point); close(done) }()
	select {
	case <-done:
		return v, err
	case <-ctx.Done():
	}
	if step.CompareAndSwap(0, 2) {
		return zero, ctx.Err()
	}
	select {
	case <-done:
		return v, err
	case <-time.After(grace):
		return zero, fmt.Errorf("%w (%w)", ErrInDoubt, ctx.Err())
	}
}
