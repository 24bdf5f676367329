package stopping

import (
	"context"
	"testing"
	"time"
)

func TestRequested(t *testing.T) {
	work, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	signal, stop := context.WithCancel(context.Background())
	ctx := With(work, signal)
	if Requested(ctx) {
		t.Fatal("stopping before the signal")
	}
	stop()
	if !Requested(ctx) || Sleep(ctx, time.Hour) {
		t.Fatal("not stopping after the signal")
	}
	if ctx.Err() != nil {
		t.Fatal("the signal cancelled the work")
	}
	// Without a signal, the context's own state.
	plain, cancel := context.WithCancel(context.Background())
	if Requested(plain) {
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
	if !Requested(ctx2) || Sleep(ctx2, time.Hour) {
		t.Fatal("a cancelled work context is not stopping")
	}
}

// A wait ends at the stop signal, at its own context's end (a deadline shorter than the
// run's, say) or after d, whichever comes first.
func TestSleep(t *testing.T) {
	signal, stop := context.WithCancel(context.Background())
	defer stop()
	work, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	ctx := With(work, signal)
	if !Sleep(ctx, time.Millisecond) || !Sleep(context.Background(), 0) {
		t.Fatal("a short wait with no stop did not pass")
	}
	own, cancelOwn := context.WithCancel(ctx) // a provider's own shorter-lived context
	cancelOwn()
	if Sleep(own, time.Hour) {
		t.Fatal("a wait outlived its own context")
	}
	stop()
	if Sleep(ctx, time.Hour) || Sleep(ctx, 0) {
		t.Fatal("a wait outlived the stop signal")
	}
}
