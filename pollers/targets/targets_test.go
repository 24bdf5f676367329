package targets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/checkpoint"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/targets"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func topics(t *testing.T, b *bus.Bus, partitions int) (tg, cp string) {
	t.Helper()
	u := testkit.Unique()
	tg, cp = "t.targets."+u, "t.cp."+u
	compact := map[string]string{"cleanup.policy": "compact"}
	if err := b.EnsureTopics(context.Background(),
		bus.TopicSpec{Name: tg, Partitions: partitions, ReplicationFactor: 1, Configs: compact},
		bus.TopicSpec{Name: cp, Partitions: 1, ReplicationFactor: 1, Configs: compact}); err != nil {
		t.Fatal(err)
	}
	return tg, cp
}

func TestMerge(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	upd := time.Date(2026, 11, 21, 8, 0, 0, 0, time.FixedZone("x", 3600))
	tg := pollers.Target{Tenant: "acme", Entity: "p1", Name: "Lease", Status: "COMPLETED", UpdatedAt: upd, Terminal: true}
	v, write := targets.Merge(targets.Value{}, false, "c1", "conga", tg, now)
	if !write || !v.Since.Equal(upd) || v.State != targets.StateActive || v.Poller != "c1" {
		t.Fatalf("new target: %+v %v", v, write)
	}
	if _, write := targets.Merge(v, true, "c1", "conga", tg, now.Add(time.Hour)); write {
		t.Fatal("unchanged target written again")
	}
	// Another process, a later clock, same answer: the same bytes.
	other, _ := targets.Merge(targets.Value{}, false, "c1", "conga", tg, now.Add(time.Hour))
	if string(other.Encode()) != string(v.Encode()) {
		t.Fatalf("values differ between processes:\n%s\n%s", other.Encode(), v.Encode())
	}
	tg.Status = "ARCHIVED"
	if v2, write := targets.Merge(v, true, "c1", "conga", tg, now); !write || !v2.Since.Equal(v.Since) {
		t.Fatalf("status change: %+v %v", v2, write)
	}
	retired := v
	retired.State = targets.StateRetired
	if _, write := targets.Merge(retired, true, "c1", "conga", tg, now); write {
		t.Fatal("discovery revived a retired target")
	}
	// No listing time: terminal since first seen.
	tg.UpdatedAt = time.Time{}
	if v3, _ := targets.Merge(targets.Value{}, false, "c1", "conga", tg, now); !v3.Since.Equal(now) {
		t.Fatalf("since = %v", v3.Since)
	}
}

func TestDecode(t *testing.T) {
	good := `{"provider":"conga","tenant":"a","entity":"p1","state":"active"}`
	if _, err := targets.Decode("conga/a/p1", []byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string][2]string{
		"not json":     {"conga/a/p1", `{`},
		"no entity":    {"conga/a/", `{"provider":"conga","tenant":"a"}`},
		"key mismatch": {"conga/a/p2", good},
		"bad state":    {"conga/a/p1", `{"provider":"conga","tenant":"a","entity":"p1","state":"zombie"}`},
	} {
		if _, err := targets.Decode(c[0], []byte(c[1])); err == nil {
			t.Fatalf("%s: decoded", name)
		}
	}
}

func TestTableEmbedded(t *testing.T)             { testTable(t, testkit.EmbeddedKafka(t)) }
func TestIntegrationTableRealKafka(t *testing.T) { testTable(t, testkit.RealKafka(t)) }

// Discovery writes only what changed; another process sees it; invalid records written by
// other systems are skipped; a null value removes a target.
func testTable(t *testing.T, brokers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b := testkit.NewBus(t, brokers)
	topic, _ := topics(t, b, 3)
	log := testkit.Logger(t)
	a, err := targets.OpenTable(ctx, b, topic, log)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var found []pollers.Target
	for i := range 20 {
		found = append(found, pollers.Target{Tenant: "acme", Entity: fmt.Sprintf("p%02d", i), Status: "SENT", UpdatedAt: now.Add(-time.Hour)})
	}
	if n, err := a.Discover(ctx, "c1", "conga", found, now); err != nil || n != 20 {
		t.Fatalf("first discovery wrote %d (%v)", n, err)
	}
	// A second process discovering the same answer writes nothing.
	other, err := targets.OpenTable(ctx, b, topic, log)
	if err != nil {
		t.Fatal(err)
	}
	found[3].Status, found[3].Terminal = "COMPLETED", true
	if n, err := other.Discover(ctx, "c1", "conga", found, now); err != nil || n != 1 {
		t.Fatalf("second discovery wrote %d (%v), want only the changed one", n, err)
	}
	// Another system writes a target, an invalid record, and removes one.
	ext := targets.Value{Provider: "signinghub", Tenant: "t", Entity: "42"}
	if err := b.Publish(ctx,
		kafka.Message{Topic: topic, Key: []byte(ext.Key()), Value: ext.Encode()},
		kafka.Message{Topic: topic, Key: []byte("bad/x/y"), Value: []byte(`{"nope":1}`)},
		kafka.Message{Topic: topic, Key: []byte("conga/acme/p05")}); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	all := a.All()
	if len(all) != 20 {
		t.Fatalf("table has %d targets, want 20", len(all))
	}
	if v, ok := a.Get("conga/acme/p03"); !ok || !v.Terminal || v.Status != "COMPLETED" {
		t.Fatalf("p03 = %+v", v)
	}
	if _, ok := a.Get("conga/acme/p05"); ok {
		t.Fatal("removed target still there")
	}
	if _, ok := a.Get(ext.Key()); !ok {
		t.Fatal("target written by another system missing")
	}
}

func TestSharingEmbedded(t *testing.T)             { testSharing(t, testkit.EmbeddedKafka(t)) }
func TestIntegrationSharingRealKafka(t *testing.T) { testSharing(t, testkit.RealKafka(t)) }

type member struct {
	s      *targets.Sharing
	table  *targets.Table
	store  *checkpoint.Store
	cancel context.CancelFunc
	done   chan error
}

// openTableAndStore opens the targets table on topic tg and the checkpoint store on cp.
func openTableAndStore(t *testing.T, ctx context.Context, b *bus.Bus, tg, cp string, log *slog.Logger) (*targets.Table, *checkpoint.Store) {
	t.Helper()
	table, err := targets.OpenTable(ctx, b, tg, log)
	if err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.Open(ctx, b, cp, log, metrics.NewUnregistered())
	if err != nil {
		t.Fatal(err)
	}
	return table, store
}

func join(t *testing.T, b *bus.Bus, tg, cp, group string, onGeneration ...func()) *member {
	t.Helper()
	ctx := context.Background()
	log := testkit.Logger(t)
	table, store := openTableAndStore(t, ctx, b, tg, cp, log)
	s := targets.NewSharing(targets.SharingConfig{Group: group, SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second, Refresh: 200 * time.Millisecond,
		Pollers: []targets.PollerID{{Name: "c1", Provider: "conga"}}}, b, table, store, log, metrics.NewUnregistered())
	for _, f := range onGeneration {
		s.OnGeneration(f)
	}
	rctx, cancel := context.WithCancel(ctx)
	m := &member{s: s, table: table, store: store, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- s.Run(rctx) }()
	t.Cleanup(func() { m.leave(t) })
	return m
}

func (m *member) leave(t *testing.T) {
	if m.cancel == nil {
		return
	}
	m.cancel()
	m.cancel = nil
	select {
	case err := <-m.done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(30 * time.Second):
		t.Error("Run did not return")
	}
}

func leased(t *testing.T, m *member) (pollers.Lease, []string) {
	t.Helper()
	l, ok := m.s.Lease(context.Background(), "c1", "conga")
	if !ok {
		return l, nil
	}
	var keys []string
	for tg := range l.Targets {
		keys = append(keys, tg.Entity)
	}
	return l, keys
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Two processes split the targets without overlap; a process's leases end before the
// other one is given its partitions; when one leaves, the other polls everything and
// resumes from the cursors the first one saved.
func testSharing(t *testing.T, brokers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := testkit.NewBus(t, brokers)
	tg, cp := topics(t, b, 6)
	group := "t.pollers." + testkit.Unique()
	writer, err := targets.OpenTable(ctx, b, tg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	found := targets.DiscoverN(ctx, t, writer, "c1", "conga", "acme", 30, func(i int) string { return fmt.Sprintf("p%02d", i) })

	a := join(t, b, tg, cp, group)
	select {
	case <-a.s.Ready():
	case <-ctx.Done():
		t.Fatal("first member got no generation")
	}
	la, keys := leased(t, a)
	if len(keys) != 30 {
		t.Fatalf("alone, the member owns %d targets, want 30", len(keys))
	}
	// B joins: A's lease is cancelled, and B starts no generation while A still holds
	// it (checked when B's first generation starts, the event that would break it).
	var released, earlyB atomic.Bool
	bGen := make(chan struct{}, 1)
	bm := join(t, b, tg, cp, group, func() {
		if !released.Load() {
			earlyB.Store(true)
		}
		select {
		case bGen <- struct{}{}:
		default:
		}
	})
	select {
	case <-la.Ctx.Done():
	case <-ctx.Done():
		t.Fatal("A's lease was not cancelled by the rebalance")
	}
	// A's poll in flight saves its cursor before it ends (B opened its store before).
	if err := a.store.Save(ctx, "c1/conga/acme/p07", json.RawMessage(`{"v":1,"n":7}`)); err != nil {
		t.Fatal(err)
	}
	released.Store(true)
	la.Release()
	select {
	case <-bGen:
	case <-ctx.Done():
		t.Fatal("B got no generation after A released its lease")
	}
	if earlyB.Load() {
		t.Fatal("B started polling its partitions while A still held its lease")
	}

	var ka, kb []string
	waitFor(t, "both members to own disjoint halves", time.Minute, func() bool {
		var la, lb pollers.Lease
		la, ka = leased(t, a)
		lb, kb = leased(t, bm)
		if la.Release != nil {
			la.Release()
		}
		if lb.Release != nil {
			lb.Release()
		}
		return len(ka) > 0 && len(kb) > 0 && len(ka)+len(kb) == 30
	})
	for _, k := range ka {
		if slices.Contains(kb, k) {
			t.Fatalf("target %s owned by both", k)
		}
	}

	// A leaves: B owns everything, with A's cursor.
	a.leave(t)
	waitFor(t, "B to own every target", time.Minute, func() bool {
		l, keys := leased(t, bm)
		if l.Release != nil {
			l.Release()
		}
		return len(keys) == 30
	})
	if got := string(bm.store.Get("c1/conga/acme/p07")); got != `{"v":1,"n":7}` {
		t.Fatalf("B resumes from cursor %q", got)
	}

	// Retire: the target leaves B's leases.
	if err := bm.s.Retire(ctx, "conga", pollers.Target{Tenant: "acme", Entity: "p07"}); err != nil {
		t.Fatal(err)
	}
	l, keys := leased(t, bm)
	l.Release()
	if len(keys) != 29 || slices.Contains(keys, "p07") {
		t.Fatalf("after retirement: %d targets", len(keys))
	}
	// And discovery does not bring it back.
	if n, err := writer.Discover(ctx, "c1", "conga", found, time.Now()); err != nil || n != 0 {
		t.Fatalf("discovery after retirement wrote %d (%v)", n, err)
	}
}

type countingLog struct {
	mu      sync.Mutex
	fetches map[string]int
}

func (c *countingLog) FetchLog(_ context.Context, t pollers.Target) ([]pollers.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fetches[t.Entity]++
	return []pollers.Record{{Raw: []byte(`{"entity":"` + t.Entity + `"}`)}}, nil
}

func (c *countingLog) count(e string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.fetches[e] }

func TestRetirementEmbedded(t *testing.T) { testRetirement(t, testkit.EmbeddedKafka(t)) }

// A terminal target past its grace period: the runner (through the shared assignment and
// the full-log adapter) polls it one final time, marks it retired on the targets topic,
// tombstones its checkpoint and stops counting it for freshness; it is not polled again.
func testRetirement(t *testing.T, brokers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := testkit.NewBus(t, brokers)
	tg, cp := topics(t, b, 2)
	raw := "t.raw." + testkit.Unique()
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: raw, Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	writer, err := targets.OpenTable(ctx, b, tg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Discover(ctx, "c1", "conga", []pollers.Target{
		{Tenant: "acme", Entity: "done", Status: "COMPLETED", Terminal: true, UpdatedAt: old},
		{Tenant: "acme", Entity: "live", Status: "SENT", UpdatedAt: old},
	}, time.Now()); err != nil {
		t.Fatal(err)
	}
	m := join(t, b, tg, cp, "t.pollers."+testkit.Unique())
	select {
	case <-m.s.Ready():
	case <-ctx.Done():
		t.Fatal("no generation")
	}
	fetcher := &countingLog{fetches: map[string]int{}}
	met := metrics.NewUnregistered()
	deps := pollers.Deps{Poller: "c1", Log: testkit.Logger(t), Metrics: met}
	src := fulllog.New("conga", fetcher, nil, fulllog.Settings{RetireAfter: config.Duration(24 * time.Hour)}, deps)
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "c1", Provider: "conga", Topic: raw, Assignment: m.s}, src, m.store, b, testkit.Logger(t), met)
	if err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.table.Get("conga/acme/done"); v.State != targets.StateRetired {
		t.Fatalf("state after the final poll: %+v", v)
	}
	if m.store.Get("c1/conga/acme/done") != nil || m.store.Get("c1/conga/acme/live") == nil {
		t.Fatal("the retired target's checkpoint is not tombstoned, or the live one's missing")
	}
	// Freshness is the live target's (the poll time), not pinned by the retired one.
	if ts := testutil.ToFloat64(met.CursorTimestamp.WithLabelValues("c1", "conga")); time.Since(time.UnixMilli(int64(ts*1000))) > time.Minute {
		t.Fatalf("cursor_timestamp_seconds = %v", ts)
	}
	if err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// The retired one is not polled; the live one is, but its listing has not changed
	// since its fetch (long settled): zero requests.
	if fetcher.count("done") != 1 || fetcher.count("live") != 1 {
		t.Fatalf("fetches: %v", fetcher.fetches)
	}
	// Another process sees it retired, and discovery does not bring it back.
	other, err := targets.OpenTable(ctx, b, tg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := other.Get("conga/acme/done"); v.State != targets.StateRetired {
		t.Fatalf("another process sees %+v", v)
	}
}

func TestDefaultGroup(t *testing.T) {
	a := targets.DefaultGroup([]targets.PollerID{{"c1", "conga"}, {"s1", "signinghub"}})
	b := targets.DefaultGroup([]targets.PollerID{{"s1", "signinghub"}, {"c1", "conga"}})
	c := targets.DefaultGroup([]targets.PollerID{{"c1", "conga"}})
	if a != b {
		t.Fatalf("the order of the pollers changes the group: %s %s", a, b)
	}
	if a == c {
		t.Fatalf("processes with different pollers share group %s", a)
	}
	if !strings.HasPrefix(a, "auditstream-pollers-") {
		t.Fatalf("group %s", a)
	}
}

// Targets of a poller this process does not run, on its partitions, are counted and
// logged (nobody polls them).
func TestUnownedTargetsCountedEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := testkit.NewBus(t, testkit.EmbeddedKafka(t))
	tg, cp := topics(t, b, 2)
	writer, err := targets.OpenTable(ctx, b, tg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		poller, provider string
		n                int
	}{{"c1", "conga", 3}, {"c2", "conga", 2}, {"s1", "signinghub", 1}} {
		targets.DiscoverN(ctx, t, writer, d.poller, d.provider, d.poller, d.n, func(i int) string { return fmt.Sprint("e", i) })
	}
	log := testkit.Logger(t)
	table, store := openTableAndStore(t, ctx, b, tg, cp, log)
	met := metrics.NewUnregistered()
	s := targets.NewSharing(targets.SharingConfig{Pollers: []targets.PollerID{{Name: "c1", Provider: "conga"}},
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second, Refresh: 200 * time.Millisecond,
		KnownProvider: func(p string) bool { return p == "conga" }}, b, table, store, log, met)
	// Before any generation the series of the provider this process polls is there, at 0.
	if n, got := testutil.CollectAndCount(met.TargetsUnowned), testutil.ToFloat64(met.TargetsUnowned.WithLabelValues(s.Group(), "conga")); n != 1 || got != 0 {
		t.Fatalf("before the first generation: %d series, conga = %v; want 1 series at 0", n, got)
	}
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	defer func() { rcancel(); <-done }()
	select {
	case <-s.Ready():
	case <-ctx.Done():
		t.Fatal("no generation")
	}
	if got := testutil.ToFloat64(met.TargetsUnowned.WithLabelValues(s.Group(), "conga")); got != 2 {
		t.Fatalf("unowned conga targets = %v, want 2 (poller c2)", got)
	}
	if got := testutil.ToFloat64(met.TargetsUnowned.WithLabelValues(s.Group(), "unknown")); got != 1 {
		t.Fatalf("unowned targets of other providers = %v, want 1", got)
	}
}
