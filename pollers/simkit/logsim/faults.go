package logsim

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"

	"github.com/auditstream/auditstream/pollers/simkit"
)

// ErrorWriter writes a vendor's error body with a status.
type ErrorWriter func(w http.ResponseWriter, code int, msg string)

// Faulter picks injected faults per request from seeded probabilities and counts them in
// the ledger (fault_429, fault_500, fault_503, fault_slow, fault_truncated).
type Faulter struct {
	mu     sync.Mutex
	rng    *rand.Rand
	f      FaultSettings
	ledger *simkit.Ledger
	write  ErrorWriter
}

// NewFaulter returns a Faulter; write renders the vendor's error bodies.
func NewFaulter(seed uint64, f FaultSettings, ledger *simkit.Ledger, write ErrorWriter) *Faulter {
	return &Faulter{rng: rand.New(rand.NewPCG(seed, 0xfa17)), f: f, ledger: ledger, write: write}
}

// Set replaces the probabilities.
func (fl *Faulter) Set(f FaultSettings) {
	fl.mu.Lock()
	fl.f = f
	fl.mu.Unlock()
}

// Apply counts the request under name and applies a fault. It reports whether the
// request was answered already, and whether the caller must truncate its body (and then
// not count it as served).
func (fl *Faulter) Apply(w http.ResponseWriter, r *http.Request, name string) (answered, truncate bool) {
	fl.mu.Lock()
	f := fl.f
	x := fl.rng.Float64()
	fl.mu.Unlock()
	fl.ledger.Count(name)
	switch simkit.Pick(x, f.TooManyRequests, f.ServerError, f.Unavailable, f.Slow, f.Truncated) {
	case 0:
		fl.ledger.Count("fault_429")
		ra := f.RetryAfter
		if ra <= 0 {
			ra = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(ra))
		fl.write(w, http.StatusTooManyRequests, "Too many requests")
		return true, false
	case 1:
		fl.ledger.Count("fault_500")
		fl.write(w, http.StatusInternalServerError, "An internal server error occurred while processing the request")
		return true, false
	case 2:
		fl.ledger.Count("fault_503")
		fl.write(w, http.StatusServiceUnavailable, "Service unavailable")
		return true, false
	case 3:
		fl.ledger.Count("fault_slow")
		if !simkit.SlowDown(r, f.SlowDelay.D()) {
			return true, false
		}
	case 4:
		fl.ledger.Count("fault_truncated")
		return false, true
	}
	return false, false
}

// Write sends body with status 200 as JSON, cut in half when truncate is set.
func Write(w http.ResponseWriter, body []byte, truncate bool) {
	if truncate {
		body = body[:len(body)/2]
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}
