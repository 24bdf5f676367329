package sinktest_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// mem is an in-memory effectively-once store with every fault of the suite, and a sink
// that answers per item for rejections and as a whole batch for one poison marker.
type mem struct {
	sinktest.Memory
	seen sinktest.Signal
	// copies: every write stores a copy (no deduplication by id).
	copies bool
}

type memSink struct {
	st  *mem
	log *slog.Logger
	// Defects, for the tests of the suite itself.
	leak       bool // the 401 error carries the token
	ignoreSlow bool // Write does not wait for a slow store (never in flight)
	// guarantee declared; with anything but EffectivelyOnce the store keeps a copy per
	// write (a redelivery is stored twice).
	guarantee sinks.Guarantee
}

const secret = "s3cr3t-token"

func (s *memSink) Name() string                { return "mem" }
func (s *memSink) Guarantee() sinks.Guarantee  { return s.guarantee }
func (s *memSink) Ping(context.Context) error  { return nil }
func (s *memSink) Close(context.Context) error { return nil }
func (s *memSink) Write(ctx context.Context, batch []sinks.Event, res []sinks.ItemResult) error {
	switch s.st.Current() {
	case sinktest.Unavailable:
		return errors.New("connection refused")
	case sinktest.BadCredentials:
		s.log.Warn("store refused the token") // never the token itself
		if s.leak {
			return sinks.Fatal(errors.New("401 unauthorized: token " + secret))
		}
		return sinks.Fatal(errors.New("401 unauthorized"))
	case sinktest.Forbidden:
		return sinks.Fatal(errors.New("403 forbidden"))
	case sinktest.Slow:
		if s.ignoreSlow {
			break
		}
		s.st.seen.Fire()
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
	ids := make([]string, len(batch))
	for i, e := range batch {
		ids[i] = e.ID
	}
	for i, kept := range s.st.Keep(!s.st.copies, ids...) {
		if kept {
			res[i] = sinks.ItemResult{Status: sinks.Written}
		} else {
			res[i] = sinks.ItemResult{Status: sinks.Duplicate}
		}
	}
	return nil
}

// memHarness is the harness of a conforming mem store; variant breaks it for the tests
// of the suite itself.
func memHarness(variant string) sinktest.Harness {
	st := &mem{}
	g := sinks.EffectivelyOnce
	switch variant {
	case "best-effort", "at-least-once":
		// A store keeping every copy, declared honestly: passes.
		st.copies, g = true, map[string]sinks.Guarantee{"best-effort": sinks.BestEffort, "at-least-once": sinks.AtLeastOnce}[variant]
	case "copies-claims-once":
		st.copies = true
	case "unknown-guarantee":
		g = 99
	}
	h := sinktest.Harness{
		Open: func(_ *testing.T, log *slog.Logger) sinks.Sink {
			return &memSink{st: st, log: log, leak: variant == "leak", ignoreSlow: variant == "early", guarantee: g}
		},
		Count:    st.Count,
		Fault:    st.Fault,
		Poison:   func(e *sinks.Event) { e.Value = []byte(`{"POISON":true}`) },
		InFlight: st.seen.InFlight,
		Secrets:  []string{secret},
	}
	switch variant {
	case "no-fault": // no fault injector, nothing declared
		h.Fault = nil
	case "no-auth-fault": // the fault cases declared, but secrets configured
		h.Fault = nil
		h.Unsupported = map[string]string{
			sinktest.CaseUnavailable: "x", sinktest.CaseBadCredentials: "x", sinktest.CaseForbidden: "x", sinktest.CaseCancelMidWrite: "x",
		}
	case "no-poison":
		h.Poison = nil
	case "no-inflight":
		h.InFlight = nil
	case "bad-declaration":
		h.Unsupported = map[string]string{"cancel": "typo"}
	}
	return h
}

func TestSuiteOnAConformingSink(t *testing.T) {
	sinktest.Run(t, memHarness(""))
}

// A store that keeps a copy per write passes when the sink declares at-least-once or
// best-effort: the suite checks those for at least one copy, never exactly one.
func TestSuiteOnSinksThatStoreCopies(t *testing.T) {
	for _, v := range []string{"at-least-once", "best-effort"} {
		t.Run(v, func(t *testing.T) { sinktest.Run(t, memHarness(v)) })
	}
}

// TestBrokenHarness runs the suite on a broken variant when the test below asks for it
// (in a child process: the suite must fail it).
func TestBrokenHarness(t *testing.T) {
	v := os.Getenv("SINKTEST_VARIANT")
	if v == "" {
		t.Skip("run by TestSuiteFailsWhatItCannotCheck")
	}
	sinktest.Run(t, memHarness(v))
}

// The suite fails — never skips — a case the harness cannot set up without declaring it
// unsupported, and each check fails on the defect it is there for.
func TestSuiteFailsWhatItCannotCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: runs the suite in child processes")
	}
	for variant, want := range map[string]string{
		"no-fault":        "cannot show the unavailable fault, and does not declare the unavailable case",
		"no-auth-fault":   "cannot show the bad-credentials fault, and does not declare the no-secret-leaks case",
		"no-poison":       "Harness.Poison is nil, and the poison case is not declared",
		"no-inflight":     "Harness.InFlight is nil, and the cancel-mid-write case is not declared",
		"bad-declaration": `Harness.Unsupported names "cancel"`,
		"leak":            "a secret appears in an error",
		"early":           "before the slow store received anything",
		// The store keeps copies but the sink claims effectively-once.
		"copies-claims-once": "exactly 1 (the sink claims effectively-once)",
		"unknown-guarantee":  "which the suite does not know",
	} {
		t.Run(variant, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenHarness$", "-test.v")
			cmd.Env = append(os.Environ(), "SINKTEST_VARIANT="+variant)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a broken harness:\n%s", out)
			}
			if !strings.Contains(string(out), want) {
				t.Fatalf("the suite failed without saying %q:\n%s", want, out)
			}
		})
	}
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
