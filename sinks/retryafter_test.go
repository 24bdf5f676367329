package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// recordingDeliverer is the runner's deliverer (200ms … 30s backoff) whose waits are
// recorded instead of slept.
func recordingDeliverer(s Sink, log *slog.Logger) (*deliverer, *[]time.Duration) {
	var waits []time.Duration
	d := &deliverer{sink: s, log: log, min: 200 * time.Millisecond, max: 30 * time.Second, giveUp: 10,
		sleep: func(ctx context.Context, w time.Duration) bool {
			waits = append(waits, w)
			return ctx.Err() == nil
		}}
	return d, &waits
}

func TestRetryAfterWaits(t *testing.T) {
	busy := errors.New("HTTP 429")
	for _, c := range []struct {
		name string
		err  error
		// want is the wait exactly; zero: the backoff's first delay, 100ms … 200ms.
		want time.Duration
	}{
		{"longer than the backoff wins", RetryAfter(busy, 2*time.Second), 2 * time.Second},
		{"wrapped again", fmt.Errorf("sink x: %w", RetryAfter(busy, 3*time.Second)), 3 * time.Second},
		{"shorter than the backoff: backoff", RetryAfter(busy, 50*time.Millisecond), 0},
		{"none: backoff", busy, 0},
		{"capped", RetryAfter(busy, time.Hour), MaxRetryAfter},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStore()
			s.whole = func(call int, _ []Event) error {
				if call == 1 {
					return c.err
				}
				return nil
			}
			var logs bytes.Buffer
			d, waits := recordingDeliverer(s, slog.New(slog.NewTextHandler(&logs, nil)))
			var out Delivery
			if err := d.deliver(context.Background(), evs(3), &out); err != nil {
				t.Fatal(err)
			}
			if out.Written != 3 || out.Retries != 1 || len(*waits) != 1 {
				t.Fatalf("delivery %+v, waits %v; want 3 written after one retry", out, *waits)
			}
			w := (*waits)[0]
			switch {
			case c.want == 0 && (w < 100*time.Millisecond || w > 200*time.Millisecond):
				t.Errorf("waited %s, want the backoff's first delay (100ms … 200ms)", w)
			case c.want != 0 && w != c.want:
				t.Errorf("waited %s, want %s", w, c.want)
			}
			if !strings.Contains(logs.String(), "retry_in="+w.String()) {
				t.Errorf("retry log does not show the real wait %s:\n%s", w, logs.String())
			}
		})
	}
}

func TestRetryAfterOfItems(t *testing.T) {
	s := newStore()
	s.answer = func(call int, e Event) ItemResult {
		if call == 1 {
			switch e.ID {
			case "e00":
				return ItemResult{Status: Retry, Reason: "rate_limited", RetryAfter: 3 * time.Second}
			case "e01":
				return ItemResult{Status: Retry, Reason: "rate_limited", RetryAfter: time.Second}
			case "e02":
				return ItemResult{Status: Retry, Reason: "rate_limited"}
			}
		}
		if call == 2 && e.ID == "e00" {
			return ItemResult{Status: Retry, Reason: "rate_limited", RetryAfter: time.Millisecond}
		}
		return ItemResult{Status: Written}
	}
	var logs bytes.Buffer
	d, waits := recordingDeliverer(s, slog.New(slog.NewTextHandler(&logs, nil)))
	var out Delivery
	if err := d.deliver(context.Background(), evs(4), &out); err != nil {
		t.Fatal(err)
	}
	if out.Written != 4 || len(*waits) != 2 {
		t.Fatalf("delivery %+v, waits %v", out, *waits)
	}
	if (*waits)[0] != 3*time.Second {
		t.Errorf("first wait %s, want the longest Retry-After asked, 3s", (*waits)[0])
	}
	// The backoff's second delay is 200ms … 400ms: more than the 1ms asked.
	if w := (*waits)[1]; w < 200*time.Millisecond || w > 400*time.Millisecond {
		t.Errorf("second wait %s, want the backoff's (200ms … 400ms)", w)
	}
	if !strings.Contains(logs.String(), "retry_in=3s") {
		t.Errorf("retry log does not show the 3s wait:\n%s", logs.String())
	}
}

func TestRetryAfterError(t *testing.T) {
	base := errors.New("HTTP 503")
	if RetryAfter(base, 0) != base || RetryAfter(base, -time.Second) != base || RetryAfter(nil, time.Second) != nil {
		t.Error("RetryAfter without a wait (or without an error) must return the error unchanged")
	}
	err := fmt.Errorf("sink x: %w", RetryAfter(base, 2*time.Second))
	if !errors.Is(err, base) || RetryAfterOf(err) != 2*time.Second || RetryAfterOf(base) != 0 {
		t.Errorf("RetryAfterOf(%v) = %s", err, RetryAfterOf(err))
	}
	if IsFatal(err) || IsRejectedBatch(err) {
		t.Error("a RetryAfter error is neither fatal nor a rejection")
	}
	if !strings.Contains(err.Error(), "2s") {
		t.Errorf("error %q does not say the wait", err)
	}
}
