package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "v-test")
	m.PollGaps.WithLabelValues("p", "ecgrid").Inc()
	s, err := New("127.0.0.1:0", reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	defer func() { _ = s.Shutdown(context.Background()) }()
	base := "http://" + s.Addr()
	get := func(p string) (int, string) {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/livez"); code != 200 || body != "ok\n" {
		t.Fatalf("livez %d %q", code, body)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz with no checks: %d", code)
	}
	s.AddCheck("kafka", func(context.Context) error { return errors.New("dial tcp: refused") })
	s.AddCheck("sink:x", func(context.Context) error { return nil })
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "kafka: FAIL: dial tcp: refused") || !strings.Contains(body, "sink:x: ok") {
		t.Fatalf("readyz %d %q", code, body)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `auditstream_poll_gaps_total{poller="p",provider="ecgrid"} 1`) || !strings.Contains(body, `auditstream_build_info{goversion=`) {
		t.Fatalf("metrics %d:\n%s", code, body)
	}
	// The registry passes Prometheus' own lint rules.
	if probs, err := testutilLint(reg); err != nil || len(probs) > 0 {
		t.Fatalf("lint: %v %v", probs, err)
	}
}
