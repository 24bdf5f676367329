package bus_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/testkit"
)

func TestEmbeddedRoundTrip(t *testing.T) { roundTrip(t, testkit.EmbeddedKafka(t)) }

func TestIntegrationRealKafkaRoundTrip(t *testing.T) { roundTrip(t, testkit.RealKafka(t)) }

// roundTrip checks what every component relies on: explicit topic creation (twice: the
// second is "already exists" = success), acks=all writes with headers, a consumer group that
// commits only handled batches and a second member of the same group resuming after them.
func roundTrip(t *testing.T, brokers []string) { roundTripOn(t, testkit.NewBus(t, brokers)) }

func roundTripOn(t *testing.T, b *bus.Bus) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	u := testkit.Unique()
	topic, compact := "t.rt."+u, "t.compact."+u
	specs := []bus.TopicSpec{
		{Name: topic, Partitions: 3, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "604800000"}},
		{Name: compact, Partitions: 1, ReplicationFactor: 1, Configs: map[string]string{"cleanup.policy": "compact"}},
	}
	for i := 0; i < 2; i++ {
		if err := b.EnsureTopics(ctx, specs...); err != nil {
			t.Fatalf("EnsureTopics #%d: %v", i+1, err)
		}
	}
	const n = 1000
	var msgs []kafka.Message
	for i := 0; i < n; i++ {
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i%17)), Value: []byte(fmt.Sprint(i)),
			Headers: []kafka.Header{{Key: "ce_id", Value: []byte(fmt.Sprint(i))}}})
	}
	if err := b.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	group := "g." + u
	seen := map[string]int{}
	var mu sync.Mutex
	consume := func(stopAfter int) {
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		err := b.Consume(cctx, bus.GroupConfig{GroupID: group, Topics: []string{topic}, MaxBatch: 100}, func(_ context.Context, batch []kafka.Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range batch {
				if bus.Header(m, "ce_id") != string(m.Value) {
					t.Errorf("header ce_id=%q for value %q", bus.Header(m, "ce_id"), m.Value)
				}
				seen[string(m.Value)]++
			}
			if len(seen) >= stopAfter {
				ccancel()
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	consume(n / 2)
	mu.Lock()
	first := len(seen)
	mu.Unlock()
	if first < n/2 {
		t.Fatalf("first member saw %d messages", first)
	}
	consume(n)
	if len(seen) != n {
		t.Fatalf("saw %d distinct messages, want %d", len(seen), n)
	}
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	// A committed batch is never delivered again to the same group.
	if dups != 0 {
		t.Fatalf("%d messages delivered twice after a clean hand-over", dups)
	}
	ends, err := b.PartitionEnds(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range ends {
		total += e
	}
	if total != n {
		t.Fatalf("partition ends sum to %d, want %d", total, n)
	}
}

// A message over the topic's max.message.bytes is a permanent error, returned at once;
// a topic created with a larger max.message.bytes takes (and gives back) a large message.
func TestIntegrationMessageSizeLimits(t *testing.T) {
	brokers := testkit.RealKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := testkit.NewBus(t, brokers)
	u := testkit.Unique()
	small, big := "t.small."+u, "t.big."+u
	if err := b.EnsureTopics(ctx,
		bus.TopicSpec{Name: small, Partitions: 1, ReplicationFactor: 1, Configs: map[string]string{"max.message.bytes": "1048576"}},
		bus.TopicSpec{Name: big, Partitions: 1, ReplicationFactor: 1, Configs: map[string]string{"max.message.bytes": "8388608"}}); err != nil {
		t.Fatal(err)
	}
	// Random bytes: the limit applies to the (compressed) record batch, so the payload
	// must not compress below it.
	payload := make([]byte, 2<<20)
	_, _ = rand.Read(payload)
	start := time.Now()
	err := b.Publish(ctx, kafka.Message{Topic: small, Key: []byte("k"), Value: payload})
	if !errors.Is(err, bus.ErrPermanent) {
		t.Fatalf("2 MiB into a 1 MiB topic: err = %v, want ErrPermanent", err)
	}
	t.Logf("permanent error after %s: %v", time.Since(start), err)
	if err := b.Publish(ctx, kafka.Message{Topic: big, Key: []byte("k"), Value: payload}); err != nil {
		t.Fatalf("2 MiB into an 8 MiB topic: %v", err)
	}
	got := 0
	cctx, ccancel := context.WithCancel(ctx)
	_ = b.Consume(cctx, bus.GroupConfig{GroupID: "g." + u, Topics: []string{big}}, func(_ context.Context, batch []kafka.Message) error {
		for _, m := range batch {
			got = len(m.Value)
		}
		ccancel()
		return nil
	})
	ccancel()
	if got != len(payload) {
		t.Fatalf("read back %d bytes, want %d", got, len(payload))
	}
}
