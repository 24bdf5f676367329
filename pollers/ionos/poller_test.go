package ionos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/ionos"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/pollers/polltest"
	"github.com/auditstream/auditstream/pollers/window"
)

type collector struct {
	mu      sync.Mutex
	ids     map[string]int
	cursors map[string]json.RawMessage
}

func (c *collector) emitFor(target string) pollers.Emit {
	return func(_ context.Context, recs []pollers.Record, cur json.RawMessage) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, r := range recs {
			c.ids[r.NativeID]++
		}
		if cur != nil {
			c.cursors[target] = cur
		}
		return nil
	}
}

func newPoller(t testing.TB, url string, cfg ionos.Config, log *slog.Logger) *ionos.Source {
	t.Helper()
	m := metrics.NewUnregistered()
	hc, err := pollhttp.New(&http.Client{Timeout: 5 * time.Second}, ionos.Name, pollhttp.Config{MaxRetries: 3, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}, log, m)
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL = url + "/activitylog/v1"
	cfg.SetDefaults()
	var p config.Problems
	cfg.Validate("ionos", &p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	return ionos.New("ionos-test", cfg, hc, log, m)
}

func pollAll(t *testing.T, src *ionos.Source, c *collector) {
	t.Helper()
	ts, err := src.Targets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range ts {
		if _, err := src.Poll(context.Background(), tg, c.cursors[tg.Entity], c.emitFor(tg.Entity)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPollsEverySimulatedEventOnceWithSplitsAndBasicAuth(t *testing.T) {
	sim := ionossim.New(ionossim.Config{Username: "u", Password: "p", Contracts: []string{"1", "2"}, Seed: 3, Rate: 1, Backfill: 900, MaxEvents: 900, MaxResults: 100})
	srv := polltest.Start(t, sim)
	src := newPoller(t, srv, ionos.Config{Username: "u", Password: "p", PageSize: 40, MaxResults: 100,
		Window: window.Settings{InitialLookback: config.Duration(2 * time.Hour), Lag: config.Duration(time.Second)}}, slog.New(slog.DiscardHandler))
	c := &collector{ids: map[string]int{}, cursors: map[string]json.RawMessage{}}
	pollAll(t, src, c)
	pollAll(t, src, c) // the second poll re-reads the overlap and must add nothing
	served := sim.Served()
	if len(served) != 900 || len(c.ids) != 900 {
		t.Fatalf("served %d, emitted %d distinct, want 900", len(served), len(c.ids))
	}
	for id, n := range c.ids {
		if n != 1 || !served[id] {
			t.Fatalf("%s emitted %d times (served: %v)", id, n, served[id])
		}
	}
}

func TestUnauthorizedIsAClearErrorWithoutTheSecret(t *testing.T) {
	sim := ionossim.New(ionossim.Config{Token: "right-token", Seed: 1})
	srv := polltest.Start(t, sim)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	const secret = "wrong-token-s3cr3t"
	src := newPoller(t, srv, ionos.Config{Token: config.Secret(secret), Contracts: []string{"31721060"}}, log)
	c := &collector{ids: map[string]int{}, cursors: map[string]json.RawMessage{}}
	_, err := src.Poll(context.Background(), pollers.Target{Tenant: "31721060", Entity: "31721060"}, nil, c.emitFor("x"))
	if !pollhttp.IsStatus(err, http.StatusUnauthorized) {
		t.Fatalf("err = %v, want HTTP 401", err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
		t.Fatalf("the token leaked: err=%q logs=%q", err, logs.String())
	}
	if !strings.Contains(err.Error(), "31721060") {
		t.Fatalf("error does not say which contract: %v", err)
	}
	// The config never prints the secret either.
	cfg := ionos.Config{Token: config.Secret(secret), Password: config.Secret(secret)}
	for _, s := range []string{slogString(cfg), jsonString(t, cfg)} {
		if strings.Contains(s, secret) {
			t.Fatalf("config printed the secret: %s", s)
		}
	}
}

func slogString(v any) string {
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("cfg", "cfg", v)
	return b.String()
}

func jsonString(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTargetsFromDiscovery(t *testing.T) {
	sim := ionossim.New(ionossim.Config{Token: "t", Contracts: []string{"7", "8", "9"}, Seed: 1})
	srv := polltest.Start(t, sim)
	src := newPoller(t, srv, ionos.Config{Token: "t"}, slog.New(slog.DiscardHandler))
	ts := polltest.Targets(t, src)
	if len(ts) != 3 || ts[2].Entity != "9" || ts[2].Tenant != "9" {
		t.Fatalf("targets = %+v", ts)
	}
}

func TestTruncatedAnswerDoesNotMoveTheCursor(t *testing.T) {
	sim := ionossim.New(ionossim.Config{Token: "t", Contracts: []string{"1"}, Seed: 5, Backfill: 50, MaxEvents: 50,
		Faults: ionossim.Faults{Truncated: 1}})
	srv := polltest.Start(t, sim)
	src := newPoller(t, srv, ionos.Config{Token: "t", Contracts: []string{"1"}, Window: window.Settings{InitialLookback: config.Duration(2 * time.Hour)}}, slog.New(slog.DiscardHandler))
	c := &collector{ids: map[string]int{}, cursors: map[string]json.RawMessage{}}
	_, err := src.Poll(context.Background(), pollers.Target{Tenant: "1", Entity: "1"}, nil, c.emitFor("1"))
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("err = %v, want a JSON error", err)
	}
	if len(c.cursors) != 0 || len(c.ids) != 0 {
		t.Fatalf("emitted %d records and %d cursors from a truncated answer", len(c.ids), len(c.cursors))
	}
	sim.SetFaults(ionossim.Faults{})
	if _, err := src.Poll(context.Background(), pollers.Target{Tenant: "1", Entity: "1"}, nil, c.emitFor("1")); err != nil {
		t.Fatal(err)
	}
	if len(c.ids) != 50 {
		t.Fatalf("after the fault cleared: %d records, want 50", len(c.ids))
	}
}

// Answers whose total is not exact must not end a window early (review findings): an
// Elasticsearch-style capped total ("relation": "gte"), no total at all, and a server
// that clamps limit below the page size.
func TestInexactTotalsNeverEndAWindowEarly(t *testing.T) {
	cases := []struct {
		name string
		sim  ionossim.Config
		cfg  ionos.Config
	}{
		{"es7 total capped with gte", ionossim.Config{TotalStyle: "es7", TrackTotalHits: 100}, ionos.Config{PageSize: 40, MaxResults: 100}},
		{"es7 gte below max_results", ionossim.Config{TotalStyle: "es7", TrackTotalHits: 30}, ionos.Config{PageSize: 40, MaxResults: 200}},
		{"no total, clamped limit", ionossim.Config{TotalStyle: "none", MaxLimit: 7}, ionos.Config{PageSize: 50, MaxResults: 10000}},
		{"no total, window over max_results", ionossim.Config{TotalStyle: "none", MaxResults: 100}, ionos.Config{PageSize: 40, MaxResults: 100}},
		{"exact total, page size not dividing max_results", ionossim.Config{MaxResults: 100}, ionos.Config{PageSize: 30, MaxResults: 100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := tc.sim
			sc.Token, sc.Contracts, sc.Seed, sc.Backfill, sc.MaxEvents = "t", []string{"1"}, 11, 250, 250
			sim := ionossim.New(sc)
			srv := polltest.Start(t, sim)
			cfg := tc.cfg
			cfg.Token, cfg.Contracts = "t", []string{"1"}
			cfg.Window.InitialLookback, cfg.Window.Lag = config.Duration(2*time.Hour), config.Duration(time.Millisecond)
			src := newPoller(t, srv, cfg, slog.New(slog.DiscardHandler))
			c := &collector{ids: map[string]int{}, cursors: map[string]json.RawMessage{}}
			pollAll(t, src, c)
			if len(c.ids) != 250 {
				t.Fatalf("emitted %d of 250 entries", len(c.ids))
			}
		})
	}
}

// simRequests reads the entries requests the simulator counted (its control endpoint), so
// the cost is measured where the provider would bill it, not inside the poller.
func simRequests(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st ionossim.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Requests["entries"]
}

const tenYears = 10 * 365 * 24 * time.Hour

func TestTenYearFirstPollOfAQuietContractCostsAHandfulOfRequests(t *testing.T) {
	sim := ionossim.New(ionossim.Config{Token: "t", Contracts: []string{"1"}, Seed: 21, Backfill: 3, MaxEvents: 3})
	srv := polltest.Start(t, sim)
	var logs bytes.Buffer
	src := newPoller(t, srv, ionos.Config{Token: "t", Contracts: []string{"1"},
		Window: window.Settings{InitialLookback: config.Duration(tenYears), Lag: config.Duration(time.Millisecond)}},
		slog.New(slog.NewTextHandler(&logs, nil)))
	c := &collector{ids: map[string]int{}, cursors: map[string]json.RawMessage{}}
	tg := pollers.Target{Tenant: "1", Entity: "1"}
	if _, err := src.Poll(context.Background(), tg, nil, c.emitFor("1")); err != nil {
		t.Fatal(err)
	}
	if len(c.ids) != 3 {
		t.Fatalf("emitted %d entries, want the 3 the contract holds", len(c.ids))
	}
	first := simRequests(t, srv)
	if first > 50 {
		t.Fatalf("a 10-year first poll of a quiet contract cost %d requests, want at most 50", first)
	}
	t.Logf("10-year first poll: %d requests", first)
	// Its progress is logged: window bounds and requests so far.
	if !strings.Contains(logs.String(), "catch-up window read") || !strings.Contains(logs.String(), "requests=") || !strings.Contains(logs.String(), "window_end=") {
		t.Fatalf("no progress logged:\n%s", logs.String())
	}
	// Polling the unchanged contract again costs one request.
	if _, err := src.Poll(context.Background(), tg, c.cursors["1"], c.emitFor("1")); err != nil {
		t.Fatal(err)
	}
	if again := simRequests(t, srv) - first; again != 1 {
		t.Fatalf("an idle poll of an unchanged contract cost %d requests, want 1", again)
	}
	for id, n := range c.ids {
		if n != 1 {
			t.Fatalf("%s emitted %d times", id, n)
		}
	}
}

func TestTenYearFirstPollOfABusyContractSplitsWindows(t *testing.T) {
	const n = 3000
	sim := ionossim.New(ionossim.Config{Token: "t", Contracts: []string{"1"}, Seed: 22, Backfill: n, MaxEvents: n, MaxResults: 200})
	srv := polltest.Start(t, sim)
	src := newPoller(t, srv, ionos.Config{Token: "t", Contracts: []string{"1"}, PageSize: 100, MaxResults: 200,
		Window: window.Settings{InitialLookback: config.Duration(tenYears), Lag: config.Duration(time.Millisecond)}},
		slog.New(slog.DiscardHandler))
	c := &collector{ids: map[string]int{}, cursors: map[string]json.RawMessage{}}
	tg := pollers.Target{Tenant: "1", Entity: "1"}
	if _, err := src.Poll(context.Background(), tg, nil, c.emitFor("1")); err != nil {
		t.Fatal(err)
	}
	gen := sim.Generated()
	if len(c.ids) != len(gen) {
		t.Fatalf("emitted %d distinct entries, the simulator holds %d", len(c.ids), len(gen))
	}
	for id, k := range c.ids {
		if !gen[id] {
			t.Fatalf("%s emitted but never generated", id)
		}
		if k != 1 {
			t.Fatalf("%s emitted %d times", id, k)
		}
	}
	// At most 200 entries per window: at least n/200 windows, each of one or two pages,
	// plus the halvings from ten years down to about an hour / (n/200).
	reqs := simRequests(t, srv)
	if reqs < n/100 {
		t.Fatalf("%d requests for %d entries in windows of at most 200: the cap was not honoured", reqs, n)
	}
	t.Logf("10-year first poll of %d entries (max_results 200): %d requests", n, reqs)
	var cur window.Cursor
	if err := json.Unmarshal(c.cursors["1"], &cur); err != nil {
		t.Fatal(err)
	}
	if lag := time.Since(cur.Watermark); lag > time.Minute {
		t.Fatalf("watermark %s is %s behind now", cur.Watermark, lag)
	}
}
