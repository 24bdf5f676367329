package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers/ionos"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/pollers/window"
	"github.com/auditstream/auditstream/schemas"
)

// The acceptance test of the IONOS slice on real Apache Kafka: ≥ 20,000 served events,
// late arrivals and every fault type enabled, the poller and the normalizer stopped and
// restarted mid-run; the file must hold exactly the served set, each event once.
func TestIntegrationIONOSEndToEnd(t *testing.T) {
	runIONOS(t, testkit.RealKafka(t), 5000, 15000, 1)
}

// The same on the embedded broker, smaller, in the fast tier.
func TestIONOSEndToEndEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	runIONOS(t, testkit.EmbeddedKafka(t), 500, 2500, 2.5) // fewer requests: higher fault rates so each type happens
}

func runIONOS(t *testing.T, brokers []string, backfill, live int, faultScale float64) {
	total := backfill + live
	sim := ionossim.New(ionossim.Config{
		Token: "e2e-token", Contracts: []string{"31721060", "31721061", "31721062"}, Seed: 20261121,
		Rate: 1500, MaxEvents: total, Backfill: backfill, LateFraction: 0.2, MaxLate: 1500 * time.Millisecond,
		MaxResults: 2000, // small cap: forces window splits
		Faults: ionossim.Faults{TooManyRequests: 0.04 * faultScale, ServerError: 0.03 * faultScale, Unavailable: 0.03 * faultScale,
			Slow: 0.02 * faultScale, Truncated: 0.03 * faultScale,
			SlowDelay: 300 * time.Millisecond, RetryAfter: 1},
	})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	p := New(t, brokers, ionos.Name)
	newSource := func() *ionos.Source { return ionosSource(t, p, srv.URL, "ionos-e2e") }
	path := filepath.Join(t.TempDir(), "events.jsonl")

	poller := p.StartPoller("ionos-e2e", ionos.Name, newSource(), 200*time.Millisecond)
	norm := p.StartNormalizer(ionos.Name)
	sink := p.StartFileSink(path)

	// Mid-run: stop the poller and the normalizer, keep the data flowing into the simulator,
	// then start new instances (new checkpoint store, new group member).
	WaitFor(t, 3*time.Minute, "a third of the events in the file", func() (bool, string) {
		ev, _ := ReadFile(t, path)
		return len(ev) >= total/3, fmt.Sprintf("%d events", len(ev))
	})
	poller.Stop(t)
	norm.Stop(t)
	t.Log("poller and normalizer stopped mid-run")
	time.Sleep(time.Second)
	poller = p.StartPoller("ionos-e2e", ionos.Name, newSource(), 200*time.Millisecond)
	norm = p.StartNormalizer(ionos.Name)
	// The sink restarts too, once more events have come through.
	WaitFor(t, 3*time.Minute, "two thirds of the events in the file", func() (bool, string) {
		ev, _ := ReadFile(t, path)
		return len(ev) >= 2*total/3, fmt.Sprintf("%d events", len(ev))
	})
	sink.Stop(t)
	sink = p.StartFileSink(path)

	WaitFor(t, 4*time.Minute, "every generated event served and in the file", func() (bool, string) {
		st := sim.Stats()
		ev, _ := ReadFile(t, path)
		return sim.Done() && st.Served == total && len(ev) == total, fmt.Sprintf("generated=%d visible=%d served=%d file=%d", st.Generated, st.Visible, st.Served, len(ev))
	})
	// Let any stray duplicate show up before judging.
	time.Sleep(2 * time.Second)
	poller.Stop(t)
	norm.Stop(t)
	sink.Stop(t)

	served := sim.Served()
	generated := sim.Generated()
	events, lines := ReadFile(t, path)
	if len(generated) != total || len(served) != total {
		t.Fatalf("simulator generated %d and served %d events, want %d", len(generated), len(served), total)
	}
	validator := schemas.MustLoad(schemas.EventSchema)
	got := map[string]bool{}
	for uid, e := range events {
		if lines[uid] != 1 {
			t.Errorf("event %s is in the file %d times", uid, lines[uid])
		}
		if err := validator.ValidateJSON(e.Line); err != nil {
			t.Errorf("event %s: %v", uid, err)
		}
		raw, _ := e.Raw["raw_data"].(string)
		var src struct {
			UUID string `json:"@uuid"`
		}
		if err := json.Unmarshal([]byte(raw), &src); err != nil || src.UUID == "" {
			t.Fatalf("event %s: raw_data has no @uuid: %v", uid, err)
		}
		if got[src.UUID] {
			t.Errorf("@uuid %s delivered as two different events", src.UUID)
		}
		got[src.UUID] = true
	}
	missing, extra := 0, 0
	for id := range served {
		if !got[id] {
			missing++
		}
	}
	for id := range got {
		if !served[id] {
			extra++
		}
	}
	if missing > 0 || extra > 0 {
		t.Fatalf("file differs from the served set: %d missing, %d not served", missing, extra)
	}
	st := sim.Stats()
	for _, k := range []string{"fault_429", "fault_500", "fault_503", "fault_slow", "fault_truncated"} {
		if st.Requests[k] == 0 {
			t.Errorf("fault %s never happened: the test did not exercise it (requests: %v)", k, st.Requests)
		}
	}
	if st.Late == 0 {
		t.Error("no late events were generated")
	}
	t.Logf("%d events delivered exactly once; simulator: %+v", total, st)
}

// ionosSource is the IONOS source the end-to-end tests poll the simulator at baseURL with:
// fast retries, a 3 s overlap, windows of at most 30 min, pages of 500.
func ionosSource(t testing.TB, p *Pipeline, baseURL, name string) *ionos.Source {
	t.Helper()
	hc, err := pollhttp.New(&http.Client{Timeout: 5 * time.Second}, ionos.Name,
		pollhttp.Config{MaxRetries: 8, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond, MaxRetryAfter: time.Second}, p.Log, p.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ionos.Config{BaseURL: baseURL + "/activitylog/v1", Token: config.Secret("e2e-token"),
		Window: window.Settings{Overlap: config.Duration(3 * time.Second), Lag: config.Duration(300 * time.Millisecond),
			InitialLookback: config.Duration(2 * time.Hour), MaxWindow: config.Duration(30 * time.Minute)},
		PageSize: 500, MaxResults: 2000}
	cfg.SetDefaults()
	return ionos.New(name, cfg, hc, p.Log, p.Metrics)
}
