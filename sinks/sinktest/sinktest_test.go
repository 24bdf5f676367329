package sinktest_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// mem is an in-memory effectively-once store with every fault of the suite, and a sink
// that answers per item for rejections and as a whole batch for one poison marker.
type mem struct {
	mu    sync.Mutex
	rows  map[string]int
	fault sinktest.Fault
}

type memSink struct {
	st  *mem
	log *slog.Logger
}

const secret = "s3cr3t-token"

func (s *memSink) Name() string                { return "mem" }
func (s *memSink) Guarantee() sinks.Guarantee  { return sinks.EffectivelyOnce }
func (s *memSink) Ping(context.Context) error  { return nil }
func (s *memSink) Close(context.Context) error { return nil }
func (s *memSink) Write(ctx context.Context, batch []sinks.Event, res []sinks.ItemResult) error {
	s.st.mu.Lock()
	f := s.st.fault
	s.st.mu.Unlock()
	switch f {
	case sinktest.Unavailable:
		return errors.New("connection refused")
	case sinktest.BadCredentials:
		s.log.Warn("store refused the token") // never the token itself
		return sinks.Fatal(errors.New("401 unauthorized"))
	case sinktest.Forbidden:
		return sinks.Fatal(errors.New("403 forbidden"))
	case sinktest.Slow:
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	for _, e := range batch {
		if strings.Contains(string(e.Value), "POISON") {
			return sinks.RejectBatch("bad_request", errors.New("400 bad request"))
		}
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	for i, e := range batch {
		if s.st.rows[e.ID] > 0 {
			res[i] = sinks.ItemResult{Status: sinks.Duplicate}
			continue
		}
		s.st.rows[e.ID]++
		res[i] = sinks.ItemResult{Status: sinks.Written}
	}
	return nil
}

func TestSuiteOnAConformingSink(t *testing.T) {
	st := &mem{rows: map[string]int{}}
	sinktest.Run(t, sinktest.Harness{
		Open: func(_ *testing.T, log *slog.Logger) sinks.Sink { return &memSink{st: st, log: log} },
		Count: func(_ *testing.T, ids []string) map[string]int {
			st.mu.Lock()
			defer st.mu.Unlock()
			out := map[string]int{}
			for _, id := range ids {
				out[id] = st.rows[id]
			}
			return out
		},
		Fault: func(_ *testing.T, f sinktest.Fault) func() {
			st.mu.Lock()
			st.fault = f
			st.mu.Unlock()
			return func() {
				st.mu.Lock()
				st.fault = 0
				st.mu.Unlock()
			}
		},
		Poison:  func(e *sinks.Event) { e.Value = []byte(`{"POISON":true}`) },
		Secrets: []string{secret},
	})
}

func TestEventsCarryRoutingFields(t *testing.T) {
	evs := sinktest.Events("p-", 30)
	seen := map[string]bool{}
	for i, e := range evs {
		if e.ID == "" || e.Time.IsZero() || e.ClassUID == 0 || e.Provider == "" || e.Tenant == "" || !strings.Contains(string(e.Value), e.ID) {
			t.Fatalf("event %d: %+v", i, e)
		}
		seen[e.Time.Format("2006-01-02")] = true
	}
	if len(seen) < 3 {
		t.Fatalf("events span %d days, want at least 3", len(seen))
	}
}
