package kafka

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// readAll reads every record of a one-partition topic.
func readAll(t testing.TB, b *bus.Bus, brokers []string, topic string) []kgo.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := b.PartitionEnds(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end := ends[0]
	if end == 0 {
		return nil
	}
	r := kgo.NewReader(kgo.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	var out []kgo.Message
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		out = append(out, m)
		if m.Offset >= end-1 {
			return out
		}
	}
}

func setup(t *testing.T) (brokers []string, b *bus.Bus, topic string) {
	brokers = testkit.RealKafka(t)
	b = testkit.NewBus(t, brokers)
	topic = "t.sinkkafka." + testkit.Unique()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// One partition (the test reads it in order) and a small record limit (the poison).
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1,
		Configs: map[string]string{"max.message.bytes": "65536"}}); err != nil {
		t.Fatal(err)
	}
	return brokers, b, topic
}

func settings(brokers []string, topic string) Settings {
	s := Settings{Brokers: brokers, Topic: topic}
	s.SetDefaults()
	return s
}

func TestIntegrationConformance(t *testing.T) {
	brokers, b, topic := setup(t)
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T, log *slog.Logger) sinks.Sink {
			s, err := Open("republish", settings(brokers, topic), log)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Count: func(t *testing.T, ids []string) map[string]int {
			out := map[string]int{}
			for _, m := range readAll(t, b, brokers, topic) {
				out[string(m.Key)]++
			}
			return out
		},
		// No fault injector: the shared broker cannot be stopped nor made to refuse
		// credentials here (it runs without authentication); the retry path is the
		// runner's and internal/bus's, tested there.
		Poison: func(e *sinks.Event) {
			// Above the topic's max.message.bytes even compressed.
			raw := make([]byte, 150<<10)
			_, _ = rand.Read(raw)
			e.Value = []byte(fmt.Sprintf(`{"metadata":{"uid":%q},"pad":%q}`, e.ID, base64.StdEncoding.EncodeToString(raw)))
		},
	})
}

func TestIntegrationRecordsKeepTheCloudEventsHeaders(t *testing.T) {
	brokers, b, topic := setup(t)
	sent := map[string][]sinks.Event{}
	for _, key := range []string{"event_id", "source"} {
		cfg := settings(brokers, topic)
		cfg.Key = key
		s, err := Open("k", cfg, testkit.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		evs := sinktest.Events("hdr-"+key+"-", 2)
		sent[key] = evs
		if _, err := sinks.Deliver(context.Background(), s, evs); err != nil {
			t.Fatal(err)
		}
		_ = s.Close(context.Background())
	}
	got := readAll(t, b, brokers, topic)
	if len(got) != 4 {
		t.Fatalf("%d records, want 4", len(got))
	}
	want := sent["source"][1]
	m := got[3]
	if string(m.Key) != string(want.Key) || string(m.Value) != string(want.Value) {
		t.Fatalf("record key %q value %s", m.Key, m.Value)
	}
	if string(got[0].Key) != "hdr-event_id-0000" {
		t.Fatalf("event_id key %q", got[0].Key)
	}
	hs := map[string]string{}
	for _, h := range m.Headers {
		hs[h.Key] = string(h.Value)
	}
	if hs["ce_id"] != want.ID || hs["ce_type"] != "io.auditstream.ocsf."+fmt.Sprint(want.ClassUID) ||
		hs["ce_source"] != "/auditstream/"+want.Provider+"/"+want.Tenant || hs["ce_time"] == "" {
		t.Fatalf("headers %v", hs)
	}
}

func TestSettings(t *testing.T) {
	var p config.Problems
	s := Settings{Brokers: []string{"nohost"}, Format: "ecs", Key: "tenant", Compression: "gzip"}
	s.SetDefaults()
	s.Validate("x", &p)
	got := fmt.Sprint(p.Err())
	for _, want := range []string{"x.brokers[0]", "x.topic", "x.format", "x.key", "x.compression"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %s: %s", want, got)
		}
	}
}
