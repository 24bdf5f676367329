package loki

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/plugintest"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// TestIntegrationLokiConformance runs the conformance suite against the real Loki through
// a proxy that answers as a Loki (or its gateway) that is down, refuses the credentials,
// refuses the tenant, or is slow. The suite's events span three days; Loki accepts a
// stream's entries only within an hour of its newest, so the harness moves them into the
// last minutes (keeping their order).
func TestIntegrationLokiConformance(t *testing.T) {
	base := realLoki(t)
	proxy := plugintest.NewFaultProxy(t, base, map[sinktest.Fault]plugintest.Answer{
		sinktest.Unavailable:    {Status: 503, Body: "Ingester is shutting down"},
		sinktest.BadCredentials: {Status: 401, Body: "invalid credentials"},
		sinktest.Forbidden:      {Status: 403, Body: "tenant may not push"},
	})
	const secret = "s3cr3t-loki-conformance"
	run := "r" + testkit.Unique()
	yml := fmt.Sprintf("url: %s\nformat: ecs\nusername: conformance\npassword: %s\nlabels: {run: %s}\n", proxy.URL, secret, run)
	start := time.Now().Add(-5 * time.Minute)
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T, log *slog.Logger) sinks.Sink {
			return plugintest.Open(t, Plugin, "conformance", yml, log)
		},
		Events: func(prefix string, n int) []sinks.Event {
			evs := sinktest.Events(prefix, n)
			for i := range evs {
				evs[i].Time = start.Add(time.Duration(i) * time.Millisecond)
			}
			return evs
		},
		Count: func(t *testing.T, ids []string) map[string]int { return queryIDs(t, base, `{run="`+run+`"}`) },
		Fault: proxy.Fault,
		// Three hours older than its stream's newest entry (written by the earlier cases):
		// Loki refuses it for good (too far behind).
		Poison:   func(e *sinks.Event) { e.Time = e.Time.Add(-3 * time.Hour) },
		InFlight: proxy.InFlight,
		Secrets:  []string{secret},
	})
}
