package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/testkit"
)

// A read that stalls is not the end of the partition: ReadRange must not report a
// compacted tail (its callers would skip the unread records until a restart) while
// records are left before end; it returns an error so that the caller reads again.
func TestIntegrationReadRangeSlowReadIsNotAGap(t *testing.T) {
	brokers := testkit.RealKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b := testkit.NewBus(t, brokers)
	topic := "t.range." + testkit.Unique()
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1, Configs: map[string]string{"cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	for i := range 5 {
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(fmt.Sprint("k", i)), Value: []byte("v")})
	}
	if err := b.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	ends, err := b.PartitionEnds(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end := ends[0]

	n, gapped, err := b.ReadRange(ctx, topic, 0, 0, end, func(kafka.Message) {})
	if err != nil || gapped || n != 5 {
		t.Fatalf("normal read: n=%d gapped=%v err=%v, want 5 records", n, gapped, err)
	}

	// Every wait for a record times out: the records are there, so this is a stall,
	// not a compacted tail.
	restore := bus.SetReadIdle(100 * time.Millisecond)
	unstall := bus.StallReads()
	n, gapped, err = b.ReadRange(ctx, topic, 0, 0, end, func(kafka.Message) {})
	unstall()
	restore()
	if err == nil || gapped {
		t.Fatalf("stalled read: n=%d gapped=%v err=%v, want an error and no gap", n, gapped, err)
	}

	// An end the partition has not reached cannot be proven compacted either.
	restore = bus.SetReadIdle(300 * time.Millisecond)
	defer restore()
	n, gapped, err = b.ReadRange(ctx, topic, 0, 0, end+3, func(kafka.Message) {})
	if err == nil || gapped || n != 5 {
		t.Fatalf("read past the high watermark: n=%d gapped=%v err=%v, want 5 records then an error", n, gapped, err)
	}
}
