// Package backoff is the one exponential backoff with full jitter used by every retry
// loop of the project (HTTP polling, Kafka consumers, sinks).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields growing, jittered delays between Min and Max.
type Backoff struct {
	Min, Max time.Duration
	attempt  int
}

// New returns a Backoff from min to max.
func New(min, max time.Duration) *Backoff { return &Backoff{Min: min, Max: max} }

// Next returns the next delay: a random value in [d/2, d] where d doubles from Min up to Max.
func (b *Backoff) Next() time.Duration {
	d := b.Min << min(b.attempt, 30)
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	b.attempt++
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// Attempt is how many delays were handed out since the last Reset.
func (b *Backoff) Attempt() int { return b.attempt }

// Reset starts again from Min.
func (b *Backoff) Reset() { b.attempt = 0 }

// Sleep waits d or until ctx is done; it reports whether the full delay passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
