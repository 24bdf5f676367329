package pollers

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	for _, ok := range []string{"@every 30s", "*/5 * * * *", "0 */2 * * * *", "@hourly"} {
		if _, err := ParseSchedule(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "CRON_TZ=Mars/Base * * * * *", "TZ=UTC * * * * *", "every minute", "@every", "61 * * * *"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// panicky is a job whose runs panic, count, or block until cancelled.
type panicky struct {
	polls   atomic.Int32
	panicAt int32
	block   bool
}

func (p *panicky) Name() string { return "p" }
func (p *panicky) PollOnce(ctx context.Context) error {
	n := p.polls.Add(1)
	if n == p.panicAt {
		panic("provider bug")
	}
	if p.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func TestSchedulerRecoversSkipsAndStops(t *testing.T) {
	src := &panicky{panicAt: 1}
	r := src
	s := NewScheduler(context.Background(), slog.New(slog.DiscardHandler))
	if err := s.Add("@every 1s", r, 0); err != nil {
		t.Fatal(err)
	}
	s.Start()
	// The first run panics; Recover keeps the process alive and the next runs happen.
	deadline := time.Now().Add(5 * time.Second)
	for src.polls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := src.polls.Load(); n < 3 {
		t.Fatalf("%d polls after a panic, want the schedule to go on", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSchedulerStopCancelsARunningPoll(t *testing.T) {
	src := &panicky{block: true}
	r := src
	s := NewScheduler(context.Background(), slog.New(slog.DiscardHandler))
	if err := s.Add("@every 1s", r, 0); err != nil {
		t.Fatal(err)
	}
	s.Start()
	for src.polls.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	// A second run while the first still blocks is skipped (SkipIfStillRunning).
	time.Sleep(1500 * time.Millisecond)
	if n := src.polls.Load(); n != 1 {
		t.Fatalf("%d overlapping polls, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestAddRejectsBadSchedule(t *testing.T) {
	s := NewScheduler(context.Background(), slog.New(slog.DiscardHandler))
	r := &panicky{}
	if err := s.Add("CRON_TZ=x * * * * *", r, 0); err == nil || !strings.Contains(err.Error(), "poller p") {
		t.Fatalf("err = %v", err)
	}
}

// RunNow runs the jobs besides their schedule (new targets are polled at once); after
// Stop it does nothing.
func TestSchedulerRunNow(t *testing.T) {
	src := &panicky{}
	s := NewScheduler(context.Background(), slog.New(slog.DiscardHandler))
	if err := s.Add("@every 1h", src, 0); err != nil {
		t.Fatal(err)
	}
	s.Start()
	wait := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for src.polls.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d polls, want %d", src.polls.Load(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait(1)
	s.RunNow()
	wait(2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	s.RunNow()
	if err := s.Stop(ctx); err != nil { // waits for anything RunNow would have started
		t.Fatal(err)
	}
	if n := src.polls.Load(); n != 2 {
		t.Fatalf("%d polls after Stop, want 2", n)
	}
}

// sleeper is a job whose runs take the durations it is given, in turn.
type sleeper struct {
	polls atomic.Int32
	takes []time.Duration
}

func (p *sleeper) Name() string { return "s" }
func (p *sleeper) PollOnce(ctx context.Context) error {
	n := p.polls.Add(1)
	if int(n) <= len(p.takes) {
		time.Sleep(p.takes[n-1])
	}
	return nil
}

// An "@every" job starts its next run an interval after the previous one started, or at
// once when that run took longer than the interval (cron's SkipIfStillRunning would skip
// the tick and wait for the next one).
func TestEveryRunsAgainAtOnceAfterALongRun(t *testing.T) {
	src := &sleeper{takes: []time.Duration{0, 1200 * time.Millisecond}}
	s := NewScheduler(context.Background(), slog.New(slog.DiscardHandler))
	waits := make(chan time.Duration, 10)
	tick := make(chan time.Time)
	s.after = func(d time.Duration) <-chan time.Time { waits <- d; return tick }
	if err := s.Add("@every 1s", src, 0); err != nil {
		t.Fatal(err)
	}
	s.Start()
	// Run 1 took no time: the next waits for the rest of the interval.
	if d := <-waits; d <= 0 || d > time.Second {
		t.Fatalf("after a short run the loop waits %v, want (0, 1s]", d)
	}
	tick <- time.Now()
	// Run 2 took 1.2 s: the next is due at once, not at the next whole tick.
	if d := <-waits; d > 0 {
		t.Fatalf("after a run longer than the interval the loop waits %v, want none", d)
	}
	if n := src.polls.Load(); n != 2 {
		t.Fatalf("%d polls, want 2 (one at start, one per tick)", n)
	}
	// RunNow runs it besides the schedule.
	s.RunNow()
	<-waits
	if n := src.polls.Load(); n != 3 {
		t.Fatalf("%d polls after RunNow, want 3", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
