package window

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/auditstream/auditstream/pollers"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// store is a provider's data: entries with a time, visible from a given moment.
type store struct {
	entries []Entry
	cap     int // most entries one window may return (0 = no cap)
	calls   [][2]time.Time
}

func (s *store) add(id string, at time.Time) {
	s.entries = append(s.entries, Entry{ID: id, Time: at, Record: pollers.Record{NativeID: id, Raw: []byte(`{}`)}})
}

func (s *store) fetch(_ context.Context, start, end time.Time, page func([]Entry) error) error {
	s.calls = append(s.calls, [2]time.Time{start, end})
	var out []Entry
	for _, e := range s.entries {
		if !e.Time.Before(start) && e.Time.Before(end) {
			out = append(out, e)
		}
	}
	if s.cap > 0 && len(out) > s.cap {
		return ErrTooMany
	}
	// Two pages, to exercise the per-page emit.
	half := len(out) / 2
	if err := page(out[:half]); err != nil {
		return err
	}
	return page(out[half:])
}

// sink records what the window rule emitted.
type sink struct {
	ids     []string
	cursors []Cursor
	failAt  int // fail the n-th emit with records (1-based; 0 = never)
	n       int
}

func (k *sink) emit(_ context.Context, recs []pollers.Record, cur json.RawMessage) error {
	if len(recs) > 0 {
		k.n++
		if k.failAt == k.n {
			return errors.New("kafka down")
		}
	}
	for _, r := range recs {
		k.ids = append(k.ids, r.NativeID)
	}
	if cur != nil {
		var c Cursor
		if err := json.Unmarshal(cur, &c); err != nil {
			return err
		}
		k.cursors = append(k.cursors, c)
	}
	return nil
}

func (k *sink) last() json.RawMessage {
	if len(k.cursors) == 0 {
		return nil
	}
	b, _ := json.Marshal(k.cursors[len(k.cursors)-1])
	return b
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func cfg() Config {
	return Config{Overlap: time.Minute, Lag: 10 * time.Second, InitialLookback: time.Hour}
}

func TestWindowBoundaries(t *testing.T) {
	now := t0
	end := now.Add(-10 * time.Second)              // now − lag
	start := end.Add(-time.Hour).Add(-time.Minute) // initial watermark − overlap
	tests := []struct {
		name    string
		entries map[string]time.Time
		want    []string
	}{
		{"empty window", nil, nil},
		{"exactly at the start is included", map[string]time.Time{"a": start}, []string{"a"}},
		{"just before the start is excluded", map[string]time.Time{"a": start.Add(-time.Millisecond)}, nil},
		{"exactly at the end is excluded (next window)", map[string]time.Time{"a": end}, nil},
		{"just before the end is included", map[string]time.Time{"a": end.Add(-time.Millisecond)}, []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &store{}
			for id, at := range tc.entries {
				s.add(id, at)
			}
			k := &sink{}
			if _, err := Poll(context.Background(), cfg(), now, nil, s.fetch, k.emit, quiet); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(k.ids) != fmt.Sprint(tc.want) {
				t.Fatalf("emitted %v, want %v", k.ids, tc.want)
			}
			if len(k.cursors) != 1 || !k.cursors[0].Watermark.Equal(end) {
				t.Fatalf("cursor %+v, want one with watermark %s (advanced even when empty)", k.cursors, end)
			}
			// The first request starts at watermark − overlap of the initial watermark.
			if got, want := s.calls[0][0], start; !got.Equal(want) {
				t.Fatalf("first window starts %s, want %s", got, want)
			}
		})
	}
}

func TestLateEventInsideOverlapIsCaughtOnce(t *testing.T) {
	s := &store{}
	k := &sink{}
	now := t0
	s.add("early", now.Add(-30*time.Second))
	if _, err := Poll(context.Background(), cfg(), now, nil, s.fetch, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	wm := k.cursors[len(k.cursors)-1].Watermark // t0 − 10s
	// A late event appears with a time 20 s before the watermark (inside the 1 min overlap),
	// and "early" is read again by the overlap: only the late one is new.
	s.add("late", wm.Add(-20*time.Second))
	now2 := now.Add(30 * time.Second)
	if _, err := Poll(context.Background(), cfg(), now2, k.last(), s.fetch, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(k.ids) != "[early late]" {
		t.Fatalf("emitted %v, want [early late]", k.ids)
	}
	if got := s.calls[len(s.calls)-1][0]; !got.Equal(wm.Add(-time.Minute)) {
		t.Fatalf("second window starts %s, want watermark − overlap %s", got, wm.Add(-time.Minute))
	}
	// A third poll with nothing new emits nothing.
	before := len(k.ids)
	if _, err := Poll(context.Background(), cfg(), now2.Add(5*time.Second), k.last(), s.fetch, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	if len(k.ids) != before {
		t.Fatalf("re-read overlap emitted %v again", k.ids[before:])
	}
}

func TestEventLaterThanOverlapIsOutsideTheContract(t *testing.T) {
	// Documented limit: an entry that appears more than overlap+lag after its time, behind
	// the watermark, is not read again. This pins the behaviour so a change is deliberate.
	s := &store{}
	k := &sink{}
	if _, err := Poll(context.Background(), cfg(), t0, nil, s.fetch, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	wm := k.cursors[0].Watermark
	s.add("too-late", wm.Add(-2*time.Minute))
	if _, err := Poll(context.Background(), cfg(), t0.Add(time.Minute), k.last(), s.fetch, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	if len(k.ids) != 0 {
		t.Fatalf("emitted %v", k.ids)
	}
}

func TestPageCapSplitsTheWindow(t *testing.T) {
	s := &store{cap: 10}
	end := t0.Add(-10 * time.Second)
	for i := 0; i < 95; i++ {
		s.add(fmt.Sprintf("e%03d", i), end.Add(-time.Duration(i+1)*20*time.Second))
	}
	k := &sink{}
	st, err := Poll(context.Background(), cfg(), t0, nil, s.fetch, k.emit, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if st.Splits == 0 {
		t.Fatal("no split although the window held 95 entries with a cap of 10")
	}
	sort.Strings(k.ids)
	if len(k.ids) != 95 {
		t.Fatalf("emitted %d entries, want 95", len(k.ids))
	}
	for i := 1; i < len(k.ids); i++ {
		if k.ids[i] == k.ids[i-1] {
			t.Fatalf("%s emitted twice", k.ids[i])
		}
	}
	// Watermarks only move forward, and the final one is the window end.
	for i := 1; i < len(k.cursors); i++ {
		if k.cursors[i].Watermark.Before(k.cursors[i-1].Watermark) {
			t.Fatalf("watermark moved back: %s after %s", k.cursors[i].Watermark, k.cursors[i-1].Watermark)
		}
	}
	if last := k.cursors[len(k.cursors)-1].Watermark; !last.Equal(end) {
		t.Fatalf("final watermark %s, want %s", last, end)
	}
}

func TestFullWindowThatCannotBeSplitIsAnError(t *testing.T) {
	s := &store{cap: 2}
	end := t0.Add(-10 * time.Second)
	at := end.Add(-time.Second)
	for i := 0; i < 3; i++ {
		s.add(fmt.Sprint(i), at) // three entries in the same millisecond
	}
	k := &sink{}
	_, err := Poll(context.Background(), cfg(), t0, nil, s.fetch, k.emit, quiet)
	if !errors.Is(err, ErrTooMany) {
		t.Fatalf("err = %v, want ErrTooMany", err)
	}
	// The cursor never passed the full millisecond.
	for _, c := range k.cursors {
		if c.Watermark.After(at) {
			t.Fatalf("cursor moved to %s, past the unread millisecond %s", c.Watermark, at)
		}
	}
}

func TestCursorDoesNotMoveWhenPublishFails(t *testing.T) {
	s := &store{}
	s.add("a", t0.Add(-time.Minute))
	s.add("b", t0.Add(-time.Minute))
	k := &sink{failAt: 1}
	if _, err := Poll(context.Background(), cfg(), t0, nil, s.fetch, k.emit, quiet); err == nil {
		t.Fatal("publish failure not reported")
	}
	if len(k.cursors) != 0 {
		t.Fatalf("cursor saved after a failed publish: %+v", k.cursors)
	}
}

func TestSeenIsPrunedToTheOverlap(t *testing.T) {
	s := &store{}
	end := t0.Add(-10 * time.Second)
	s.add("old", end.Add(-30*time.Minute))
	s.add("recent", end.Add(-30*time.Second))
	k := &sink{}
	if _, err := Poll(context.Background(), cfg(), t0, nil, s.fetch, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	c := k.cursors[len(k.cursors)-1]
	if fmt.Sprint(c.SortedIDs()) != "[recent]" {
		t.Fatalf("seen = %v, want only the id inside the overlap", c.SortedIDs())
	}
}

func TestMaxWindowCutsACatchUp(t *testing.T) {
	s := &store{}
	c := cfg()
	c.MaxWindow = 15 * time.Minute
	k := &sink{}
	if _, err := Poll(context.Background(), c, t0, nil, s.fetch, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	if len(k.cursors) != 4 {
		t.Fatalf("%d cursors for a 1 h catch-up in 15 min windows, want 4", len(k.cursors))
	}
}

func TestBadCursorIsAnError(t *testing.T) {
	for _, raw := range []string{`{`, `{"v":2,"watermark":"2026-01-01T00:00:00Z"}`, `{"v":1}`} {
		if _, err := Poll(context.Background(), cfg(), t0, json.RawMessage(raw), (&store{}).fetch, (&sink{}).emit, quiet); err == nil {
			t.Errorf("cursor %s accepted", raw)
		}
	}
}

func TestSeenIsCappedOldestFirst(t *testing.T) {
	s := &store{}
	end := t0.Add(-10 * time.Second)
	for i := 0; i < 30; i++ {
		s.add(fmt.Sprintf("e%02d", i), end.Add(-time.Duration(30-i)*time.Second)) // e29 is the newest
	}
	c := cfg()
	c.MaxSeen = 10
	k := &sink{}
	if _, err := Poll(context.Background(), c, t0, nil, s.fetch, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	ids := k.cursors[len(k.cursors)-1].SortedIDs()
	if len(ids) != 10 || ids[0] != "e20" || ids[9] != "e29" {
		t.Fatalf("seen = %v, want the 10 newest", ids)
	}
	// Forgotten ids come back as duplicates on the next poll, never as a loss.
	before := len(k.ids)
	if _, err := Poll(context.Background(), c, t0.Add(time.Second), k.last(), s.fetch, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	if again := len(k.ids) - before; again != 20 {
		t.Fatalf("%d re-published, want the 20 forgotten", again)
	}
}

func TestEmptyWindowsWidenUpToMaxWindow(t *testing.T) {
	s := &store{}
	c := cfg()
	c.InitialLookback = 100 * time.Hour
	c.StartWindow, c.MaxWindow = time.Hour, 8*time.Hour
	k := &sink{}
	if _, err := Poll(context.Background(), c, t0, nil, s.fetch, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	var got []time.Duration
	for _, w := range s.calls {
		got = append(got, w[1].Sub(w[0]))
	}
	// 1h (+ the overlap), then 2h, 4h, 8h, 8h, … and the rest.
	want := []time.Duration{time.Hour + time.Minute, 2 * time.Hour, 4 * time.Hour}
	for i, d := range want {
		if got[i] != d {
			t.Fatalf("window %d is %s long, want %s (all: %v)", i, got[i], d, got)
		}
	}
	for i, d := range got[3 : len(got)-1] {
		if d != 8*time.Hour {
			t.Fatalf("window %d is %s long, want the 8h cap (all: %v)", i+3, d, got)
		}
	}
	if last := k.cursors[len(k.cursors)-1].Watermark; !last.Equal(t0.Add(-c.Lag)) {
		t.Fatalf("final watermark %s", last)
	}
}

func TestAfterASplitTheNextWindowKeepsThePieceLength(t *testing.T) {
	s := &store{cap: 10}
	end := t0.Add(-10 * time.Second)
	// 40 entries a minute for the last hour: a 1 h window holds 2400 and must be cut to
	// pieces of at most 10 entries (≈ 15 s).
	for i := 0; i < 2400; i++ {
		s.add(fmt.Sprintf("e%04d", i), end.Add(-time.Duration(i+1)*1500*time.Millisecond))
	}
	c := cfg()
	c.StartWindow, c.MaxWindow, c.Capacity = time.Hour, time.Hour, 10
	k := &sink{}
	st, err := Poll(context.Background(), c, t0, nil, s.fetch, k.emit, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.ids) != 2400 {
		t.Fatalf("emitted %d, want 2400", len(k.ids))
	}
	// Without adaptation every window would be split from an hour down again (≈ 9 failed
	// fetches per piece); with it the failed fetches are a small share.
	if st.Splits > st.Windows/3 {
		t.Fatalf("%d splits in %d fetches: the window length did not adapt", st.Splits, st.Windows)
	}
}

// A catch-up whose run is asked to stop (shutdown, rebalance) ends after the window it is
// reading, with that window's cursor saved; the next poll resumes from it.
func TestStoppingPausesACatchUpAfterAWholeWindow(t *testing.T) {
	s := &store{}
	s.add("a", t0.Add(-50*time.Minute))
	s.add("b", t0.Add(-20*time.Minute))
	c := cfg()
	c.MaxWindow = 15 * time.Minute
	k := &sink{}
	ctx, stop := context.WithCancel(context.Background())
	stopAfterFirst := func(ctx context.Context, start, end time.Time, page func([]Entry) error) error {
		err := s.fetch(ctx, start, end, page)
		stop() // the run stops while the first window is read
		return err
	}
	// Outside a runner, Stopping is ctx's own state; the emits here ignore ctx.
	if _, err := Poll(ctx, c, t0, nil, stopAfterFirst, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	if len(s.calls) != 1 || len(k.cursors) != 1 || !k.cursors[0].Watermark.Equal(s.calls[0][1]) {
		t.Fatalf("stopping run: %d windows read, cursors %+v: want one whole window and its cursor", len(s.calls), k.cursors)
	}
	// The next poll goes on from that window to the end.
	if _, err := Poll(context.Background(), c, t0, k.last(), s.fetch, k.emit, quiet); err != nil {
		t.Fatal(err)
	}
	if got := k.cursors[len(k.cursors)-1].Watermark; !got.Equal(t0.Add(-c.Lag)) {
		t.Fatalf("resumed catch-up ended at %s, want %s", got, t0.Add(-c.Lag))
	}
	if fmt.Sprint(k.ids) != "[a b]" {
		t.Fatalf("ids %v", k.ids)
	}
}
