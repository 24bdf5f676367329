package pollers_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
)

// gate is a Source whose polls of target "a" wait until released.
type gate struct {
	started chan string
	release chan struct{}
	mu      sync.Mutex
	polled  []string
}

func (g *gate) Targets(context.Context) ([]pollers.Target, error) {
	return []pollers.Target{{Tenant: "t", Entity: "a"}}, nil
}

func (g *gate) Poll(_ context.Context, t pollers.Target, _ json.RawMessage, _ pollers.Emit) (pollers.Outcome, error) {
	g.mu.Lock()
	g.polled = append(g.polled, t.Entity)
	g.mu.Unlock()
	g.started <- t.Entity
	if t.Entity == "a" {
		<-g.release
	}
	return pollers.Outcome{}, nil
}

// PollTargets polls only the targets it is given, and leaves a target that the schedule's
// run is polling at that moment to that run (never two polls of one target at once).
func TestPollTargetsBesideARun(t *testing.T) {
	b, store, _, m := setup(t, testkit.EmbeddedKafka(t), "")
	g := &gate{started: make(chan string, 8), release: make(chan struct{})}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p1", Provider: "conga", Topic: "x", Parallel: 2}, g, store, b, testkit.Logger(t), m)
	ctx := context.Background()
	runDone := make(chan error, 1)
	go func() { runDone <- r.PollOnce(ctx) }()
	if e := <-g.started; e != "a" {
		t.Fatalf("run polled %s", e)
	}
	// "a" is under way in the run: only "b" is polled here.
	if err := r.PollTargets(ctx, []pollers.Target{{Tenant: "t", Entity: "a"}, {Tenant: "t", Entity: "b"}}); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(slices.Values(g.polled)); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("polls %v, want a (by the run) and b (by PollTargets)", got)
	}
	// Once the run is over, a PollTargets of "a" polls it.
	if err := r.PollTargets(ctx, []pollers.Target{{Tenant: "t", Entity: "a"}}); err != nil {
		t.Fatal(err)
	}
	if len(g.polled) != 3 {
		t.Fatalf("polls %v", g.polled)
	}
}
