package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
)

// flaky is a store that is down for the first `down` writes, refuses event "poison", and
// refuses the sink's credentials while fatal is set.
type flaky struct {
	mu      sync.Mutex
	down    int
	calls   int
	fatal   bool
	written map[string]int
	routes  map[string]string
}

func (f *flaky) Name() string                { return "flaky" }
func (f *flaky) Guarantee() sinks.Guarantee  { return sinks.AtLeastOnce }
func (f *flaky) Ping(context.Context) error  { return nil }
func (f *flaky) Close(context.Context) error { return nil }
func (f *flaky) setFatal(v bool)             { f.mu.Lock(); f.fatal = v; f.mu.Unlock() }
func (f *flaky) count() (int, map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, maps.Clone(f.written)
}
func (f *flaky) Write(_ context.Context, batch []sinks.Event, res []sinks.ItemResult) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fatal {
		return sinks.Fatal(errors.New("authentication failed"))
	}
	if f.calls <= f.down {
		return errors.New("connection refused")
	}
	for i, e := range batch {
		if e.ID == "poison" {
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "rejected", Err: errors.New("store refuses this event")}
			continue
		}
		f.written[e.ID]++
		if f.routes != nil {
			f.routes[e.ID] = fmt.Sprintf("%s/%s/%d/%s", e.Provider, e.Tenant, e.ClassUID, e.Time.Format(time.RFC3339))
		}
		res[i] = sinks.ItemResult{Status: sinks.Written}
	}
	return nil
}

// runnerTopics creates an events topic and a dead-letter topic of one partition each on
// an embedded Kafka, and returns its bus, the unique suffix of their names and the names.
func runnerTopics(t *testing.T) (b *bus.Bus, u, events, dlq string) {
	t.Helper()
	b = testkit.NewBus(t, testkit.EmbeddedKafka(t))
	u = testkit.Unique()
	events, dlq = "t.ev."+u, "t.dlq."+u
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: events, Partitions: 1, ReplicationFactor: 1}, bus.TopicSpec{Name: dlq, Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	return b, u, events, dlq
}

func TestRunnerRetriesThenDeadLettersOnlyThePoison(t *testing.T) {
	b, u, events, dlq := runnerTopics(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var msgs []kafka.Message
	for _, id := range []string{"a", "poison", "b"} {
		msgs = append(msgs, kafka.Message{Topic: events, Key: []byte("k"), Value: []byte(`{}`), Headers: []kafka.Header{{Key: "ce_id", Value: []byte(id)}}})
	}
	msgs[0].Headers = append(msgs[0].Headers, kafka.Header{Key: "ce_source", Value: []byte("/auditstream/ionos/t1")},
		kafka.Header{Key: "ce_type", Value: []byte("io.auditstream.ocsf.6003")}, kafka.Header{Key: "ce_time", Value: []byte("2026-01-02T03:04:05Z")})
	msgs = append(msgs, kafka.Message{Topic: events, Key: []byte("k"), Value: []byte(`{"no":"id"}`)})
	if err := b.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	store := &flaky{down: 2, written: map[string]int{}, routes: map[string]string{}}
	m := metrics.NewUnregistered()
	r := sinks.NewRunner(sinks.RunnerConfig{EventsTopic: events, DLQTopic: dlq, GroupID: "g." + u, RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond}, store, b, testkit.Logger(t), m)
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
	if got := store.routes["a"]; got != "ionos/t1/6003/2026-01-02T03:04:05Z" {
		t.Fatalf("routing fields handed to the sink: %q", got)
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

func TestRunnerStopsOnFatalWithoutDeadLetteringAndResumes(t *testing.T) {
	b, u, events, dlq := runnerTopics(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var msgs []kafka.Message
	for i := range 5 {
		msgs = append(msgs, kafka.Message{Topic: events, Value: []byte(`{}`), Headers: []kafka.Header{{Key: "ce_id", Value: []byte(fmt.Sprint("e", i))}}})
	}
	if err := b.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	store := &flaky{written: map[string]int{}, fatal: true}
	m := metrics.NewUnregistered()
	r := sinks.NewRunner(sinks.RunnerConfig{EventsTopic: events, DLQTopic: dlq, GroupID: "g." + u,
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond, FatalRetry: 50 * time.Millisecond}, store, b, testkit.Logger(t), m)
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() {
		rcancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, "the fatal gauge", func() bool { return testutil.ToFloat64(m.SinkFatal.WithLabelValues("flaky")) == 1 })
	if err := r.Ready(ctx); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("Ready while fatal = %v", err)
	}
	// Stopped: tried again now and then, nothing written, nothing dead-lettered.
	waitFor(t, "a few more attempts", func() bool { calls, _ := store.count(); return calls >= 3 })
	if n := testutil.ToFloat64(m.SinkEvents.WithLabelValues("flaky", "dlq")); n != 0 {
		t.Fatalf("%v events dead-lettered by a fatal sink", n)
	}
	store.setFatal(false) // the operator fixed the credentials
	waitFor(t, "every event written", func() bool { _, w := store.count(); return len(w) == 5 })
	waitFor(t, "the fatal gauge back to 0", func() bool { return testutil.ToFloat64(m.SinkFatal.WithLabelValues("flaky")) == 0 })
	if err := r.Ready(ctx); err != nil {
		t.Fatalf("Ready after recovery = %v", err)
	}
	if n := testutil.ToFloat64(m.SinkEvents.WithLabelValues("flaky", "dlq")); n != 0 {
		t.Fatalf("%v events dead-lettered", n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Every series of a sink exists at 0 once its runner is built: increase() over the first
// scrapes then counts the first retry, dead letter or write.
func TestRunnerPreCreatesItsSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "test")
	sinks.NewRunner(sinks.RunnerConfig{EventsTopic: "e", DLQTopic: "d"}, &flaky{}, nil, testkit.Logger(t), m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = true
		}
	}
	for _, want := range []string{
		"auditstream_sink_events_total{outcome=written,sink=flaky}",
		"auditstream_sink_events_total{outcome=duplicate,sink=flaky}",
		"auditstream_sink_events_total{outcome=dlq,sink=flaky}",
		"auditstream_sink_retries_total{sink=flaky}",
		"auditstream_sink_fatal{sink=flaky}",
		"auditstream_dlq_records_total{reason=no_id,stage=sink}",
		"auditstream_dlq_records_total{reason=rejected,stage=sink}",
	} {
		if !got[want] {
			t.Errorf("series %s missing after NewRunner", want)
		}
	}
}
