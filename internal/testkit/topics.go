package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
)

// Compacted is the topic configuration of a compacted topic (checkpoints, targets).
var Compacted = map[string]string{"cleanup.policy": "compact"}

// BusWithin returns a Bus on brokers (as NewBus) and a context that ends after timeout
// or with the test, for the test's calls on the bus.
func BusWithin(t testing.TB, brokers []string, timeout time.Duration) (context.Context, *bus.Bus) {
	t.Helper()
	b := NewBus(t, brokers)
	return Context(t, timeout), b
}

// Context returns a context that ends after timeout or with the test.
func Context(t testing.TB, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// CreateTopic creates a topic named prefix plus a unique suffix with the given partitions
// and configs (replication factor 1) and returns its name; it fails the test otherwise.
func CreateTopic(t testing.TB, ctx context.Context, b *bus.Bus, prefix string, partitions int, configs map[string]string) string {
	t.Helper()
	name := prefix + Unique()
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: 1, Configs: configs}); err != nil {
		t.Fatal(err)
	}
	return name
}

// Publish publishes n messages to topic, message i with the key and value of kv(i),
// failing the test otherwise.
func Publish(t testing.TB, ctx context.Context, b *bus.Bus, topic string, n int, kv func(i int) (key, value string)) {
	t.Helper()
	msgs := make([]kafka.Message, 0, n)
	for i := range n {
		k, v := kv(i)
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(k), Value: []byte(v)})
	}
	if err := b.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}
