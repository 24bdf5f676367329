package stopping

import (
	"context"
	"testing"
)

func TestRequested(t *testing.T) {
	work, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	signal, stop := context.WithCancel(context.Background())
	ctx := With(work, signal)
	if Requested(ctx) || Context(ctx).Err() != nil {
		t.Fatal("stopping before the signal")
	}
	stop()
	if !Requested(ctx) || Context(ctx).Err() == nil {
		t.Fatal("not stopping after the signal")
	}
	if ctx.Err() != nil {
		t.Fatal("the signal cancelled the work")
	}
	// Without a signal, the context's own state.
	plain, cancel := context.WithCancel(context.Background())
	if Requested(plain) || Context(plain) != plain {
		t.Fatal("a plain live context is stopping")
	}
	cancel()
	if !Requested(plain) {
		t.Fatal("a cancelled context is not stopping")
	}
	// A cancelled work context is stopping whatever its signal.
	w2, c2 := context.WithCancel(context.Background())
	live, keep := context.WithCancel(context.Background())
	defer keep()
	ctx2 := With(w2, live)
	c2()
	if !Requested(ctx2) || Context(ctx2) != ctx2 {
		t.Fatal("a cancelled work context is not stopping")
	}
}
