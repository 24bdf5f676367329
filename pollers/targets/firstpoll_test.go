package targets_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/targets"
)

// The table tells of each target once, when it first appears: written by this process
// (its discovery) or read from another's; a re-discovery, a retired target and a
// changed target are not new; a removed target that comes back is.
func TestTableOnNewEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := testkit.NewBus(t, testkit.EmbeddedKafka(t))
	tg, _ := topics(t, b, 3)
	log := testkit.Logger(t)
	// A target written before the tables were opened is not new to them.
	old, err := targets.OpenTable(ctx, b, tg, log)
	if err != nil {
		t.Fatal(err)
	}
	targets.DiscoverN(ctx, t, old, "c1", "conga", "acme", 1, func(int) string { return "old" })

	var mu sync.Mutex
	seen := map[string][]string{} // table -> entities told, in order
	tell := func(name string) func([]targets.Value) {
		return func(vs []targets.Value) {
			mu.Lock()
			defer mu.Unlock()
			for _, v := range vs {
				seen[name] = append(seen[name], v.Entity)
			}
		}
	}
	told := func(name string) []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Sorted(slices.Values(seen[name]))
	}
	a, err := targets.OpenTable(ctx, b, tg, log)
	if err != nil {
		t.Fatal(err)
	}
	other, err := targets.OpenTable(ctx, b, tg, log)
	if err != nil {
		t.Fatal(err)
	}
	a.OnNew(tell("a"))
	other.OnNew(tell("other"))

	found := []pollers.Target{{Tenant: "acme", Entity: "old"}, {Tenant: "acme", Entity: "p1"}, {Tenant: "acme", Entity: "p2"}}
	if _, err := a.Discover(ctx, "c1", "conga", found, time.Now()); err != nil {
		t.Fatal(err)
	}
	// Told when Discover returns: the write applied them.
	if got := told("a"); !slices.Equal(got, []string{"p1", "p2"}) {
		t.Fatalf("a told of %v, want [p1 p2]", got)
	}
	if got := told("other"); len(got) != 0 {
		t.Fatalf("other told of %v before it read the topic", got)
	}
	if err := other.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := told("other"); !slices.Equal(got, []string{"p1", "p2"}) {
		t.Fatalf("other told of %v after its Sync, want [p1 p2]", got)
	}
	// Discovered again, changed, retired: nothing new.
	found[1].Status = "SENT"
	if _, err := a.Discover(ctx, "c1", "conga", found, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctx, targets.Value{Provider: "conga", Tenant: "acme", Entity: "gone", State: targets.StateRetired}); err != nil {
		t.Fatal(err)
	}
	// Removed, then back: new again.
	if err := a.Remove(ctx, "conga/acme/p2"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Discover(ctx, "c1", "conga", found, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := told("a"); !slices.Equal(got, []string{"p1", "p2", "p2"}) {
		t.Fatalf("a told of %v, want [p1 p2 p2]", got)
	}
	if err := other.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := told("other"); !slices.Equal(got, []string{"p1", "p2", "p2"}) {
		t.Fatalf("other told of %v, want [p1 p2 p2]", got)
	}
}

// firstSource lists its targets for discovery once the runner's start-up run is over
// (the order of issue #13: the start-up run fires before discovery has written any
// target) and reports every poll.
type firstSource struct {
	list    []pollers.Target
	ranOnce <-chan struct{}
	polls   chan string

	mu            sync.Mutex
	running, most int
}

func (s *firstSource) Targets(ctx context.Context) ([]pollers.Target, error) {
	select {
	case <-s.ranOnce:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.list, nil
}

func (s *firstSource) Poll(_ context.Context, t pollers.Target, _ json.RawMessage, _ pollers.Emit) (pollers.Outcome, error) {
	s.mu.Lock()
	s.running++
	s.most = max(s.most, s.running)
	s.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // long enough for polls to overlap when they may
	s.mu.Lock()
	s.running--
	s.mu.Unlock()
	s.polls <- t.Entity
	return pollers.Outcome{}, nil
}

// onceJob is a runner whose first PollOnce's end is signalled.
type onceJob struct {
	*pollers.Runner
	once sync.Once
	done chan struct{}
}

func (j *onceJob) PollOnce(ctx context.Context) error {
	defer j.once.Do(func() { close(j.done) })
	return j.Runner.PollOnce(ctx)
}

// Item 5 of issue #13: with an hourly schedule, targets discovered after the start-up run
// are polled right after discovery (no more than `parallel` at once), each once, and then
// only on the schedule.
func TestNewTargetsPolledRightAfterDiscoveryEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := testkit.NewBus(t, testkit.EmbeddedKafka(t))
	tg, cp := topics(t, b, 3)
	m := join(t, b, tg, cp, "g-"+testkit.Unique())
	select {
	case <-m.s.Ready():
	case <-ctx.Done():
		t.Fatal("no generation")
	}
	log := testkit.Logger(t)
	ran := make(chan struct{})
	src := &firstSource{ranOnce: ran, polls: make(chan string, 16)}
	for _, e := range []string{"p1", "p2", "p3", "p4"} {
		src.list = append(src.list, pollers.Target{Tenant: "acme", Entity: e})
	}
	met := metrics.NewUnregistered()
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "c1", Provider: "conga", Topic: "unused", Parallel: 2, Assignment: m.s},
		src, m.store, b, log, met)
	sched := pollers.NewScheduler(ctx, log)
	if err := sched.Add("@every 1h", &onceJob{Runner: r, done: ran}, 0); err != nil {
		t.Fatal(err)
	}
	if err := sched.Add("@every 1h", targets.NewDiscovery("c1", "conga", src, m.table, log, met), 0); err != nil {
		t.Fatal(err)
	}
	targets.PollNew(m.table, []targets.FirstPoller{r}, sched.Go, log)
	sched.Start()
	defer sched.Stop(context.Background())

	var got []string
	for len(got) < len(src.list) {
		select {
		case e := <-src.polls:
			got = append(got, e)
		case <-ctx.Done():
			t.Fatalf("polled %v of 4 new targets; the schedule's next run is an hour away", got)
		}
	}
	if err := sched.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	close(src.polls)
	for e := range src.polls {
		got = append(got, e)
	}
	if slices.Sort(got); !slices.Equal(got, []string{"p1", "p2", "p3", "p4"}) {
		t.Fatalf("polls %v: each new target once", got)
	}
	if src.most > 2 {
		t.Fatalf("%d polls at once, parallel is 2", src.most)
	}
}
