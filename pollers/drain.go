package pollers

import (
	"context"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/stopping"
)

// DefaultDrain is RunnerConfig.Drain's default.
const DefaultDrain = 10 * time.Second

// drainContext returns the context polls run with: it carries stop's values and stop
// itself (see Stopping), and is cancelled d after stop ends, or by cancel. Stopping a run
// and cancelling its work are two steps so that a poll holding a fetched answer can still
// publish it and save its cursor.
func drainContext(stop context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	work, cancelWork := context.WithCancel(stopping.With(context.WithoutCancel(stop), stop))
	var mu sync.Mutex
	var timer *time.Timer
	done := false
	unhook := context.AfterFunc(stop, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			timer = time.AfterFunc(d, cancelWork)
		}
	})
	return work, func() {
		unhook()
		mu.Lock()
		done = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancelWork()
	}
}

// Stopping reports whether the run a poll belongs to was asked to stop (shutdown, or the
// targets moved to another process). The poll's context stays usable for a while
// (RunnerConfig.Drain) so that it can publish what it fetched and save its cursor; a
// source that reads many pages or windows in one poll checks Stopping after each one
// it completed (records and cursor emitted) and returns then, instead of starting the
// next. Outside a runner's poll it is ctx.Err() != nil.
func Stopping(ctx context.Context) bool { return stopping.Requested(ctx) }
