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
	s, get := serve(t, reg)
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

// A degraded check is shown but leaves the process ready; /status serves the process's
// status as JSON, and is 404 until it has one.
func TestDegradedAndStatus(t *testing.T) {
	s, get := serve(t, prometheus.NewRegistry())
	if code, _ := get("/status"); code != 404 {
		t.Fatalf("status before SetStatus: %d", code)
	}
	s.AddCheck("pollers", func(context.Context) error { return Degraded{"ionos-main: failing 3× (401, check settings.token)"} })
	if code, body := get("/readyz"); code != 200 || body != "pollers: degraded: ionos-main: failing 3× (401, check settings.token)\n" {
		t.Fatalf("readyz %d %q", code, body)
	}
	s.SetStatus(func() any { return map[string]string{"state": "failing"} })
	if code, body := get("/status"); code != 200 || !strings.Contains(body, `"state": "failing"`) {
		t.Fatalf("status %d %q", code, body)
	}
}

// A check removed (the start-up one, once the process has started) no longer counts.
func TestRemoveCheck(t *testing.T) {
	s, get := serve(t, prometheus.NewRegistry())
	s.AddCheck("starting", func(context.Context) error { return errors.New("start-up not over: waiting for kafka") })
	if code, body := get("/readyz"); code != 503 || body != "starting: FAIL: start-up not over: waiting for kafka\n" {
		t.Fatalf("readyz while starting %d %q", code, body)
	}
	s.RemoveCheck("starting")
	if code, body := get("/readyz"); code != 200 || body != "" {
		t.Fatalf("readyz once started %d %q", code, body)
	}
}

// serve starts a server on g and returns it with a GET of a path (status, body); the
// server stops when the test ends.
func serve(t *testing.T, g prometheus.Gatherer) (*Server, func(path string) (int, string)) {
	t.Helper()
	s, err := New("127.0.0.1:0", g, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s, func(p string) (int, string) {
		resp, err := http.Get("http://" + s.Addr() + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}
