// Package plugintest holds the test helpers the sink packages share: opening a sink
// plug-in from a YAML settings block, checking settings validation, and an HTTP proxy
// that shows a real store's faults to the conformance suite.
package plugintest

import (
	"context"
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

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// Logger logs into logs when it is set (to search it for secrets), else into the test log.
func Logger(t testing.TB, logs *testkit.LockedBuffer) *slog.Logger {
	if logs != nil {
		return slog.New(slog.NewTextHandler(logs, nil))
	}
	return testkit.Logger(t)
}

// Open opens a sink of plugin pl named name with the settings block yml.
func Open(t testing.TB, pl sinks.Plugin, name, yml string, log *slog.Logger) sinks.Sink {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(yml), &n); err != nil {
		t.Fatal(err)
	}
	s, err := pl.Open(name, n.Content[0], sinks.Deps{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Start opens a sink like Open and closes it at the end of the test.
func Start(t testing.TB, pl sinks.Plugin, name, yml string, log *slog.Logger) sinks.Sink {
	t.Helper()
	s := Open(t, pl, name, yml, log)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// WriteTimeout bounds one Write of the tests' Write.
const WriteTimeout = 60 * time.Second

// Write writes batch to s within WriteTimeout, returning the item results and the
// whole-batch error.
func Write(s sinks.Sink, batch []sinks.Event) ([]sinks.ItemResult, error) {
	res := make([]sinks.ItemResult, len(batch))
	ctx, cancel := context.WithTimeout(context.Background(), WriteTimeout)
	defer cancel()
	return res, s.Write(ctx, batch, res)
}

// CheckSettings validates each settings block (a key of cases) with pl: its value is a
// word the problem must contain, or "" for a valid block.
func CheckSettings(t *testing.T, pl sinks.Plugin, cases map[string]string) {
	t.Helper()
	for yml, want := range cases {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(yml), &n); err != nil {
			t.Fatal(err)
		}
		var p config.Problems
		pl.Check(n.Content[0], "sinks[0].settings", &p)
		err := p.Err()
		if (err == nil) != (want == "") || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: got %v, want a problem about %q", yml, err, want)
		}
	}
}

// Serve starts an HTTP test server with handler h, closed at the end of the test, and
// returns its URL.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// DeadURL returns the URL of an HTTP server that is already closed: nothing answers there.
func DeadURL(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// Answer is what a FaultProxy answers for a fault: a status and a body.
type Answer struct {
	Status int
	Body   string
}

// FaultProxy forwards to a real store's HTTP API unless a fault is on: then it answers
// with Answers[fault] (Slow: waits two seconds, then forwards).
type FaultProxy struct {
	URL     string
	Answers map[sinktest.Fault]Answer
	mu      sync.Mutex
	fault   sinktest.Fault
	next    http.Handler
	slowed  sinktest.Signal
}

// InFlight is a sinktest.Harness.InFlight: its channel is closed when a request arrives
// while the proxy is slow.
func (p *FaultProxy) InFlight() <-chan struct{} { return p.slowed.InFlight() }

// NewFaultProxy starts a proxy to target, closed at the end of the test.
func NewFaultProxy(t *testing.T, target string, answers map[sinktest.Fault]Answer) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{DisableKeepAlives: true}
	p := &FaultProxy{Answers: answers, next: rp}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	f := p.fault
	p.mu.Unlock()
	if f == sinktest.Slow {
		p.slowed.Fire()
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
			return
		}
	} else if a, ok := p.Answers[f]; ok && f != 0 {
		w.WriteHeader(a.Status)
		fmt.Fprint(w, a.Body)
		return
	}
	p.next.ServeHTTP(w, r)
}

// Fault is a sinktest.Harness.Fault: it turns f on (nil when the proxy has no answer).
func (p *FaultProxy) Fault(_ *testing.T, f sinktest.Fault) func() {
	if _, ok := p.Answers[f]; !ok && f != sinktest.Slow {
		return nil
	}
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
	return func() { p.mu.Lock(); p.fault = 0; p.mu.Unlock() }
}
