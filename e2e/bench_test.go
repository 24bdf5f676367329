package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
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
)

// BenchmarkPipelineEmbedded: simulator → poller → embedded Kafka → normalizer → Kafka →
// file sink (fsync), 10,000 IONOS events per iteration; reports end-to-end events/s.
func BenchmarkPipelineEmbedded(b *testing.B) { benchPipeline(b, nil) }

// BenchmarkPipelineRealKafka: the same on the real broker (AUDITSTREAM_KAFKA_BROKERS).
func BenchmarkPipelineRealKafka(b *testing.B) {
	if os.Getenv(testkit.EnvBrokers) == "" {
		b.Skip("needs " + testkit.EnvBrokers + " (make kafka-up)")
	}
	benchPipeline(b, strings.Split(os.Getenv(testkit.EnvBrokers), ","))
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
		hc, _ := pollhttp.New(&http.Client{Timeout: 10 * time.Second}, ionos.Name, pollhttp.Config{}, p.Log, p.Metrics)
		cfg := ionos.Config{BaseURL: srv.URL + "/activitylog/v1", Token: config.Secret("t"), Window: window.Settings{InitialLookback: config.Duration(2 * time.Hour),
			Lag: config.Duration(time.Millisecond)}, PageSize: 1000}
		cfg.SetDefaults()
		path := filepath.Join(b.TempDir(), "e.jsonl")
		start := time.Now()
		poller := p.StartPoller("bench", ionos.Name, ionos.New("bench", cfg, hc, p.Log, p.Metrics), 100*time.Millisecond)
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
