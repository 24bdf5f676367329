package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
)

func TestParseCompression(t *testing.T) {
	for _, name := range config.Compressions {
		if _, err := bus.ParseCompression(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := bus.ParseCompression("brotli"); err == nil {
		t.Fatal("an unknown codec was accepted")
	}
	if _, err := bus.New(bus.Config{Brokers: []string{"127.0.0.1:1"}, Compression: "brotli"}, testkit.Logger(t)); err == nil {
		t.Fatal("bus.New accepted an unknown codec")
	}
}

func TestEveryCodecRoundTripsEmbedded(t *testing.T) { codecsRoundTrip(t, testkit.EmbeddedKafka(t)) }

func TestIntegrationEveryCodecRoundTripsRealKafka(t *testing.T) {
	codecsRoundTrip(t, testkit.RealKafka(t))
}

// codecsRoundTrip writes with each codec and reads every record back unchanged.
func codecsRoundTrip(t *testing.T, brokers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, codec := range config.Compressions {
		t.Run(codec, func(t *testing.T) {
			b, err := bus.New(bus.Config{Brokers: brokers, ClientID: "auditstream-test", Compression: codec}, testkit.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			topic := "t.codec." + codec + "." + testkit.Unique()
			if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1}); err != nil {
				t.Fatal(err)
			}
			const n = 200
			var msgs []kafka.Message
			for i := 0; i < n; i++ {
				msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte("k"), Value: []byte(fmt.Sprintf(`{"n":%d,"pad":"audit audit audit audit"}`, i))})
			}
			if err := b.Publish(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
			defer r.Close()
			for i := 0; i < n; i++ {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if want := fmt.Sprintf(`{"n":%d,"pad":"audit audit audit audit"}`, i); string(m.Value) != want {
					t.Fatalf("record %d = %s, want %s", i, m.Value, want)
				}
			}
		})
	}
}
