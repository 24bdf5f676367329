package pollers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/checkpoint"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/schemas"
)

// RunnerConfig configures one poller.
type RunnerConfig struct {
	Name     string // poller name, unique in the deployment (first part of the checkpoint key)
	Provider string // provider name (audit.raw.<provider>)
	Topic    string // raw topic
	// Parallel is how many targets are polled at once (default 4), by the runs of the
	// schedule and PollTargets together.
	Parallel int
	// MaxAgain bounds immediate re-polls of a target that asked for one (default 5).
	MaxAgain int
	// Drain is how long polls under way may go on once the run must stop (shutdown, or
	// this process lost its targets in a rebalance) to publish what they fetched and save
	// their cursors (default 10s). No target starts after the stop. A fetched answer must
	// not be dropped: some providers erase a log soon after (SigningHub clears a package's
	// detailed history when it completes), so an answer thrown away may not come again.
	Drain time.Duration
	// Zone is written into every envelope (schemas.Envelope.Zone): the zone of the
	// provider's zone-less timestamps. Empty: the Source's, when it is Zoned.
	Zone string
	// Assignment, when set, decides which targets this process polls (work sharing
	// through the targets topic, pollers/targets); nil = every target Source.Targets
	// lists (tests, single-process embedding).
	Assignment Assignment
}

// Assignment hands a runner the targets this process owns now.
type Assignment interface {
	// Lease returns the targets of poller (of provider) this process owns now, with a
	// context that ends when it is to stop owning them (the runner then starts no more
	// polls and drains those under way, see PollOnce). ok is false when it owns none (no group
	// generation yet). The lease must be released when the poll run is over: ownership
	// is not handed to another process before every lease of it is released.
	Lease(ctx context.Context, poller, provider string) (l Lease, ok bool)
	// Retire marks a target retired in the target set, so that no process polls it again.
	Retire(ctx context.Context, provider string, t Target) error
}

// Lease is a set of owned targets, valid until Ctx ends.
type Lease struct {
	Ctx context.Context
	// Targets yields the owned targets, one at a time: a process with many targets
	// builds no list of them for every run.
	Targets iter.Seq[Target]
	Release func()
}

// Runner polls every target of one Source.
type Runner struct {
	cfg   RunnerConfig
	src   Source
	store *checkpoint.Store
	bus   *bus.Bus
	log   *slog.Logger
	m     *metrics.Metrics
	now   func() time.Time

	fresh *freshness
	// status is what /status and auditstream_source_up say of this source.
	status *statusBook
	// sem bounds the polls under way (Parallel), whichever run started them.
	sem chan struct{}
	// busy holds the targets being polled: a run never polls a target another has under
	// way (a PollTargets while the schedule's run is on).
	busyMu sync.Mutex
	busy   map[targetID]struct{}
}

// NewRunner builds a runner.
func NewRunner(cfg RunnerConfig, src Source, store *checkpoint.Store, b *bus.Bus, log *slog.Logger, m *metrics.Metrics) *Runner {
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if cfg.MaxAgain <= 0 {
		cfg.MaxAgain = 5
	}
	if cfg.Drain <= 0 {
		cfg.Drain = DefaultDrain
	}
	if z, ok := src.(Zoned); ok && cfg.Zone == "" {
		cfg.Zone = z.Zone()
	}
	// Every series exists from the start: the first failure or gap is an increase, not a new series.
	m.InitPoller(cfg.Name, cfg.Provider)
	return &Runner{cfg: cfg, src: src, store: store, bus: b, log: log.With("poller", cfg.Name, "provider", cfg.Provider),
		m: m, now: time.Now, fresh: newFreshness(), status: newStatusBook(), sem: make(chan struct{}, cfg.Parallel), busy: map[targetID]struct{}{}}
}

// Status is what this process knows of the poller's source: its state, last success,
// last error, consecutive failures, freshness, next poll and failing targets.
func (r *Runner) Status() SourceStatus {
	s := r.status.snapshot(r.cfg.Name, r.cfg.Provider)
	if oldest, ok := r.status.freshness(); ok {
		f := r.now().Sub(oldest).Round(time.Second).Seconds()
		s.FreshnessSeconds = &f
	}
	return s
}

// Listed records the outcome of listing the source's targets (the discovery job's):
// a listing that fails while nothing is polled makes the source failing.
func (r *Runner) Listed(err error) {
	r.status.listed(err, r.now())
	r.updateStatus()
}

// updateStatus sets the source's gauges from its status.
func (r *Runner) updateStatus() {
	s := r.status.snapshot(r.cfg.Name, r.cfg.Provider)
	up := 0.0
	if s.Up() {
		up = 1
	}
	r.m.SourceUp.WithLabelValues(r.cfg.Name, r.cfg.Provider).Set(up)
	r.m.SourceFailingTargets.WithLabelValues(r.cfg.Name, r.cfg.Provider).Set(float64(s.FailingTargets))
}

// Name returns the poller name.
func (r *Runner) Name() string { return r.cfg.Name }

// Provider returns the provider name.
func (r *Runner) Provider() string { return r.cfg.Provider }

// PollOnce polls every target once (in parallel, bounded). It returns the joined errors of
// the targets that failed; their cursors did not move, so the next poll repeats them.
//
// When ctx ends (or the lease does: this process no longer owns the targets), the run
// stops in two steps: no further target is started and no re-poll is made, while the
// polls under way get up to RunnerConfig.Drain to publish what they already fetched and
// save their cursors; then their context is cancelled too (their cursors then stay
// where the last acknowledged records put them). A lease is released only after that,
// so no other process polls these targets before this one is done with them.
func (r *Runner) PollOnce(ctx context.Context) error {
	var targets iter.Seq[Target]
	if r.cfg.Assignment != nil {
		l, ok := r.cfg.Assignment.Lease(ctx, r.cfg.Name, r.cfg.Provider)
		if !ok {
			r.log.Debug("no targets owned yet (waiting for the targets group)")
			// Between generations this process owns nothing: it claims no freshness,
			// and names no failing target, for targets it may no longer own.
			r.fresh.reset()
			r.updateFreshness()
			r.status.forgetTargets()
			r.updateStatus()
			return nil
		}
		defer l.Release()
		ctx, targets = l.Ctx, l.Targets
	} else {
		list, err := r.src.Targets(ctx)
		if err != nil {
			r.m.PollRequests.WithLabelValues(r.cfg.Name, r.cfg.Provider, "error").Inc()
			if ctx.Err() == nil {
				r.Listed(err)
			}
			return fmt.Errorf("poller %s: list targets: %w", r.cfg.Name, err)
		}
		targets = slices.Values(list)
	}
	r.fresh.startRun()
	r.status.startRun()
	err := r.pollAll(ctx, func(yield func(Target) bool) {
		for t := range targets {
			r.status.cover(idOf(t))
			if !yield(t) {
				return
			}
		}
	})
	// A target no longer listed (retired, moved to another process) stops counting for
	// freshness, and its failures are no longer this process's to report.
	r.updateFreshness()
	r.status.endRun()
	r.updateStatus()
	return err
}

// PollTargets polls some targets now, besides the schedule: those that discovery just
// found (pollers/targets), so that a new target's first data does not wait for the next
// run. Only the targets this process owns are polled (the Assignment's; without one,
// every target given), at most Parallel at once together with a run under way, and a
// target that run is polling already is left to it. It stops as PollOnce does.
func (r *Runner) PollTargets(ctx context.Context, only []Target) error {
	want := make(map[targetID]bool, len(only))
	for _, t := range only {
		want[idOf(t)] = true
	}
	targets := slices.Values(only)
	if r.cfg.Assignment != nil {
		l, ok := r.cfg.Assignment.Lease(ctx, r.cfg.Name, r.cfg.Provider)
		if !ok {
			return nil // no targets owned yet: the first run of the coming generation polls them
		}
		defer l.Release()
		ctx, targets = l.Ctx, l.Targets
	}
	return r.pollAll(ctx, func(yield func(Target) bool) {
		for t := range targets {
			if want[idOf(t)] && !yield(t) {
				return
			}
		}
	})
}

// pollAll polls targets, Parallel at once at most (with the other runs), stopping as
// PollOnce says.
func (r *Runner) pollAll(ctx context.Context, targets iter.Seq[Target]) error {
	stop := ctx
	work, cancel := drainContext(stop, r.cfg.Drain)
	defer cancel()
	sem := r.sem
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	stopped := 0
	for t := range targets {
		took := false
		if stopped == 0 {
			select {
			case sem <- struct{}{}:
				took = true
			case <-stop.Done():
			}
		}
		if stop.Err() != nil {
			// Not started: it still counts for freshness with what its cursor (or an
			// earlier poll) says. The slot, if this iteration took one, goes back: the
			// limiter is shared by every run of this runner.
			if took {
				<-sem
			}
			stopped++
			r.unpolled(t)
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if !r.claim(t) {
				return // another run is polling it right now
			}
			defer r.release(t)
			if err := r.safePollTarget(work, t); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if stopped > 0 {
		r.log.Info("poll run stopped before these targets (shutdown or rebalance); they are polled next run, here or by the new owner",
			"targets_not_polled", stopped)
	}
	return errors.Join(errs...)
}

// claim marks t as being polled; false when it is already.
func (r *Runner) claim(t Target) bool {
	r.busyMu.Lock()
	defer r.busyMu.Unlock()
	if _, ok := r.busy[idOf(t)]; ok {
		return false
	}
	r.busy[idOf(t)] = struct{}{}
	return true
}

func (r *Runner) release(t Target) {
	r.busyMu.Lock()
	defer r.busyMu.Unlock()
	delete(r.busy, idOf(t))
}

// unpolled counts a target the run did not start in its freshness.
func (r *Runner) unpolled(t Target) {
	m := r.fresh.begin(idOf(t))
	if w, ok := cursorWatermark(r.store.Get(r.checkpointKey(t))); ok {
		r.fresh.cursor(m, w)
	}
	r.fresh.end(idOf(t), m)
}

// checkpointKey is the key of t's cursor.
func (r *Runner) checkpointKey(t Target) string {
	return r.cfg.Name + "/" + schemas.Key(r.cfg.Provider, t.Tenant, t.Entity)
}

// safePollTarget turns a provider panic into an error: one bad answer must not take the
// process (and every other poller) down. The cursor did not move.
func (r *Runner) safePollTarget(ctx context.Context, t Target) (err error) {
	m := r.fresh.begin(idOf(t))
	defer func() {
		if p := recover(); p != nil {
			r.m.PollRequests.WithLabelValues(r.cfg.Name, r.cfg.Provider, "error").Inc()
			err = fmt.Errorf("poll %s target %s panicked: %v", r.cfg.Name, t.Entity, p)
			r.status.fail(t, err, r.now())
			r.log.Error("poll panicked; cursor unchanged", "target", t.Entity, "panic", p)
		}
		r.fresh.end(idOf(t), m)
	}()
	return r.pollTarget(ctx, t, m)
}

// pollTarget polls one target (again at once while it asks, up to MaxAgain) and records
// its watermarks in m.
func (r *Runner) pollTarget(ctx context.Context, t Target, m *mark) error {
	key := r.checkpointKey(t)
	for i := 0; ; i++ {
		start := time.Now()
		published := 0
		emit := func(ctx context.Context, recs []Record, cursor json.RawMessage) error {
			if err := r.publish(ctx, t, recs); err != nil {
				return err
			}
			published += len(recs)
			if cursor == nil {
				return nil
			}
			if err := r.store.Save(ctx, key, cursor); err != nil {
				return err
			}
			if w, ok := cursorWatermark(cursor); ok {
				r.fresh.cursor(m, w)
			}
			return nil
		}
		cur := r.store.Get(key)
		if i == 0 {
			// A target taken over from another process, or loaded at start: its cursor
			// says how fresh it is before this process polls it.
			if w, ok := cursorWatermark(cur); ok {
				r.fresh.cursor(m, w)
			}
		}
		out, err := r.src.Poll(ctx, t, cur, emit)
		r.m.PollDuration.WithLabelValues(r.cfg.Name, r.cfg.Provider).Observe(time.Since(start).Seconds())
		if err != nil {
			r.m.PollRequests.WithLabelValues(r.cfg.Name, r.cfg.Provider, "error").Inc()
			if ctx.Err() != nil {
				return nil // shutting down: the cursor did not move, nothing is lost
			}
			if Stopping(ctx) {
				// Asked to stop (shutdown, rebalance) before it finished: the cursor
				// stays where the last acknowledged records put it.
				r.log.Info("poll stopped before it finished; cursor unchanged", "target", t.Entity, "published", published, "err", err)
				return nil
			}
			r.log.Error("poll failed; cursor unchanged, will retry next run", "target", t.Entity, "published", published, "err", err)
			r.status.fail(t, err, r.now())
			return fmt.Errorf("poll %s target %s: %w", r.cfg.Name, t.Entity, err)
		}
		r.m.PollRequests.WithLabelValues(r.cfg.Name, r.cfg.Provider, "ok").Inc()
		r.status.ok(t, r.now())
		lvl := slog.LevelDebug
		if published > 0 {
			lvl = slog.LevelInfo
		}
		r.log.Log(ctx, lvl, "poll done", "target", t.Entity, "published", published, "took", time.Since(start).Round(time.Millisecond))
		r.fresh.see(m, out.Watermark)
		if out.Retire {
			if err := r.retire(ctx, key, t); err != nil {
				return err
			}
			m.retired = true
			return nil
		}
		if !out.Again || i+1 >= r.cfg.MaxAgain || Stopping(ctx) {
			return nil
		}
		r.log.Info("target asked to be polled again at once", "target", t.Entity)
	}
}

func (r *Runner) publish(ctx context.Context, t Target, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	now := r.now().UTC()
	msgs := make([]kafka.Message, 0, len(recs))
	key := []byte(schemas.Key(r.cfg.Provider, t.Tenant, t.Entity))
	for i, rec := range recs {
		env, err := r.envelope(t, rec, now)
		if err != nil {
			return fmt.Errorf("record %d of target %s: %w", i, t.Entity, err)
		}
		// What we write is what schemas/envelope.schema.json promises downstream consumers:
		// the envelope is built by type, Check tests what the type cannot say and Encode
		// that the record is JSON (the tests validate against the full schema).
		if err := env.Check(); err != nil {
			return fmt.Errorf("record %d of target %s: %w", i, t.Entity, err)
		}
		val, err := env.Encode()
		if err != nil {
			return fmt.Errorf("record %d of target %s: %w", i, t.Entity, err)
		}
		msgs = append(msgs, kafka.Message{Topic: r.cfg.Topic, Key: key, Value: val})
	}
	if err := r.bus.Publish(ctx, msgs...); err != nil {
		return fmt.Errorf("publish raw records of %s: %w", t.Entity, err)
	}
	r.m.RecordsPublished.WithLabelValues(r.cfg.Name, r.cfg.Provider).Add(float64(len(recs)))
	for _, rec := range recs {
		if !rec.Time.IsZero() {
			r.m.EventDelay.WithLabelValues(r.cfg.Provider).Observe(now.Sub(rec.Time).Seconds())
		}
	}
	return nil
}

// envelope wraps one record; its id is deterministic: the same provider entry gets the same id whichever process polls it.
func (r *Runner) envelope(t Target, rec Record, now time.Time) (*schemas.Envelope, error) {
	ct := rec.ContentType
	if ct == "" {
		ct = schemas.ContentJSON
	}
	var raw json.RawMessage
	switch ct {
	case schemas.ContentJSON:
		if !json.Valid(rec.Raw) {
			return nil, errors.New("entry is not valid JSON")
		}
		raw = rec.Raw
	case schemas.ContentXML:
		b, err := json.Marshal(string(rec.Raw))
		if err != nil {
			return nil, err
		}
		raw = b
	default:
		return nil, fmt.Errorf("unknown content type %q", ct)
	}
	occ := max(rec.Occurrence, 1)
	native := rec.NativeID
	if native == "" {
		fp, err := Fingerprint(ct, rec.Raw)
		if err != nil {
			return nil, err
		}
		native = fp
	}
	return &schemas.Envelope{
		V: 1, ID: schemas.RecordID(r.cfg.Provider, t.Tenant, t.Entity, native, occ),
		Provider: r.cfg.Provider, Tenant: t.Tenant, Entity: t.Entity, EntityName: t.Name, Poller: r.cfg.Name,
		FetchedAt: now, Occurrence: occ, ContentType: ct, Zone: r.cfg.Zone, Record: raw,
	}, nil
}

// Fingerprint is the canonical fingerprint of an entry without a native id (hex SHA-256):
// for JSON over its canonical form (schemas.Fingerprint: sorted keys, normalized numbers),
// for XML over its text. Record ids and the full-log diff (pollers/logdiff) both use it,
// so an entry the diff counts is the entry the record id names.
func Fingerprint(ct string, raw []byte) (string, error) {
	if ct == "" || ct == schemas.ContentJSON {
		return schemas.Fingerprint(raw)
	}
	return schemas.FingerprintText(raw), nil
}

// retire ends a target's life: first it is marked retired in the target set (so no
// process polls it again, even from an empty cursor), then its checkpoint is tombstoned
// and it stops counting for freshness. A crash in between leaves a harmless cursor.
func (r *Runner) retire(ctx context.Context, key string, t Target) error {
	if r.cfg.Assignment != nil {
		if err := r.cfg.Assignment.Retire(ctx, r.cfg.Provider, t); err != nil {
			return fmt.Errorf("retire %s target %s: %w", r.cfg.Name, t.Entity, err)
		}
	}
	if err := r.store.Delete(ctx, key); err != nil {
		return fmt.Errorf("retire %s target %s: %w", r.cfg.Name, t.Entity, err)
	}
	r.status.forget(idOf(t))
	r.log.Info("target retired", "target", t.Entity, "status", t.Status)
	return nil
}

// updateFreshness sets the metric from the run just ended (none: no series).
func (r *Runner) updateFreshness() {
	oldest, ok := r.fresh.endRun()
	r.status.setFreshness(oldest, ok)
	if ok {
		r.m.CursorTimestamp.WithLabelValues(r.cfg.Name, r.cfg.Provider).Set(float64(oldest.UnixMilli()) / 1000)
	} else {
		// No target left in this process (all retired, or moved to another poller process):
		// no freshness to claim, and no stale value pinning the alert.
		r.m.CursorTimestamp.DeleteLabelValues(r.cfg.Name, r.cfg.Provider)
	}
}
