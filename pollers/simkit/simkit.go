// Package simkit holds what every provider simulator shares: the ledger of what was served
// (so tests compare exact sets), request and fault counters, the control endpoints, and
// the pick of an injected fault from per-request probabilities.
package simkit

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Ledger records the ids a simulator served in complete answers and counts events
// (requests, faults). It is safe for concurrent use.
type Ledger struct {
	mu     sync.Mutex
	served map[string]int
	counts map[string]int
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{served: map[string]int{}, counts: map[string]int{}} }

// MarkServed records ids as served (call it only for answers sent whole).
func (l *Ledger) MarkServed(ids ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.served[id]++
	}
}

// Served returns the ids served at least once.
func (l *Ledger) Served() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]bool, len(l.served))
	for id := range l.served {
		out[id] = true
	}
	return out
}

// ServedCount is len(Served()).
func (l *Ledger) ServedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.served)
}

// Count adds one to counter k.
func (l *Ledger) Count(k string) {
	l.mu.Lock()
	l.counts[k]++
	l.mu.Unlock()
}

// Counts returns a copy of the counters.
func (l *Ledger) Counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}

// LedgerStats are the ledger's counters in a simulator's stats (last in its JSON object):
// how many ids it served in complete answers, and its request and fault counters.
type LedgerStats struct {
	Served   int            `json:"served"`
	Requests map[string]int `json:"requests"`
}

// Stats returns the ledger's counters.
func (l *Ledger) Stats() LedgerStats {
	return LedgerStats{Served: l.ServedCount(), Requests: l.Counts()}
}

// WriteServed answers GET /_sim/served: {"count": n, "served": [sorted ids]}.
func (l *Ledger) WriteServed(w http.ResponseWriter) {
	ids := make([]string, 0)
	for id := range l.Served() {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	WriteJSON(w, map[string]any{"count": len(ids), "served": ids})
}

// WriteJSON writes v as a 200 JSON answer.
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Pick chooses an injected fault: given x uniform in [0,1) and per-request probabilities,
// it returns the index of the chosen fault, or -1 for a normal answer.
func Pick(x float64, probs ...float64) int {
	acc := 0.0
	for i, p := range probs {
		acc += p
		if x < acc {
			return i
		}
	}
	return -1
}

// DefaultClock sets an unset clock to time.Now and an unset seed from the clock: no
// seed, a fresh history each start (tests always set one).
func DefaultClock(now *func() time.Time, seed *uint64) {
	if *now == nil {
		*now = time.Now
	}
	if *seed == 0 {
		*seed = uint64((*now)().UnixNano())
	}
}

// UUID draws a version-4 UUID from r (lower-case hex).
func UUID(r *rand.Rand) string {
	var u [16]byte
	for i := range u {
		u[i] = byte(r.UintN(256))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// Backfill spreads n events over the hour before start, in order: add is called with
// each one's time while more reports that generation may go on.
func Backfill(start time.Time, n int, more func() bool, add func(t time.Time)) {
	if n <= 0 {
		return
	}
	step := time.Hour / time.Duration(n)
	t := start.Add(-time.Hour)
	for i := 0; i < n && more(); i++ {
		add(t)
		t = t.Add(step)
	}
}

// SlowDown delays an answer by d (default 2 s), injected as a slow fault; it reports
// false when the client went away first.
func SlowDown(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		d = 2 * time.Second
	}
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}
