package cachet

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// runEnded says that the caller's context ended. It wraps context.Cause
// and, when the cause is the caller's own, ctx.Err() too, so that
// errors.Is finds context.Canceled or DeadlineExceeded either way.
func runEnded(ctx context.Context) error {
	cause, err := context.Cause(ctx), ctx.Err()
	if errors.Is(cause, err) {
		return fmt.Errorf("the run ended: %w", cause)
	}
	return fmt.Errorf("the run ended: %w (%w)", cause, err)
}

// withGrace returns the context for one attempt. It ends grace after ctx
// ends: a write Cachet is already applying is not cut off the moment the
// run ends, yet every write in flight ends within about grace of it. Reads
// pass grace 0. Its cause says that the run ended.
func withGrace(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			err := runEnded(ctx)
			if grace > 0 {
				err = fmt.Errorf("%w; the write in flight got no answer within the %s grace", err, grace)
			}
			cancel(err)
		case <-actx.Done():
		}
	})
	return actx, func() {
		stop()
		cancel(context.Canceled)
	}
}
