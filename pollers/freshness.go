package pollers

import (
	"math"
	"sync"
	"time"
)

// freshness is what auditstream_cursor_timestamp_seconds says of one poller: the oldest
// watermark among the targets its last run polled. A target's watermark is the newest of
// the `watermark` of its cursors and of the Outcome.Watermark its polls reported since
// this process polls it. The cursor's is read again at every poll, so between runs only a
// watermark newer than the cursor's (a full-log target found unchanged) is kept: a
// process polling many targets keeps no freshness state for most of them.
type freshness struct {
	mu sync.Mutex
	// ahead holds the watermarks newer than their target's cursor's, with the run that
	// last polled the target (a target the last run did not poll is forgotten).
	ahead map[targetID]watermark
	round uint32
	// oldest is the least watermark of the targets this run polled (found: there is one).
	oldest int64
	found  bool
}

// targetID identifies a target of a poller. Its strings are the target's own (with work
// sharing, the bytes the targets table holds): keying by it copies nothing.
type targetID struct{ tenant, entity string }

func idOf(t Target) targetID { return targetID{t.Tenant, t.Entity} }

// watermark is a time in Unix milliseconds (the metric's precision) and the run that
// last saw it.
type watermark struct {
	ms    int64
	round uint32
}

// noMark is "no watermark".
const noMark = math.MinInt64

// mark is one target's watermark while it is polled (ms) and that of its latest cursor.
type mark struct {
	ms, cursor int64
	retired    bool
}

func newFreshness() *freshness { return &freshness{ahead: map[targetID]watermark{}} }

// startRun begins a run.
func (f *freshness) startRun() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.round++
	f.oldest, f.found = 0, false
}

// begin starts the poll of a target: its watermark so far.
func (f *freshness) begin(id targetID) *mark {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &mark{ms: noMark, cursor: noMark}
	if a, ok := f.ahead[id]; ok {
		a.round = f.round
		f.ahead[id] = a
		m.ms = a.ms
	}
	return m
}

// see records a watermark the poll reported (zero: none).
func (f *freshness) see(m *mark, w time.Time) {
	if w.IsZero() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m.ms = max(m.ms, w.UnixMilli())
}

// cursor records the watermark of the target's cursor (stored before the poll, or just
// saved by it; zero: the cursor has none).
func (f *freshness) cursor(m *mark, w time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m.cursor = noMark
	if !w.IsZero() {
		m.cursor = w.UnixMilli()
		m.ms = max(m.ms, m.cursor)
	}
}

// end counts the target's watermark in the run, and keeps it when its cursor's is older.
// A retired target stops counting.
func (f *freshness) end(id targetID, m *mark) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.retired {
		delete(f.ahead, id)
		return
	}
	if m.ms == noMark {
		return
	}
	if !f.found || m.ms < f.oldest {
		f.oldest, f.found = m.ms, true
	}
	if m.ms > m.cursor {
		f.ahead[id] = watermark{ms: m.ms, round: f.round}
	} else {
		delete(f.ahead, id)
	}
}

// endRun forgets the targets the run did not poll (moved to another process, retired
// elsewhere: they must not pin the metric) and returns the run's oldest watermark.
func (f *freshness) endRun() (oldest time.Time, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, a := range f.ahead {
		if a.round != f.round {
			delete(f.ahead, id)
		}
	}
	if !f.found {
		return time.Time{}, false
	}
	return time.UnixMilli(f.oldest), true
}

// reset forgets every target (this process owns none now).
func (f *freshness) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.ahead)
	f.oldest, f.found = 0, false
}
