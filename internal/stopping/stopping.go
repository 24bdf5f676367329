// Package stopping carries a "stop soon" signal in a context, apart from its cancellation.
//
// A poll run stops in two steps: first it is asked to stop (shutdown, or the process lost
// its targets in a rebalance) and starts nothing new, then, after a grace period, its
// context is cancelled. A poll that holds a fetched answer uses the grace period to
// publish it and save its cursor; a retry wait that holds nothing ends at the first step.
// The poller runner puts the signal in; provider clients read it.
package stopping

import (
	"context"
	"time"
)

type key struct{}

// With returns ctx carrying signal: the work asked to stop once signal is done.
func With(ctx, signal context.Context) context.Context {
	return context.WithValue(ctx, key{}, signal)
}

// Requested reports whether the work ctx belongs to was asked to stop, or ctx is done.
func Requested(ctx context.Context) bool {
	if s, ok := ctx.Value(key{}).(context.Context); ok && s.Err() != nil {
		return true
	}
	return ctx.Err() != nil
}

// Sleep waits d, or less: until ctx is done or the work ctx belongs to is asked to stop
// (a wait that holds nothing fetched ends at the stop, not at the cancellation after the
// drain). It reports whether the whole d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	var stop <-chan struct{} // nil (never ready) without a signal
	if s, ok := ctx.Value(key{}).(context.Context); ok {
		stop = s.Done()
	}
	if d <= 0 {
		return !Requested(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	case <-t.C:
		return true
	}
}
