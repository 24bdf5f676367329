package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

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
	WaitForEvents(t, 3*time.Minute, "a third of the events in the file", path, total/3)
	poller.Stop(t)
	norm.Stop(t)
	t.Log("poller and normalizer stopped mid-run")
	time.Sleep(time.Second)
	poller = p.StartPoller("ionos-e2e", ionos.Name, newSource(), 200*time.Millisecond)
	norm = p.StartNormalizer(ionos.Name)
	// The sink restarts too, once more events have come through.
	WaitForEvents(t, 3*time.Minute, "two thirds of the events in the file", path, 2*total/3)
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

// A client we did not write (kcat, librdkafka) reads audit.events.v1 from the real broker
// and sees valid JSON values and the CloudEvents headers.
func TestIntegrationKcatReadsEvents(t *testing.T) {
	brokers := testkit.RealKafka(t)
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		testkit.Require(t, "kcat (Debian package kcat)")
	}
	sim := ionossim.New(ionossim.Config{Token: "k", Contracts: []string{"555"}, Seed: 9, Backfill: 40, MaxEvents: 40})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	p := New(t, brokers, ionos.Name)
	src := newIONOSSource(t, p, "kcat", srv.URL, "k", 5*time.Second, pollhttp.Config{},
		ionos.Config{Window: window.Settings{InitialLookback: config.Duration(2 * time.Hour)}})
	poller := p.StartPoller("kcat", ionos.Name, src, time.Second)
	norm := p.StartNormalizer(ionos.Name)
	path := filepath.Join(t.TempDir(), "e.jsonl")
	sink := p.StartFileSink(path)
	WaitFor(t, time.Minute, "40 events", func() (bool, string) {
		ev, _ := ReadFile(t, path)
		return len(ev) == 40, ""
	})
	poller.Stop(t)
	norm.Stop(t)
	sink.Stop(t)

	out, err := exec.Command(kcat, "-b", strings.Join(brokers, ","), "-C", "-t", p.Events, "-e", "-q", "-J").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 40 {
		t.Fatalf("kcat read %d records, want >= 40", len(lines))
	}
	for _, l := range lines {
		var rec struct {
			Key     string   `json:"key"`
			Payload string   `json:"payload"`
			Headers []string `json:"headers"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("kcat output %q: %v", l, err)
		}
		h := map[string]string{}
		for i := 0; i+1 < len(rec.Headers); i += 2 {
			h[rec.Headers[i]] = rec.Headers[i+1]
		}
		var ev struct {
			ClassUID int `json:"class_uid"`
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(rec.Payload), &ev); err != nil {
			t.Fatalf("payload is not JSON: %v", err)
		}
		if h["ce_specversion"] != "1.0" || h["ce_id"] != ev.Metadata.UID || h["ce_type"] != "io.auditstream.ocsf.6003" ||
			h["ce_source"] != "/auditstream/ionos/555" || h["content-type"] != "application/json" || h["ce_time"] == "" {
			t.Fatalf("headers %v for event %s", h, ev.Metadata.UID)
		}
		if _, err := time.Parse(time.RFC3339Nano, h["ce_time"]); err != nil {
			t.Fatalf("ce_time %q: %v", h["ce_time"], err)
		}
		if rec.Key != "ionos/555/555" {
			t.Fatalf("key %q", rec.Key)
		}
	}
}

// BenchmarkPipelineEmbedded: simulator → poller → embedded Kafka → normalizer → Kafka →
// file sink (fsync), 10,000 IONOS events per iteration; reports end-to-end events/s.
func BenchmarkPipelineEmbedded(b *testing.B) { benchPipeline(b, nil) }

// BenchmarkPipelineRealKafka: the same on the real broker (AUDITSTREAM_KAFKA_BROKERS).
func BenchmarkPipelineRealKafka(b *testing.B) {
	brokers := testkit.KafkaBrokers()
	if brokers == nil {
		b.Skip("needs " + testkit.EnvBrokers + " (make kafka-up)")
	}
	benchPipeline(b, brokers)
}

func benchPipeline(b *testing.B, brokers []string) {
	const n = 10000
	b.Setenv("AUDITSTREAM_TEST_QUIET", "1")
	var total time.Duration
	for b.Loop() {
		br := brokers
		if br == nil {
			br = testkit.EmbeddedKafka(b)
		}
		sim := ionossim.New(ionossim.Config{Token: "t", Contracts: []string{"1", "2"}, Seed: 1, Backfill: n, MaxEvents: n})
		srv := httptest.NewServer(sim)
		p := New(b, br, ionos.Name)
		src := newIONOSSource(b, p, "bench", srv.URL, "t", 10*time.Second, pollhttp.Config{},
			ionos.Config{Window: window.Settings{InitialLookback: config.Duration(2 * time.Hour), Lag: config.Duration(time.Millisecond)}, PageSize: 1000})
		path := filepath.Join(b.TempDir(), "e.jsonl")
		start := time.Now()
		poller := p.StartPoller("bench", ionos.Name, src, 100*time.Millisecond)
		norm := p.StartNormalizer(ionos.Name)
		sink := p.StartFileSink(path)
		WaitFor(b, 5*time.Minute, "all events", func() (bool, string) {
			return testutil.ToFloat64(p.Metrics.SinkEvents.WithLabelValues("e2e", "written")) >= n, ""
		})
		total += time.Since(start)
		if ev, _ := ReadFile(b, path); len(ev) != n {
			b.Fatalf("file holds %d events, want %d", len(ev), n)
		}
		poller.Stop(b)
		norm.Stop(b)
		sink.Stop(b)
		srv.Close()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
}

// ionosSource is the IONOS source the end-to-end tests poll the simulator at baseURL with:
// fast retries, a 3 s overlap, windows of at most 30 min, pages of 500.
func ionosSource(t testing.TB, p *Pipeline, baseURL, name string) *ionos.Source {
	return newIONOSSource(t, p, name, baseURL, "e2e-token", 5*time.Second,
		pollhttp.Config{MaxRetries: 8, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond, MaxRetryAfter: time.Second},
		ionos.Config{Window: window.Settings{Overlap: config.Duration(3 * time.Second), Lag: config.Duration(300 * time.Millisecond),
			InitialLookback: config.Duration(2 * time.Hour), MaxWindow: config.Duration(30 * time.Minute)},
			PageSize: 500, MaxResults: 2000})
}

// newIONOSSource is an IONOS source named name polling the simulator at baseURL with token,
// through an HTTP client with the given timeout and retry settings, with the settings of cfg
// (its BaseURL and Token are set here, the rest defaulted).
func newIONOSSource(t testing.TB, p *Pipeline, name, baseURL, token string, timeout time.Duration, hcfg pollhttp.Config, cfg ionos.Config) *ionos.Source {
	t.Helper()
	hc, err := pollhttp.New(&http.Client{Timeout: timeout}, ionos.Name, hcfg, p.Log, p.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL, cfg.Token = baseURL+"/activitylog/v1", config.Secret(token)
	cfg.SetDefaults()
	return ionos.New(name, cfg, hc, p.Log, p.Metrics)
}
