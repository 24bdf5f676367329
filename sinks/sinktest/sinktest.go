// Package sinktest is the conformance suite every sink passes. A sink's test describes its
// store with a Harness (how to open the sink, how to count what the store holds by event
// id, how to make the store fail) and calls Run:
//
//	func TestConformance(t *testing.T) {
//		sinktest.Run(t, sinktest.Harness{Open: ..., Count: ..., Fault: ..., Secrets: ...})
//	}
//
// The suite checks, on real writes: every event of a batch is answered and stored; a
// redelivered batch (same sink, or a restarted one) leaves an effectively-once store
// unchanged; a store that is down gives a retryable answer and everything lands once it
// is back; bad credentials and missing permissions are fatal; a poison event is isolated
// (per-item answer, or bisection of a whole-batch refusal) and nothing else is lost;
// cancelling a Write midway and redelivering loses nothing; and no configured secret ever
// appears in an error, a result or a log line.
//
// Every case runs unless the harness declares it Unsupported, with the reason (a sink
// without credentials has no bad-credentials case): a case not declared that the harness
// cannot set up fails, so a missing fault injector never passes silently.
package sinktest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
)

// Fault is a failure the sink's test can make its store show.
type Fault int

const (
	// Unavailable: the store is down, unreachable or busy (connection refused, HTTP 503,
	// 429). Write must answer with a non-fatal error or with Retry for every event.
	Unavailable Fault = iota + 1
	// BadCredentials: the store refuses the sink's credentials (HTTP 401, SQLSTATE 28P01).
	// Write must return an error wrapped with sinks.Fatal.
	BadCredentials
	// Forbidden: the credentials are valid but lack a permission (HTTP 403, SQLSTATE 42501).
	// Write must return an error wrapped with sinks.Fatal.
	Forbidden
	// Slow: the store answers slowly (a second or more), so that a cancelled context lands
	// in the middle of a Write. The cancel-mid-write case needs it and Harness.InFlight.
	Slow
)

func (f Fault) String() string {
	switch f {
	case Unavailable:
		return "unavailable"
	case BadCredentials:
		return "bad-credentials"
	case Forbidden:
		return "forbidden"
	case Slow:
		return "slow"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// The cases a harness may declare Unsupported (the others always run).
const (
	CaseUnavailable    = "unavailable"
	CaseBadCredentials = "bad-credentials"
	CaseForbidden      = "forbidden"
	CasePoison         = "poison"
	CaseCancelMidWrite = "cancel-mid-write"
	CaseNoSecretLeaks  = "no-secret-leaks"
)

var optionalCases = []string{CaseUnavailable, CaseBadCredentials, CaseForbidden, CasePoison, CaseCancelMidWrite, CaseNoSecretLeaks}

// Harness describes a sink and its store to the suite.
type Harness struct {
	// Open opens a sink on the store under test, logging to log. The suite opens several
	// (a restart is a new Open) and closes each; all must write to the same store.
	Open func(t *testing.T, log *slog.Logger) sinks.Sink
	// Count returns how many copies of each event id the store holds (absent ids may be
	// left out of the map). Required: the suite counts, it never trusts the answers alone.
	Count func(t *testing.T, ids []string) map[string]int
	// Fault makes the store show f until heal is called. The case of a fault the harness
	// cannot show must be declared in Unsupported (Fault then returns nil for it, or is
	// nil altogether); a case not declared fails when Fault returns nil.
	Fault func(t *testing.T, f Fault) (heal func())
	// Poison turns e into an event this store refuses forever (invalid for its schema, too
	// large...). Nil only when CasePoison is declared Unsupported.
	Poison func(e *sinks.Event)
	// InFlight arms a signal and returns its channel: it must be closed once the store has
	// received (part of) a Write begun after the call, while the Slow fault is on — the
	// proof that the Write is in flight when the suite cancels it. Proxy.InFlight,
	// Signal.InFlight. Nil only when CaseCancelMidWrite is declared Unsupported.
	InFlight func() <-chan struct{}
	// Secrets are the credentials configured in the sink (token, password, HMAC key):
	// none may appear in an error, an item result or a log line. The suite provokes an
	// authentication failure (the BadCredentials fault) to check that error and the logs.
	// Empty only when CaseNoSecretLeaks is declared Unsupported.
	Secrets []string
	// Unsupported declares the cases (Case...) this store cannot show, each with the
	// reason ("no credentials: the receiver takes anything"). Those cases are skipped with
	// the reason; every other case runs, and fails if the harness cannot set it up.
	Unsupported map[string]string
	// Events builds n test events whose ids start with prefix (default: Events).
	Events func(prefix string, n int) []sinks.Event
}

// suite is one run of the conformance suite.
type suite struct {
	h      Harness
	log    *testkit.LockedBuffer
	logger *slog.Logger
	errs   []string // every error text the sinks produced
	run    string
}

// Run runs the conformance suite against the sink h describes.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil || h.Count == nil {
		t.Fatal("sinktest: Harness.Open and Harness.Count are required")
	}
	if h.Events == nil {
		h.Events = Events
	}
	for c, why := range h.Unsupported {
		if !slices.Contains(optionalCases, c) {
			t.Fatalf("sinktest: Harness.Unsupported names %q, not one of the optional cases %v", c, optionalCases)
		}
		if strings.TrimSpace(why) == "" {
			t.Fatalf("sinktest: Harness.Unsupported[%q] gives no reason", c)
		}
	}
	if _, ok := h.Unsupported[CasePoison]; ok && h.Poison != nil {
		t.Fatal("sinktest: Harness.Poison is set but the poison case is declared unsupported")
	}
	s := &suite{h: h, log: &testkit.LockedBuffer{}, run: testkit.Unique()}
	s.logger = slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Run("write", s.write)
	t.Run("redeliver", s.redeliver)
	t.Run("duplicate-in-batch", s.duplicateInBatch)
	t.Run(CaseUnavailable, s.unavailable)
	t.Run(CaseBadCredentials, func(t *testing.T) { s.fatal(t, BadCredentials) })
	t.Run(CaseForbidden, func(t *testing.T) { s.fatal(t, Forbidden) })
	t.Run(CasePoison, s.poison)
	t.Run(CaseCancelMidWrite, s.cancelMidWrite)
	t.Run(CaseNoSecretLeaks, s.noSecrets)
	if t.Failed() {
		t.Logf("sink log:\n%s", s.log.String())
	}
}

func (s *suite) open(t *testing.T) sinks.Sink {
	t.Helper()
	sk, _ := s.openClosable(t)
	return sk
}

// openClosable opens a sink and returns a function that closes it (once; the test's
// cleanup closes it otherwise).
func (s *suite) openClosable(t *testing.T) (sinks.Sink, func()) {
	t.Helper()
	sk := s.h.Open(t, s.logger)
	if sk.Name() == "" {
		t.Fatal("sink has an empty Name")
	}
	var once sync.Once
	closeIt := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := sk.Close(ctx); err != nil {
				s.note(err)
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(closeIt)
	return sk, closeIt
}

func (s *suite) events(t *testing.T, n int) []sinks.Event {
	return s.h.Events(fmt.Sprintf("%s-%s-", s.run, strings.ReplaceAll(t.Name(), "/", "-")), n)
}

func (s *suite) note(err error) {
	if err != nil {
		s.errs = append(s.errs, err.Error())
	}
}

func (s *suite) noteResults(res []sinks.ItemResult) {
	for _, r := range res {
		s.note(r.Err)
		if r.Reason != "" {
			s.errs = append(s.errs, r.Reason)
		}
	}
}

// write calls Write once and checks that every event got a valid answer.
func (s *suite) writeOnce(t *testing.T, ctx context.Context, sk sinks.Sink, batch []sinks.Event) ([]sinks.ItemResult, error) {
	t.Helper()
	res := make([]sinks.ItemResult, len(batch))
	for i := range res {
		res[i].Status = 255 // not a status: a result the sink did not fill shows up
	}
	err := sk.Write(ctx, batch, res)
	s.note(err)
	if err == nil {
		s.noteResults(res)
		for i, r := range res {
			switch r.Status {
			case sinks.Written, sinks.Duplicate, sinks.Retry, sinks.Reject:
			default:
				t.Fatalf("event %d (%s): Write returned nil but left no result (status %d)", i, batch[i].ID, r.Status)
			}
		}
	}
	return res, err
}

// deliver delivers batch the way the runner does and fails on a fatal error or any loss.
func (s *suite) deliver(t *testing.T, sk sinks.Sink, batch []sinks.Event) sinks.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := sinks.Deliver(ctx, sk, batch)
	s.note(err)
	for _, r := range d.Rejected {
		s.note(r.Err)
	}
	if err != nil {
		t.Fatalf("deliver %d events: %v", len(batch), err)
	}
	return d
}

// expectStored checks that every id is in the store: exactly once when the sink claims
// effectively-once, at least once otherwise. The store may apply writes asynchronously
// (a search index refresh): it is polled for up to 30 s.
func (s *suite) expectStored(t *testing.T, sk sinks.Sink, ids []string) {
	t.Helper()
	exact := exactlyOnce(t, sk)
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := s.h.Count(t, ids)
		var bad []string
		for _, id := range ids {
			n := got[id]
			if n == 0 || (exact && n != 1) {
				bad = append(bad, fmt.Sprintf("%s×%d", id, n))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) || (exact && hasExcess(got)) {
			want := "at least 1"
			if exact {
				want = "exactly 1 (the sink claims effectively-once)"
			}
			t.Fatalf("store holds wrong copy counts (want %s per id): %v", want, bad)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exactlyOnce reports whether the suite checks one copy per event id: only for an
// effectively-once sink. At-least-once and best-effort sinks are checked for at least one
// copy: the suite's stores are healthy and read everything they are sent (what a
// best-effort sink may lose, a receiver crashing before it read its socket, the suite
// does not cause). A guarantee the suite does not know fails the test rather than being
// checked as one it is not.
func exactlyOnce(t *testing.T, sk sinks.Sink) bool {
	t.Helper()
	switch g := sk.Guarantee(); g {
	case sinks.EffectivelyOnce:
		return true
	case sinks.AtLeastOnce, sinks.BestEffort:
		return false
	default:
		t.Fatalf("the sink declares guarantee %d (%s), which the suite does not know", g, g)
		return false
	}
}

func hasExcess(got map[string]int) bool {
	for _, n := range got {
		if n > 1 {
			return true
		}
	}
	return false
}

func ids(batch []sinks.Event) []string {
	out := make([]string, len(batch))
	for i, e := range batch {
		out[i] = e.ID
	}
	return out
}

func (s *suite) write(t *testing.T) {
	sk := s.open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := sk.Ping(ctx); err != nil {
		s.note(err)
		t.Fatalf("Ping of a healthy store: %v", err)
	}
	batch := s.events(t, 20)
	res, err := s.writeOnce(t, ctx, sk, batch)
	if err != nil {
		t.Fatalf("Write of a healthy store: %v", err)
	}
	for i, r := range res {
		if r.Status != sinks.Written {
			t.Fatalf("event %d: status %v (%s: %v), want written", i, r.Status, r.Reason, r.Err)
		}
	}
	s.expectStored(t, sk, ids(batch))
}

func (s *suite) redeliver(t *testing.T) {
	sk, closeSink := s.openClosable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	batch := s.events(t, 10)
	s.deliverStored(t, sk, batch)
	res, err := s.writeOnce(t, ctx, sk, batch)
	if err != nil {
		t.Fatalf("second Write of the same batch: %v", err)
	}
	for i, r := range res {
		if r.Status != sinks.Written && r.Status != sinks.Duplicate {
			t.Fatalf("event %d redelivered: status %v (%s: %v), want written or duplicate", i, r.Status, r.Reason, r.Err)
		}
	}
	s.expectStored(t, sk, ids(batch))
	// After a restart (the sink closed, a new one opened on the same store), mixed with
	// new events.
	closeSink()
	sk2 := s.open(t)
	more := append(append([]sinks.Event(nil), batch...), s.h.Events(fmt.Sprintf("%s-%s-more-", s.run, strings.ReplaceAll(t.Name(), "/", "-")), 5)...)
	d := s.deliver(t, sk2, more)
	if len(d.Rejected) > 0 {
		t.Fatalf("redelivery rejected %d events: %v", len(d.Rejected), d.Rejected[0].Err)
	}
	if exactlyOnce(t, sk2) && d.Written != 5 {
		t.Errorf("after a restart: %d written, %d duplicates; want 5 written (the 10 others are in the store)", d.Written, d.Duplicates)
	}
	s.expectStored(t, sk2, ids(more))
}

func (s *suite) duplicateInBatch(t *testing.T) {
	sk := s.open(t)
	batch := s.events(t, 4)
	batch = append(batch, batch[1], batch[3])
	d := s.deliver(t, sk, batch)
	if len(d.Rejected) > 0 {
		t.Fatalf("rejected %d events: %v", len(d.Rejected), d.Rejected[0].Err)
	}
	if exactlyOnce(t, sk) && (d.Written != 4 || d.Duplicates != 2) {
		t.Errorf("a batch holding two ids twice: %d written, %d duplicates; want 4 and 2", d.Written, d.Duplicates)
	}
	s.expectStored(t, sk, ids(batch[:4]))
}

// skipUnsupported skips the running case when the harness declares it unsupported.
func (s *suite) skipUnsupported(t *testing.T, c string) {
	t.Helper()
	if why, ok := s.h.Unsupported[c]; ok {
		t.Skipf("declared unsupported by the sink's test: %s", why)
	}
}

// require skips case c when the harness declared it unsupported, else fails it unless
// the harness has what the case needs (has); missing says what it lacks.
func (s *suite) require(t *testing.T, c string, has bool, missing string) {
	t.Helper()
	s.skipUnsupported(t, c)
	if !has {
		t.Fatalf("%s, and the %s case is not declared in Harness.Unsupported", missing, c)
	}
}

// fault turns f on; a harness that cannot show f, without having declared the case c
// unsupported, fails the case. It returns heal, which turns f off: only its first call
// counts, and it is called at the end of the test when the case did not.
func (s *suite) fault(t *testing.T, c string, f Fault) func() {
	t.Helper()
	var heal func()
	if s.h.Fault != nil {
		heal = s.h.Fault(t, f)
	}
	if heal == nil {
		t.Fatalf("the harness cannot show the %s fault, and does not declare the %s case in Harness.Unsupported", f, c)
	}
	var once sync.Once
	healOnce := func() { once.Do(heal) }
	t.Cleanup(healOnce) // a case that stops early still heals the store
	return healOnce
}

// deliverStored delivers batch as the runner would and expects every event of it stored.
func (s *suite) deliverStored(t *testing.T, sk sinks.Sink, batch []sinks.Event) {
	t.Helper()
	s.deliver(t, sk, batch)
	s.expectStored(t, sk, ids(batch))
}

func (s *suite) unavailable(t *testing.T) {
	s.skipUnsupported(t, CaseUnavailable)
	sk := s.open(t)
	batch := s.events(t, 8)
	heal := s.fault(t, CaseUnavailable, Unavailable)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	res, err := s.writeOnce(t, ctx, sk, batch)
	cancel()
	switch {
	case sinks.IsFatal(err):
		heal()
		t.Fatalf("a store that is down must give a retryable error, got a fatal one: %v", err)
	case err == nil:
		for i, r := range res {
			if r.Status != sinks.Retry {
				heal()
				t.Fatalf("store down: event %d answered %v, want an error or Retry", i, r.Status)
			}
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	s.note(sk.Ping(ctx))
	cancel()
	heal()
	s.deliverStored(t, sk, batch)
}

func (s *suite) fatal(t *testing.T, f Fault) {
	c := CaseBadCredentials
	if f == Forbidden {
		c = CaseForbidden
	}
	s.skipUnsupported(t, c)
	batch := s.events(t, 5)
	// The credentials are revoked while the sink runs (it was opened with good ones).
	sk := s.open(t)
	heal := s.fault(t, c, f)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := s.writeOnce(t, ctx, sk, batch)
	if !sinks.IsFatal(err) {
		t.Fatalf("%s: Write returned %v, want an error wrapped with sinks.Fatal", f, err)
	}
	s.note(sk.Ping(ctx))
	heal()
	s.deliverStored(t, sk, batch)
}

func (s *suite) poison(t *testing.T) {
	s.require(t, CasePoison, s.h.Poison != nil, "Harness.Poison is nil")
	sk := s.open(t)
	batch := s.events(t, 10)
	s.h.Poison(&batch[6])
	d := s.deliver(t, sk, batch)
	if len(d.Rejected) != 1 || d.Rejected[0].Event.ID != batch[6].ID {
		var got []string
		for _, r := range d.Rejected {
			got = append(got, r.Event.ID)
		}
		t.Fatalf("rejected %v, want exactly the poison event %s", got, batch[6].ID)
	}
	if r := d.Rejected[0]; r.Reason == "" || r.Err == nil {
		t.Fatalf("a rejection needs a reason and an error: %q %v", r.Reason, r.Err)
	}
	good := append(append([]sinks.Event(nil), batch[:6]...), batch[7:]...)
	s.expectStored(t, sk, ids(good))
	if n := s.h.Count(t, []string{batch[6].ID})[batch[6].ID]; n != 0 {
		t.Fatalf("the rejected event is in the store %d times", n)
	}
}

func (s *suite) cancelMidWrite(t *testing.T) {
	s.require(t, CaseCancelMidWrite, s.h.InFlight != nil, "Harness.InFlight is nil")
	sk := s.open(t)
	batch := s.events(t, 50)
	heal := s.fault(t, CaseCancelMidWrite, Slow)
	inFlight := s.h.InFlight()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		res := make([]sinks.ItemResult, len(batch))
		done <- sk.Write(ctx, batch, res)
	}()
	// Cancel only once the store has seen the Write: it is then in flight.
	select {
	case <-inFlight:
	case err := <-done:
		s.note(err)
		t.Fatalf("Write returned (%v) before the slow store received anything: the cancellation cannot land mid-write", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the store did not receive the Write within 30 s (Harness.InFlight never signalled)")
	}
	cancel()
	select {
	case err := <-done:
		s.note(err)
	case <-time.After(30 * time.Second):
		t.Fatal("Write did not return within 30 s of its context being cancelled")
	}
	heal()
	// Whatever the cancelled Write did, redelivering the batch (the runner did not commit
	// it) must leave every event in the store.
	s.deliverStored(t, sk, batch)
}

// noSecrets provokes an authentication failure (the BadCredentials fault, so that the
// sink's error and logs talk about its credentials), then searches every error, item
// result and log line of the whole run for the configured secrets.
func (s *suite) noSecrets(t *testing.T) {
	s.require(t, CaseNoSecretLeaks, len(s.h.Secrets) > 0, "Harness.Secrets is empty")
	sk := s.open(t)
	heal := s.fault(t, CaseNoSecretLeaks, BadCredentials)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	_, err := s.writeOnce(t, ctx, sk, s.events(t, 3))
	s.note(sk.Ping(ctx))
	cancel()
	heal()
	if err == nil {
		t.Fatal("Write with bad credentials returned no error: nothing to search for secrets")
	}
	logs := s.log.String()
	for _, sec := range s.h.Secrets {
		if sec == "" {
			t.Fatal("Harness.Secrets holds an empty string")
		}
		if strings.Contains(logs, sec) {
			t.Errorf("a secret appears in the sink's log")
		}
		for _, e := range s.errs {
			if strings.Contains(e, sec) {
				t.Errorf("a secret appears in an error: %q", strings.ReplaceAll(e, sec, "<SECRET>"))
			}
		}
	}
}

// BenchWrite benchmarks s.Write, reporting events/s, and closes s at the end. warm, when
// not nil, is written first, before the timed loop; batch(i) is the batch of the i-th
// timed Write.
func BenchWrite(b *testing.B, s sinks.Sink, warm []sinks.Event, batch func(i int) []sinks.Event) {
	defer s.Close(context.Background())
	ctx := context.Background()
	if warm != nil {
		if err := s.Write(ctx, warm, make([]sinks.ItemResult, len(warm))); err != nil {
			b.Fatal(err)
		}
	}
	var res []sinks.ItemResult
	events, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		evs := batch(i)
		i++
		if cap(res) < len(evs) {
			res = make([]sinks.ItemResult, len(evs))
		}
		if err := s.Write(ctx, evs, res[:len(evs)]); err != nil {
			b.Fatal(err)
		}
		events += len(evs)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// Events returns n canonical OCSF events with ids prefix0000..., routing fields and the
// CloudEvents headers the normalizer writes. Their times spread over the last three days
// (a store partitioned by time sees several partitions).
func Events(prefix string, n int) []sinks.Event {
	base := time.Now().UTC().Truncate(time.Second).Add(-72 * time.Hour)
	out := make([]sinks.Event, n)
	providers := []string{"ionos", "ecgrid", "conga"}
	classes := []int{6003, 3002, 3001}
	for i := range out {
		id := fmt.Sprintf("%s%04d", prefix, i)
		tm := base.Add(time.Duration(i) * 73 * time.Hour / time.Duration(max(n, 1)))
		prov := providers[i%len(providers)]
		tenant := fmt.Sprintf("tenant-%d", i%2)
		class := classes[i%len(classes)]
		body := fmt.Sprintf(`{"activity_id":1,"category_uid":%d,"class_uid":%d,"type_uid":%d01,"severity_id":1,`+
			`"time":%d,"message":"event %d \"quoted\" ünïcode","metadata":{"uid":%q,"version":"1.8.0","product":{"name":"%s","vendor_name":"%s"},"tenant_uid":%q},`+
			`"actor":{"user":{"name":"user%d","email_addr":"user%d@example.com"}},"src_endpoint":{"ip":"192.0.2.%d"},`+
			`"cloud":{"provider":%q},"status_id":1}`,
			class/1000, class, class, tm.UnixMilli(), i, id, prov, prov, tenant, i%7, i%7, 1+i%250, prov)
		msg := kafka.Message{Topic: "audit.events.v1", Partition: i % 3, Offset: int64(i), Key: []byte(prov + "/" + tenant), Value: []byte(body),
			Headers: []kafka.Header{
				{Key: "ce_id", Value: []byte(id)},
				{Key: "ce_source", Value: []byte("/auditstream/" + prov + "/" + tenant)},
				{Key: "ce_type", Value: []byte(fmt.Sprintf("io.auditstream.ocsf.%d", class))},
				{Key: "ce_time", Value: []byte(tm.Format(time.RFC3339Nano))},
			}}
		e, err := sinks.EventFromMessage(msg)
		if err != nil {
			panic(err)
		}
		out[i] = e
	}
	return out
}
