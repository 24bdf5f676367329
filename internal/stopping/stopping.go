// Package stopping carries a "stop soon" signal in a context, apart from its cancellation.
//
// A poll run stops in two steps: first it is asked to stop (shutdown, or the process lost
// its targets in a rebalance) and starts nothing new, then, after a grace period, its
// context is cancelled. A poll that holds a fetched answer uses the grace period to
// publish it and save its cursor; a retry wait that holds nothing ends at the first step.
// The poller runner puts the signal in; provider clients read it.
package stopping

import "context"

type key struct{}

// With returns ctx carrying signal: the work asked to stop once signal is done.
func With(ctx, signal context.Context) context.Context {
	return context.WithValue(ctx, key{}, signal)
}

// Requested reports whether the work ctx belongs to was asked to stop, or ctx is done.
func Requested(ctx context.Context) bool { return Context(ctx).Err() != nil }

// Context returns what a wait that holds nothing should wait on: the stop signal in ctx
// when there is one (it ends no later than ctx in the runner), else ctx.
func Context(ctx context.Context) context.Context {
	if s, ok := ctx.Value(key{}).(context.Context); ok {
		if ctx.Err() != nil {
			return ctx
		}
		return s
	}
	return ctx
}
