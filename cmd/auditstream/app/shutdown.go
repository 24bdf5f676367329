package app

import (
	"context"
	"time"
)

// ShutdownWithin is Shutdown with a deadline d from now.
func (a *App) ShutdownWithin(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	a.Shutdown(ctx)
}

// Shutdown drains in order: pollers stop (a running poll finishes its current request and
// does not move its cursor past unacknowledged records), then consumers finish their
// batch, then sinks, Kafka, simulators and the admin server close.
func (a *App) Shutdown(ctx context.Context) {
	start := time.Now()
	if a.sched != nil {
		if err := a.sched.Stop(ctx); err != nil {
			a.log.Warn("pollers", "err", err)
		}
	}
	for _, c := range a.closers {
		if err := c.Close(ctx); err != nil {
			a.log.Warn("close poller source", "err", err)
		}
	}
	if a.stopConsumers != nil {
		a.stopConsumers()
		done := make(chan struct{})
		go func() { a.consumers.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			a.log.Warn("consumers did not stop in time")
		}
	}
	for _, s := range a.sinks {
		if err := s.Close(ctx); err != nil {
			a.log.Warn("close sink", "sink", s.Name(), "err", err)
		}
	}
	if a.bus != nil {
		if err := a.bus.Close(); err != nil {
			a.log.Warn("close kafka writer", "err", err)
		}
	}
	if a.embedded != nil {
		a.embedded.Close()
	}
	for _, s := range a.sims {
		_ = s.Shutdown(ctx)
	}
	if a.admin != nil {
		_ = a.admin.Shutdown(ctx)
	}
	a.log.Info("shut down", "took", time.Since(start).Round(time.Millisecond))
}
