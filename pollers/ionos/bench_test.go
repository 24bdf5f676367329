package ionos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/ionos"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
	"github.com/auditstream/auditstream/pollers/window"
)

// BenchmarkDecodePage: one 1000-hit answer.
func BenchmarkDecodePage(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"hits":{"total":1000,"hits":[`)
	for i := 0; i < 1000; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"_source":{"@uuid":"u-%d","meta":{"auditVersion":"0.1","time":"2026-11-21T10:00:%02d.123Z"},"principal":{"sourceIP":"203.0.113.4","identity":{"contractNumber":"31721060","username":"user@example.com"},"sourceService":"DCD"},"event":{"param":{},"resources":[{"action":["sec.user.create"],"id":"1466","type":"user"}],"type":"RequestAccepted"}}}`, i, i%60)
	}
	sb.WriteString(`]}}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ionos.DecodePage(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPollSimulator: a full catch-up poll of 10,000 entries from the simulator over
// HTTP (paging 1000 per request), no Kafka: the provider side of the throughput.
func BenchmarkPollSimulator(b *testing.B) {
	sim := ionossim.New(ionossim.Config{Token: "t", Contracts: []string{"1"}, Seed: 1, Backfill: 10000, MaxEvents: 10000})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	src := newPoller(b, srv.URL, ionos.Config{Token: "t", Contracts: []string{"1"}, PageSize: 1000, Window: window.Settings{InitialLookback: config.Duration(2 * time.Hour), Lag: config.Duration(time.Millisecond)}}, slog.New(slog.DiscardHandler))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = 0
		_, err := src.Poll(context.Background(), pollers.Target{Tenant: "1", Entity: "1"}, nil, func(_ context.Context, recs []pollers.Record, _ json.RawMessage) error {
			n += len(recs)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if n != 10000 {
		b.Fatalf("polled %d entries", n)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
