package elasticsearch

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/plugintest"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// TestIntegrationOpenSearchConformance runs the conformance suite against the real node,
// through a proxy that answers as a cluster that is down, refuses the credentials or lacks
// the write permission (the security plugin's answers), or is slow.
func TestIntegrationOpenSearchConformance(t *testing.T) {
	node := realNode(t)
	proxy := plugintest.NewFaultProxy(t, node, map[sinktest.Fault]plugintest.Answer{
		sinktest.Unavailable:    {Status: 503, Body: `{"error":{"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized]"},"status":503}`},
		sinktest.BadCredentials: {Status: 401, Body: `{"error":{"type":"security_exception","reason":"unable to authenticate user [conformance]"},"status":401}`},
		sinktest.Forbidden:      {Status: 403, Body: `{"error":{"type":"security_exception","reason":"action [indices:data/write/bulk] is unauthorized for user [conformance]"},"status":403}`},
	})
	const secret = "s3cr3t-conformance-password"
	u := testkit.Unique()
	yml := fmt.Sprintf("urls: [%s]\nindex: \"conf-%s-%%{provider}-%%Y.%%m.%%d\"\nusername: conformance\npassword: %s\n", proxy.URL, u, secret)
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T, log *slog.Logger) sinks.Sink {
			return plugintest.Open(t, Plugin, "conformance", yml, log)
		},
		Count: func(t *testing.T, ids []string) map[string]int { return countByID(t, node, "conf-"+u+"-*") },
		Fault: proxy.Fault,
		// An _id over 512 bytes: the cluster refuses that one document (400).
		Poison:   func(e *sinks.Event) { e.ID += strings.Repeat("x", 600) },
		InFlight: proxy.InFlight,
		Secrets:  []string{secret},
	})
}
