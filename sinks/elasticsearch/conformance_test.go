package elasticsearch

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// faultProxy forwards to the real node unless a fault is on: then it answers as a cluster
// that is down (503), refuses the credentials (401), lacks the permission (403, as the
// security plugin answers), or waits before forwarding.
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
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized]"},"status":503}`)
		return
	case sinktest.BadCredentials:
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user [conformance]"},"status":401}`)
		return
	case sinktest.Forbidden:
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"type":"security_exception","reason":"action [indices:data/write/bulk] is unauthorized for user [conformance]"},"status":403}`)
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

func (p *faultProxy) set(f sinktest.Fault) func() {
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
	return func() { p.mu.Lock(); p.fault = 0; p.mu.Unlock() }
}

// TestIntegrationOpenSearchConformance runs the conformance suite against the real node,
// through a proxy that shows the faults a cluster can show.
func TestIntegrationOpenSearchConformance(t *testing.T) {
	node := realNode(t)
	target, err := url.Parse(node)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{DisableKeepAlives: true}
	proxy := &faultProxy{next: rp}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	const secret = "s3cr3t-conformance-password"
	u := testkit.Unique()
	yml := fmt.Sprintf("urls: [%s]\nindex: \"conf-%s-%%{provider}-%%Y.%%m.%%d\"\nusername: conformance\npassword: %s\n", srv.URL, u, secret)
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
		Count: func(t *testing.T, ids []string) map[string]int { return countByID(t, node, "conf-"+u+"-*") },
		Fault: func(t *testing.T, f sinktest.Fault) func() { return proxy.set(f) },
		// An _id over 512 bytes: the cluster refuses that one document (400).
		Poison:  func(e *sinks.Event) { e.ID += strings.Repeat("x", 600) },
		Secrets: []string{secret},
	})
}
