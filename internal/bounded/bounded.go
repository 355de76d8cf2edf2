// Package bounded runs a call that may block without a deadline of its own
// (a file on a hung network mount, a FIFO) so that the caller waits no longer
// than its context allows.
package bounded

import (
	"context"
	"errors"
)

// Do runs fn and returns its result, or ctx's error as soon as ctx is done.
// fn then finishes on its own goroutine and its result is dropped; it must
// not touch what the caller owns after Do returns.
func Do[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: a late fn never blocks
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// IsCtxErr reports whether err is ctx's own error (it ended), not one of
// the call's.
func IsCtxErr(ctx context.Context, err error) bool {
	c := ctx.Err()
	return c != nil && errors.Is(err, c)
}
