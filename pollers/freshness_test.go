package pollers_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
)

// twoTargets lists targets from a mutable set; each poll stores a per-target watermark.
type twoTargets struct {
	mu        sync.Mutex
	targets   []pollers.Target
	watermark map[string]string
}

func (s *twoTargets) Targets(context.Context) ([]pollers.Target, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]pollers.Target(nil), s.targets...), nil
}

func (s *twoTargets) Poll(ctx context.Context, t pollers.Target, _ json.RawMessage, emit pollers.Emit) (pollers.Outcome, error) {
	s.mu.Lock()
	w := s.watermark[t.Entity]
	s.mu.Unlock()
	return pollers.Outcome{}, emit(ctx, nil, json.RawMessage(`{"watermark":"`+w+`"}`))
}

// A retired target (no longer listed) must not pin the provider's freshness to its old
// cursor; when no target is left, the series disappears instead of claiming a time.
func TestRetiredTargetDoesNotPinFreshness(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	b, store, _, m := setup(t, brokers, "")
	src := &twoTargets{
		targets:   []pollers.Target{{Tenant: "t", Entity: "old"}, {Tenant: "t", Entity: "live"}},
		watermark: map[string]string{"old": "2026-01-01T00:00:00Z", "live": "2026-11-21T10:00:00Z"},
	}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p", Provider: "ionos", Topic: "unused"}, src, store, b, testkit.Logger(t), m)
	ctx := context.Background()
	if err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	gauge := m.CursorTimestamp.WithLabelValues("p", "ionos")
	if v := testutil.ToFloat64(gauge); v != float64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) {
		t.Fatalf("freshness with both targets = %v, want the oldest (2026-01-01)", v)
	}
	src.mu.Lock()
	src.targets = src.targets[1:] // "old" retired
	src.mu.Unlock()
	if err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(m.CursorTimestamp.WithLabelValues("p", "ionos")); v != float64(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC).Unix()) {
		t.Fatalf("freshness after retiring the old target = %v, want the live one (2026-11-21T10:00)", v)
	}
	src.mu.Lock()
	src.targets = nil // the last one retired too
	src.mu.Unlock()
	pollSeries(t, ctx, r, m, 0, "cursor_timestamp series left with no target")
}

// leases hands out its targets, or no lease at all (between generations of the group).
type leases struct {
	mu      sync.Mutex
	targets []pollers.Target
	none    bool
}

func (l *leases) Lease(ctx context.Context, _, _ string) (pollers.Lease, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.none {
		return pollers.Lease{}, false
	}
	return pollers.Lease{Ctx: ctx, Targets: slices.Values(l.targets), Release: func() {}}, true
}

func (l *leases) Retire(context.Context, string, pollers.Target) error { return nil }

// Without a lease (the generation ended), the process no longer claims the freshness of
// the targets it polled: their targets may be polled, or not, by another process now.
func TestNoLeaseDropsFreshness(t *testing.T) {
	b, store, _, m := setup(t, testkit.EmbeddedKafka(t), "")
	src := &twoTargets{watermark: map[string]string{"a": "2026-11-21T10:00:00Z"}}
	as := &leases{targets: []pollers.Target{{Tenant: "t", Entity: "a"}}}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p", Provider: "conga", Topic: "unused", Assignment: as}, src, store, b, testkit.Logger(t), m)
	ctx := context.Background()
	pollSeries(t, ctx, r, m, 1, "series after a poll")
	as.mu.Lock()
	as.none = true
	as.mu.Unlock()
	pollSeries(t, ctx, r, m, 0, "cursor_timestamp series without a lease")
}

// fullLog reports a target complete up to a time without a new cursor (as a full-log
// provider does for an unchanged target), or fails.
type fullLog struct {
	mu        sync.Mutex
	watermark time.Time
	fail      bool
}

func (s *fullLog) Targets(context.Context) ([]pollers.Target, error) {
	return []pollers.Target{{Tenant: "t", Entity: "a"}}, nil
}

func (s *fullLog) Poll(ctx context.Context, t pollers.Target, cursor json.RawMessage, emit pollers.Emit) (pollers.Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return pollers.Outcome{}, errors.New("provider down")
	}
	if cursor == nil {
		return pollers.Outcome{}, emit(ctx, nil, json.RawMessage(`{"watermark":"2026-11-21T10:00:00Z"}`))
	}
	return pollers.Outcome{Watermark: s.watermark}, nil
}

// A target reported complete beyond its cursor keeps that freshness while its later
// polls fail: the failure does not make what was read less complete.
func TestOutcomeWatermarkOutlivesFailedPolls(t *testing.T) {
	b, store, _, m := setup(t, testkit.EmbeddedKafka(t), "")
	src := &fullLog{watermark: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p", Provider: "conga", Topic: "unused"}, src, store, b, testkit.Logger(t), m)
	ctx := context.Background()
	gauge := func() time.Time {
		return time.UnixMilli(int64(testutil.ToFloat64(m.CursorTimestamp.WithLabelValues("p", "conga")) * 1000)).UTC()
	}
	for i, want := range []time.Time{time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), src.watermark} {
		if err := r.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := gauge(); !got.Equal(want) {
			t.Fatalf("poll %d: freshness %v, want %v", i+1, got, want)
		}
	}
	src.mu.Lock()
	src.fail = true
	src.mu.Unlock()
	if err := r.PollOnce(ctx); err == nil {
		t.Fatal("the failing poll returned no error")
	}
	if got := gauge(); !got.Equal(src.watermark) {
		t.Fatalf("after a failed poll: freshness %v, want %v (the last outcome)", got, src.watermark)
	}
}

// pollSeries polls once and checks the number of cursor_timestamp series (what names
// the situation in the failure).
func pollSeries(t *testing.T, ctx context.Context, r *pollers.Runner, m *metrics.Metrics, want int, what string) {
	t.Helper()
	if err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.CursorTimestamp); n != want {
		t.Fatalf("%d %s, want %d", n, what, want)
	}
}
