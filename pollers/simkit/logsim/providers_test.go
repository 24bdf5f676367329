package logsim_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/conga"
	"github.com/auditstream/auditstream/pollers/conga/congasim"
	"github.com/auditstream/auditstream/pollers/constellation1"
	"github.com/auditstream/auditstream/pollers/constellation1/constellation1sim"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/pollers/signinghub"
	"github.com/auditstream/auditstream/pollers/signinghub/signinghubsim"
	"github.com/auditstream/auditstream/pollers/simkit"
	"github.com/auditstream/auditstream/pollers/simkit/logsim"
	"github.com/auditstream/auditstream/schemas"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func node(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

func decode[S any](t *testing.T, n *yaml.Node) S {
	t.Helper()
	var s S
	if err := config.DecodeStrict(n, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// onClock builds a simulator from its decoded settings block, on the test's clock.
func onClock[C any, PC interface {
	*C
	SimSettings() *logsim.Settings
}, H http.Handler](newSim func(C) H) func(*testing.T, *yaml.Node, func() time.Time) http.Handler {
	return func(t *testing.T, n *yaml.Node, now func() time.Time) http.Handler {
		cfg := decode[C](t, n)
		PC(&cfg).SimSettings().Now = now
		return newSim(cfg)
	}
}

// Each provider, built from YAML through its plug-in, on the shared full-log adapter,
// against its simulator (also built from YAML) with a growing history, duplicates, faults
// and — for SigningHub — histories cleared on completion: polled round after round as
// the runner would, every served entry is emitted exactly once, with the record id the
// served key names, and nothing that was not served.
func TestProvidersEmitEveryServedEntryOnce(t *testing.T) {
	const history = `seed: 42
packages: 60
entries_per_package: 30
after_complete: 6
concurrent: 12
rate: 20
backfill: 300
duplicate_fraction: 0.15
faults: {too_many_requests: 0.05, server_error: 0.05, unavailable: 0.03, truncated: 0.05, slow: 0.01, slow_delay: 10ms}
`
	cases := []struct {
		provider string
		plugin   pollers.Plugin
		sim      simkit.Plugin
		build    func(*testing.T, *yaml.Node, func() time.Time) http.Handler
		simYAML  string
		poller   string // %s = server URL
		shrinks  bool
	}{
		{constellation1.Name, constellation1.Provider.Source, constellation1sim.Plugin,
			onClock(constellation1sim.New),
			"api_key: k3y\nusername: agent@example.com\ntoken_ttl: 5s\n" + history,
			"base_url: %s/rest\napi_key: k3y\nusername: agent@example.com\npage_size: 7\n", false},
		{conga.Name, conga.Provider.Source, congasim.Plugin,
			onClock(congasim.New),
			"client_id: c\nclient_secret: s\ntoken_ttl: 30s\n" + history,
			"base_url: %s\ntoken_url: %s/api/v1/auth/connect/token\nclient_id: c\nclient_secret: s\npage_size: 9\n", false},
		{signinghub.Name, signinghub.Provider.Source, signinghubsim.Plugin,
			onClock(signinghubsim.New),
			"client_id: c\nclient_secret: s\nusername: u@example.com\npassword: p\ntoken_ttl: 30s\nclear_log_on_complete: true\n" + history,
			"base_url: %s\nclient_id: c\nclient_secret: s\nusername: u@example.com\npassword: p\npage_size: 8\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.provider, func(t *testing.T) {
			c := testkit.NewClock(time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC))
			sn := node(t, tc.simYAML)
			var p config.Problems
			tc.sim.Check(sn, "settings", &p)
			if err := p.Err(); err != nil {
				t.Fatal(err)
			}
			h := tc.build(t, sn, c.Now) // the plug-in's settings, on the test's clock
			base := h.(interface{ Shared() *logsim.Base }).Shared()
			srv := httptest.NewServer(h)
			defer srv.Close()

			logs := &testkit.LockedBuffer{}
			log := slog.New(slog.NewTextHandler(logs, nil))
			m := metrics.NewUnregistered()
			hc, err := pollhttp.New(&http.Client{Timeout: 5 * time.Second}, tc.provider,
				pollhttp.Config{MaxRetries: 2, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond, MaxRetryAfter: time.Millisecond}, log, m)
			if err != nil {
				t.Fatal(err)
			}
			src, err := tc.plugin.New(node(t, strings.ReplaceAll(tc.poller, "%s", srv.URL)), pollers.Deps{Poller: "p", HTTP: hc, Log: log, Metrics: m})
			if err != nil {
				t.Fatal(err)
			}
			cursors := map[string]json.RawMessage{}
			emitted := map[string]int{}
			round := func() (failures int) {
				ts, err := src.Targets(context.Background())
				if err != nil {
					return 1 // a listing failed (an injected fault): the next round lists again
				}
				for _, tg := range ts {
					key := tg.Tenant + "/" + tg.Entity
					_, err := src.Poll(context.Background(), tg, cursors[key], func(_ context.Context, recs []pollers.Record, cur json.RawMessage) error {
						for _, r := range recs {
							emitted[schemas.RecordID(tc.provider, tg.Tenant, tg.Entity, r.NativeID, r.Occurrence)]++
						}
						if cur != nil {
							cursors[key] = cur
						}
						return nil
					})
					if err != nil {
						failures++
					}
				}
				return failures
			}
			for i := 0; !base.H.Done(); i++ {
				round()
				c.Add(2 * time.Second)
				if i > 200 {
					t.Fatal("the history never finished")
				}
			}
			base.Faults.Set(logsim.FaultSettings{})
			for i := 0; round() > 0; i++ {
				if i > 5 {
					t.Fatal("polls still fail without faults")
				}
			}
			served, err := logsim.RecordIDs(tc.provider, base.Served.Keys())
			if err != nil {
				t.Fatal(err)
			}
			st := base.H.Stats(base.Served, base.Ledger)
			missing, extra := 0, 0
			for id := range served {
				if emitted[id] == 0 {
					missing++
				}
			}
			for id, n := range emitted {
				if n != 1 {
					t.Errorf("record %s emitted %d times", id, n)
				}
				if !served[id] {
					extra++
				}
			}
			if missing > 0 || extra > 0 {
				t.Fatalf("emitted %d records, served %d: %d missing, %d never served (stats %+v)", len(emitted), len(served), missing, extra, st)
			}
			for _, k := range []string{"fault_429", "fault_500", "fault_503", "fault_truncated"} {
				if st.Requests[k] == 0 {
					t.Errorf("fault %s never happened (requests %v)", k, st.Requests)
				}
			}
			shrinks := testutil.ToFloat64(m.LogShrinks.WithLabelValues("p", tc.provider))
			if tc.shrinks != (shrinks > 0) {
				t.Errorf("%v log shrinks counted", shrinks)
			}
			if st.Duplicates == 0 || st.Terminal != 60 {
				t.Errorf("stats %+v", st)
			}
			t.Logf("%d records emitted once each; %d shrinks; stats %+v", len(emitted), int(shrinks), st)
		})
	}
}

// The control endpoints of every full-log simulator (at the root, whatever its API prefix),
// built through its plug-in: served keys, stats, and new fault probabilities.
func TestControlEndpoints(t *testing.T) {
	for _, pl := range []simkit.Plugin{constellation1sim.Plugin, congasim.Plugin, signinghubsim.Plugin} {
		t.Run(pl.Provider, func(t *testing.T) {
			credentials := map[string]string{"constellation1": "api_key: k\n", "conga": "client_id: c\nclient_secret: s\n",
				"signinghub": "client_id: c\nclient_secret: s\n"}[pl.Provider]
			h, err := pl.New(node(t, credentials+"packages: 3\nentries_per_package: 4\nseed: 1\n"))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			get := func(path string, v any) {
				t.Helper()
				resp, err := http.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != 200 {
					t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
				}
			}
			var served struct {
				Count  int      `json:"count"`
				Served []string `json:"served"`
			}
			get("/_sim/served", &served)
			var st logsim.Stats
			get("/_sim/stats", &st)
			if served.Count != 0 || st.Total != 12 || st.Arrived != 12 || !st.Done {
				t.Fatalf("served %+v, stats %+v", served, st)
			}
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/_sim/faults", strings.NewReader(`{"truncated": 1}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("PUT faults: %d", resp.StatusCode)
			}
		})
	}
}
