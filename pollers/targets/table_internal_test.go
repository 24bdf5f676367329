package targets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
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

// tableTopic connects to brokers and makes a compacted topic of partitions partitions
// for a table; the context ends after a minute, or with the test.
func tableTopic(t *testing.T, brokers []string, partitions int) (context.Context, *bus.Bus, string, *slog.Logger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	b := testkit.NewBus(t, brokers)
	return ctx, b, compactTopic(t, b, partitions), testkit.Logger(t)
}

// A Sync that measured the topic's end before a Put and applies what it read after the
// Put applied its value must not bring the replaced value back.
func TestPutWinsOverAnInFlightSync(t *testing.T) {
	ctx, b, topic, log := tableTopic(t, testkit.EmbeddedKafka(t), 1)
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
	ctx, b, topic, log := tableTopic(t, testkit.RealKafka(t), 1)
	tb, err := OpenTable(ctx, b, topic, log)
	if err != nil {
		t.Fatal(err)
	}
	DiscoverN(ctx, t, tb, "c1", "conga", "acme", 10, func(i int) string { return fmt.Sprint("p", i) })
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
	ctx, b, topic, log := tableTopic(t, testkit.EmbeddedKafka(t), 2)
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

func newTestTable(t *testing.T) *Table {
	return &Table{log: testkit.Logger(t), index: newIndex(), wide: map[string][3]time.Time{}}
}

// within reports whether s's bytes lie inside outer's.
func within(s, outer string) bool {
	p, o := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(outer)))
	return p >= o && p+uintptr(len(s)) <= o+uintptr(len(outer))
}

// The table holds the words its targets repeat once: two targets decoded from separate
// records share the bytes of their provider, poller, status and state; a target's tenant
// and entity are the bytes of the table's own key, and what a lease yields copies nothing.
func TestApplySharesRepeatedStrings(t *testing.T) {
	tb := newTestTable(t)
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
	keys := map[string]string{}
	for _, key := range tb.keys {
		keys[key[len("ionos/"):len("ionos/")+8]] = key
	}
	n := 0
	for tg := range tb.owned(map[int]bool{0: true}, "ionos-main", "ionos") {
		n++
		key := keys[tg.Entity]
		if !within(tg.Tenant, key) || !within(tg.Entity, key) {
			t.Errorf("target %s: tenant and entity are not the bytes of the table's key", tg.Entity)
		}
	}
	if n != 2 {
		t.Errorf("owned yielded %d targets, want 2", n)
	}
	if v, ok := tb.Get("ionos/none/none"); ok || v != (Value{}) {
		t.Errorf("Get of a missing key = %+v, %v", v, ok)
	}
}

// A value read back from the table is the value written, times at nanosecond precision
// in UTC, including times a stamp cannot hold.
func TestRowRoundTrip(t *testing.T) {
	plus2 := time.FixedZone("+02", 2*3600)
	for name, v := range map[string]Value{
		"minimal":      {Provider: "ionos", Tenant: "1", Entity: "1", State: StateActive},
		"all fields":   {Provider: "conga", Tenant: "acme", Entity: "p/1", Name: "Lease", Poller: "c1", Status: "COMPLETED", State: StateRetired, UpdatedAt: time.Date(2026, 11, 21, 8, 0, 0, 123456789, plus2), Terminal: true, Since: time.Date(2026, 11, 22, 1, 2, 3, 4, time.UTC), ReactivatedAt: time.Date(2026, 11, 23, 0, 0, 0, 1, time.UTC)},
		"empty tenant": {Provider: "sig", Entity: "s1", State: StateActive, UpdatedAt: time.Unix(0, 1)},
		"epoch":        {Provider: "sig", Tenant: "t", Entity: "s1", State: StateActive, UpdatedAt: time.Unix(0, 0)},
		"slash tenant": {Provider: "sig", Tenant: "a/b", Entity: "c/d", State: StateActive},
		"year 9999":    {Provider: "sig", Tenant: "t", Entity: "far", State: StateActive, UpdatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		"year 1":       {Provider: "sig", Tenant: "t", Entity: "old", State: StateActive, ReactivatedAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
	} {
		t.Run(name, func(t *testing.T) {
			tb := newTestTable(t)
			tb.apply(kafka.Message{Key: []byte(v.Key()), Value: v.Encode()}, 7)
			got, ok := tb.Get(v.Key())
			if !ok {
				t.Fatal("not applied")
			}
			if string(got.Encode()) != string(v.Encode()) {
				t.Fatalf("read back\n%s\nwant\n%s", got.Encode(), v.Encode())
			}
			for _, tm := range []time.Time{got.UpdatedAt, got.Since, got.ReactivatedAt} {
				if !tm.IsZero() && tm.Location() != time.UTC {
					t.Errorf("time %v not in UTC", tm)
				}
			}
			if !got.UpdatedAt.Equal(v.UpdatedAt) || !got.Since.Equal(v.Since) || !got.ReactivatedAt.Equal(v.ReactivatedAt) {
				t.Errorf("times %v %v %v, want %v %v %v", got.UpdatedAt, got.Since, got.ReactivatedAt, v.UpdatedAt, v.Since, v.ReactivatedAt)
			}
			if v.State != StateActive {
				return
			}
			var seen []pollers.Target
			for tg := range tb.owned(map[int]bool{0: true}, v.Poller, v.Provider) {
				seen = append(seen, tg)
			}
			want := v.Target()
			if len(seen) != 1 || seen[0].Tenant != want.Tenant || seen[0].Entity != want.Entity || !seen[0].UpdatedAt.Equal(want.UpdatedAt) {
				t.Fatalf("owned = %+v, want %+v", seen, want)
			}
		})
	}
}

func TestStamp(t *testing.T) {
	for _, c := range []struct {
		t  time.Time
		ok bool
	}{
		{time.Time{}, true},
		{time.Unix(0, 0), true},
		{time.Unix(0, -1), true},
		{time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), true},
		{time.Date(2262, 4, 11, 23, 47, 16, 854775808, time.UTC), false},
		{time.Date(1677, 9, 21, 0, 12, 43, 145224193, time.UTC), true},
		{time.Date(1677, 9, 21, 0, 12, 43, 145224192, time.UTC), false},
	} {
		s, ok := toStamp(c.t)
		if ok != c.ok {
			t.Errorf("toStamp(%v) ok = %v, want %v", c.t, ok, c.ok)
			continue
		}
		if ok && !s.time().Equal(c.t) {
			t.Errorf("toStamp(%v).time() = %v", c.t, s.time())
		}
	}
}

// The offset of a key's last record is kept with its row, also after a tombstone or an
// invalid record: an older record read later changes nothing.
func TestApplyKeepsOffsets(t *testing.T) {
	tb := newTestTable(t)
	v := Value{Provider: "conga", Tenant: "acme", Entity: "p1", Status: "SENT", State: StateActive}
	key := []byte(v.Key())
	tb.apply(kafka.Message{Key: key, Value: v.Encode()}, 5)
	tb.apply(kafka.Message{Key: key}, 6) // removed
	if _, ok := tb.Get(v.Key()); ok {
		t.Fatal("removed target still there")
	}
	tb.apply(kafka.Message{Key: key, Value: v.Encode()}, 5) // read again by a stale sync
	if _, ok := tb.Get(v.Key()); ok {
		t.Fatal("an older record brought a removed target back")
	}
	if n := len(tb.All()); n != 0 {
		t.Fatalf("All = %d targets, want 0", n)
	}
	tb.apply(kafka.Message{Key: key, Value: []byte(`{"provider":"conga"}`)}, 7) // invalid
	tb.apply(kafka.Message{Key: key, Value: v.Encode()}, 6)
	if _, ok := tb.Get(v.Key()); ok {
		t.Fatal("a record older than an invalid one was applied")
	}
	v.Status = "SIGNED"
	tb.apply(kafka.Message{Key: key, Value: v.Encode()}, 8)
	if got, ok := tb.Get(v.Key()); !ok || got.Status != "SIGNED" {
		t.Fatalf("after a newer record: %+v %v", got, ok)
	}
}

// Many targets in any order: each is found under its key, a missing key is not, and a
// lease yields exactly the owned targets in key order.
func TestTableIndexAndOwnedOrder(t *testing.T) {
	tb := newTestTable(t)
	const n = 3000
	var want []string
	for _, i := range rand.Perm(n) {
		v := Value{Provider: "conga", Tenant: fmt.Sprintf("t%d", i%7), Entity: fmt.Sprintf("e%d", i), Poller: "c1", Status: "SENT", State: StateActive}
		p := i % 4
		tb.apply(kafka.Message{Key: []byte(v.Key()), Value: v.Encode(), Partition: p}, int64(i))
		if p == 1 || p == 3 {
			want = append(want, v.Key())
		}
	}
	for i := range n {
		key := Value{Provider: "conga", Tenant: fmt.Sprintf("t%d", i%7), Entity: fmt.Sprintf("e%d", i)}.Key()
		if v, ok := tb.Get(key); !ok || v.Key() != key {
			t.Fatalf("Get(%s) = %+v %v", key, v, ok)
		}
	}
	if _, ok := tb.Get("conga/t1/e-none"); ok {
		t.Fatal("a missing key was found")
	}
	slices.Sort(want)
	var got []string
	for tg := range tb.owned(map[int]bool{1: true, 3: true}, "c1", "conga") {
		got = append(got, Value{Provider: "conga", Tenant: tg.Tenant, Entity: tg.Entity}.Key())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("owned yielded %d targets (first %v), want %d in key order (first %v)", len(got), got[:min(3, len(got))], len(want), want[:3])
	}
}
