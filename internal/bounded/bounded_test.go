package bounded

import (
	"context"
	"errors"
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
	if !errors.Is(err, context.DeadlineExceeded) || !IsCtxErr(ctx, err) {
		t.Errorf("a blocked call: %v", err)
	}

	// A context that has ended already: the call does not even start.
	ran := false
	if _, err := Do(ctx, func() (int, error) { ran = true; return 0, nil }); err == nil || ran {
		t.Errorf("an ended context: %v, ran %v", err, ran)
	}
	if IsCtxErr(context.Background(), boom) {
		t.Error("IsCtxErr with a live context")
	}
}
