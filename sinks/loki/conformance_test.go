package loki

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// faultProxy forwards to the real Loki unless a fault is on: then it answers as a Loki
// (or its gateway) that is down, refuses the credentials, lacks the permission, or is slow.
type faultProxy struct {
	mu    sync.Mutex
	fault sinktest.Fault
	next  http.Handler
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	f := p.fault
	p.mu.Unlock()
	switch f {
	case sinktest.Unavailable:
		http.Error(w, "Ingester is shutting down", http.StatusServiceUnavailable)
		return
	case sinktest.BadCredentials:
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	case sinktest.Forbidden:
		http.Error(w, "tenant may not push", http.StatusForbidden)
		return
	case sinktest.Slow:
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
			return
		}
	}
	p.next.ServeHTTP(w, r)
}

// TestIntegrationLokiConformance runs the conformance suite against the real Loki through
// a fault proxy. The suite's events span three days; Loki accepts a stream's entries only
// within an hour of its newest, so the harness moves them into the last minutes (keeping
// their order).
func TestIntegrationLokiConformance(t *testing.T) {
	base := realLoki(t)
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{DisableKeepAlives: true}
	proxy := &faultProxy{next: rp}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	const secret = "s3cr3t-loki-conformance"
	run := "r" + testkit.Unique()
	yml := fmt.Sprintf("url: %s\nformat: ecs\nusername: conformance\npassword: %s\nlabels: {run: %s}\n", srv.URL, secret, run)
	start := time.Now().Add(-5 * time.Minute)
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T, log *slog.Logger) sinks.Sink {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(yml), &n); err != nil {
				t.Fatal(err)
			}
			s, err := Plugin.Open("conformance", n.Content[0], sinks.Deps{Log: log})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Events: func(prefix string, n int) []sinks.Event {
			evs := sinktest.Events(prefix, n)
			for i := range evs {
				evs[i].Time = start.Add(time.Duration(i) * time.Millisecond)
			}
			return evs
		},
		Count: func(t *testing.T, ids []string) map[string]int { return queryIDs(t, base, `{run="`+run+`"}`) },
		Fault: func(t *testing.T, f sinktest.Fault) func() {
			proxy.mu.Lock()
			proxy.fault = f
			proxy.mu.Unlock()
			return func() { proxy.mu.Lock(); proxy.fault = 0; proxy.mu.Unlock() }
		},
		// Three hours older than its stream's newest entry (written by the earlier cases):
		// Loki refuses it for good (too far behind).
		Poison:  func(e *sinks.Event) { e.Time = e.Time.Add(-3 * time.Hour) },
		Secrets: []string{secret},
	})
}
