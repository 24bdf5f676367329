package bus_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/testkit"
)

func TestEmbeddedGroupLag(t *testing.T) { groupLag(t, testkit.EmbeddedKafka(t)) }

func TestIntegrationRealKafkaGroupLag(t *testing.T) { groupLag(t, testkit.RealKafka(t)) }

// groupLag checks that the lag is the sum over partitions of end − committed: 30 messages
// on 3 partitions, a group that handles (and commits) exactly 12 of them, then stops
// handling: the group's lag on the topic is 18, reported through OnLag and GroupLag.
func groupLag(t *testing.T, brokers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b := testkit.NewBus(t, brokers)
	u := testkit.Unique()
	topic, group := "t.lag."+u, "g.lag."+u
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	// Before the group commits anything, every message counts.
	var msgs []kafka.Message
	for i := range 30 {
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprint(i))})
	}
	if err := b.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	lag, err := b.GroupLag(ctx, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(lag) != 3 || lag[0]+lag[1]+lag[2] != 30 {
		t.Fatalf("lag before any commit = %v, want 3 partitions summing to 30", lag)
	}

	var handled atomic.Int64
	var mu sync.Mutex
	reported := map[string]int64{}
	cctx, ccancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, bus.GroupConfig{GroupID: group, Topics: []string{topic}, MaxBatch: 1, LagInterval: 100 * time.Millisecond,
			OnLag: func(topic string, partition int, lag int64) {
				if partition != -1 {
					t.Errorf("OnLag partition = %d, want -1 (all partitions)", partition)
				}
				mu.Lock()
				reported[topic] = lag
				mu.Unlock()
			}}, func(ctx context.Context, batch []kafka.Message) error {
			if handled.Load() >= 12 {
				<-ctx.Done() // stop handling: nothing more is committed
				return ctx.Err()
			}
			handled.Add(int64(len(batch)))
			return nil
		})
	}()
	defer func() { ccancel(); <-done }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		got, ok := reported[topic]
		mu.Unlock()
		if ok && got == 18 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reported lag = %d (reported: %v), want 18 = 30 − 12 committed", got, ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
	lag, err = b.GroupLag(ctx, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	if s := lag[0] + lag[1] + lag[2]; s != 18 {
		t.Fatalf("GroupLag = %v (sum %d), want sum 18", lag, s)
	}
}
