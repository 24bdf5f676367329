package pollers_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/checkpoint"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/schemas"
)

// script is a Source that emits fixed batches with cursors, optionally failing after.
type script struct {
	batches [][]pollers.Record
	fail    error
	seen    []json.RawMessage
}

func (s *script) Targets(context.Context) ([]pollers.Target, error) {
	return []pollers.Target{{Tenant: "t1", Entity: "e1"}}, nil
}

func (s *script) Poll(ctx context.Context, _ pollers.Target, cur json.RawMessage, emit pollers.Emit) (pollers.Outcome, error) {
	s.seen = append(s.seen, cur)
	for i, b := range s.batches {
		if err := emit(ctx, b, json.RawMessage(`{"v":1,"watermark":"2026-11-21T10:00:0`+string(rune('0'+i))+`Z"}`)); err != nil {
			return pollers.Outcome{}, err
		}
	}
	return pollers.Outcome{}, s.fail
}

func setup(t *testing.T, brokers []string, rawTopic string) (*bus.Bus, *checkpoint.Store, string, *metrics.Metrics) {
	ctx := context.Background()
	b := testkit.NewBus(t, brokers)
	u := testkit.Unique()
	cp := "t.cp." + u
	specs := []bus.TopicSpec{{Name: cp, Partitions: 1, ReplicationFactor: 1, Configs: map[string]string{"cleanup.policy": "compact"}}}
	if rawTopic != "" {
		specs = append(specs, bus.TopicSpec{Name: rawTopic, Partitions: 2, ReplicationFactor: 1})
	}
	if err := b.EnsureTopics(ctx, specs...); err != nil {
		t.Fatal(err)
	}
	m := metrics.NewUnregistered()
	store, err := checkpoint.Open(ctx, b, cp, testkit.Logger(t), m)
	if err != nil {
		t.Fatal(err)
	}
	return b, store, cp, m
}

func TestRunnerPublishesEnvelopesAndCheckpoints(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	raw := "t.raw." + testkit.Unique()
	b, store, _, m := setup(t, brokers, raw)
	src := &script{batches: [][]pollers.Record{
		{{NativeID: "n1", Raw: []byte(`{"x":1}`), Time: time.Now()}, {Raw: []byte(`{"x":2}`)}},
		{{NativeID: "n3", Raw: []byte(`<a>1</a>`), ContentType: schemas.ContentXML}},
	}}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p1", Provider: "ionos", Topic: raw}, src, store, b, testkit.Logger(t), m)
	if err := r.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := string(store.Get("p1/ionos/t1/e1")); got != `{"v":1,"watermark":"2026-11-21T10:00:01Z"}` {
		t.Fatalf("checkpoint = %s", got)
	}
	if v := testutil.ToFloat64(m.RecordsPublished.WithLabelValues("p1", "ionos")); v != 3 {
		t.Fatalf("records_published_total = %v", v)
	}
	if v := testutil.ToFloat64(m.CursorTimestamp.WithLabelValues("p1", "ionos")); v != float64(time.Date(2026, 11, 21, 10, 0, 1, 0, time.UTC).Unix()) {
		t.Fatalf("cursor_timestamp_seconds = %v", v)
	}
	// Read the raw topic back: three valid envelopes, keyed provider/tenant/entity.
	msgs := readAll(t, b, raw, 3)
	schema := schemas.MustLoad(schemas.EnvelopeSchema)
	for _, msg := range msgs {
		if string(msg.Key) != "ionos/t1/e1" {
			t.Fatalf("key %q", msg.Key)
		}
		if err := schema.ValidateJSON(msg.Value); err != nil {
			t.Fatal(err)
		}
		env, err := schemas.DecodeEnvelope(msg.Value)
		if err != nil {
			t.Fatal(err)
		}
		if env.Poller != "p1" || env.Occurrence != 1 {
			t.Fatalf("envelope %+v", env)
		}
		if env.ContentType == schemas.ContentXML {
			if x, _ := env.XML(); x != "<a>1</a>" {
				t.Fatalf("xml record %q", x)
			}
		}
	}
	// The second poll sees the stored cursor.
	if err := r.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if string(src.seen[1]) != `{"v":1,"watermark":"2026-11-21T10:00:01Z"}` {
		t.Fatalf("second poll got cursor %s", src.seen[1])
	}
}

func TestCursorNeverMovesPastUnwrittenRecords(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	b, store, _, m := setup(t, brokers, "")
	// The raw topic does not exist: the publish fails, so the cursor must stay unset.
	src := &script{batches: [][]pollers.Record{{{NativeID: "n1", Raw: []byte(`{}`)}}}}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p1", Provider: "ionos", Topic: "t.missing." + testkit.Unique()}, src, store, b, testkit.Logger(t), m)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.PollOnce(ctx); err == nil {
		t.Fatal("publishing to a missing topic succeeded")
	}
	if c := store.Get("p1/ionos/t1/e1"); c != nil {
		t.Fatalf("cursor moved to %s although the records were not written", c)
	}
	if v := testutil.ToFloat64(m.PollRequests.WithLabelValues("p1", "ionos", "error")); v != 1 {
		t.Fatalf("poll_requests_total{outcome=error} = %v", v)
	}
}

func TestProviderErrorKeepsEarlierCheckpoints(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	raw := "t.raw." + testkit.Unique()
	b, store, _, m := setup(t, brokers, raw)
	src := &script{batches: [][]pollers.Record{{{NativeID: "n1", Raw: []byte(`{}`)}}}, fail: errors.New("provider 500")}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p1", Provider: "ionos", Topic: raw}, src, store, b, testkit.Logger(t), m)
	if err := r.PollOnce(context.Background()); err == nil {
		t.Fatal("error not reported")
	}
	// The first batch and its cursor were durable before the failure: they stay.
	if c := store.Get("p1/ionos/t1/e1"); c == nil {
		t.Fatal("checkpoint of the acknowledged batch lost")
	}
}

func readAll(t *testing.T, b *bus.Bus, topic string, n int) []kafka.Message {
	t.Helper()
	var out []kafka.Message
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.Consume(ctx, bus.GroupConfig{GroupID: "read-" + testkit.Unique(), Topics: []string{topic}}, func(_ context.Context, batch []kafka.Message) error {
		out = append(out, batch...)
		if len(out) >= n {
			cancel()
		}
		return nil
	})
	if err != nil || len(out) != n {
		t.Fatalf("read %d of %d messages: %v", len(out), n, err)
	}
	return out
}

type panicSource struct{}

func (panicSource) Targets(context.Context) ([]pollers.Target, error) {
	return []pollers.Target{{Tenant: "t", Entity: "a"}, {Tenant: "t", Entity: "b"}}, nil
}
func (panicSource) Poll(_ context.Context, t pollers.Target, _ json.RawMessage, _ pollers.Emit) (pollers.Outcome, error) {
	if t.Entity == "a" {
		var m map[string]int
		m["boom"]++ // a provider bug: nil map write
	}
	return pollers.Outcome{}, nil
}

func TestProviderPanicIsAnErrorNotACrash(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	b, store, _, m := setup(t, brokers, "")
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p1", Provider: "ionos", Topic: "x"}, panicSource{}, store, b, testkit.Logger(t), m)
	err := r.PollOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "target a panicked") {
		t.Fatalf("err = %v", err)
	}
	if v := testutil.ToFloat64(m.PollRequests.WithLabelValues("p1", "ionos", "ok")); v != 1 {
		t.Fatalf("the healthy target was not polled: ok=%v", v)
	}
}

// retiring is a Source whose only target ends its life at the first poll.
type retiring struct{}

func (retiring) Targets(context.Context) ([]pollers.Target, error) {
	return []pollers.Target{{Tenant: "t1", Entity: "done", Terminal: true}}, nil
}

func (retiring) Poll(ctx context.Context, _ pollers.Target, _ json.RawMessage, emit pollers.Emit) (pollers.Outcome, error) {
	if err := emit(ctx, []pollers.Record{{Raw: []byte(`{"final":1}`)}}, json.RawMessage(`{"v":1,"watermark":"2026-11-21T10:00:00Z"}`)); err != nil {
		return pollers.Outcome{}, err
	}
	return pollers.Outcome{Retire: true}, nil
}

func TestRunnerRetireTombstonesTheCheckpoint(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	raw := "t.raw." + testkit.Unique()
	b, store, cp, m := setup(t, brokers, raw)
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p1", Provider: "conga", Topic: raw}, retiring{}, store, b, testkit.Logger(t), m)
	if err := r.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := store.Get("p1/conga/t1/done"); got != nil {
		t.Fatalf("checkpoint after retirement = %s", got)
	}
	// A process starting later does not see it either (the tombstone is on the topic).
	again, err := checkpoint.Open(context.Background(), b, cp, testkit.Logger(t), m)
	if err != nil {
		t.Fatal(err)
	}
	if again.Len() != 0 {
		t.Fatalf("%d checkpoints after a tombstone", again.Len())
	}
	if v := testutil.ToFloat64(m.RecordsPublished.WithLabelValues("p1", "conga")); v != 1 {
		t.Fatalf("final poll published %v records", v)
	}
}

// endingLease hands out leases whose generation ends before their first target (live
// false), or live ones.
type endingLease struct{ live bool }

func (e *endingLease) Lease(context.Context, string, string) (pollers.Lease, bool) {
	ctx, cancel := context.WithCancel(context.Background())
	live := e.live
	return pollers.Lease{Ctx: ctx, Targets: func(yield func(pollers.Target) bool) {
		if !live {
			cancel() // the generation ends between two targets of the run
		}
		yield(pollers.Target{Tenant: "t", Entity: "a"})
	}, Release: cancel}, true
}

func (e *endingLease) Retire(context.Context, string, pollers.Target) error { return nil }

// countingSource counts its polls.
type countingSource struct{ n atomic.Int32 }

func (c *countingSource) Targets(context.Context) ([]pollers.Target, error) { return nil, nil }
func (c *countingSource) Poll(context.Context, pollers.Target, json.RawMessage, pollers.Emit) (pollers.Outcome, error) {
	c.n.Add(1)
	return pollers.Outcome{}, nil
}

// The parallel limiter is shared by every run of a runner: a run whose lease ends before
// a target gives back the slot it took, so leases ending many times (rebalances) never
// leave the runner unable to poll.
func TestEndedLeasesGiveBackTheirSlotsEmbedded(t *testing.T) {
	b, store, _, m := setup(t, testkit.EmbeddedKafka(t), "")
	a := &endingLease{}
	src := &countingSource{}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p1", Provider: "conga", Topic: "x", Parallel: 2, Assignment: a}, src, store, b, testkit.Logger(t), m)
	for range 30 {
		_ = r.PollOnce(t.Context())
	}
	a.live = true
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a leaked limiter blocks until then
	defer cancel()
	_ = r.PollOnce(ctx)
	if n := src.n.Load(); n != 1 || ctx.Err() != nil {
		t.Fatalf("after 30 ended leases a live run polled %d targets (context: %v), want 1: the limiter lost its slots", n, ctx.Err())
	}
}
