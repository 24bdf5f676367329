package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/auditstream/auditstream/internal/checkpoint"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/ecgrid"
	"github.com/auditstream/auditstream/pollers/ecgrid/ecgridsim"
	"github.com/auditstream/auditstream/schemas"
)

const (
	ecgLogin    = "auditstream@example.com"
	ecgPassword = "e2e-Secret-pw"
)

func ecgUsers() []ecgridsim.User {
	us := []ecgridsim.User{{ID: 9000, Login: ecgLogin, Password: ecgPassword, NetworkID: 100, MailboxID: 200}}
	for i := 101; i <= 105; i++ {
		us = append(us, ecgridsim.User{ID: i, NetworkID: 100, MailboxID: 100 + i})
	}
	return us
}

func ecgSource(t *testing.T, p *Pipeline, url, version string) *ecgrid.Source {
	t.Helper()
	cfg := ecgrid.Config{Endpoint: url, Login: ecgLogin, Password: config.Secret(ecgPassword), NetworkID: "100", SOAPVersion: version,
		Users: []int{0, 101, 102, 103, 104, 105}, MaxRecords: 100,
		BackoffMin: config.Duration(10 * time.Millisecond), BackoffMax: config.Duration(100 * time.Millisecond)}
	cfg.SetDefaults()
	var pr config.Problems
	cfg.Validate("settings", &pr)
	if err := pr.Err(); err != nil {
		t.Fatal(err)
	}
	s, err := ecgrid.New("ecgrid-e2e", cfg, ecgrid.Options{Timeout: 2 * time.Second, MaxRetries: 10}, p.Log, p.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The acceptance test of the ECGridOS slice on real Apache Kafka: ≥ 5,000 sessions of six
// users, every fault type enabled, sessions expiring mid-run (idle timeout, injected
// expiry, a forced expiry of every session), the poller (SOAP 1.1 through gosoap, then
// SOAP 1.2 after its restart) and the normalizer restarted mid-run, the sink restarted;
// the file must hold exactly the served sessions, each once, and no gap may be reported.
func TestIntegrationECGridEndToEnd(t *testing.T) {
	runECGrid(t, testkit.RealKafka(t), 250, 5000, 100, 1)
}

// The same on the embedded broker, smaller, in the fast tier.
func TestECGridEndToEndEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	runECGrid(t, testkit.EmbeddedKafka(t), 120, 1200, 100, 2)
}

func runECGrid(t *testing.T, brokers []string, backfill, total int, rate, faultScale float64) {
	sim := ecgridsim.New(ecgridsim.Config{Users: ecgUsers(), Seed: 20261122, Rate: rate, MaxEvents: total, Backfill: backfill,
		IdleTimeout: 1500 * time.Millisecond, MaxSessionsPerUser: 3,
		Faults: ecgridsim.Faults{ServerFault: 0.02 * faultScale, EmptyError: 0.02 * faultScale, Malformed: 0.02 * faultScale,
			WrongNamespace: 0.02 * faultScale, Slow: 0.01 * faultScale, ExpireSession: 0.01 * faultScale, SlowDelay: 200 * time.Millisecond}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	url := srv.URL + "/v4.1/prod/ECGridOS.asmx"

	p := New(t, brokers, ecgrid.Name)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	src := ecgSource(t, p, url, "1.1")
	poller := p.StartPoller("ecgrid-e2e", ecgrid.Name, src, 100*time.Millisecond)
	norm := p.StartNormalizer(ecgrid.Name)
	sink := p.StartFileSink(path)

	WaitForEvents(t, 3*time.Minute, "a third of the sessions in the file", path, total/3)
	poller.Stop(t)
	norm.Stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := src.Close(ctx); err != nil { // Logout
		t.Logf("logout: %v", err)
	}
	cancel()
	t.Log("poller and normalizer stopped mid-run")
	time.Sleep(500 * time.Millisecond)
	src = ecgSource(t, p, url, "1.2") // the restarted poller speaks SOAP 1.2: the same records, the same ids
	poller = p.StartPoller("ecgrid-e2e", ecgrid.Name, src, 100*time.Millisecond)
	norm = p.StartNormalizer(ecgrid.Name)
	WaitForEvents(t, 3*time.Minute, "half of the sessions in the file", path, total/2)
	sim.ExpireAll() // every open session ends at once: the poller must log in again
	WaitForEvents(t, 3*time.Minute, "two thirds of the sessions in the file", path, 2*total/3)
	sink.Stop(t)
	sink = p.StartFileSink(path)

	WaitFor(t, 4*time.Minute, "every generated session served and in the file", func() (bool, string) {
		st := sim.Stats()
		ev, _ := ReadFile(t, path)
		return sim.Done() && st.Served >= st.Generated && len(ev) >= st.Generated, fmt.Sprintf("generated=%d served=%d file=%d", st.Generated, st.Served, len(ev))
	})
	time.Sleep(2 * time.Second) // let any stray duplicate show up before judging
	poller.Stop(t)
	norm.Stop(t)
	sink.Stop(t)
	_ = src.Close(context.Background())

	served, generated, logins := sim.Served(), sim.Generated(), sim.LoginSessions()
	if len(generated) != total+0 && len(generated) < total {
		t.Fatalf("simulator generated %d sessions, want %d", len(generated), total)
	}
	if len(served) != len(generated) {
		t.Fatalf("simulator served %d of %d sessions", len(served), len(generated))
	}
	events, lines := ReadFile(t, path)
	validator := schemas.MustLoad(schemas.EventSchema)
	got := map[string]bool{}
	leaked := 0
	for uid, e := range events {
		if lines[uid] != 1 {
			t.Errorf("event %s is in the file %d times", uid, lines[uid])
		}
		if err := validator.ValidateJSON(e.Line); err != nil {
			t.Errorf("event %s: %v", uid, err)
		}
		sess, _ := e.Raw["session"].(map[string]any)
		sid, _ := sess["uid"].(string)
		if sid == "" || e.ClassUID != 3002 {
			t.Fatalf("event %s: class %d, no session.uid", uid, e.ClassUID)
		}
		raw, _ := e.Raw["raw_data"].(string)
		if !strings.HasPrefix(raw, "<SessionIDInfo><SessionID>"+sid+"</SessionID>") {
			t.Fatalf("event %s: raw_data %q", uid, raw)
		}
		if got[sid] {
			t.Errorf("session %s delivered as two different events", sid)
		}
		got[sid] = true
		if logins[sid] {
			leaked++
		}
	}
	// A poller's own login session can only leak when the poller never learned its id:
	// the Login answer was lost (the simulator counts those) or the process stopped between
	// Login and the first SessionLog answer that shows it (one stop here).
	if lost := sim.Stats().Requests["login_answer_lost"]; leaked > lost+1 {
		t.Errorf("%d of the poller's own login sessions were published (%d Login answers lost)", leaked, lost)
	}
	missing, extra := 0, 0
	for id := range served {
		if !got[id] {
			missing++
		}
	}
	for id := range got {
		if !served[id] && !logins[id] {
			extra++
		}
	}
	if missing > 0 || extra > 0 {
		t.Fatalf("file differs from the served set: %d missing, %d not served", missing, extra)
	}
	if gaps := testutil.ToFloat64(p.Metrics.PollGaps.WithLabelValues("ecgrid-e2e", ecgrid.Name)); gaps != 0 {
		t.Errorf("%v gaps reported: the poller fell more than a page behind", gaps)
	}
	st := sim.Stats()
	for _, k := range []string{"fault_server", "fault_empty_500", "fault_malformed", "fault_wrong_namespace", "fault_slow", "fault_SessionTimeout"} {
		if st.Requests[k] == 0 {
			t.Errorf("%s never happened: the test did not exercise it (requests: %v)", k, st.Requests)
		}
	}
	if st.Logins < 3 || st.Requests["logouts"] < 1 {
		t.Errorf("want re-logins after expiry and a logout: %+v", st)
	}
	t.Logf("%d sessions delivered exactly once (%d own logins filtered, %d leaked); simulator: %+v", len(served), len(logins)-leaked, leaked, st)
}

// A forced full page (more new sessions than MaxRecords between two polls) is reported as
// a possible gap: auditstream_poll_gaps_total counts it once and the runner polls again.
func TestECGridGapMetricEmbedded(t *testing.T) {
	sim := ecgridsim.New(ecgridsim.Config{Users: ecgUsers(), Seed: 5, Rate: 0.001, Backfill: 30})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	p := New(t, testkit.EmbeddedKafka(t), ecgrid.Name)
	src := ecgSource(t, p, srv.URL+"/v4.1/prod/ECGridOS.asmx", "1.1")
	defer src.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := checkpoint.Open(ctx, p.Bus, p.Checkpoints, p.Log, p.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: "ecgrid-e2e", Provider: ecgrid.Name, Topic: p.RawPrefix + ecgrid.Name}, src, store, p.Bus, p.Log, p.Metrics)
	if err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	gaps := p.Metrics.PollGaps.WithLabelValues("ecgrid-e2e", ecgrid.Name)
	if v := testutil.ToFloat64(gaps); v != 0 {
		t.Fatalf("gaps before the burst: %v", v)
	}
	sim.Burst(103, 250)
	if err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP auditstream_poll_gaps_total Polls whose answer may have missed entries (a full page of unseen entries from an API without paging).
# TYPE auditstream_poll_gaps_total counter
auditstream_poll_gaps_total{poller="ecgrid-e2e",provider="ecgrid"} 1
`
	if err := testutil.CollectAndCompare(p.Metrics.PollGaps, strings.NewReader(want), "auditstream_poll_gaps_total"); err != nil {
		t.Error(err)
	}
	// The runner polled the user again at once; that answer overlapped: no second gap.
	if n := testutil.ToFloat64(p.Metrics.PollRequests.WithLabelValues("ecgrid-e2e", ecgrid.Name, "ok")); n < 6+6+1 {
		t.Errorf("%v ok polls, want the re-poll after the gap too", n)
	}
}
