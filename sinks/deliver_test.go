package sinks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// store is a scripted in-memory sink.
type store struct {
	mu      sync.Mutex
	written map[string]int
	batches [][]string
	// answer decides the outcome of one event (default Written); whole decides the
	// outcome of a whole Write before that (nil: go on per event).
	answer func(call int, e Event) ItemResult
	whole  func(call int, batch []Event) error
	calls  int
}

func newStore() *store { return &store{written: map[string]int{}} }

func (s *store) Name() string                { return "mem" }
func (s *store) Guarantee() Guarantee        { return AtLeastOnce }
func (s *store) Ping(context.Context) error  { return nil }
func (s *store) Close(context.Context) error { return nil }
func (s *store) Write(_ context.Context, batch []Event, res []ItemResult) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	var idl []string
	for _, e := range batch {
		idl = append(idl, e.ID)
	}
	s.batches = append(s.batches, idl)
	if s.whole != nil {
		if err := s.whole(s.calls, batch); err != nil {
			return err
		}
	}
	for i, e := range batch {
		r := ItemResult{Status: Written}
		if s.answer != nil {
			r = s.answer(s.calls, e)
		}
		if r.Status == Written {
			s.written[e.ID]++
		}
		res[i] = r
	}
	return nil
}

// writtenOnce fails t unless the store wrote every event it wrote exactly once.
func (s *store) writtenOnce(t *testing.T) {
	t.Helper()
	for id, n := range s.written {
		if n != 1 {
			t.Fatalf("%s written %d times", id, n)
		}
	}
}

func evs(n int) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = Event{ID: fmt.Sprintf("e%02d", i), Value: []byte(`{"x":1}`)}
	}
	return out
}

func TestDeliverResendsOnlyRetryItems(t *testing.T) {
	s := newStore()
	s.answer = func(call int, e Event) ItemResult {
		if call <= 2 && (e.ID == "e01" || e.ID == "e03") {
			return ItemResult{Status: Retry, Reason: "rate_limited", Err: errors.New("429")}
		}
		if e.ID == "e04" {
			return ItemResult{Status: Duplicate}
		}
		return ItemResult{Status: Written}
	}
	d, err := Deliver(context.Background(), s, evs(5))
	if err != nil {
		t.Fatal(err)
	}
	if d.Written != 4 || d.Duplicates != 1 || d.Retries != 2 || len(d.Rejected) != 0 {
		t.Fatalf("delivery %+v", d)
	}
	want := [][]string{{"e00", "e01", "e02", "e03", "e04"}, {"e01", "e03"}, {"e01", "e03"}}
	if !slices.EqualFunc(s.batches, want, slices.Equal) {
		t.Fatalf("batches %v, want %v", s.batches, want)
	}
	s.writtenOnce(t)
}

func TestDeliverBisectsAWholeBatchRefusal(t *testing.T) {
	s := newStore()
	s.whole = func(_ int, batch []Event) error {
		for _, e := range batch {
			if e.ID == "e05" || e.ID == "e06" {
				return RejectBatch("bad_request", errors.New("HTTP 400"))
			}
		}
		return nil
	}
	d, err := Deliver(context.Background(), s, evs(16))
	if err != nil {
		t.Fatal(err)
	}
	var rej []string
	for _, r := range d.Rejected {
		rej = append(rej, r.Event.ID)
		if r.Reason != "bad_request" || r.Err == nil || !strings.Contains(r.Err.Error(), "HTTP 400") {
			t.Fatalf("rejection %+v", r)
		}
	}
	if !slices.Equal(rej, []string{"e05", "e06"}) || d.Written != 14 || len(s.written) != 14 {
		t.Fatalf("rejected %v, written %d (%d distinct)", rej, d.Written, len(s.written))
	}
}

func TestDeliverBisectsWhatIsLeftAfterRetries(t *testing.T) {
	// First call: e01 must be retried; second call (e01 alone... plus none) refuses the
	// batch as a whole: only what is left is bisected, nothing is written twice.
	s := newStore()
	s.answer = func(call int, e Event) ItemResult {
		if call == 1 && (e.ID == "e01" || e.ID == "e02") {
			return ItemResult{Status: Retry}
		}
		return ItemResult{Status: Written}
	}
	s.whole = func(call int, batch []Event) error {
		for _, e := range batch {
			if call > 1 && e.ID == "e02" {
				return RejectBatch("bad_request", errors.New("400"))
			}
		}
		return nil
	}
	d, err := Deliver(context.Background(), s, evs(4))
	if err != nil {
		t.Fatal(err)
	}
	if d.Written != 3 || len(d.Rejected) != 1 || d.Rejected[0].Event.ID != "e02" {
		t.Fatalf("delivery %+v", d)
	}
	s.writtenOnce(t)
}

func TestDeliverRejectsAndRetriesWholeBatchErrors(t *testing.T) {
	s := newStore()
	s.whole = func(call int, _ []Event) error {
		if call <= 2 {
			return errors.New("connection refused")
		}
		return nil
	}
	s.answer = func(_ int, e Event) ItemResult {
		if e.ID == "e01" {
			return ItemResult{Status: Reject, Reason: "mapping", Err: errors.New("field type conflict")}
		}
		if e.ID == "e02" {
			return ItemResult{Status: Reject} // no reason, no error: the runner fills them
		}
		return ItemResult{Status: Written}
	}
	d, err := Deliver(context.Background(), s, evs(3))
	if err != nil {
		t.Fatal(err)
	}
	if d.Retries != 2 || d.Written != 1 || len(d.Rejected) != 2 || d.Rejected[0].Reason != "mapping" ||
		d.Rejected[1].Reason != "rejected" || d.Rejected[1].Err == nil {
		t.Fatalf("delivery %+v", d)
	}
}

func TestDeliverReturnsFatalAndUnfilledResultsAreRetried(t *testing.T) {
	s := newStore()
	s.whole = func(int, []Event) error { return Fatal(errors.New("password authentication failed")) }
	if _, err := Deliver(context.Background(), s, evs(2)); !IsFatal(err) {
		t.Fatalf("err = %v", err)
	}
	// A sink that forgets a result: the event is sent again, never counted as written.
	s = newStore()
	forgot := false
	s.whole = nil
	s.answer = func(call int, e Event) ItemResult {
		if call == 1 && e.ID == "e01" {
			forgot = true
			return ItemResult{Status: unset}
		}
		return ItemResult{Status: Written}
	}
	d, err := Deliver(context.Background(), s, evs(2))
	if err != nil || !forgot || d.Written != 2 || len(s.batches) != 2 || !slices.Equal(s.batches[1], []string{"e01"}) {
		t.Fatalf("delivery %+v err %v batches %v", d, err, s.batches)
	}
}

func TestDeliverStopsOnCancel(t *testing.T) {
	s := newStore()
	s.whole = func(int, []Event) error { return errors.New("down") }
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Deliver(ctx, s, evs(2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestChunksByBytes(t *testing.T) {
	var events []Event
	for _, n := range []int{3, 3, 3, 10, 1, 1} {
		events = append(events, Event{Value: make([]byte, n)})
	}
	var sizes [][]int
	for _, c := range chunks(events, 6) {
		var s []int
		for _, e := range c {
			s = append(s, len(e.Value))
		}
		sizes = append(sizes, s)
	}
	want := [][]int{{3, 3}, {3}, {10}, {1, 1}}
	if !slices.EqualFunc(sizes, want, slices.Equal) {
		t.Fatalf("chunks %v, want %v", sizes, want)
	}
	if len(chunks(nil, 6)) != 0 {
		t.Fatal("chunks of nothing")
	}
}

func TestEventFromMessageReadsTheRoutingHeaders(t *testing.T) {
	m := kafka.Message{Value: []byte(`{}`), Headers: []kafka.Header{
		{Key: "ce_id", Value: []byte("id-1")},
		{Key: "ce_source", Value: []byte("/auditstream/ionos/contract-42/sub")},
		{Key: "ce_type", Value: []byte("io.auditstream.ocsf.6003")},
		{Key: "ce_time", Value: []byte("2026-03-04T05:06:07.123456789Z")},
	}}
	e, err := EventFromMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "id-1" || e.Provider != "ionos" || e.Tenant != "contract-42/sub" || e.ClassUID != 6003 ||
		!e.Time.Equal(time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)) {
		t.Fatalf("event %+v", e)
	}
	// Without headers: the id comes from the body, the routing fields stay empty.
	e, err = EventFromMessage(kafka.Message{Value: []byte(`{"metadata":{"uid":"u"}}`)})
	if err != nil || e.ID != "u" || !e.Time.IsZero() || e.ClassUID != 0 || e.Provider != "" {
		t.Fatalf("event %+v err %v", e, err)
	}
	if _, err := EventFromMessage(kafka.Message{Value: []byte(`{}`)}); err == nil {
		t.Fatal("an event without id must be an error")
	}
}
