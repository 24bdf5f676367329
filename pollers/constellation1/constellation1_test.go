package constellation1_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/constellation1"
	"github.com/auditstream/auditstream/pollers/constellation1/constellation1sim"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/fulllog/fulllogtest"
	"github.com/auditstream/auditstream/pollers/simkit/logsim"
)

const (
	// An API key with characters that need escaping in a path.
	apiKey = "c1-api/key+s3cr3t"
	// username is the user of the lite listing, and the tenant.
	username = "agent@example.com"
)

// suite is Constellation1's tests as the shared full-log checks see them.
var suite = fulllogtest.Suite[constellation1sim.Config, constellation1.Config]{
	Open: fulllogtest.Opener(constellation1.Name, constellation1.New, func(cfg *constellation1.Config, base string) {
		if cfg.APIKey == "" {
			cfg.APIKey = apiKey
		}
		if cfg.Username == "" {
			cfg.Username = username
		}
		cfg.BaseURL = base + "/rest"
	}),
	SimConfig: func(c *fulllogtest.Clock) constellation1sim.Config {
		return constellation1sim.Config{APIKey: apiKey, Username: username, Zone: "America/New_York",
			Settings: fulllogtest.SimSettings(5, 40, 15, c)}
	},
	NewSim:   constellation1sim.Handler,
	Settings: newYork,
}

// newYork is a poller config reading zone-less dates in New York, as the simulator writes them.
func newYork(s fulllog.Settings) constellation1.Config {
	s.Zone = "America/New_York"
	return constellation1.Config{Settings: s}
}

func TestEveryListingAndLogMatchesWhatWasServed(t *testing.T) {
	c := fulllogtest.NewClock()
	sc := suite.SimConfig(c)
	sc.Rate, sc.Backfill, sc.Concurrent = 5, 300, 10 // half the history: sessions in flight and done
	sim := constellation1sim.New(sc)
	srv := fulllogtest.Start(t, sim)
	p := suite.Open(t, srv, newYork(fulllog.Settings{PageSize: 4}), nil)
	keys, targets := fulllogtest.Crawl(t, p)
	fulllogtest.CheckFetchedServed(t, keys, sim.Served.Keys())
	statuses := map[string]int{}
	for _, x := range targets {
		statuses[x.Status]++
		if x.Tenant != username || x.Name == "" || x.UpdatedAt.IsZero() {
			t.Fatalf("target %+v", x)
		}
		if x.Terminal != constellation1.Terminal(x.Status) {
			t.Fatalf("target %+v: terminal flag", x)
		}
	}
	if statuses["InSent"]+statuses["InPaused"] == 0 || statuses["Completed"] == 0 {
		t.Fatalf("statuses %v: the lite and archived listings were not both read", statuses)
	}
	if st := sim.H.Stats(sim.Served, sim.Ledger); st.Listed != len(targets) || st.Duplicates == 0 {
		t.Fatalf("listed %d of %d sessions; stats %+v", len(targets), st.Listed, st)
	}
}

// Tokens expire quickly: the simulator rejects an old token in each of the vendor's ways
// (401, a null body, an error message); the client gets a new one and repeats the call.
func TestExpiredTokensAreReplaced(t *testing.T) {
	c := fulllogtest.NewClock()
	sc := suite.SimConfig(c)
	sc.Rate, sc.Backfill = 10, 100
	sim := constellation1sim.New(sc)
	srv := fulllogtest.Start(t, sim)
	p := suite.Open(t, srv, constellation1.Config{TokenMaxAge: config.Duration(time.Hour)}, nil)
	first, _ := fulllogtest.Crawl(t, p)
	for i := 0; i < 3; i++ {
		c.Add(30 * time.Second) // past the simulator's 20 s token lifetime
		fulllogtest.Crawl(t, p)
	}
	last, _ := fulllogtest.Crawl(t, p)
	counts := sim.Ledger.Counts()
	if counts["rejected_token"] < 3 || counts["encrypt"] != counts["gettoken"] || counts["encrypt"] < 4 {
		t.Fatalf("counts %v: want >= 3 rejected tokens, each answered by a new token", counts)
	}
	if len(last) <= len(first) {
		t.Fatalf("the logs did not grow: %d then %d", len(first), len(last))
	}
	if served := sim.Served.Count(); served < len(last) {
		t.Fatalf("served %d < fetched %d", served, len(last))
	}
}

func TestAuthFailuresNeverShowTheAPIKey(t *testing.T) {
	down := fulllogtest.Server(t, http.StatusBadGateway, func(*http.Request) string { return "" })
	suite.CheckAuthFailures(t, "70000", []string{apiKey, "c1-api%2Fkey+s3cr3t", "s3cr3t"},
		fulllogtest.AuthCase[constellation1sim.Config, constellation1.Config]{Name: "wrong key", Config: constellation1.Config{APIKey: apiKey + "x"}, Want: "refused at encrypt"},
		fulllogtest.AuthCase[constellation1sim.Config, constellation1.Config]{Name: "server down", Config: constellation1.Config{APIKey: apiKey}, Base: down, Want: "HTTP 502", Logged: "encrypt/[redacted]/"})
}

// gettoken answering 500 with a body that echoes its Authorization header (the encrypted
// credential), then 200: the retry succeeds and the retry warning does not quote the
// answer; neither does one of encrypt echoing the API key.
func TestTokenCallsEchoingCredentialsOnA500(t *testing.T) {
	sim := constellation1sim.New(suite.SimConfig(nil))
	gettoken := &fulllogtest.EchoOnce{Next: sim, Match: fulllogtest.PathContains("/v1/gettoken/")}
	encrypt := &fulllogtest.EchoOnce{Next: gettoken, Match: fulllogtest.PathContains("/v1/encrypt/")}
	srv := fulllogtest.Start(t, encrypt)
	logs, log := fulllogtest.DebugLog()
	p := suite.Open(t, srv, newYork(fulllog.Settings{}), log)
	var credential string
	fulllogtest.CheckRetriedQuietly(t, p, logs, func() int {
		nEnc, _ := encrypt.Matched()
		nTok, cred := gettoken.Matched()
		credential = cred
		return min(nEnc, nTok)
	}, apiKey, "s3cr3t")
	if credential == "" {
		t.Fatal("gettoken was not sent the encrypted credential")
	}
	fulllogtest.CheckNoSecret(t, []string{logs.String()}, credential)
}

func TestFaultsAndUnknownSessions(t *testing.T) {
	sim := constellation1sim.New(suite.SimConfig(nil))
	srv := fulllogtest.Start(t, sim)
	p := suite.Open(t, srv, constellation1.Config{}, nil)
	fulllogtest.CheckFaults(t, sim.Base, p, pollers.Target{Tenant: username, Entity: "70001"}, pollers.Target{Entity: "1"},
		fulllogtest.Fault{Faults: logsim.FaultSettings{Truncated: 1}, Want: []string{"not JSON"}},
		fulllogtest.Fault{Faults: logsim.FaultSettings{ServerError: 1}, Want: []string{"HTTP 500"}})
}

func TestConfigValidation(t *testing.T) {
	tests := []fulllogtest.ConfigCase[constellation1.Config]{
		{Name: "empty", Settings: constellation1.Config{}, Want: []string{"s.api_key: is required"}},
		{Name: "lite without user", Settings: constellation1.Config{APIKey: "k", Listings: []string{"lite", "recent"}, Settings: fulllog.Settings{PageSize: 60, Zone: "X/Y"}},
			Want: []string{"s.username: is required by the lite listing", "\"recent\"", "s.page_size: must be between 1 and 50, got 60", "s.zone"}},
		{Name: "defaults", Settings: constellation1.Config{APIKey: "k"}, Want: nil},
	}
	fulllogtest.CheckConfigs(t, nil, tests...)
	var cfg constellation1.Config
	cfg.SetDefaults()
	if cfg.Tenant != "default" || len(cfg.Listings) != 3 || cfg.BaseURL != constellation1.DefaultBaseURL {
		t.Fatalf("defaults without a username: %+v", cfg)
	}
}

// An API that ignores the page parameter and sends no total (the simulator's
// ignore_paging) would be listed forever: the listing stops with an error once a page
// repeats the one before; a listing longer than max_list_pages stops too.
func TestListingThatNeverEnds(t *testing.T) { suite.CheckListingsEnd(t, 4) }
