// Package admin serves the admin port: /metrics (the process's own registry), /livez,
// /readyz (start-up over, Kafka reachable, sinks connected, pollers not all failing) and, when the
// process sets it, /status (JSON).
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness check.
type Check func(ctx context.Context) error

// Degraded is the error of a check that reports a problem without making the process
// unready: /readyz shows "name: degraded: …" and still answers 200.
type Degraded struct{ Msg string }

func (d Degraded) Error() string { return d.Msg }

// Server is the admin HTTP server.
type Server struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger

	mu     sync.Mutex
	checks map[string]Check
	// status is what /status serves (a func() any), once set
	status atomic.Value
}

// New listens on addr (":0" picks a port) and serves the admin endpoints.
func New(addr string, g prometheus.Gatherer, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listen on %s: %w", addr, err)
	}
	s := &Server{ln: ln, log: logger, checks: map[string]Check{}}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      log.New(slogWriter{logger}, "", 0),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", s.readyz)
	mux.HandleFunc("/status", s.statusz)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// AddCheck registers a readiness check.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	s.checks[name] = c
	s.mu.Unlock()
}

// RemoveCheck removes a readiness check (none of that name: nothing happens).
func (s *Server) RemoveCheck(name string) {
	s.mu.Lock()
	delete(s.checks, name)
	s.mu.Unlock()
}

// SetStatus sets what /status serves (as JSON); without it /status is 404.
func (s *Server) SetStatus(f func() any) { s.status.Store(f) }

func (s *Server) statusz(w http.ResponseWriter, _ *http.Request) {
	f, _ := s.status.Load().(func() any)
	if f == nil {
		http.Error(w, "no status in this process", http.StatusNotFound)
		return
	}
	b, err := json.MarshalIndent(f(), "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	// A copy: checks are added and removed while /readyz runs them (start-up).
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	checks := make(map[string]Check, len(s.checks))
	for n, c := range s.checks {
		names = append(names, n)
		checks[n] = c
	}
	s.mu.Unlock()
	sort.Strings(names)
	var b strings.Builder
	ok := true
	for _, n := range names {
		var d Degraded
		if err := checks[n](ctx); errors.As(err, &d) {
			fmt.Fprintf(&b, "%s: degraded: %v\n", n, err)
		} else if err != nil {
			ok = false
			fmt.Fprintf(&b, "%s: FAIL: %v\n", n, err)
		} else {
			fmt.Fprintf(&b, "%s: ok\n", n)
		}
	}
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(b.String()))
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Error("metrics: " + strings.TrimSpace(string(p)))
	return len(p), nil
}
