package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/ionos"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/pollers/window"
)

// lookbackResult is what a long first poll of a quiet contract cost, counted by the
// simulator (where a provider would count).
type lookbackResult struct {
	Lookback      time.Duration
	Entries       int
	FirstRequests int
	IdleRequests  int // a second poll of the unchanged contract
	FirstPollTook time.Duration
	StartWindow   time.Duration
	MaxWindow     time.Duration
}

func lookbackSection(ctx context.Context, log *slog.Logger) (lookbackResult, error) {
	const lookback = 10 * 365 * 24 * time.Hour
	sim := ionossim.New(ionossim.Config{Token: "bench", Contracts: []string{"31721060"}, Seed: 9, Backfill: 3, MaxEvents: 3})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	m := metrics.NewUnregistered()
	quiet := slog.New(slog.DiscardHandler)
	hc, err := pollhttp.New(&http.Client{Timeout: 10 * time.Second}, ionos.Name, pollhttp.Config{}, quiet, m)
	if err != nil {
		return lookbackResult{}, err
	}
	cfg := ionos.Config{BaseURL: srv.URL + "/activitylog/v1", Token: config.Secret("bench"), Contracts: []string{"31721060"},
		Window: window.Settings{InitialLookback: config.Duration(lookback), Lag: config.Duration(time.Millisecond)}}
	cfg.SetDefaults()
	var p config.Problems
	cfg.Validate("ionos", &p)
	if err := p.Err(); err != nil {
		return lookbackResult{}, err
	}
	src := ionos.New("bench", cfg, hc, quiet, m)
	var cursor json.RawMessage
	entries := 0
	emit := func(_ context.Context, recs []pollers.Record, cur json.RawMessage) error {
		entries += len(recs)
		if cur != nil {
			cursor = cur
		}
		return nil
	}
	t := pollers.Target{Tenant: "31721060", Entity: "31721060"}
	start := time.Now()
	if _, err := src.Poll(ctx, t, nil, emit); err != nil {
		return lookbackResult{}, err
	}
	out := lookbackResult{Lookback: lookback, FirstPollTook: time.Since(start), Entries: entries,
		FirstRequests: sim.Stats().Requests["entries"], StartWindow: cfg.Window.StartWindow.D(), MaxWindow: cfg.Window.MaxWindow.D()}
	if _, err := src.Poll(ctx, t, cursor, emit); err != nil {
		return lookbackResult{}, err
	}
	out.IdleRequests = sim.Stats().Requests["entries"] - out.FirstRequests
	log.Info("10-year first poll", "requests", out.FirstRequests, "idle_poll_requests", out.IdleRequests, "entries", out.Entries)
	return out, nil
}
