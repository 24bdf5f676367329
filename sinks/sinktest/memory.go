package sinktest

import (
	"sync"
	"testing"
)

// Memory is the bookkeeping of a test's own in-memory store: the copies it holds per
// event id and the fault it shows. Its Count and Fault are a Harness's; the store reads
// Current before it answers a request and keeps what it accepts with Keep.
type Memory struct {
	mu     sync.Mutex
	copies map[string]int
	fault  Fault
}

// Current is the fault shown now (0: none).
func (m *Memory) Current() Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fault
}

// Keep stores a copy of each id in order and reports, per id, whether it was stored:
// with dedupe, an id the store already holds is not stored again.
func (m *Memory) Keep(dedupe bool, ids ...string) []bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.copies == nil {
		m.copies = map[string]int{}
	}
	kept := make([]bool, len(ids))
	for i, id := range ids {
		if dedupe && m.copies[id] > 0 {
			continue
		}
		m.copies[id]++
		kept[i] = true
	}
	return kept
}

// Count is a Harness.Count: the copies held of each id.
func (m *Memory) Count(_ *testing.T, ids []string) map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for _, id := range ids {
		out[id] = m.copies[id]
	}
	return out
}

// Fault is a Harness.Fault: the store shows f until heal is called.
func (m *Memory) Fault(_ *testing.T, f Fault) (heal func()) {
	m.mu.Lock()
	m.fault = f
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		m.fault = 0
		m.mu.Unlock()
	}
}
