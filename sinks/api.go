package sinks

import (
	"context"
	"errors"
	"time"
)

// Status is what a sink did with one event of a batch.
type Status uint8

const (
	// Written: the event is durably in the store now.
	Written Status = iota
	// Duplicate: the store already had it (same event id): delivered.
	Duplicate
	// Retry: a transient refusal of this event (an Elasticsearch per-item 429, say): the
	// runner sends it again, alone or with the next attempt's events.
	Retry
	// Reject: the store will never take this event (malformed for it, too large): the
	// runner dead-letters it with Reason.
	Reject
)

func (s Status) String() string {
	switch s {
	case Written:
		return "written"
	case Duplicate:
		return "duplicate"
	case Retry:
		return "retry"
	case Reject:
		return "rejected"
	}
	return "unknown"
}

// ItemResult is the outcome of one event of a batch.
type ItemResult struct {
	Status Status
	// Reason is a short bounded word for Reject and Retry (it becomes the dlq.reason
	// header and a metric label): "mapping", "too_large", "rate_limited", ...
	Reason string
	// Err says what the store answered (never a secret).
	Err error
	// RetryAfter, for Retry, is how long the store asked to wait before this event is
	// sent again (0: the runner's own backoff). The runner waits the longest asked for by
	// any event of the attempt, at most MaxRetryAfter, and never less than its backoff.
	RetryAfter time.Duration
}

// Guarantee is the delivery guarantee a sink gives.
type Guarantee uint8

const (
	// AtLeastOnce: an event reported Written was acknowledged by the store; a
	// redelivered event may be stored twice (webhook, Loki, Splunk HEC...).
	AtLeastOnce Guarantee = iota
	// EffectivelyOnce: the store keeps one copy per event id however often it is sent
	// (PostgreSQL ON CONFLICT DO NOTHING, Elasticsearch create with _id, ...).
	EffectivelyOnce
	// BestEffort: written to the transport; a receiver crash can lose what it had not
	// read. The store acknowledges nothing: Written means the event was handed to the
	// network (a socket buffer), so a receiver that dies before reading it, or a network
	// that drops it, loses it without the sink knowing (syslog). A redelivered event may
	// also be stored twice.
	BestEffort
)

func (g Guarantee) String() string {
	switch g {
	case EffectivelyOnce:
		return "effectively-once"
	case BestEffort:
		return "best-effort"
	}
	return "at-least-once"
}

// Sink writes canonical events to one store.
type Sink interface {
	// Name is the configured sink name.
	Name() string
	// Guarantee says what redelivery of the same event does to the store.
	Guarantee() Guarantee
	// Write writes batch and fills res (len(res) == len(batch)) with one outcome per
	// event. A non-nil error means the whole batch failed and res is ignored: wrap it with
	// Fatal when retrying cannot help (bad credentials, missing permission: the runner
	// stops consuming and /readyz fails); any other error is retried with backoff, or
	// after the wait the store asked for when wrapped with RetryAfter.
	// Write must be safe to call again with the same events (after a crash, a rebalance or
	// a retry).
	Write(ctx context.Context, batch []Event, res []ItemResult) error
	// Ping reports whether the store is reachable (for /readyz).
	Ping(ctx context.Context) error
	// Close flushes and releases the store's resources.
	Close(ctx context.Context) error
}

// FatalError marks a whole-batch failure that no retry can fix.
type FatalError struct{ Err error }

func (e *FatalError) Error() string { return "fatal: " + e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

// Fatal wraps err as a fatal sink failure.
func Fatal(err error) error { return &FatalError{Err: err} }

// IsFatal reports whether err is (or wraps) a FatalError.
func IsFatal(err error) bool {
	var f *FatalError
	return errors.As(err, &f)
}

// RejectedBatchError marks a whole-batch refusal that names no event (an HTTP 400 for a
// whole POST, say): some event of the batch will never be taken, but the store does not
// say which. The runner then bisects the batch (internal/bisect) until each refused event
// stands alone, and dead-letters it with Reason.
type RejectedBatchError struct {
	Reason string
	Err    error
}

func (e *RejectedBatchError) Error() string {
	return "batch rejected (" + e.Reason + "): " + e.Err.Error()
}
func (e *RejectedBatchError) Unwrap() error { return e.Err }

// RejectBatch wraps err as a whole-batch refusal with a short bounded reason.
func RejectBatch(reason string, err error) error {
	return &RejectedBatchError{Reason: reason, Err: err}
}

// IsRejectedBatch reports whether err is (or wraps) a RejectedBatchError.
func IsRejectedBatch(err error) bool {
	var r *RejectedBatchError
	return errors.As(err, &r)
}

// MaxRetryAfter caps how long the runner waits for a store that asked for a pause
// (RetryAfter, ItemResult.RetryAfter): a store asking for an hour is waited for 5 minutes,
// then tried again (and asked again).
const MaxRetryAfter = 5 * time.Minute

// RetryAfterError marks a whole-batch failure the store asked to retry no sooner than
// After (an HTTP 429 or 503 with a Retry-After header).
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string {
	return e.Err.Error() + " (the store asks to retry in " + e.After.String() + ")"
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err, a whole-batch failure, with the store's request to wait d before
// the next attempt: the runner waits the longer of d (at most MaxRetryAfter) and its own
// backoff. d of zero or less returns err as it is (plain backoff).
func RetryAfter(err error, d time.Duration) error {
	if err == nil || d <= 0 {
		return err
	}
	return &RetryAfterError{Err: err, After: d}
}

// RetryAfterOf returns the wait a store asked for with err (see RetryAfter), 0 when none.
func RetryAfterOf(err error) time.Duration {
	var r *RetryAfterError
	if errors.As(err, &r) {
		return r.After
	}
	return 0
}
