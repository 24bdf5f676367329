package pollers

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseSchedule checks a cron spec the way the scheduler will use it (UTC, seconds
// optional, descriptors such as "@every 30s" allowed). CRON_TZ/TZ prefixes are refused:
// robfig/cron panics on malformed ones and every schedule here is UTC.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return nil, fmt.Errorf("schedule is empty")
	}
	if strings.HasPrefix(s, "CRON_TZ=") || strings.HasPrefix(s, "TZ=") {
		return nil, fmt.Errorf("schedule %q: time zone prefixes are not supported (schedules run in UTC)", spec)
	}
	p := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	sched, err := p.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return sched, nil
}

// Scheduler runs pollers on cron schedules (UTC) with SkipIfStillRunning and Recover, and
// a first run right at start (cron's @every would otherwise wait one interval).
//
// An "@every d" job is not a cron entry but a loop of its own: each run starts d after the
// previous run started, or as soon as it ended when it took longer — at most one run per
// d, never two at once, and a run that takes a little over d costs a little delay, not
// the whole next tick that cron's SkipIfStillRunning would skip (at a 1 s interval, one
// slow poll would otherwise add a second to the freshness of everything it did not read).
type Scheduler struct {
	c       *cron.Cron
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	initial []func()
	loops   []*loopJob
	after   func(time.Duration) <-chan time.Time // time.After; tests see the waits
	wg      sync.WaitGroup
	mu      sync.Mutex
	started bool
	stopped bool
}

// loopJob is an "@every" job: run by its own goroutine, kicked by RunNow.
type loopJob struct {
	every time.Duration
	run   func()
	kick  chan struct{}
	// next is when the next run is due (Unix ns; 0: unknown, or under way)
	next atomic.Int64
}

// nextPollSetter is a job that shows when its next run is due (a Runner's /status).
type nextPollSetter interface{ setNextPoll(func() time.Time) }

func (r *Runner) setNextPoll(next func() time.Time) { r.status.setNext(next) }

// NewScheduler builds a scheduler; jobs receive a context derived from ctx.
func NewScheduler(ctx context.Context, log *slog.Logger) *Scheduler {
	cl := cronLogger{log}
	ctx, cancel := context.WithCancel(ctx)
	return &Scheduler{
		c:   cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cl)),
		log: log, ctx: ctx, cancel: cancel, after: time.After,
	}
}

// Job is what the scheduler runs: a Runner, in production.
type Job interface {
	Name() string
	PollOnce(ctx context.Context) error
}

// Add schedules r with spec. jitter delays each run by a random duration up to it.
func (s *Scheduler) Add(spec string, r Job, jitter time.Duration) error {
	sched, err := ParseSchedule(spec)
	if err != nil {
		return fmt.Errorf("poller %s: %w", r.Name(), err)
	}
	poll := cron.FuncJob(func() {
		if jitter > 0 {
			select {
			case <-time.After(rand.N(jitter)):
			case <-s.ctx.Done():
				return
			}
		}
		if s.ctx.Err() != nil {
			return
		}
		if err := r.PollOnce(s.ctx); err != nil {
			s.log.Warn("poll run had errors", "poller", r.Name(), "err", err)
		}
	})
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		l := &loopJob{every: every.Delay, run: cron.NewChain(cron.Recover(cronLogger{s.log})).Then(poll).Run, kick: make(chan struct{}, 1)}
		if n, ok := r.(nextPollSetter); ok {
			n.setNextPoll(func() time.Time {
				if ns := l.next.Load(); ns != 0 {
					return time.Unix(0, ns).UTC()
				}
				return time.Time{}
			})
		}
		s.mu.Lock()
		s.loops = append(s.loops, l)
		s.mu.Unlock()
		return nil
	}
	// Order matters: SkipIfStillRunning outside, Recover inside (a panic releases the slot).
	job := cron.NewChain(cron.SkipIfStillRunning(cronLogger{s.log}), cron.Recover(cronLogger{s.log})).Then(poll)
	id := s.c.Schedule(sched, job)
	if n, ok := r.(nextPollSetter); ok {
		n.setNextPoll(func() time.Time { return s.c.Entry(id).Next.UTC() })
	}
	// The same wrapped job also runs once at start, so SkipIfStillRunning covers both.
	s.initial = append(s.initial, job.Run)
	return nil
}

// Start starts the schedules and the first run of every poller.
func (s *Scheduler) Start() {
	s.c.Start()
	s.mu.Lock()
	if !s.stopped && !s.started {
		s.started = true
		for _, l := range s.loops {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.loop(l) }()
		}
	}
	s.mu.Unlock()
	s.RunNow()
}

// loop runs an "@every" job: at once, then every l.every from the previous start, or right
// after the previous run when it took longer; a kick (RunNow) runs it now (after the run
// under way, if any).
func (s *Scheduler) loop(l *loopJob) {
	var next <-chan time.Time // nil: the first run is the kick of Start's RunNow
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-next:
		case <-l.kick:
		}
		start := time.Now()
		l.next.Store(0)
		l.run()
		if s.ctx.Err() != nil {
			return
		}
		due := start.Add(l.every)
		l.next.Store(max(due.UnixNano(), time.Now().UnixNano()))
		next = s.after(time.Until(due)) // ≤ 0: at once
	}
}

// RunNow runs every job once now, besides its schedule: at start, and when this process is
// given new targets to poll. A cron job still running is skipped; an "@every" job still
// running runs once more as soon as it ends (its run under way may predate the targets).
func (s *Scheduler) RunNow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	for _, f := range s.initial {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); f() }()
	}
	if s.started {
		for _, l := range s.loops {
			select {
			case l.kick <- struct{}{}:
			default: // a run is already due
			}
		}
	}
}

// Go runs f at once in a goroutine of its own with the scheduler's context, besides the
// schedules (the first poll of targets just discovered); Stop cancels it and waits for
// it as for the runs. Once Stop was called it runs nothing.
func (s *Scheduler) Go(f func(ctx context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); f(s.ctx) }()
}

// Stop cancels running polls and waits for them to return, at most until ctx is done.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true // no RunNow adds to wg once Stop waits on it
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() {
		<-s.c.Stop().Done() // waits for cron's runs; the start-up runs are tracked by wg
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pollers did not stop in time: %w", ctx.Err())
	}
}

type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}
