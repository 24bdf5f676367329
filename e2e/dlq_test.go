package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/schemas"
)

func TestPoisonRecordsGoToDLQEmbedded(t *testing.T) { poison(t, testkit.EmbeddedKafka(t)) }

func TestIntegrationPoisonRecordsGoToDLQ(t *testing.T) { poison(t, testkit.RealKafka(t)) }

// Bad raw records never stop the normalizer: each goes to the DLQ with its reason and
// origin, the good ones around them are normalized, and the offsets are committed.
func poison(t *testing.T, brokers []string) {
	p := New(t, brokers, "ionos", "mystery")
	good := func(uuid string) []byte {
		rec := fmt.Sprintf(`{"@uuid":%q,"meta":{"time":"2026-11-21T10:00:00Z"},"principal":{"sourceIP":"192.0.2.1","identity":{"username":"u"}},"event":{"type":"RequestAccepted","resources":[{"action":["x.y.create"],"id":"1","type":"t"}]}}`, uuid)
		env := schemas.Envelope{V: 1, ID: schemas.RecordID("ionos", "1", "1", uuid, 1), Provider: "ionos", Tenant: "1", Entity: "1", Poller: "t",
			FetchedAt: time.Now().UTC(), Occurrence: 1, ContentType: schemas.ContentJSON, Record: json.RawMessage(rec)}
		b, err := env.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	unknown := schemas.Envelope{V: 1, ID: schemas.RecordID("mystery", "1", "1", "z", 1), Provider: "mystery", Tenant: "1", Entity: "1", Poller: "t",
		FetchedAt: time.Now().UTC(), Occurrence: 1, ContentType: schemas.ContentJSON, Record: json.RawMessage(`{}`)}
	ub, _ := unknown.Encode()
	unmappable := schemas.Envelope{V: 1, ID: schemas.RecordID("ionos", "1", "1", "q", 1), Provider: "ionos", Tenant: "1", Entity: "1", Poller: "t",
		FetchedAt: time.Now().UTC(), Occurrence: 1, ContentType: schemas.ContentJSON, Record: json.RawMessage(`{"@uuid":"q"}`)}
	mb, _ := unmappable.Encode()
	raw := p.RawPrefix + "ionos"
	msgs := []kafka.Message{
		{Topic: raw, Key: []byte("ionos/1/1"), Value: good("g1")},
		{Topic: raw, Key: []byte("ionos/1/1"), Value: []byte(`{not json`)},
		{Topic: p.RawPrefix + "mystery", Key: []byte("mystery/1/1"), Value: ub},
		{Topic: raw, Key: []byte("ionos/1/1"), Value: mb},
		{Topic: raw, Key: []byte("ionos/1/1"), Value: good("g2")},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Bus.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	n := p.StartNormalizer("ionos", "mystery")
	events := collect(t, p.Bus, p.Events, 2)
	dlq := collect(t, p.Bus, p.DLQ, 3)
	n.Stop(t)
	reasons := map[string]string{}
	for _, m := range dlq {
		if bus.Header(m, "dlq.stage") != "normalize" || bus.Header(m, "dlq.error") == "" || bus.Header(m, "dlq.topic") == "" ||
			bus.Header(m, "dlq.partition") == "" || bus.Header(m, "dlq.offset") == "" {
			t.Fatalf("dlq record lacks headers: %v", m.Headers)
		}
		reasons[bus.Header(m, "dlq.reason")] = string(m.Value)
	}
	if reasons["decode"] != `{not json` || reasons["unknown_provider"] != string(ub) || reasons["map"] != string(mb) {
		t.Fatalf("dlq reasons/values = %v", reasons)
	}
	for _, m := range events {
		if bus.Header(m, "ce_specversion") != "1.0" || bus.Header(m, "ce_type") != "io.auditstream.ocsf.6003" || bus.Header(m, "ce_source") != "/auditstream/ionos/1" {
			t.Fatalf("cloudevents headers: %v", m.Headers)
		}
	}
	if v := testutil.ToFloat64(p.Metrics.DLQRecords.WithLabelValues("normalize", "decode")); v != 1 {
		t.Fatalf("dlq_records_total{reason=decode} = %v", v)
	}
	// Offsets were committed: a new member of the group reads nothing again.
	n = p.StartNormalizer("ionos", "mystery")
	time.Sleep(3 * time.Second)
	n.Stop(t)
	if v := testutil.ToFloat64(p.Metrics.NormalizedEvents.WithLabelValues("ionos", "ok")); v != 2 {
		t.Fatalf("normalized_events_total{ok} = %v after a restart, want 2 (re-read committed records?)", v)
	}
}

// collect reads n records of a topic with a fresh group.
func collect(t *testing.T, b *bus.Bus, topic string, n int) []kafka.Message {
	t.Helper()
	var out []kafka.Message
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := b.Consume(ctx, bus.GroupConfig{GroupID: "collect-" + testkit.Unique(), Topics: []string{topic}}, func(_ context.Context, batch []kafka.Message) error {
		out = append(out, batch...)
		if len(out) >= n {
			cancel()
		}
		return nil
	})
	if err != nil || len(out) < n {
		t.Fatalf("read %d of %d records from %s: %v", len(out), n, topic, err)
	}
	return out
}
