package pollers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// flaky is a Source of two targets whose polls fail while refused (every target) or for
// the targets in bad.
type flaky struct {
	refused bool
	bad     map[string]bool
}

func (f *flaky) Targets(context.Context) ([]pollers.Target, error) {
	if f.refused {
		return nil, f.err()
	}
	return []pollers.Target{{Tenant: "t", Entity: "a"}, {Tenant: "t", Entity: "b"}}, nil
}

func (f *flaky) err() error {
	return fmt.Errorf("list: %w", &pollhttp.StatusError{Status: 401, Method: "GET", URL: "/x", Excerpt: "{}",
		Hint: "the credentials are refused: check settings.token"})
}

func (f *flaky) Poll(_ context.Context, t pollers.Target, _ json.RawMessage, _ pollers.Emit) (pollers.Outcome, error) {
	if f.refused || f.bad[t.Entity] {
		return pollers.Outcome{}, f.err()
	}
	return pollers.Outcome{}, nil
}

// The runner's status: failing (every poll refused) with its failures in a row and the
// setting to check, degraded when some targets fail, ok again; auditstream_source_up
// follows, and a failed listing with nothing polled is failing too.
func TestRunnerStatus(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	b, store, _, m := setup(t, brokers, "")
	src := &flaky{bad: map[string]bool{}}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p1", Provider: "ionos", Topic: "unused"}, src, store, b, testkit.Logger(t), m)
	up := func() float64 { return testutil.ToFloat64(m.SourceUp.WithLabelValues("p1", "ionos")) }
	if s := r.Status(); s.State != pollers.StateUnknown || up() != 1 || testutil.ToFloat64(m.PollGaps.WithLabelValues("p1", "ionos")) != 0 {
		t.Fatalf("before any poll: %+v up=%v", s, up())
	}
	ctx := context.Background()
	src.bad["a"] = true
	_ = r.PollOnce(ctx)
	if s := r.Status(); s.State != pollers.StateDegraded || s.FailingTargets != 1 || up() != 1 ||
		testutil.ToFloat64(m.SourceFailingTargets.WithLabelValues("p1", "ionos")) != 1 || s.LastSuccess.IsZero() {
		t.Fatalf("one of two targets failing: %+v up=%v", s, up())
	}
	src.bad["b"] = true
	for range 3 {
		_ = r.PollOnce(ctx)
	}
	s := r.Status()
	if s.State != pollers.StateFailing || s.ConsecutiveFailures != 3 || up() != 0 || s.LastError == nil ||
		s.LastError.Class != "401" || s.LastError.Setting != "check settings.token" {
		t.Fatalf("every target failing: %+v %+v up=%v", s, s.LastError, up())
	}
	if got := s.Summary(); got != "failing 3× (401, check settings.token)" {
		t.Fatalf("summary %q", got)
	}
	if len(s.Targets) != 2 || s.Targets[0].Entity != "a" || s.Targets[0].ConsecutiveFailures != 4 {
		t.Fatalf("failing targets %+v", s.Targets)
	}
	src.bad = map[string]bool{}
	_ = r.PollOnce(ctx)
	if s := r.Status(); s.State != pollers.StateOK || s.ConsecutiveFailures != 0 || s.FailingTargets != 0 || up() != 1 {
		t.Fatalf("recovered: %+v up=%v", s, up())
	}
	// Listing refused (a runner without work sharing lists its targets itself).
	src.refused = true
	_ = r.PollOnce(ctx)
	if s := r.Status(); s.State != pollers.StateDegraded || up() != 1 {
		t.Fatalf("listing refused after good polls: %+v", s)
	}
	r2 := pollers.NewRunner(pollers.RunnerConfig{Name: "p2", Provider: "ionos", Topic: "unused"}, src, store, b, testkit.Logger(t), m)
	_ = r2.PollOnce(ctx)
	r2.Listed(src.err())
	if s := r2.Status(); s.State != pollers.StateFailing || s.ConsecutiveFailures != 2 ||
		testutil.ToFloat64(m.SourceUp.WithLabelValues("p2", "ionos")) != 0 || !strings.Contains(s.Summary(), "check settings.token") {
		t.Fatalf("never listed: %+v", s)
	}
}

// A failing target this process no longer polls — retired (`targets retire`), moved to
// another process by a rebalance, or every target gone with the lease — leaves the
// status: failing_targets and auditstream_source_failing_targets go back to 0 and /status
// names only targets this process owns.
func TestStatusForgetsTargetsNoLongerPolled(t *testing.T) {
	b, store, _, m := setup(t, testkit.EmbeddedKafka(t), "")
	src := &flaky{bad: map[string]bool{"b": true}}
	as := &leases{targets: []pollers.Target{{Tenant: "t", Entity: "a"}, {Tenant: "t", Entity: "b"}}}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "p", Provider: "ionos", Topic: "unused", Assignment: as}, src, store, b, testkit.Logger(t), m)
	gauge := func() float64 { return testutil.ToFloat64(m.SourceFailingTargets.WithLabelValues("p", "ionos")) }
	ctx := context.Background()
	setTargets := func(none bool, entities ...string) {
		as.mu.Lock()
		defer as.mu.Unlock()
		as.none, as.targets = none, nil
		for _, e := range entities {
			as.targets = append(as.targets, pollers.Target{Tenant: "t", Entity: e})
		}
	}

	_ = r.PollOnce(ctx)
	if s := r.Status(); s.State != pollers.StateDegraded || s.FailingTargets != 1 || len(s.Targets) != 1 || s.Targets[0].Entity != "b" || gauge() != 1 {
		t.Fatalf("b failing: %+v gauge=%v", s, gauge())
	}
	// b is retired, or now polled by another process: this process's next run does not
	// cover it.
	setTargets(false, "a")
	if err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if s := r.Status(); s.State != pollers.StateOK || s.FailingTargets != 0 || len(s.Targets) != 0 || gauge() != 0 {
		t.Fatalf("b no longer here: %+v gauge=%v", s, gauge())
	}
	// b comes back and fails again; then the generation ends (no lease): this process
	// owns nothing, and names no failing target.
	setTargets(false, "a", "b")
	_ = r.PollOnce(ctx)
	if s := r.Status(); s.FailingTargets != 1 || gauge() != 1 {
		t.Fatalf("b failing again: %+v gauge=%v", s, gauge())
	}
	setTargets(true)
	if err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if s := r.Status(); s.State != pollers.StateOK || s.FailingTargets != 0 || len(s.Targets) != 0 || gauge() != 0 {
		t.Fatalf("without a lease: %+v gauge=%v", s, gauge())
	}
	// A target whose poll was not started (the run stopped first) is still this
	// process's: its failure stays named.
	setTargets(false, "a", "b")
	src.bad = map[string]bool{"a": true, "b": true}
	_ = r.PollOnce(ctx)
	if s := r.Status(); s.State != pollers.StateFailing || s.FailingTargets != 2 || gauge() != 2 {
		t.Fatalf("both failing: %+v gauge=%v", s, gauge())
	}
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	_ = r.PollOnce(stopped)
	if s := r.Status(); s.State != pollers.StateFailing || s.FailingTargets != 2 || gauge() != 2 {
		t.Fatalf("a run that started no poll: %+v gauge=%v", s, gauge())
	}
}

// A message is cut on a rune boundary: never inside a UTF-8 character.
func TestClassifyErrorCutsOnRuneBoundary(t *testing.T) {
	msg := strings.Repeat("a", 499) + strings.Repeat("é", 10) // é is 2 bytes: byte 500 is inside one
	e := pollers.ClassifyError(errors.New(msg), time.Now())
	if !utf8.ValidString(e.Message) || e.Message != strings.Repeat("a", 499)+"…" {
		t.Fatalf("message %q (valid UTF-8: %v)", e.Message[490:], utf8.ValidString(e.Message))
	}
	if got := pollers.TruncateRunes("héllo", 100); got != "héllo" {
		t.Fatalf("short: %q", got)
	}
}
