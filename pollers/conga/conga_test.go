package conga_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/conga"
	"github.com/auditstream/auditstream/pollers/conga/congasim"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/fulllog/fulllogtest"
	"github.com/auditstream/auditstream/pollers/simkit/logsim"
)

const secret = "cs-s3cr3t-value-never-logged"

// suite is Conga Sign's tests as the shared full-log checks see them.
var suite = fulllogtest.Suite[congasim.Config, conga.Config]{
	Open: fulllogtest.Opener(conga.Name, conga.New, func(cfg *conga.Config, base string) {
		fulllogtest.DefaultClient(&cfg.ClientID, &cfg.ClientSecret, "client-1", secret)
		cfg.BaseURL = base
		if cfg.TokenURL == "" {
			cfg.TokenURL = base + "/api/v1/auth/connect/token"
		}
	}),
	SimConfig: func(c *fulllogtest.Clock) congasim.Config {
		return congasim.Config{OAuthSettings: fulllogtest.OAuthSimSettings("client-1", secret, 7, 30, 20, c)}
	},
	NewSim:   congasim.Handler,
	Settings: func(s fulllog.Settings) conga.Config { return conga.Config{Settings: s} },
}

// pageSize is a poller config with page_size n.
func pageSize(n int) conga.Config { return suite.Settings(fulllog.Settings{PageSize: n}) }

func TestListAndFetchEverythingTheSimulatorServed(t *testing.T) {
	sim := congasim.New(suite.SimConfig(nil))
	srv := fulllogtest.Start(t, sim)
	g := suite.Open(t, srv, pageSize(7), nil)
	keys, targets := fulllogtest.Crawl(t, g)
	if len(targets) != 30 {
		t.Fatalf("listed %d packages, want 30", len(targets))
	}
	served := sim.Served.Keys()
	if fulllogtest.CheckFetchedServed(t, keys, served) == 0 {
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
	c := fulllogtest.NewClock()
	sc := suite.SimConfig(c)
	sc.Rate, sc.Backfill, sc.Concurrent, sc.TokenTTL = 5, 100, 4, config.Duration(30*time.Second)
	sim := congasim.New(sc)
	srv := fulllogtest.Start(t, sim)
	g := suite.Open(t, srv, conga.Config{}, nil)
	first, t1 := fulllogtest.Crawl(t, g)
	c.Add(time.Minute) // 300 more entries; the token (30 s) expired
	second, t2 := fulllogtest.Crawl(t, g)
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
	swap := fulllogtest.NewSwap(congasim.New(suite.SimConfig(nil)))
	srv := fulllogtest.Start(t, swap)
	g := suite.Open(t, srv, conga.Config{}, nil)
	fulllogtest.Crawl(t, g)
	fresh := congasim.New(suite.SimConfig(nil))
	swap.Set(fresh)
	keys, _ := fulllogtest.Crawl(t, g)
	if len(keys) == 0 || fresh.Ledger.Counts()["unauthorized"] != 1 || fresh.Ledger.Counts()["token"] != 1 {
		t.Fatalf("after the restart: %d keys, counts %v", len(keys), fresh.Ledger.Counts())
	}
}

// No secret in any error or log line, whichever way authentication fails.
func TestAuthFailuresNameTheProblemWithoutTheSecret(t *testing.T) {
	down := fulllogtest.Server(t, http.StatusServiceUnavailable, func(*http.Request) string { return `{"error":"down"}` })
	echo := fulllogtest.Server(t, http.StatusBadRequest, func(r *http.Request) string {
		return `{"error":"` + fulllogtest.Form(r, "client_secret") + `"}`
	})
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	type authCase = fulllogtest.AuthCase[congasim.Config, conga.Config]
	suite.CheckAuthFailures(t, "p1", []string{secret},
		authCase{Name: "wrong secret", Config: conga.Config{ClientSecret: secret + "-wrong"}, Want: "ERROR_AUTHENTICATION_NOT_VALID"},
		authCase{Name: "wrong client", Config: conga.Config{ClientID: "other"}, Want: "settings.client_secret"},
		authCase{Name: "client disabled", Sim: func(c *congasim.Config) { c.ClientDisabled = true }, Want: "disabled in Conga Sign"},
		authCase{Name: "token endpoint down", Config: conga.Config{TokenURL: down + "/token"}, Want: "HTTP 503"},
		authCase{Name: "secret echoed in the error code", Config: conga.Config{TokenURL: echo + "/token"}, Want: "HTTP 400"},
		authCase{Name: "token endpoint unreachable", Config: conga.Config{TokenURL: closedURL + "/token"}, Want: "conga token request"})
}

// A token endpoint answering 500 with a body that echoes the posted form, then 200: the
// retry succeeds and the retry warning does not quote the answer (the secret is in it).
func TestTokenEndpointEchoingTheFormOnA500(t *testing.T) {
	sim := congasim.New(suite.SimConfig(nil))
	srv := fulllogtest.Start(t, sim)
	echo := &fulllogtest.EchoOnce{Next: sim, Match: func(*http.Request) bool { return true }}
	flaky := fulllogtest.Start(t, echo)
	logs, log := fulllogtest.DebugLog()
	g := suite.Open(t, srv, conga.Config{TokenURL: flaky + "/api/v1/auth/connect/token"}, log)
	fulllogtest.CheckRetriedQuietly(t, g, logs, func() int { n, _ := echo.Matched(); return n }, secret)
}

func TestTruncatedAndFailingAnswersAreErrors(t *testing.T) {
	sim := congasim.New(suite.SimConfig(nil))
	srv := fulllogtest.Start(t, sim)
	g := suite.Open(t, srv, conga.Config{}, nil)
	var target pollers.Target
	if err := g.List(context.Background(), func(ts []pollers.Target) error { target = ts[0]; return nil }); err != nil {
		t.Fatal(err)
	}
	sim.Faults.Set(logsim.FaultSettings{Truncated: 1})
	if err := fulllogtest.List(g); err == nil {
		t.Fatal("a truncated listing was accepted")
	}
	fulllogtest.CheckFaults(t, sim.Base, g, target, pollers.Target{Tenant: "client-1", Entity: "no-such-package"},
		fulllogtest.Fault{Faults: logsim.FaultSettings{Truncated: 1}, Want: []string{"not a JSON object"}},
		fulllogtest.Fault{Faults: logsim.FaultSettings{ServerError: 1}, Want: []string{"HTTP 500", target.Entity}},
		fulllogtest.Fault{Faults: logsim.FaultSettings{TooManyRequests: 1}, Want: []string{"HTTP 429"}})
}

func TestConfigValidation(t *testing.T) {
	off := false
	tests := []fulllogtest.ConfigCase[conga.Config]{
		{Name: "empty", Settings: conga.Config{}, Want: []string{"s.base_url: is required", "s.client_id: is required", "s.client_secret: is required"}},
		{Name: "bad zone and page", Settings: conga.Config{BaseURL: "https://x", ClientID: "a", ClientSecret: "b", Settings: fulllog.Settings{Zone: "Mars/Base", PageSize: 500}}, Want: []string{"s.zone", "s.page_size: must be between 1 and 100, got 500"}},
		{Name: "nothing to poll", Settings: conga.Config{BaseURL: "https://x", ClientID: "a", ClientSecret: "b", Settings: fulllog.Settings{Discover: &off}}, Want: []string{"s: discover is off and no targets are listed: nothing to poll"}},
		{Name: "ok", Settings: conga.Config{BaseURL: "https://x", ClientID: "a", ClientSecret: "b", Settings: fulllog.Settings{Zone: "Europe/Berlin"}}, Want: nil},
	}
	fulllogtest.CheckConfigs(t, func(t *testing.T, cfg *conga.Config) {
		if cfg.Tenant != cfg.ClientID || cfg.Scope != "sign" || cfg.TokenURL != conga.DefaultTokenURL {
			t.Errorf("defaults: %+v", cfg)
		}
	}, tests...)
}

// An API that ignores the page parameter and sends no total (the simulator's
// ignore_paging) would be listed forever: the listing stops with an error once a page
// repeats the one before; a listing longer than max_list_pages stops too.
func TestListingThatNeverEnds(t *testing.T) { suite.CheckListingsEnd(t, 5) }
