package webhook

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// BenchmarkSinkWebhookEncode500: the body and signature of one 500-event POST.
func BenchmarkSinkWebhookEncode500(b *testing.B) {
	batch := sinktest.Events("bench-", 500)
	key := []byte(secret)
	b.ReportAllocs()
	for b.Loop() {
		body := Body(batch)
		_ = Sign(key, "1767225600", body)
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSinkWebhookPost500: one signed 500-event POST to a loopback receiver that
// reads the body and answers 204.
func BenchmarkSinkWebhookPost500(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	cfg := Settings{URL: srv.URL, Secret: secret}
	cfg.SetDefaults()
	s, err := Open("bench", cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	batch := sinktest.Events("bench-", 500)
	sinktest.BenchWrite(b, s, nil, func(int) []sinks.Event { return batch })
}
