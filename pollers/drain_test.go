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

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
)

// lease is an Assignment whose one lease the test ends (a rebalance, as the targets group
// does it), recording what had happened when the runner released it.
type lease struct {
	targets  []pollers.Target
	ctx      context.Context
	end      context.CancelFunc
	released chan struct{}
	onRel    func()
}

func newLease(targets ...pollers.Target) *lease {
	ctx, cancel := context.WithCancel(context.Background())
	return &lease{targets: targets, ctx: ctx, end: cancel, released: make(chan struct{})}
}

func (l *lease) Lease(context.Context, string, string) (pollers.Lease, bool) {
	// The run's own context is Background in these tests: the lease's is l.ctx.
	return pollers.Lease{Ctx: l.ctx, Targets: slices.Values(l.targets), Release: func() {
		if l.onRel != nil {
			l.onRel()
		}
		close(l.released)
	}}, true
}

func (l *lease) Retire(context.Context, string, pollers.Target) error { return nil }

// heldAnswer is a full-log-like Source: its poll of "first" has fetched an answer and
// holds it until the test lets it go, then publishes it with its cursor.
type heldAnswer struct {
	fetched, release chan struct{}
	mu               sync.Mutex
	polled           []string
	stoppingSeen     bool
	emitErr          error
	ignoreStop       bool // block on the poll's context instead of the release
}

func (h *heldAnswer) Targets(context.Context) ([]pollers.Target, error) { return nil, nil }

func (h *heldAnswer) Poll(ctx context.Context, t pollers.Target, _ json.RawMessage, emit pollers.Emit) (pollers.Outcome, error) {
	h.mu.Lock()
	h.polled = append(h.polled, t.Entity)
	h.mu.Unlock()
	if t.Entity != "first" {
		return pollers.Outcome{}, nil
	}
	close(h.fetched)
	if h.ignoreStop {
		<-ctx.Done()
		return pollers.Outcome{}, ctx.Err()
	}
	<-h.release
	h.mu.Lock()
	h.stoppingSeen = pollers.Stopping(ctx)
	h.mu.Unlock()
	err := emit(ctx, []pollers.Record{{Raw: []byte(`{"action":"signed","n":1}`)}, {Raw: []byte(`{"action":"signed","n":2}`)}},
		json.RawMessage(`{"v":1,"watermark":"2026-11-22T10:00:00Z"}`))
	h.mu.Lock()
	h.emitErr = err
	h.mu.Unlock()
	return pollers.Outcome{}, err
}

// A rebalance (the lease ends) while a poll holds a fetched answer: the poll still
// publishes the answer and saves its cursor before the lease is released, and no target
// starts after the lease ended.
func TestLeaseEndDrainsThePollUnderWay(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	raw := "t.raw." + testkit.Unique()
	b, store, _, m := setup(t, brokers, raw)
	src := &heldAnswer{fetched: make(chan struct{}), release: make(chan struct{})}
	l := newLease(pollers.Target{Tenant: "t1", Entity: "first"}, pollers.Target{Tenant: "t1", Entity: "second"})
	// "second" has a cursor from an earlier owner: not started, it still counts for
	// freshness.
	if err := store.Save(context.Background(), "p1/signinghub/t1/second", json.RawMessage(`{"v":1,"watermark":"2026-11-21T08:00:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	var cursorAtRelease json.RawMessage
	l.onRel = func() { cursorAtRelease = store.Get("p1/signinghub/t1/first") }
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p1", Provider: "signinghub", Topic: raw, Parallel: 1, Assignment: l},
		src, store, b, testkit.Logger(t), m)
	done := make(chan error, 1)
	go func() { done <- r.PollOnce(context.Background()) }()

	<-src.fetched
	l.end()            // the generation ends while "first" holds its answer
	close(src.release) // the answer is handed to the runner after the end
	if err := <-done; err != nil {
		t.Fatalf("PollOnce: %v", err)
	}
	<-l.released
	if src.emitErr != nil {
		t.Fatalf("the held answer was not published: %v", src.emitErr)
	}
	if !src.stoppingSeen {
		t.Fatal("pollers.Stopping was false in a poll whose lease had ended")
	}
	if string(cursorAtRelease) != `{"v":1,"watermark":"2026-11-22T10:00:00Z"}` {
		t.Fatalf("cursor when the lease was released = %s", cursorAtRelease)
	}
	if len(src.polled) != 1 {
		t.Fatalf("targets polled = %v: a target started after the lease ended", src.polled)
	}
	if v := testutil.ToFloat64(m.CursorTimestamp.WithLabelValues("p1", "signinghub")); v != float64(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC).Unix()) {
		t.Fatalf("freshness = %v, want the cursor of the target not started (2026-11-21T08:00)", v)
	}
	readAll(t, b, raw, 2)
}

// A poll that does not return by itself is cancelled once the drain time is over, and
// its cursor does not move.
func TestDrainEndsInCancellation(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	b, store, _, m := setup(t, brokers, "")
	src := &heldAnswer{fetched: make(chan struct{}), ignoreStop: true}
	l := newLease(pollers.Target{Tenant: "t1", Entity: "first"})
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p1", Provider: "conga", Topic: "unused", Drain: 50 * time.Millisecond, Assignment: l},
		src, store, b, testkit.Logger(t), m)
	done := make(chan error, 1)
	go func() { done <- r.PollOnce(context.Background()) }()
	<-src.fetched
	l.end()
	if err := <-done; err != nil {
		t.Fatalf("PollOnce after the drain: %v (a cancelled poll is no error)", err)
	}
	<-l.released
	if c := store.Get("p1/conga/t1/first"); c != nil {
		t.Fatalf("cursor %s saved by a cancelled poll", c)
	}
}

// Outside a runner, Stopping is the context's own state.
func TestStoppingWithoutRunner(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if pollers.Stopping(ctx) {
		t.Fatal("a live context is stopping")
	}
	cancel()
	if !pollers.Stopping(ctx) || !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("a cancelled context is not stopping")
	}
}
