package conga_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/logsim"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/conga"
	"github.com/auditstream/auditstream/pollers/conga/congasim"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/pollers/simkit"
)

const secret = "cs-s3cr3t-value-never-logged"

func newConga(t testing.TB, base string, cfg conga.Config, log *slog.Logger) *conga.Conga {
	t.Helper()
	hc, err := pollhttp.New(&http.Client{Timeout: 5 * time.Second}, conga.Provider,
		pollhttp.Config{MaxRetries: 2, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}, log, metrics.NewUnregistered())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "client-1"
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = secret
	}
	cfg.BaseURL = base
	if cfg.TokenURL == "" {
		cfg.TokenURL = base + "/api/v1/auth/connect/token"
	}
	testkit.CheckSettings(t, &cfg, "settings")
	g, err := conga.New("conga-test", cfg, hc, log)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func simConfig(c *testkit.Clock) congasim.Config {
	cfg := congasim.Config{ClientID: "client-1", ClientSecret: secret}
	cfg.Seed, cfg.Packages, cfg.EntriesPerPackage, cfg.DuplicateFraction = 7, 30, 20, 0.2
	if c != nil {
		cfg.Now = c.Now
	}
	return cfg
}

func crawl(t *testing.T, g *conga.Conga) (map[string]bool, map[string]pollers.Target) {
	t.Helper()
	keys, targets, err := logsim.Crawl(context.Background(), g, g)
	if err != nil {
		t.Fatal(err)
	}
	return keys, targets
}

func TestListAndFetchEverythingTheSimulatorServed(t *testing.T) {
	sim := congasim.New(simConfig(nil))
	srv := httptest.NewServer(sim)
	defer srv.Close()
	g := newConga(t, srv.URL, conga.Config{PageSize: 7}, slog.New(slog.DiscardHandler))
	keys, targets := crawl(t, g)
	if len(targets) != 30 {
		t.Fatalf("listed %d packages, want 30", len(targets))
	}
	served := sim.Served.Keys()
	if len(keys) != len(served) || len(keys) == 0 {
		t.Fatalf("fetched %d keys, simulator served %d", len(keys), len(served))
	}
	dups := 0
	for k := range served {
		if !keys[k] {
			t.Fatalf("served %s not fetched", k)
		}
		if strings.HasSuffix(k, "/2") {
			dups++
		}
	}
	if dups == 0 {
		t.Fatal("no exact duplicates in the simulated logs")
	}
	terminal := 0
	for _, x := range targets {
		if x.Tenant != "client-1" || x.Name == "" || x.UpdatedAt.IsZero() || x.Status == "" {
			t.Fatalf("target %+v lacks listing fields", x)
		}
		if x.Terminal {
			terminal++
		}
	}
	if terminal != 30 {
		t.Fatalf("%d of 30 packages terminal after the whole history", terminal)
	}
	if st := sim.H.Stats(sim.Served, sim.Ledger); st.Arrived != 600 || st.Served != len(served) {
		t.Fatalf("stats %+v", st)
	}
}

func TestLogsGrowAfterCompletionAndTokensRenew(t *testing.T) {
	c := testkit.NewClock(time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC))
	sc := simConfig(c)
	sc.Rate, sc.Backfill, sc.Concurrent, sc.TokenTTL = 5, 100, 4, config.Duration(30*time.Second)
	sim := congasim.New(sc)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	g := newConga(t, srv.URL, conga.Config{}, slog.New(slog.DiscardHandler))
	first, t1 := crawl(t, g)
	c.Add(time.Minute) // 300 more entries; the token (30 s) expired
	second, t2 := crawl(t, g)
	if len(second) <= len(first) || len(t2) < len(t1) {
		t.Fatalf("the logs did not grow: %d then %d keys, %d then %d packages", len(first), len(second), len(t1), len(t2))
	}
	for k := range first {
		if !second[k] {
			t.Fatalf("%s vanished from a Conga log", k)
		}
	}
	grewAfterTerminal := false
	for id, x := range t1 {
		if x.Terminal && t2[id].UpdatedAt.After(x.UpdatedAt) {
			grewAfterTerminal = true
		}
	}
	if !grewAfterTerminal {
		t.Fatal("no package got entries after its terminal status")
	}
	if n := sim.Ledger.Counts()["token"]; n != 2 {
		t.Fatalf("%d token requests, want 2 (one renewal after expiry)", n)
	}
}

// A token the server no longer knows (a restart, a revocation) is answered with 401: the
// client fetches a new one and repeats the request once.
func TestUnauthorizedRenewsTheToken(t *testing.T) {
	var mu sync.Mutex
	sim := congasim.New(simConfig(nil))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := sim
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	g := newConga(t, srv.URL, conga.Config{}, slog.New(slog.DiscardHandler))
	crawl(t, g)
	mu.Lock()
	sim = congasim.New(simConfig(nil))
	fresh := sim
	mu.Unlock()
	keys, _ := crawl(t, g)
	if len(keys) == 0 || fresh.Ledger.Counts()["unauthorized"] != 1 || fresh.Ledger.Counts()["token"] != 1 {
		t.Fatalf("after the restart: %d keys, counts %v", len(keys), fresh.Ledger.Counts())
	}
}

// No secret in any error or log line, whichever way authentication fails.
func TestAuthFailuresNameTheProblemWithoutTheSecret(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"down"}`))
	}))
	defer down.Close()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"` + r.PostForm.Get("client_secret") + `"}`))
	}))
	defer echo.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	tests := []struct {
		name     string
		sim      func(*congasim.Config)
		cfg      conga.Config
		tokenURL string
		want     string
	}{
		{"wrong secret", nil, conga.Config{ClientSecret: secret + "-wrong"}, "", "ERROR_AUTHENTICATION_NOT_VALID"},
		{"wrong client", nil, conga.Config{ClientID: "other"}, "", "settings.client_secret"},
		{"client disabled", func(c *congasim.Config) { c.ClientDisabled = true }, conga.Config{}, "", "disabled in Conga Sign"},
		{"token endpoint down", nil, conga.Config{}, down.URL + "/token", "HTTP 503"},
		{"secret echoed in the error code", nil, conga.Config{}, echo.URL + "/token", "HTTP 400"},
		{"token endpoint unreachable", nil, conga.Config{}, closedURL + "/token", "conga token request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := simConfig(nil)
			if tc.sim != nil {
				tc.sim(&sc)
			}
			sim := congasim.New(sc)
			srv := httptest.NewServer(sim)
			defer srv.Close()
			logs := &testkit.LockedBuffer{}
			log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg := tc.cfg
			cfg.TokenURL = tc.tokenURL
			g := newConga(t, srv.URL, cfg, log)
			err := g.List(context.Background(), func([]pollers.Target) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			_, ferr := g.FetchLog(context.Background(), pollers.Target{Tenant: "t", Entity: "p1"})
			for _, s := range []string{err.Error(), ferr.Error(), logs.String()} {
				if strings.Contains(s, secret) {
					t.Fatalf("the secret leaked: %s", s)
				}
			}
		})
	}
}

// A token endpoint answering 500 with a body that echoes the posted form, then 200: the
// retry succeeds and the retry warning does not quote the answer (the secret is in it).
func TestTokenEndpointEchoingTheFormOnA500(t *testing.T) {
	sim := congasim.New(simConfig(nil))
	srv := httptest.NewServer(sim)
	defer srv.Close()
	echo := &simkit.EchoOnce{Next: sim, Match: func(*http.Request) bool { return true }}
	flaky := httptest.NewServer(echo)
	defer flaky.Close()
	logs := &testkit.LockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g := newConga(t, srv.URL, conga.Config{TokenURL: flaky.URL + "/api/v1/auth/connect/token"}, log)
	if err := g.List(context.Background(), func([]pollers.Target) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n, _ := echo.Matched(); n < 2 || !strings.Contains(logs.String(), "retrying") {
		t.Fatalf("want the 500 retried (%d token requests), logs: %s", n, logs.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Fatalf("the secret leaked into the logs: %s", logs.String())
	}
}

func TestTruncatedAndFailingAnswersAreErrors(t *testing.T) {
	sc := simConfig(nil)
	sim := congasim.New(sc)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	g := newConga(t, srv.URL, conga.Config{}, slog.New(slog.DiscardHandler))
	var target pollers.Target
	if err := g.List(context.Background(), func(ts []pollers.Target) error { target = ts[0]; return nil }); err != nil {
		t.Fatal(err)
	}
	sim.Faults.Set(logsim.FaultSettings{Truncated: 1})
	if _, err := g.FetchLog(context.Background(), target); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("truncated answer: err = %v", err)
	}
	if err := g.List(context.Background(), func([]pollers.Target) error { return nil }); err == nil {
		t.Fatal("a truncated listing was accepted")
	}
	if sim.Served.Count() != 0 {
		t.Fatal("a truncated answer counted as served")
	}
	sim.Faults.Set(logsim.FaultSettings{ServerError: 1})
	if _, err := g.FetchLog(context.Background(), target); !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), target.Entity) {
		t.Fatalf("500: err = %v", err)
	}
	sim.Faults.Set(logsim.FaultSettings{TooManyRequests: 1})
	if _, err := g.FetchLog(context.Background(), target); !strings.Contains(err.Error(), "HTTP 429") {
		t.Fatalf("429: err = %v", err)
	}
	sim.Faults.Set(logsim.FaultSettings{})
	if _, err := g.FetchLog(context.Background(), pollers.Target{Tenant: "client-1", Entity: "no-such-package"}); !pollhttp.IsStatus(err, http.StatusNotFound) {
		t.Fatalf("unknown package: err = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	off := false
	tests := []struct {
		name string
		cfg  conga.Config
		want []string
	}{
		{"empty", conga.Config{}, []string{"s.base_url: is required", "s.client_id: is required", "s.client_secret: is required"}},
		{"bad zone and page", conga.Config{BaseURL: "https://x", ClientID: "a", ClientSecret: "b", Zone: "Mars/Base", PageSize: 500}, []string{"s.zone", "s.page_size"}},
		{"nothing to poll", conga.Config{BaseURL: "https://x", ClientID: "a", ClientSecret: "b", Discover: &off}, []string{"nothing to poll"}},
		{"ok", conga.Config{BaseURL: "https://x", ClientID: "a", ClientSecret: "b", Zone: "Europe/Berlin"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			testkit.CheckSettings(t, &cfg, "s", tc.want...)
			if cfg.Tenant != cfg.ClientID || cfg.Scope != "sign" || cfg.TokenURL != conga.DefaultTokenURL {
				t.Errorf("defaults: %+v", cfg)
			}
		})
	}
}

// An API that ignores the page parameter and sends no total (the simulator's
// ignore_paging) would be listed forever: the listing stops with an error once a page
// repeats the one before; a listing longer than max_list_pages stops too.
func TestListingThatNeverEnds(t *testing.T) {
	err := logsim.CheckListingsEnd(t.Context(), func(ignorePaging bool, maxPages int) (pollers.Lister, func()) {
		sc := simConfig(nil)
		sc.IgnorePaging = ignorePaging
		srv := httptest.NewServer(congasim.New(sc))
		return newConga(t, srv.URL, conga.Config{PageSize: 5, Settings: fulllog.Settings{MaxListPages: maxPages}}, slog.New(slog.DiscardHandler)), srv.Close
	})
	if err != nil {
		t.Fatal(err)
	}
}
