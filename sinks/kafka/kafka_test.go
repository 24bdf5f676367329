package kafka

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
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
	r := kgo.NewReader(kgo.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, Dialer: b.Dialer(), MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond})
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
		// credentials here (it runs without authentication). TestConformanceBrokerDown
		// covers a cluster that is down, on an embedded broker.
		Poison: func(e *sinks.Event) {
			// Above the topic's max.message.bytes even compressed.
			raw := make([]byte, 150<<10)
			_, _ = rand.Read(raw)
			e.Value = []byte(fmt.Sprintf(`{"metadata":{"uid":%q},"pad":%q}`, e.ID, base64.StdEncoding.EncodeToString(raw)))
		},
		Unsupported: map[string]string{
			sinktest.CaseUnavailable:    "the shared broker cannot be stopped (TestConformanceBrokerDown covers it on an embedded broker)",
			sinktest.CaseBadCredentials: "the test broker runs without authentication",
			sinktest.CaseForbidden:      "the test broker runs without ACLs",
			sinktest.CaseCancelMidWrite: "Kafka clients connect to the brokers' advertised addresses, so no proxy can slow them down",
			sinktest.CaseNoSecretLeaks:  "no secret configured (no authentication)",
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
	s := Settings{Brokers: []string{"nohost"}, Format: "xml", Key: "tenant", Compression: "gzip"}
	s.SetDefaults()
	s.Validate("x", &p)
	got := fmt.Sprint(p.Err())
	for _, want := range []string{"x.brokers[0]", "x.topic", "x.format", "x.key", "x.compression"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %s: %s", want, got)
		}
	}
}

// embeddedStore is an in-process broker that keeps its data on disk, so that the test can
// stop it (the store is down) and start it again on the same port.
type embeddedStore struct {
	t    *testing.T
	dir  string
	port int
	mu   sync.Mutex
	e    *bus.Embedded
}

func (s *embeddedStore) start() {
	e, err := bus.StartEmbedded(testkit.Logger(s.t), s.dir, s.port)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.e = e
	s.mu.Unlock()
}

func (s *embeddedStore) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// The conformance suite again, on an embedded broker the test can stop: the Unavailable
// case (a cluster that is down, then back).
func TestConformanceBrokerDown(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	st := &embeddedStore{t: t, dir: t.TempDir(), port: port}
	st.start()
	t.Cleanup(st.stop)
	brokers := []string{fmt.Sprintf("127.0.0.1:%d", port)}
	topic := "t.sinkkafka.down"
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T, log *slog.Logger) sinks.Sink {
			cfg := settings(brokers, topic)
			cfg.Partitions = 1
			s, err := Open("republish", cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Count: func(t *testing.T, ids []string) map[string]int {
			b := testkit.NewBus(t, brokers)
			out := map[string]int{}
			for _, m := range readAll(t, b, brokers, topic) {
				out[string(m.Key)]++
			}
			return out
		},
		Fault: func(t *testing.T, f sinktest.Fault) func() {
			if f != sinktest.Unavailable {
				return nil
			}
			st.stop()
			return st.start
		},
		Unsupported: map[string]string{
			sinktest.CaseBadCredentials: "the embedded broker runs without authentication",
			sinktest.CaseForbidden:      "the embedded broker runs without ACLs",
			sinktest.CasePoison:         "covered by TestConformance on the real broker (max.message.bytes)",
			sinktest.CaseCancelMidWrite: "Kafka clients connect to the brokers' advertised addresses, so no proxy can slow them down",
			sinktest.CaseNoSecretLeaks:  "no secret configured (no authentication)",
		},
	})
}

func TestIntegrationFormats(t *testing.T) {
	brokers := testkit.RealKafka(t)
	b := testkit.NewBus(t, brokers)
	for _, format := range []string{"ecs", "cloudevents"} {
		t.Run(format, func(t *testing.T) {
			topic := "t.sinkkafka." + format + "." + testkit.Unique()
			cfg := settings(brokers, topic)
			cfg.Format, cfg.Partitions = format, 1
			s, err := Open("k", cfg, testkit.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			evs := sinktest.Events("fmt-", 3)
			if d, err := sinks.Deliver(context.Background(), s, evs); err != nil || d.Written != 3 {
				t.Fatalf("delivery %+v err %v", d, err)
			}
			got := readAll(t, b, brokers, topic)
			if len(got) != 3 {
				t.Fatalf("%d records", len(got))
			}
			for i, m := range got {
				var v struct {
					ID          string `json:"id"`
					SpecVersion string `json:"specversion"`
					Type        string `json:"type"`
					Data        struct {
						Metadata struct {
							UID string `json:"uid"`
						} `json:"metadata"`
					} `json:"data"`
					Event struct {
						ID string `json:"id"`
					} `json:"event"`
					Timestamp string `json:"@timestamp"`
				}
				if err := json.Unmarshal(m.Value, &v); err != nil {
					t.Fatalf("record %d: %v: %s", i, err, m.Value)
				}
				hs := map[string]string{}
				for _, h := range m.Headers {
					hs[h.Key] = string(h.Value)
				}
				e := evs[i]
				switch format {
				case "ecs":
					if v.Event.ID != e.ID || v.Timestamp == "" || hs["ce_id"] != e.ID || hs["ce_type"] != "" {
						t.Fatalf("ECS record %s headers %v", m.Value, hs)
					}
				case "cloudevents":
					if v.ID != e.ID || v.SpecVersion != "1.0" || v.Type != fmt.Sprintf("io.auditstream.ocsf.%d", e.ClassUID) ||
						v.Data.Metadata.UID != e.ID || hs["content-type"] != "application/cloudevents+json" || hs["ce_id"] != "" {
						t.Fatalf("CloudEvents record %s headers %v", m.Value, hs)
					}
				}
			}
		})
	}
}
