// Package simkit holds what every provider simulator shares: the ledger of what was served
// (so tests compare exact sets), request and fault counters, the control endpoints, and
// the pick of an injected fault from per-request probabilities.
package simkit

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"
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
