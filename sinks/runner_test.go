package sinks_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
)

// flaky is a store that is down for the first `down` writes, and refuses event "poison".
type flaky struct {
	mu      sync.Mutex
	down    int
	calls   int
	written map[string]int
}

func (f *flaky) Name() string               { return "flaky" }
func (f *flaky) Ping(context.Context) error { return nil }
func (f *flaky) Close() error               { return nil }
func (f *flaky) count() (int, map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.written
}
func (f *flaky) Write(_ context.Context, batch []sinks.Event) (sinks.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.down {
		return sinks.Result{}, errors.New("connection refused")
	}
	rej := &sinks.Rejected{ByIndex: map[int]error{}}
	for i, e := range batch {
		if e.ID == "poison" {
			rej.ByIndex[i] = errors.New("store refuses this event")
			continue
		}
		f.written[e.ID]++
		rej.Written++
	}
	if len(rej.ByIndex) > 0 {
		return rej.Result, rej
	}
	return rej.Result, nil
}

func TestRunnerRetriesThenDeadLettersOnlyThePoison(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	b := testkit.NewBus(t, brokers)
	u := testkit.Unique()
	events, dlq := "t.ev."+u, "t.dlq."+u
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: events, Partitions: 1, ReplicationFactor: 1}, bus.TopicSpec{Name: dlq, Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	for _, id := range []string{"a", "poison", "b"} {
		msgs = append(msgs, kafka.Message{Topic: events, Key: []byte("k"), Value: []byte(`{}`), Headers: []kafka.Header{{Key: "ce_id", Value: []byte(id)}}})
	}
	msgs = append(msgs, kafka.Message{Topic: events, Key: []byte("k"), Value: []byte(`{"no":"id"}`)})
	if err := b.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	store := &flaky{down: 2, written: map[string]int{}}
	m := metrics.NewUnregistered()
	r := sinks.NewRunner(sinks.RunnerConfig{EventsTopic: events, DLQTopic: dlq, GroupID: "g." + u}, store, b, testkit.Logger(t), m)
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(m.SinkEvents.WithLabelValues("flaky", "dlq")) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	rcancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	calls, written := store.count()
	if calls < 3 || written["a"] != 1 || written["b"] != 1 || written["poison"] != 0 {
		t.Fatalf("calls=%d written=%v", calls, written)
	}
	if v := testutil.ToFloat64(m.SinkRetries.WithLabelValues("flaky")); v != 2 {
		t.Fatalf("sink_retries_total = %v, want 2", v)
	}
	var got []kafka.Message
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	defer ccancel()
	_ = b.Consume(cctx, bus.GroupConfig{GroupID: "read." + u, Topics: []string{dlq}}, func(_ context.Context, batch []kafka.Message) error {
		got = append(got, batch...)
		if len(got) >= 2 {
			ccancel()
		}
		return nil
	})
	reasons := map[string]bool{}
	for _, g := range got {
		reasons[bus.Header(g, "dlq.reason")] = true
		if bus.Header(g, "dlq.stage") != "sink:flaky" {
			t.Fatalf("stage %q", bus.Header(g, "dlq.stage"))
		}
	}
	if len(got) != 2 || !reasons["rejected"] || !reasons["no_id"] {
		t.Fatalf("dlq = %d records, reasons %v", len(got), reasons)
	}
}
