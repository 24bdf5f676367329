package targets

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers"
)

// Discovery is the scheduler job that records a poller's targets (Source.Targets: its
// static targets and its provider's listing) on the targets topic.
type Discovery struct {
	poller, provider string
	src              pollers.Source
	table            *Table
	log              *slog.Logger
	m                *metrics.Metrics
}

// NewDiscovery builds the discovery job of one poller.
func NewDiscovery(poller, provider string, src pollers.Source, table *Table, log *slog.Logger, m *metrics.Metrics) *Discovery {
	return &Discovery{poller: poller, provider: provider, src: src, table: table, log: log.With("poller", poller, "provider", provider), m: m}
}

// Name implements pollers.Job.
func (d *Discovery) Name() string { return d.poller + " discovery" }

// PollOnce lists the targets and writes what changed.
func (d *Discovery) PollOnce(ctx context.Context) error {
	found, err := d.src.Targets(ctx)
	if err != nil {
		d.m.PollRequests.WithLabelValues(d.poller, d.provider, "error").Inc()
		return fmt.Errorf("poller %s: list targets: %w", d.poller, err)
	}
	n, err := d.table.Discover(ctx, d.poller, d.provider, found, time.Now())
	if err != nil {
		return fmt.Errorf("poller %s: record targets: %w", d.poller, err)
	}
	lvl := slog.LevelDebug
	if n > 0 {
		lvl = slog.LevelInfo
	}
	d.log.Log(ctx, lvl, "targets discovered", "listed", len(found), "written", n)
	return nil
}

// FirstPoller is what PollNew hands new targets to: a poller's runner (pollers.Runner).
type FirstPoller interface {
	Name() string
	Provider() string
	PollTargets(ctx context.Context, only []pollers.Target) error
}

// PollNew has the targets that appear in the table polled at once rather than at the next
// run of their poller's schedule (on a fresh deployment the start-up run comes before
// discovery has written any target, so a new target would wait a whole interval for its
// first data). Each new target goes to the runners of its poller (to every runner of its
// provider when it names none) through start (Scheduler.Go, so shutdown waits for these
// polls); a runner polls those of them this process owns (Runner.PollTargets), at most
// `parallel` at once. A target another process owns is polled there as soon as its copy
// of the table reads it (targets.refresh). After that first poll, the schedule goes on.
func PollNew(t *Table, runners []FirstPoller, start func(func(context.Context)), log *slog.Logger) {
	t.OnNew(func(vals []Value) {
		for _, r := range runners {
			var ts []pollers.Target
			for _, v := range vals {
				if v.Provider == r.Provider() && (v.Poller == "" || v.Poller == r.Name()) {
					ts = append(ts, v.Target())
				}
			}
			if len(ts) == 0 {
				continue
			}
			log.Info("new targets: polling them now", "poller", r.Name(), "provider", r.Provider(), "targets", len(ts))
			start(func(ctx context.Context) {
				if err := r.PollTargets(ctx, ts); err != nil {
					log.Warn("first poll of new targets had errors; the schedule retries them", "poller", r.Name(), "err", err)
				}
			})
		}
	})
}
