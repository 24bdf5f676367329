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
