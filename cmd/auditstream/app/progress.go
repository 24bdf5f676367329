package app

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/auditstream/auditstream/pollers"
)

// Progress is a summary of a running process read from its own metrics registry (the
// same numbers /metrics serves): per provider the raw records polled, the events
// normalized and the freshness, and its sources that fail; the dead letters; per sink the
// events delivered and the consumer lag of its group.
type Progress struct {
	At        time.Time
	Providers []ProviderProgress
	DLQ       float64
	Sinks     []SinkProgress
}

// ProviderProgress is one provider's part of a Progress.
type ProviderProgress struct {
	Provider           string
	Polled, Normalized float64
	// Freshness is now minus the oldest cursor of the provider's pollers (HasFreshness
	// false when this process polls nothing of it).
	Freshness    time.Duration
	HasFreshness bool
	// Polls: this process runs a poller of the provider; Normalizes: its normalizer maps it.
	Polls, Normalizes bool
	// Sources are the statuses of the provider's pollers in this process (WithSources).
	Sources []pollers.SourceStatus
}

// WithSources adds the pollers' statuses to p: the line names every source that is not ok.
func (p Progress) WithSources(sources []pollers.SourceStatus) Progress {
	for _, s := range sources {
		found := false
		for i := range p.Providers {
			if p.Providers[i].Provider == s.Provider {
				p.Providers[i].Sources = append(p.Providers[i].Sources, s)
				found = true
			}
		}
		if !found {
			p.Providers = append(p.Providers, ProviderProgress{Provider: s.Provider, Polls: true, Sources: []pollers.SourceStatus{s}})
		}
	}
	sort.Slice(p.Providers, func(i, j int) bool { return p.Providers[i].Provider < p.Providers[j].Provider })
	return p
}

// SinkProgress is one sink's part of a Progress.
type SinkProgress struct {
	Sink                 string
	Delivered, Duplicate float64
	DLQ                  float64
	Lag                  float64
	HasLag               bool
}

// ReadProgress builds a Progress from g. sinkGroups maps a sink name to its consumer group.
func ReadProgress(g prometheus.Gatherer, sinkGroups map[string]string, now time.Time) (Progress, error) {
	mfs, err := g.Gather()
	if err != nil {
		return Progress{}, fmt.Errorf("read metrics: %w", err)
	}
	fam := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		fam[mf.GetName()] = mf
	}
	each := func(name string, fn func(labels map[string]string, v float64)) {
		mf := fam[name]
		if mf == nil {
			return
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			switch {
			case m.Counter != nil:
				fn(l, m.GetCounter().GetValue())
			case m.Gauge != nil:
				fn(l, m.GetGauge().GetValue())
			}
		}
	}
	p := Progress{At: now}
	prov := map[string]*ProviderProgress{}
	get := func(name string) *ProviderProgress {
		if prov[name] == nil {
			prov[name] = &ProviderProgress{Provider: name}
		}
		return prov[name]
	}
	each("auditstream_records_published_total", func(l map[string]string, v float64) {
		pp := get(l["provider"])
		pp.Polled += v
		pp.Polls = true
	})
	each("auditstream_normalized_events_total", func(l map[string]string, v float64) {
		get(l["provider"]).Normalizes = true
		if l["outcome"] == "ok" {
			get(l["provider"]).Normalized += v
		}
	})
	oldest := map[string]float64{}
	each("auditstream_cursor_timestamp_seconds", func(l map[string]string, v float64) {
		if o, ok := oldest[l["provider"]]; !ok || v < o {
			oldest[l["provider"]] = v
		}
	})
	for name, ts := range oldest {
		pp := get(name)
		pp.HasFreshness = true
		pp.Freshness = now.Sub(time.UnixMilli(int64(math.Round(ts * 1000)))).Round(time.Second)
	}
	each("auditstream_dlq_records_total", func(_ map[string]string, v float64) { p.DLQ += v })
	sinks := map[string]*SinkProgress{}
	for name := range sinkGroups {
		sinks[name] = &SinkProgress{Sink: name}
	}
	each("auditstream_sink_events_total", func(l map[string]string, v float64) {
		s := sinks[l["sink"]]
		if s == nil {
			s = &SinkProgress{Sink: l["sink"]}
			sinks[l["sink"]] = s
		}
		switch l["outcome"] {
		case "written":
			s.Delivered += v
		case "duplicate":
			s.Duplicate += v
		case "dlq":
			s.DLQ += v
		}
	})
	each("auditstream_consumer_lag", func(l map[string]string, v float64) {
		for name, group := range sinkGroups {
			if l["group"] == group && sinks[name] != nil {
				sinks[name].Lag += v
				sinks[name].HasLag = true
			}
		}
	})
	for _, pp := range prov {
		p.Providers = append(p.Providers, *pp)
	}
	sort.Slice(p.Providers, func(i, j int) bool { return p.Providers[i].Provider < p.Providers[j].Provider })
	for _, s := range sinks {
		p.Sinks = append(p.Sinks, *s)
	}
	sort.Slice(p.Sinks, func(i, j int) bool { return p.Sinks[i].Sink < p.Sinks[j].Sink })
	return p, nil
}

// Line is the one-line summary for people; prev (may be nil) adds the change since the
// previous line.
func (p Progress) Line(prev *Progress) string {
	delta := func(now float64, before func(*Progress) float64) string {
		if prev == nil {
			return fmt.Sprintf("%.0f", now)
		}
		return fmt.Sprintf("%.0f (+%.0f)", now, now-before(prev))
	}
	var parts []string
	for _, pp := range p.Providers {
		var f []string
		name := pp.Provider
		prevOf := func(get func(ProviderProgress) float64) func(*Progress) float64 {
			return func(q *Progress) float64 {
				for _, x := range q.Providers {
					if x.Provider == name {
						return get(x)
					}
				}
				return 0
			}
		}
		for _, s := range pp.Sources {
			if s.State == pollers.StateFailing || s.State == pollers.StateDegraded {
				who := ""
				if len(pp.Sources) > 1 {
					who = s.Poller + " "
				}
				f = append(f, who+s.Summary())
			}
		}
		if pp.Polled > 0 || pp.HasFreshness || pp.Polls {
			f = append(f, "polled "+delta(pp.Polled, prevOf(func(x ProviderProgress) float64 { return x.Polled })))
		}
		if pp.Normalized > 0 {
			f = append(f, "normalized "+delta(pp.Normalized, prevOf(func(x ProviderProgress) float64 { return x.Normalized })))
		}
		if pp.HasFreshness {
			f = append(f, "fresh "+pp.Freshness.String())
		}
		if len(f) == 0 {
			continue // a provider the normalizer maps but nothing polls here, none yet
		}
		parts = append(parts, name+": "+strings.Join(f, ", "))
	}
	for _, s := range p.Sinks {
		name := s.Sink
		f := []string{"delivered " + delta(s.Delivered, func(q *Progress) float64 {
			for _, x := range q.Sinks {
				if x.Sink == name {
					return x.Delivered
				}
			}
			return 0
		})}
		if s.HasLag {
			f = append(f, fmt.Sprintf("lag %.0f", s.Lag))
		}
		parts = append(parts, "sink "+name+": "+strings.Join(f, ", "))
	}
	parts = append(parts, fmt.Sprintf("dead letters %.0f", p.DLQ))
	return "progress | " + strings.Join(parts, " | ")
}

// Attrs are the summary as structured log attributes (for --log-format json).
func (p Progress) Attrs() []any {
	var out []any
	for _, pp := range p.Providers {
		a := []any{slog.Float64("polled", pp.Polled), slog.Float64("normalized", pp.Normalized)}
		if pp.HasFreshness {
			a = append(a, slog.Float64("freshness_seconds", pp.Freshness.Seconds()))
		}
		for _, s := range pp.Sources {
			if s.State != pollers.StateOK && s.State != pollers.StateUnknown {
				a = append(a, slog.Group("source_"+s.Poller, slog.String("state", s.State), slog.String("summary", s.Summary()),
					slog.Int("consecutive_failures", s.ConsecutiveFailures)))
			}
		}
		out = append(out, slog.Group("provider_"+pp.Provider, a...))
	}
	for _, s := range p.Sinks {
		a := []any{slog.Float64("delivered", s.Delivered), slog.Float64("duplicate", s.Duplicate), slog.Float64("dlq", s.DLQ)}
		if s.HasLag {
			a = append(a, slog.Float64("lag", s.Lag))
		}
		out = append(out, slog.Group("sink_"+s.Sink, a...))
	}
	return append(out, slog.Float64("dead_letters", p.DLQ))
}

// SinkGroups maps the sinks this process runs to their consumer groups.
func (a *App) SinkGroups() map[string]string {
	running := map[string]bool{}
	for _, s := range a.sinks {
		running[s.Name()] = true
	}
	out := map[string]string{}
	for _, sc := range a.cfg.Sinks {
		if running[sc.Name] {
			g := sc.Group
			if g == "" {
				g = "auditstream-sink-" + sc.Name // the sink runner's default group
			}
			out[sc.Name] = g
		}
	}
	return out
}

// ReportProgress calls report with a summary every interval until ctx ends.
func (a *App) ReportProgress(ctx context.Context, every time.Duration, report func(p Progress, prev *Progress)) {
	t := time.NewTicker(every)
	defer t.Stop()
	var prev *Progress
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p, err := ReadProgress(a.reg, a.SinkGroups(), now)
			if err != nil {
				a.log.Warn("progress summary", "err", err)
				continue
			}
			p = p.WithSources(a.Sources())
			report(p, prev)
			prev = &p
		}
	}
}
