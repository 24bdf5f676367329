package targets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/backoff"
	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/checkpoint"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/schemas"
)

// SharingConfig configures the consumer group of the poller processes.
type SharingConfig struct {
	// Pollers are the pollers this process runs.
	Pollers []PollerID
	// Group is the consumer group id (default DefaultGroup(Pollers)). Every member of a
	// group must run the same pollers: a process polls only the targets of its own
	// pollers on the partitions it is given, so the targets of a poller it does not run
	// would be polled by nobody (counted in auditstream_targets_unowned).
	Group string
	// KnownProvider bounds the provider label of auditstream_targets_unowned (targets
	// of other providers, written by other systems, count as "unknown"); nil = all known.
	KnownProvider func(string) bool
	// SessionTimeout: a process that stops heartbeating this long loses its targets to
	// the others (default 10s).
	SessionTimeout time.Duration
	// RebalanceTimeout: how long the group waits for members to rejoin in a rebalance
	// (default 60s). A member stops its polls before rejoining; one that takes longer is
	// dropped from the group and its partitions handed on, so this must exceed the
	// longest request a poll cannot cancel (the SOAP client has no context: its
	// http.timeout).
	RebalanceTimeout time.Duration
	// Refresh is how often the table is caught up with the topic while a generation
	// lasts, so new targets are polled soon (default 5s).
	Refresh time.Duration
}

// PollerID names a poller and its provider.
type PollerID struct{ Name, Provider string }

// DefaultGroup is the group of the processes running exactly these pollers:
// auditstream-pollers-<12 hex digits of the SHA-256 of the sorted name/provider pairs>,
// so processes with different poller sets (a rolling upgrade adding a poller, processes
// split per provider) form separate groups, each sharing all the targets of its pollers.
func DefaultGroup(ps []PollerID) string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.Name + "\x00" + p.Provider
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	return "auditstream-pollers-" + hex.EncodeToString(sum[:6])
}

func (c *SharingConfig) defaults() {
	if c.Group == "" {
		c.Group = DefaultGroup(c.Pollers)
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.RebalanceTimeout <= 0 {
		c.RebalanceTimeout = 60 * time.Second
	}
	if c.Refresh <= 0 {
		c.Refresh = 5 * time.Second
	}
}

// Sharing gives this process the targets of the partitions the consumer group assigns it
// (pollers.Assignment). Within one generation the owned partitions do not change; when a
// generation ends (a process joined, left or died), the leases of it are cancelled and
// waited for before this process rejoins, so two processes never poll the same target at
// once; at the start of a generation the checkpoints and the table are caught up before
// any poll, so a target taken over resumes from the last cursor its previous owner saved.
type Sharing struct {
	cfg   SharingConfig
	bus   *bus.Bus
	table *Table
	store *checkpoint.Store
	log   *slog.Logger
	m     *metrics.Metrics

	mu sync.Mutex
	// unowned is the last count of unowned targets logged (a change is logged again).
	unowned int
	cur     *generation

	ready chan struct{}
	once  sync.Once

	onGeneration func()

	// dialer replaces the bus's dialer for the group's connections (tests: a member
	// cut off from the brokers).
	dialer *kafka.Dialer
}

// OnGeneration sets a function called each time this process starts polling a new set
// of partitions (the app runs every poller at once instead of waiting for its schedule,
// so targets taken over from a dead process are polled without delay). Call it before Run.
func (s *Sharing) OnGeneration(f func()) { s.onGeneration = f }

type generation struct {
	id    int32
	ctx   context.Context
	owned map[int]bool
	wg    sync.WaitGroup
}

// NewSharing builds the sharing of table's targets; store holds the cursors.
func NewSharing(cfg SharingConfig, b *bus.Bus, table *Table, store *checkpoint.Store, log *slog.Logger, m *metrics.Metrics) *Sharing {
	cfg.defaults()
	s := &Sharing{cfg: cfg, bus: b, table: table, store: store, m: m, log: log.With("group", cfg.Group), ready: make(chan struct{})}
	s.zeroUnowned()
	return s
}

// zeroUnowned exports auditstream_targets_unowned at 0 for every provider this process
// polls, so the series exists before the first unowned target (an alert's increase() or
// a "> 0" sees the first one).
func (s *Sharing) zeroUnowned() {
	for _, p := range s.cfg.Pollers {
		provider := p.Provider
		if s.cfg.KnownProvider != nil && !s.cfg.KnownProvider(provider) {
			provider = "unknown"
		}
		s.m.TargetsUnowned.WithLabelValues(s.cfg.Group, provider).Set(0)
	}
}

// Group is the consumer group id.
func (s *Sharing) Group() string { return s.cfg.Group }

// countUnowned sets auditstream_targets_unowned for the partitions owned (nil: none) and
// logs when the count changes: active targets there whose poller this process does not
// run are polled by nobody.
func (s *Sharing) countUnowned(owned map[int]bool) {
	runs := func(v Value) bool {
		for _, p := range s.cfg.Pollers {
			if p.Provider == v.Provider && (v.Poller == "" || v.Poller == p.Name) {
				return true
			}
		}
		return false
	}
	byProvider := s.table.unowned(owned, runs)
	total := 0
	s.m.TargetsUnowned.DeletePartialMatch(map[string]string{"group": s.cfg.Group})
	s.zeroUnowned()
	for provider, n := range byProvider {
		if s.cfg.KnownProvider != nil && !s.cfg.KnownProvider(provider) {
			provider = "unknown"
		}
		s.m.TargetsUnowned.WithLabelValues(s.cfg.Group, provider).Add(float64(n))
		total += n
	}
	s.mu.Lock()
	changed := total != s.unowned
	s.unowned = total
	s.mu.Unlock()
	if changed && total > 0 {
		s.log.Error("targets on this process's partitions belong to pollers it does not run: nobody polls them; "+
			"every process of a targets group must run the same pollers (leave targets.group unset: each poller set gets its own group)",
			"targets", total, "by_provider", byProvider)
	}
}

// Run takes part in the group until ctx ends; then it leaves the group (after every lease
// was released) so that the others take the targets over at once.
func (s *Sharing) Run(ctx context.Context) error {
	dialer := s.bus.Dialer()
	if s.dialer != nil {
		dialer = s.dialer
	}
	g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: s.cfg.Group, Brokers: s.bus.Brokers(), Dialer: dialer, Topics: []string{s.table.Topic()},
		SessionTimeout: s.cfg.SessionTimeout, RebalanceTimeout: s.cfg.RebalanceTimeout,
		HeartbeatInterval: max(s.cfg.SessionTimeout/5, 500*time.Millisecond), JoinGroupBackoff: time.Second,
		WatchPartitionChanges: true, PartitionWatchInterval: 30 * time.Second,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) { s.log.Debug("targets group: " + fmt.Sprintf(msg, args...)) }),
	})
	if err != nil {
		return fmt.Errorf("targets group %s: %w", s.cfg.Group, err)
	}
	defer g.Close()
	for {
		gen, err := g.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			s.log.Warn("targets group: no generation yet, retrying", "err", err)
			continue
		}
		s.serve(gen)
	}
}

func (s *Sharing) serve(gen *kafka.Generation) {
	owned := map[int]bool{}
	var parts []int
	for _, a := range gen.Assignments[s.table.Topic()] {
		owned[a.ID] = true
		parts = append(parts, a.ID)
	}
	slices.Sort(parts)
	gen.Start(func(ctx context.Context) {
		// Catch up with what the previous owners wrote before polling anything.
		bo := backoff.New(200*time.Millisecond, 5*time.Second)
		for {
			err := s.store.Sync(ctx)
			if err == nil {
				err = s.table.Sync(ctx)
			}
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("cannot catch up with checkpoints and targets; not polling yet", "err", err)
			if !backoff.Sleep(ctx, bo.Next()) {
				return
			}
		}
		s.countUnowned(owned)
		g := &generation{id: gen.ID, ctx: ctx, owned: owned}
		s.mu.Lock()
		s.cur = g
		s.mu.Unlock()
		s.once.Do(func() { close(s.ready) })
		s.log.Info("polling the targets of these partitions", "generation", gen.ID, "partitions", parts)
		if s.onGeneration != nil {
			s.onGeneration()
		}
		tick := time.NewTicker(s.cfg.Refresh)
		defer tick.Stop()
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-tick.C:
				if err := s.table.Sync(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("cannot catch up with the targets topic", "err", err)
				}
				s.countUnowned(owned)
			}
		}
		s.mu.Lock()
		s.cur = nil
		s.mu.Unlock()
		g.wg.Wait() // every poll of this generation has returned
		s.countUnowned(nil)
		s.log.Info("generation ended; polls stopped", "generation", gen.ID, "partitions", parts)
	})
}

// Ready is closed once this process took part in a first generation.
func (s *Sharing) Ready() <-chan struct{} { return s.ready }

// Owned returns the current generation and the partitions it gave this process
// (generation -1: none).
func (s *Sharing) Owned() (int32, []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return -1, nil
	}
	var out []int
	for p := range s.cur.owned {
		out = append(out, p)
	}
	slices.Sort(out)
	return s.cur.id, out
}

// Lease implements pollers.Assignment.
func (s *Sharing) Lease(ctx context.Context, poller, provider string) (pollers.Lease, bool) {
	s.mu.Lock()
	g := s.cur
	if g == nil || g.ctx.Err() != nil {
		s.mu.Unlock()
		return pollers.Lease{}, false
	}
	g.wg.Add(1)
	s.mu.Unlock()
	lctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(g.ctx, cancel)
	return pollers.Lease{Ctx: lctx, Targets: s.table.owned(g.owned, poller, provider), Release: func() {
		stop()
		cancel()
		g.wg.Done()
	}}, true
}

// Retire implements pollers.Assignment: the target is written back as retired.
func (s *Sharing) Retire(ctx context.Context, provider string, t pollers.Target) error {
	key := schemas.Key(provider, t.Tenant, t.Entity)
	v, ok := s.table.Get(key)
	if !ok {
		v = Value{Provider: provider, Tenant: t.Tenant, Entity: t.Entity, Name: t.Name, Status: t.Status,
			UpdatedAt: t.UpdatedAt, Terminal: t.Terminal}
	}
	v.State = StateRetired
	v.Since = time.Now().UTC()
	return s.table.Put(ctx, v)
}
