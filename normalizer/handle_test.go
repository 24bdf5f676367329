package normalizer

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/schemas"
)

// fakeKafka keeps what it accepts and refuses for good (bus.ErrPermanent) any write that
// holds an event whose CloudEvents id is in refuse, as Kafka refuses a whole produce
// request over a topic's max.message.bytes.
type fakeKafka struct {
	refuse map[string]bool
	kept   []kafka.Message
	writes int
}

func (f *fakeKafka) publish(_ context.Context, msgs ...kafka.Message) error {
	f.writes++
	for _, m := range msgs {
		if f.refuse[header(m, "ce_id")] {
			return fmt.Errorf("write to %s: message too large: %w", m.Topic, bus.ErrPermanent)
		}
	}
	// copy: the messages point into the normalizer's reused buffers
	for _, m := range msgs {
		m.Value = slices.Clone(m.Value)
		hs := make([]kafka.Header, len(m.Headers))
		for i, h := range m.Headers {
			hs[i] = kafka.Header{Key: h.Key, Value: slices.Clone(h.Value)}
		}
		m.Headers = hs
		f.kept = append(f.kept, m)
	}
	return nil
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func handleNormalizer(t *testing.T, f *fakeKafka) *Normalizer {
	t.Helper()
	n := testNormalizer(t)
	n.cfg.EventsTopic, n.cfg.DLQTopic = "events", "dlq"
	n.publish = f.publish
	return n
}

func ionosBatch(t *testing.T, count int) ([]kafka.Message, []string) {
	t.Helper()
	raw := benchInput(t, "../pollers/ionos/mapping/testdata/seed.input.json")
	var batch []kafka.Message
	var ids []string
	for i := range count {
		env := envelopeFor(t, "ionos", "31721060", "31721060", "u-"+strconv.Itoa(i), schemas.ContentJSON, raw)
		batch = append(batch, kafka.Message{Topic: "audit.raw.ionos", Offset: int64(i), Key: []byte("31721060"), Value: env})
		ids = append(ids, schemas.EventID(schemas.RecordID("ionos", "31721060", "31721060", "u-"+strconv.Itoa(i), 1)))
	}
	return batch, ids
}

// A record Kafka refuses for good is found by bisection and dead-lettered alone with reason
// kafka_rejected; every other event is written once, in the batch order.
func TestHandleDeadLettersOnlyTheRecordKafkaRefuses(t *testing.T) {
	batch, ids := ionosBatch(t, 9)
	f := &fakeKafka{refuse: map[string]bool{ids[5]: true}}
	n := handleNormalizer(t, f)
	if err := n.handle(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	var events []string
	var dlq []kafka.Message
	for _, m := range f.kept {
		switch m.Topic {
		case "events":
			events = append(events, header(m, "ce_id"))
		case "dlq":
			dlq = append(dlq, m)
		default:
			t.Fatalf("message to topic %q", m.Topic)
		}
	}
	want := slices.Concat(ids[:5], ids[6:])
	if !slices.Equal(events, want) {
		t.Fatalf("events written %v, want %v (in order, once each)", events, want)
	}
	if len(dlq) != 1 || header(dlq[0], "dlq.reason") != ReasonKafkaRejected || header(dlq[0], "dlq.offset") != "5" ||
		string(dlq[0].Value) != string(batch[5].Value) {
		t.Fatalf("dead letters: %d, first %+v", len(dlq), dlq)
	}
	if f.writes > 1+2*4+1 { // the whole batch, about 2·log2(9) halves, the dead letter
		t.Fatalf("%d writes for one refused record in 9", f.writes)
	}
	if ok, rej := testutil.ToFloat64(n.m.NormalizedEvents.WithLabelValues("ionos", "ok")), testutil.ToFloat64(n.m.NormalizedEvents.WithLabelValues("ionos", "dlq")); ok != 8 || rej != 1 {
		t.Fatalf("normalized_events_total ok %v dlq %v, want 8 and 1", ok, rej)
	}
	if got := testutil.ToFloat64(n.m.DLQRecords.WithLabelValues("normalize", ReasonKafkaRejected)); got != 1 {
		t.Fatalf("dlq_records_total{kafka_rejected} = %v", got)
	}
}

// The events of a batch stay intact once the batch is written and the normalizer's
// buffers are reused for the next one.
func TestHandleReusesBuffersOnlyAfterTheWrite(t *testing.T) {
	f := &fakeKafka{}
	n := handleNormalizer(t, f)
	first, ids := ionosBatch(t, 4)
	if err := n.handle(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	again, _ := ionosBatch(t, 4)
	if err := n.handle(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	for i, m := range f.kept {
		c, _, _, err := n.Normalize(first[i%4].Value)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Value) != string(c.JSON) || header(m, "ce_id") != ids[i%4] || header(m, "ce_type") != "io.auditstream.ocsf.6003" ||
			header(m, "ce_source") != "/auditstream/ionos/31721060" || header(m, "ce_specversion") != "1.0" || header(m, "content-type") != "application/json" {
			t.Fatalf("message %d: headers %v\n%s\nwant\n%s", i, m.Headers, m.Value, c.JSON)
		}
	}
}

// A provider without a mapper is dead-lettered and counted under provider="unknown": the
// string in the envelope, which any writer of a raw topic chooses, never becomes a label.
func TestUnknownProviderLabelIsBounded(t *testing.T) {
	f := &fakeKafka{}
	n := handleNormalizer(t, f)
	var batch []kafka.Message
	for i := range 3 {
		p := "evil-" + strconv.Itoa(i)
		batch = append(batch, kafka.Message{Topic: "audit.raw." + p, Value: envelopeFor(t, p, "1", "1", "a", schemas.ContentJSON, []byte(`{}`))})
	}
	if err := n.handle(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(n.m.NormalizedEvents.WithLabelValues("unknown", "dlq")); got != 3 {
		t.Fatalf("normalized_events_total{provider=unknown,outcome=dlq} = %v, want 3", got)
	}
	if got := testutil.CollectAndCount(n.m.NormalizedEvents); got != 1 {
		t.Fatalf("normalized_events_total has %d series, want only provider=unknown", got)
	}
	if got := testutil.ToFloat64(n.m.DLQRecords.WithLabelValues("normalize", ReasonUnknownProvider)); got != 3 {
		t.Fatalf("dlq_records_total{unknown_provider} = %v", got)
	}
}
