package pollers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	// Parallel is how many targets are polled at once (default 4).
	Parallel int
	// MaxAgain bounds immediate re-polls of a target that asked for one (default 5).
	MaxAgain int
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

	envSchema *schemas.Validator

	mu         sync.Mutex
	watermarks map[string]time.Time
}

// NewRunner builds a runner.
func NewRunner(cfg RunnerConfig, src Source, store *checkpoint.Store, b *bus.Bus, log *slog.Logger, m *metrics.Metrics) *Runner {
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if cfg.MaxAgain <= 0 {
		cfg.MaxAgain = 5
	}
	return &Runner{cfg: cfg, src: src, store: store, bus: b, log: log.With("poller", cfg.Name, "provider", cfg.Provider),
		m: m, now: time.Now, watermarks: map[string]time.Time{}, envSchema: schemas.MustLoad(schemas.EnvelopeSchema)}
}

// Name returns the poller name.
func (r *Runner) Name() string { return r.cfg.Name }

// PollOnce polls every target once (in parallel, bounded). It returns the joined errors of
// the targets that failed; their cursors did not move, so the next poll repeats them.
func (r *Runner) PollOnce(ctx context.Context) error {
	targets, err := r.src.Targets(ctx)
	if err != nil {
		r.m.PollRequests.WithLabelValues(r.cfg.Name, r.cfg.Provider, "error").Inc()
		return fmt.Errorf("poller %s: list targets: %w", r.cfg.Name, err)
	}
	sem := make(chan struct{}, r.cfg.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, t := range targets {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := r.safePollTarget(ctx, t); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.updateFreshness()
	return errors.Join(errs...)
}

// safePollTarget turns a provider panic into an error: one bad answer must not take the
// process (and every other poller) down. The cursor did not move.
func (r *Runner) safePollTarget(ctx context.Context, t Target) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.m.PollRequests.WithLabelValues(r.cfg.Name, r.cfg.Provider, "error").Inc()
			err = fmt.Errorf("poll %s target %s panicked: %v", r.cfg.Name, t.Entity, p)
			r.log.Error("poll panicked; cursor unchanged", "target", t.Entity, "panic", p)
		}
	}()
	return r.pollTarget(ctx, t)
}

func (r *Runner) pollTarget(ctx context.Context, t Target) error {
	key := r.cfg.Name + "/" + schemas.Key(r.cfg.Provider, t.Tenant, t.Entity)
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
			var w Watermark
			if json.Unmarshal(cursor, &w) == nil && !w.Watermark.IsZero() {
				r.mu.Lock()
				r.watermarks[key] = w.Watermark
				r.mu.Unlock()
			}
			return nil
		}
		out, err := r.src.Poll(ctx, t, r.store.Get(key), emit)
		r.m.PollDuration.WithLabelValues(r.cfg.Name, r.cfg.Provider).Observe(time.Since(start).Seconds())
		if err != nil {
			r.m.PollRequests.WithLabelValues(r.cfg.Name, r.cfg.Provider, "error").Inc()
			if ctx.Err() != nil {
				return nil // shutting down: the cursor did not move, nothing is lost
			}
			r.log.Error("poll failed; cursor unchanged, will retry next run", "target", t.Entity, "published", published, "err", err)
			return fmt.Errorf("poll %s target %s: %w", r.cfg.Name, t.Entity, err)
		}
		r.m.PollRequests.WithLabelValues(r.cfg.Name, r.cfg.Provider, "ok").Inc()
		lvl := slog.LevelDebug
		if published > 0 {
			lvl = slog.LevelInfo
		}
		r.log.Log(ctx, lvl, "poll done", "target", t.Entity, "published", published, "took", time.Since(start).Round(time.Millisecond))
		if !out.Again || i+1 >= r.cfg.MaxAgain || ctx.Err() != nil {
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
		val, err := env.Encode()
		if err != nil {
			return fmt.Errorf("record %d of target %s: %w", i, t.Entity, err)
		}
		// What we write is what schemas/envelope.schema.json promises downstream consumers.
		if err := r.envSchema.ValidateJSON(val); err != nil {
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

// envelope wraps one record; its id is deterministic (DESIGN.md).
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
		fp, err := fingerprint(ct, rec.Raw)
		if err != nil {
			return nil, err
		}
		native = fp
	}
	return &schemas.Envelope{
		V: 1, ID: schemas.RecordID(r.cfg.Provider, t.Tenant, t.Entity, native, occ),
		Provider: r.cfg.Provider, Tenant: t.Tenant, Entity: t.Entity, EntityName: t.Name, Poller: r.cfg.Name,
		FetchedAt: now, Occurrence: occ, ContentType: ct, Record: raw,
	}, nil
}

func fingerprint(ct string, raw []byte) (string, error) {
	if ct == schemas.ContentJSON {
		return schemas.Fingerprint(raw)
	}
	return schemas.FingerprintText(raw), nil
}

func (r *Runner) updateFreshness() {
	r.mu.Lock()
	defer r.mu.Unlock()
	var oldest time.Time
	for _, w := range r.watermarks {
		if oldest.IsZero() || w.Before(oldest) {
			oldest = w
		}
	}
	if !oldest.IsZero() {
		r.m.CursorTimestamp.WithLabelValues(r.cfg.Name, r.cfg.Provider).Set(float64(oldest.UnixMilli()) / 1000)
	}
}
