package signinghub_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/fulllog/fulllogtest"
	"github.com/auditstream/auditstream/pollers/signinghub"
	"github.com/auditstream/auditstream/pollers/signinghub/signinghubsim"
	"github.com/auditstream/auditstream/pollers/simkit/logsim"
)

const (
	clientSecret = "sh-client-s3cr3t"
	// username (with password) is the user of the password grant, and the tenant.
	username = "admin@example.com"
	password = "sh-user-passw0rd"
)

// suite is SigningHub's tests as the shared full-log checks see them.
var suite = fulllogtest.Suite[signinghubsim.Config, signinghub.Config]{
	Open: fulllogtest.Opener(signinghub.Name, signinghub.New, func(cfg *signinghub.Config, base string) {
		fulllogtest.DefaultClient(&cfg.ClientID, &cfg.ClientSecret, "app-1", clientSecret)
		if cfg.GrantType == "" && cfg.Username == "" {
			cfg.Username, cfg.Password = username, password
		}
		cfg.BaseURL = base
	}),
	SimConfig: func(c *fulllogtest.Clock) signinghubsim.Config {
		return signinghubsim.Config{Username: username, Password: password,
			OAuthSettings: fulllogtest.OAuthSimSettings("app-1", clientSecret, 11, 30, 20, c)}
	},
	NewSim:   signinghubsim.Handler,
	Settings: func(s fulllog.Settings) signinghub.Config { return signinghub.Config{Settings: s} },
}

func TestListAndFetchEverythingTheSimulatorServed(t *testing.T) {
	sim := signinghubsim.New(suite.SimConfig(nil))
	srv := fulllogtest.Start(t, sim)
	s := suite.Open(t, srv, signinghub.Config{Settings: fulllog.Settings{PageSize: 7}}, nil)
	keys, targets := fulllogtest.Crawl(t, s)
	if len(targets) != 30 || len(keys) != 600 {
		t.Fatalf("%d packages, fetched %d keys, want 30/600", len(targets), len(keys))
	}
	if fulllogtest.CheckFetchedServed(t, keys, sim.Served.Keys()) == 0 {
		t.Fatal("no exact duplicates")
	}
	for _, x := range targets {
		if x.Tenant != username || !strings.HasPrefix(x.Name, "sales contract") || !x.Terminal || x.UpdatedAt.IsZero() {
			t.Fatalf("target %+v", x)
		}
	}
	if n := sim.Ledger.Counts()["authenticate"]; n != 1 {
		t.Fatalf("%d authentications for one crawl", n)
	}
}

// On plans that delete the detailed history on completion, a package's log shrinks to
// one evidence entry; entries that arrive afterwards are still served and fetched.
func TestHistoryClearedOnCompletion(t *testing.T) {
	c := fulllogtest.NewClock()
	sc := suite.SimConfig(c)
	sc.ClearLogOnComplete, sc.Rate, sc.Backfill, sc.Concurrent, sc.AfterComplete = true, 5, 60, 5, 5
	sim := signinghubsim.New(sc)
	srv := fulllogtest.Start(t, sim)
	s := suite.Open(t, srv, signinghub.Config{}, nil)
	first, t1 := fulllogtest.Crawl(t, s)
	c.Add(30 * time.Second)
	second, t2 := fulllogtest.Crawl(t, s)
	shrunk := 0
	for id, x := range t1 {
		if !x.Terminal && t2[id].Terminal {
			before, after := 0, 0
			for k := range first {
				if strings.Contains(k, "/"+id+"/") {
					before++
				}
			}
			for k := range second {
				if strings.Contains(k, "/"+id+"/") {
					after++
				}
			}
			if after < before {
				shrunk++
			}
		}
	}
	if shrunk == 0 {
		t.Fatal("no package history shrank on completion")
	}
	c.Add(time.Hour)
	third, _ := fulllogtest.Crawl(t, s)
	union := map[string]bool{}
	for _, m := range []map[string]bool{first, second, third} {
		for k := range m {
			union[k] = true
		}
	}
	if served := sim.Served.Keys(); len(served) != len(union) {
		t.Fatalf("served %d keys, fetched %d", len(served), len(union))
	}
	if st := sim.H.Stats(sim.Served, sim.Ledger); !st.Done || st.Terminal != 30 {
		t.Fatalf("stats %+v", st)
	}
}

// The refresh token renews an expired access token; a full authentication happens only
// when the refresh token is refused too.
func TestRefreshTokenBeforeReauthentication(t *testing.T) {
	c := fulllogtest.NewClock()
	sc := suite.SimConfig(c)
	sc.TokenTTL = config.Duration(30 * time.Second)
	sim := signinghubsim.New(sc)
	srv := fulllogtest.Start(t, sim)
	s := suite.Open(t, srv, signinghub.Config{}, nil)
	fulllogtest.Crawl(t, s)
	c.Add(40 * time.Second)
	fulllogtest.Crawl(t, s)
	if n := sim.Ledger.Counts(); n["authenticate_password"] != 1 || n["authenticate_refresh"] != 1 {
		t.Fatalf("counts %v, want one password grant and one refresh", n)
	}
	c.Add(time.Hour) // the refresh token (10 × 30 s) expired too
	fulllogtest.Crawl(t, s)
	if n := sim.Ledger.Counts(); n["authenticate_password"] != 2 || n["authenticate_refresh"] != 1 {
		t.Fatalf("counts %v, want a second password grant", n)
	}
}

func TestClientCredentialsAndUnauthorizedRenewal(t *testing.T) {
	swap := fulllogtest.NewSwap(signinghubsim.New(suite.SimConfig(nil)))
	srv := fulllogtest.Start(t, swap)
	s := suite.Open(t, srv, signinghub.Config{GrantType: signinghub.GrantClientCredentials}, nil)
	fulllogtest.Crawl(t, s)
	fresh := signinghubsim.New(suite.SimConfig(nil)) // a restarted server knows no token
	swap.Set(fresh)
	keys, targets := fulllogtest.Crawl(t, s)
	if len(keys) == 0 || targets[keysOne(targets)].Tenant != "app-1" {
		t.Fatalf("%d keys; tenant of client credentials %+v", len(keys), targets)
	}
	if n := fresh.Ledger.Counts(); n["unauthorized"] != 1 || n["authenticate_client"] != 1 {
		t.Fatalf("counts %v, want one 401 then one new token", n)
	}
}

func keysOne(m map[string]pollers.Target) string {
	for k := range m {
		return k
	}
	return ""
}

// No secret in any error or log line, whichever way authentication fails; the OTP answer
// names the setting to change.
func TestAuthFailuresWithoutSecrets(t *testing.T) {
	down := fulllogtest.Server(t, http.StatusServiceUnavailable, func(*http.Request) string { return `{"Message":"maintenance"}` })
	echo := fulllogtest.Server(t, http.StatusBadRequest, func(r *http.Request) string {
		return `{"error":"invalid_grant","error_description":"bad password ` + fulllogtest.Form(r, "password") + ` for ` + fulllogtest.Form(r, "client_secret") + `"}`
	})
	type authCase = fulllogtest.AuthCase[signinghubsim.Config, signinghub.Config]
	suite.CheckAuthFailures(t, "1000", []string{clientSecret, password},
		authCase{Name: "wrong password", Config: signinghub.Config{Username: username, Password: password + "x"}, Want: "settings.password"},
		authCase{Name: "wrong client secret", Config: signinghub.Config{ClientSecret: clientSecret + "x"}, Want: "Invalid client credentials"},
		authCase{Name: "otp", Sim: func(c *signinghubsim.Config) { c.OTP = true }, Want: "settings.grant_type", Is: signinghub.ErrOTP},
		authCase{Name: "authentication down", Base: down, Want: "HTTP 503"},
		authCase{Name: "secrets echoed", Base: echo, Want: "[redacted]"})
}

// /authenticate answering 500 with a body that echoes the posted form (client secret and
// password), then 200: the retry succeeds and the retry warning does not quote the answer.
func TestAuthenticateEchoingTheFormOnA500(t *testing.T) {
	echo := &fulllogtest.EchoOnce{Next: signinghubsim.New(suite.SimConfig(nil)), Match: func(r *http.Request) bool { return r.URL.Path == "/authenticate" }}
	srv := fulllogtest.Start(t, echo)
	logs, log := fulllogtest.DebugLog()
	h := suite.Open(t, srv, signinghub.Config{}, log)
	fulllogtest.CheckRetriedQuietly(t, h, logs, func() int { n, _ := echo.Matched(); return n }, clientSecret, password)
}

func TestFaultsAndMissingPackages(t *testing.T) {
	sim := signinghubsim.New(suite.SimConfig(nil))
	srv := fulllogtest.Start(t, sim)
	s := suite.Open(t, srv, signinghub.Config{}, nil)
	unknown := pollers.Target{Entity: "99"}
	fulllogtest.CheckFaults(t, sim.Base, s, pollers.Target{Tenant: username, Entity: "1000"}, unknown,
		fulllogtest.Fault{Faults: logsim.FaultSettings{Truncated: 1}, Want: []string{"not a JSON object"}},
		fulllogtest.Fault{Faults: logsim.FaultSettings{Unavailable: 1}, Want: []string{"HTTP 503"}})
	if _, err := s.FetchLog(context.Background(), unknown); !strings.Contains(err.Error(), "Document not found") {
		t.Fatalf("unknown package: err = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []fulllogtest.ConfigCase[signinghub.Config]{
		{Name: "empty", Settings: signinghub.Config{}, Want: []string{"s.client_id: is required", "s.client_secret: is required", "needs username and password"}},
		{Name: "bad values", Settings: signinghub.Config{ClientID: "a", ClientSecret: "b", GrantType: "implicit", DocumentStatus: "OPEN", Settings: fulllog.Settings{PageSize: 101, Zone: "Nowhere/Zone"}},
			Want: []string{"s.grant_type", "s.document_status", "s.page_size: must be between 1 and 100, got 101", "s.zone"}},
		{Name: "client credentials", Settings: signinghub.Config{ClientID: "a", ClientSecret: "b", GrantType: "client_credentials"}, Want: nil},
	}
	fulllogtest.CheckConfigs(t, nil, tests...)
}

// An API that ignores the page parameter and sends no total (the simulator's
// ignore_paging) would be listed forever: the listing stops with an error once a page
// repeats the one before; a listing longer than max_list_pages stops too.
func TestListingThatNeverEnds(t *testing.T) { suite.CheckListingsEnd(t, 5) }
