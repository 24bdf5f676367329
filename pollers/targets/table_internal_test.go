package targets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
)

func compactTopic(t *testing.T, b *bus.Bus, partitions int) string {
	t.Helper()
	topic := "t.targets." + testkit.Unique()
	if err := b.EnsureTopics(context.Background(), bus.TopicSpec{Name: topic, Partitions: partitions, ReplicationFactor: 1,
		Configs: map[string]string{"cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}
	return topic
}

// A Sync that measured the topic's end before a Put and applies what it read after the
// Put applied its value must not bring the replaced value back.
func TestPutWinsOverAnInFlightSync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := testkit.NewBus(t, testkit.EmbeddedKafka(t))
	topic := compactTopic(t, b, 1)
	log := testkit.Logger(t)
	p1, err := OpenTable(ctx, b, topic, log)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := OpenTable(ctx, b, topic, log)
	if err != nil {
		t.Fatal(err)
	}
	tg := pollers.Target{Tenant: "acme", Entity: "p1", Status: "SENT"}
	if _, err := p2.Discover(ctx, "c1", "conga", []pollers.Target{tg}, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The in-flight Sync of p1 measured this end (it holds p2's active record) ...
	ends, err := b.PartitionEnds(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	// ... then p1 writes a new status ...
	v := Value{Provider: "conga", Tenant: "acme", Entity: "p1", Poller: "c1", Status: "SIGNED", State: StateActive}
	if err := p1.Put(ctx, v); err != nil {
		t.Fatal(err)
	}
	// ... and then the Sync applies what it read.
	if _, _, err := b.ReadRange(ctx, topic, 0, 0, ends[0], func(m kafka.Message) { p1.apply(m, m.Offset) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := p1.Get(v.Key()); got.Status != "SIGNED" {
		t.Fatalf("after a stale read the target is %+v, want status SIGNED", got)
	}
	if err := p1.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := p1.Get(v.Key()); got.Status != "SIGNED" {
		t.Fatalf("after a sync the target is %+v, want status SIGNED", got)
	}
}

func TestIntegrationPartitionGrowthRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := testkit.NewBus(t, testkit.RealKafka(t))
	topic := compactTopic(t, b, 1)
	log := testkit.Logger(t)
	tb, err := OpenTable(ctx, b, topic, log)
	if err != nil {
		t.Fatal(err)
	}
	var found []pollers.Target
	for i := range 10 {
		found = append(found, pollers.Target{Tenant: "acme", Entity: fmt.Sprint("p", i)})
	}
	if _, err := tb.Discover(ctx, "c1", "conga", found, time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := b.Client().CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: 3}}})
	if err == nil {
		err = errors.Join(func() []error {
			var errs []error
			for _, e := range res.Errors {
				errs = append(errs, e)
			}
			return errs
		}()...)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The running table refuses its next sync; a new process refuses to start.
	var syncErr error
	deadline := time.Now().Add(30 * time.Second)
	for syncErr == nil && time.Now().Before(deadline) { // the new partitions reach the metadata
		syncErr = tb.Sync(ctx)
		if syncErr == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if syncErr == nil || !strings.Contains(syncErr.Error(), topic) || !strings.Contains(syncErr.Error(), "of 3") {
		t.Fatalf("sync after the topic grew: %v", syncErr)
	}
	if _, err := OpenTable(ctx, b, topic, log); err == nil {
		t.Fatal("a table opened on a grown topic")
	}
}

// P2 discovers with a table that has not seen P1's retirement yet and writes after it:
// the target stays retired everywhere, and the retirement is the key's last record (so
// compaction keeps it); an operator's reactivation still takes effect.
func TestRetirementWinsOverAStaleDiscovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := testkit.NewBus(t, testkit.EmbeddedKafka(t))
	topic := compactTopic(t, b, 2)
	log := testkit.Logger(t)
	p1, err := OpenTable(ctx, b, topic, log)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	tg := pollers.Target{Tenant: "acme", Entity: "p1", Status: "COMPLETED", Terminal: true, UpdatedAt: old}
	if _, err := p1.Discover(ctx, "c1", "conga", []pollers.Target{tg}, time.Now()); err != nil {
		t.Fatal(err)
	}
	p2, err := OpenTable(ctx, b, topic, log) // sees it active
	if err != nil {
		t.Fatal(err)
	}
	key := "conga/acme/p1"
	cur, _ := p1.Get(key)
	retired := cur
	retired.State, retired.Since = StateRetired, time.Now().UTC()
	if err := p1.Put(ctx, retired); err != nil {
		t.Fatal(err)
	}
	// P2's discovery computed its write before the retirement reached it (the listing
	// shows a new status, nothing newer than the retirement).
	seen, _ := p2.Get(key)
	tg.Status = "ARCHIVED"
	v, write := Merge(seen, true, "c1", "conga", tg, time.Now())
	if !write {
		t.Fatal("no write to race with")
	}
	if err := p2.Put(ctx, v); err != nil {
		t.Fatal(err)
	}
	fresh, err := OpenTable(ctx, b, topic, log)
	if err != nil {
		t.Fatal(err)
	}
	for name, tb := range map[string]*Table{"p1": p1, "p2": p2, "fresh": fresh} {
		if err := tb.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := tb.Get(key); got.State != StateRetired {
			t.Fatalf("%s sees %+v, want retired", name, got)
		}
	}
	// The key's last record on the topic is the retirement.
	p := placement([]byte(key), 2)
	ends, err := b.PartitionEnds(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var last kafka.Message
	if _, _, err := b.ReadRange(ctx, topic, p, 0, ends[p], func(m kafka.Message) {
		if string(m.Key) == key {
			last = m
		}
	}); err != nil {
		t.Fatal(err)
	}
	if lv, err := Decode(key, last.Value); err != nil || lv.State != StateRetired {
		t.Fatalf("last record of %s: %s (%v)", key, last.Value, err)
	}
	// An operator's reactivation is newer than the retirement: it wins.
	re := retired
	re.State, re.Since, re.ReactivatedAt = StateActive, time.Time{}, time.Now().Add(time.Second)
	if err := p2.Put(ctx, re); err != nil {
		t.Fatal(err)
	}
	if err := p1.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := p1.Get(key); got.State != StateActive {
		t.Fatalf("after reactivation p1 sees %+v", got)
	}
}

// The table holds the words its targets repeat once: two targets decoded from separate
// records share the bytes of their provider, poller, status and state, and a target that
// is its own tenant shares its tenant's bytes with its entity.
func TestApplySharesRepeatedStrings(t *testing.T) {
	tb := &Table{log: testkit.Logger(t), rows: map[string]row{}, applied: map[string]int64{}}
	for i, id := range []string{"31000001", "31000002"} {
		v := Value{Provider: "ionos", Tenant: id, Entity: id, Poller: "ionos-main", Status: "ACTIVE", State: StateActive}
		// Fresh buffers, as records read from the topic are.
		tb.apply(kafka.Message{Key: []byte(v.Key()), Value: append([]byte(nil), v.Encode()...)}, int64(i))
	}
	a, okA := tb.Get(Value{Provider: "ionos", Tenant: "31000001", Entity: "31000001"}.Key())
	b, okB := tb.Get(Value{Provider: "ionos", Tenant: "31000002", Entity: "31000002"}.Key())
	if !okA || !okB {
		t.Fatalf("targets not applied: %v %v", okA, okB)
	}
	for _, f := range []struct {
		name string
		x, y string
	}{{"provider", a.Provider, b.Provider}, {"poller", a.Poller, b.Poller}, {"status", a.Status, b.Status}, {"state", a.State, b.State}} {
		if f.x != f.y || unsafe.StringData(f.x) != unsafe.StringData(f.y) {
			t.Errorf("%s %q/%q: two copies", f.name, f.x, f.y)
		}
	}
	if unsafe.StringData(a.Tenant) != unsafe.StringData(a.Entity) {
		t.Errorf("tenant and entity %q: two copies", a.Entity)
	}
	if v, ok := tb.Get("ionos/none/none"); ok || v != (Value{}) {
		t.Errorf("Get of a missing key = %+v, %v", v, ok)
	}
}
