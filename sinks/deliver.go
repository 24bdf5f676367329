package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/auditstream/auditstream/internal/backoff"
	"github.com/auditstream/auditstream/internal/bisect"
)

// Rejection is an event a store will never take, with the sink's short reason.
type Rejection struct {
	Event  Event
	Reason string
	Err    error
}

// Delivery sums up what became of a batch.
type Delivery struct {
	Written    int
	Duplicates int
	Rejected   []Rejection
	// Retries counts the attempts that had to be repeated (a whole-batch error, or some
	// events answered Retry).
	Retries int
}

// unset marks a result the sink did not fill: the runner treats it as Retry (a sink bug
// must not lose events nor pretend they were written).
const unset Status = 255

// deliverer writes one batch to a sink until every event is written, already there, or
// rejected.
type deliverer struct {
	sink     Sink
	log      *slog.Logger
	min, max time.Duration
	// waitFatal: on a fatal error keep the batch and try again every fatalRetry
	// (the runner); otherwise return the error (Deliver, for tests).
	waitFatal  bool
	fatalRetry time.Duration
	onRetry    func()
	onFatal    func(err error) // err nil: the sink recovered
	onWrite    func(d time.Duration)
	fatal      bool
	// giveUp, when positive, ends attempt after that many failed writes in a row with the
	// last error (Deliver, so that a test fails instead of hanging); the runner never
	// gives up.
	giveUp int
	// sleep waits between attempts (nil: backoff.Sleep); tests record the waits with it.
	sleep func(ctx context.Context, d time.Duration) bool
}

// Deliver writes batch to s the way the runner does — Retry events re-sent with backoff,
// whole-batch errors retried, a batch refused as a whole bisected down to its poison
// events — and returns what became of every event. A fatal error is returned at once (the
// runner instead waits for the store to accept the sink again). It is the runner's core
// without Kafka, for sink tests (sinks/sinktest) and tools. It gives up after 20 failed
// writes in a row (about 15 s) and returns the last error.
func Deliver(ctx context.Context, s Sink, batch []Event) (Delivery, error) {
	d := &deliverer{sink: s, log: slog.New(slog.DiscardHandler), min: 10 * time.Millisecond, max: time.Second, giveUp: 20}
	var out Delivery
	err := d.deliver(ctx, batch, &out)
	return out, err
}

func (d *deliverer) deliver(ctx context.Context, evs []Event, out *Delivery) error {
	return bisect.Do(ctx, evs,
		func(ctx context.Context, part []Event) error { return d.attempt(ctx, part, out) },
		IsRejectedBatch,
		func(e Event, err error) error {
			var rb *RejectedBatchError
			errors.As(err, &rb)
			out.Rejected = append(out.Rejected, Rejection{Event: e, Reason: rb.Reason, Err: rb.Err})
			return nil
		})
}

// attempt writes evs until no event needs a retry. It returns nil, ctx's error, a fatal
// error (without waitFatal), or a RejectedBatchError for the whole of evs (for bisect.Do).
func (d *deliverer) attempt(ctx context.Context, evs []Event, out *Delivery) error {
	pending := evs
	res := make([]ItemResult, len(evs))
	bo := backoff.New(d.min, d.max)
	failures := 0
	for {
		r := res[:len(pending)]
		for i := range r {
			r[i] = ItemResult{Status: unset}
		}
		start := time.Now()
		err := d.sink.Write(ctx, pending, r)
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		switch {
		case err == nil:
			d.recovered()
			if d.onWrite != nil {
				d.onWrite(time.Since(start))
			}
			var again []Event
			var why ItemResult
			var asked time.Duration // the longest Retry-After of the events to retry
			for i, ir := range r {
				switch ir.Status {
				case Written:
					out.Written++
				case Duplicate:
					out.Duplicates++
				case Reject:
					reason := ir.Reason
					if reason == "" {
						reason = "rejected"
					}
					cause := ir.Err
					if cause == nil {
						cause = errors.New("the store rejected the event")
					}
					out.Rejected = append(out.Rejected, Rejection{Event: pending[i], Reason: reason, Err: cause})
				case Retry:
					again = append(again, pending[i])
					why = ir
					asked = max(asked, ir.RetryAfter)
				default:
					d.log.Error("sink left an event without a result (a bug in the sink); retrying it", "status", int(ir.Status))
					again = append(again, pending[i])
				}
			}
			if len(again) == 0 {
				return nil
			}
			pending = again
			failures++
			if d.giveUp > 0 && failures >= d.giveUp {
				return fmt.Errorf("gave up after %d attempts: %d events still answered retry (%s): %w", failures, len(again), why.Reason, why.Err)
			}
			wait := waitFor(bo, asked)
			d.retried(out)
			d.log.Warn("store asked to retry some events", "events", len(again), "reason", why.Reason, "err", why.Err, "retry_in", wait, "retry_after", asked)
			if !d.wait(ctx, wait) {
				return ctx.Err()
			}
		case IsRejectedBatch(err):
			if len(pending) == len(evs) {
				return err
			}
			// Part of evs is already delivered: bisect only what is left.
			return d.deliver(ctx, pending, out)
		case IsFatal(err):
			if !d.waitFatal {
				return err
			}
			d.turnedFatal(err)
			if !d.wait(ctx, d.fatalRetry) {
				return ctx.Err()
			}
		default:
			failures++
			if d.giveUp > 0 && failures >= d.giveUp {
				return fmt.Errorf("gave up after %d failed writes: %w", failures, err)
			}
			asked := RetryAfterOf(err)
			wait := waitFor(bo, asked)
			d.retried(out)
			d.log.Warn("sink write failed; retrying the same events", "events", len(pending), "retry_in", wait, "retry_after", asked, "err", err)
			if !d.wait(ctx, wait) {
				return ctx.Err()
			}
		}
	}
}

// waitFor is the wait before the next attempt: the backoff's next delay, or what the store
// asked for (at most MaxRetryAfter) when that is longer.
func waitFor(bo *backoff.Backoff, asked time.Duration) time.Duration {
	return max(bo.Next(), min(asked, MaxRetryAfter))
}

func (d *deliverer) wait(ctx context.Context, w time.Duration) bool {
	if d.sleep != nil {
		return d.sleep(ctx, w)
	}
	return backoff.Sleep(ctx, w)
}

func (d *deliverer) retried(out *Delivery) {
	out.Retries++
	if d.onRetry != nil {
		d.onRetry()
	}
}

func (d *deliverer) turnedFatal(err error) {
	if d.fatal {
		d.log.Debug("sink still failing fatally", "err", err)
		return
	}
	d.fatal = true
	d.log.Error("sink stopped: the store refuses this sink and retrying cannot fix it (check its credentials and permissions); consuming paused, /readyz fails, retrying every "+d.fatalRetry.String(), "err", err)
	if d.onFatal != nil {
		d.onFatal(err)
	}
}

func (d *deliverer) recovered() {
	if !d.fatal {
		return
	}
	d.fatal = false
	d.log.Info("sink accepted writes again; consuming resumed")
	if d.onFatal != nil {
		d.onFatal(nil)
	}
}

// errString keeps a fatal error readable for /readyz.
func errString(name string, err error) error { return fmt.Errorf("sink %s stopped: %w", name, err) }
