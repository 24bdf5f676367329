package logsim

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/auditstream/auditstream/pollers/simkit"
)

// Base is what every full-log simulator holds: the history, the served keys, request and
// fault counters, the fault picker, the rendered entries and the routes. It is the
// simulator's http.Handler: a simulator embeds it and adds its vendor's routes to Mux.
type Base struct {
	H      *History
	Served *Served
	Ledger *simkit.Ledger
	Faults *Faulter
	Cache  *Cache
	Tenant string
	// Mux routes the requests; the control endpoints (Control) are on it already.
	Mux *http.ServeMux

	ignorePaging bool
	writeErr     ErrorWriter
}

// NewBase builds the shared parts from the settings; render draws one entry in the
// vendor's shape and writeErr writes the vendor's error body.
func NewBase(s *Settings, render func(*Entry) []byte, writeErr ErrorWriter) *Base {
	h := s.History()
	ledger := simkit.NewLedger()
	b := &Base{H: h, Served: NewServed(), Ledger: ledger, Faults: NewFaulter(h.cfg.Seed, s.Faults, ledger, writeErr),
		Cache: NewCache(render), Tenant: s.Tenant, Mux: http.NewServeMux(), ignorePaging: s.IgnorePaging, writeErr: writeErr}
	b.Control(b.Mux, "")
	return b
}

// ServeHTTP serves r with Mux, stamped with its arrival (Serve).
func (b *Base) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.Serve(w, r, b.Mux) }

// MessageError writes the error body {"Message": msg} with code (SigningHub's and
// Constellation1's shape).
func MessageError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"Message": msg})
}

// AnswerListing answers a listing request: a fault when one is picked, else the
// entities that exist now, in creation order, each drawn by item (ok false: not in this
// listing); the page of size items from index from (0-based; the first page whatever
// was asked under ignore_paging) and the listing's total (-1 under ignore_paging: the
// answer then has none) go to build, which makes the body (and may set headers).
func (b *Base) AnswerListing(w http.ResponseWriter, r *http.Request, from, size int, item func(*Entity, State) (map[string]any, bool), build func(page []map[string]any, total int) []byte) {
	answered, truncate := b.Faults.Apply(w, r, "list")
	if answered {
		return
	}
	now := b.H.Now()
	var all []map[string]any
	for _, e := range b.H.Entities() {
		st := b.H.StateAt(e, now)
		if !st.Listed {
			continue
		}
		if it, ok := item(e, st); ok {
			all = append(all, it)
		}
	}
	total := len(all)
	if b.ignorePaging {
		from, total = 0, -1
	}
	Write(w, build(Page(all, from, size), total), truncate)
}

// ListingBody is the JSON object {listKey: page, totalKey: total}, without totalKey when
// total < 0 (ignore_paging: the answer has no total).
func ListingBody(listKey string, page []map[string]any, totalKey string, total int) []byte {
	answer := map[string]any{listKey: page}
	if total >= 0 {
		answer[totalKey] = total
	}
	body, _ := json.Marshal(answer)
	return body
}

// Listed returns entity i (0-based) and its state at now, when it exists then.
func (b *Base) Listed(i int, now time.Time) (*Entity, State, bool) {
	ents := b.H.Entities()
	if i < 0 || i >= len(ents) {
		return nil, State{}, false
	}
	st := b.H.StateAt(ents[i], now)
	return ents[i], st, st.Listed
}

// ListedByNumber finds the entity a log request names by number (path value "id"; first
// is entity 0's number) and its state now, when it exists then; for any other id it
// answers 404 with notFound in the vendor's error shape (ok false).
func (b *Base) ListedByNumber(w http.ResponseWriter, r *http.Request, first int, notFound string) (e *Entity, st State, now time.Time, ok bool) {
	n, err := strconv.Atoi(r.PathValue("id"))
	now = b.H.Now()
	e, st, ok = b.Listed(n-first, now)
	if err != nil || !ok {
		b.writeErr(w, http.StatusNotFound, notFound)
		return nil, State{}, now, false
	}
	return e, st, now, true
}

// HandleAuthorized routes pattern to h on Mux for the requests authorized lets through
// (it answers the others itself: the vendor's check of the request's token).
func (b *Base) HandleAuthorized(pattern string, authorized func(http.ResponseWriter, *http.Request) bool, h http.HandlerFunc) {
	b.Mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if authorized(w, r) {
			h(w, r)
		}
	})
}

// Page returns the items of all from index from, at most size of them (an empty, not
// nil, list past the end: it encodes as []).
func Page[T any](all []T, from, size int) []T {
	if from < 0 || from >= len(all) {
		return []T{}
	}
	return all[from:min(from+size, len(all))]
}

// Control registers the test endpoints (no auth): GET /_sim/served (the served keys;
// ?arrived_before=<RFC 3339 time>: only those served to requests that arrived before it),
// GET /_sim/stats and PUT /_sim/faults (new fault probabilities as JSON).
func (b *Base) Control(mux *http.ServeMux, prefix string) {
	simkit.Control[FaultSettings]{Served: b.served, Stats: func() any { return b.H.Stats(b.Served, b.Ledger) }, SetFaults: b.Faults.Set,
		Error: func(w http.ResponseWriter, code int, msg string) { http.Error(w, msg, code) }}.Register(mux, prefix)
}

// served answers GET /_sim/served.
func (b *Base) served(w http.ResponseWriter, r *http.Request) {
	var before time.Time
	if v := r.URL.Query().Get("arrived_before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			http.Error(w, "arrived_before: "+err.Error(), http.StatusBadRequest)
			return
		}
		before = t
	}
	keys := b.Served.KeysBefore(before)
	simkit.WriteJSON(w, map[string]any{"count": len(keys), "served": slices.Sorted(maps.Keys(keys))})
}

// Render returns the entries rendered.
func (b *Base) Render(entries []*Entry) []Rendered {
	out := make([]Rendered, len(entries))
	for i, e := range entries {
		out[i] = b.Cache.Get(e)
	}
	return out
}

// AnswerLog sends one entity's log as it stood at now: a fault when one is picked, else
// build(entries) with status 200 — cut in half for the truncation fault; only a whole
// answer marks its entries served (and e as served up to now, see Stats.Pending).
func (b *Base) AnswerLog(w http.ResponseWriter, r *http.Request, e *Entity, entity string, now time.Time, entries []Rendered, build func([]Rendered) []byte) {
	answered, truncate := b.Faults.Apply(w, r, "log")
	if answered {
		return
	}
	body := build(entries)
	// A client that is gone (killed while it waited) is not served, whatever the body.
	if !truncate && r.Context().Err() == nil {
		fps := make([]string, len(entries))
		for i, e := range entries {
			fps[i] = e.Fingerprint
		}
		b.Served.Mark(b.Tenant, entity, fps, arrival(r))
		b.Served.Answered(e, now)
	}
	Write(w, body, truncate)
}

type arrivalKey struct{}

// Serve hands r to h, stamped with its arrival time: what a simulator served is recorded
// with the time the request arrived (Served.KeysBefore), not when the answer was built.
func (b *Base) Serve(w http.ResponseWriter, r *http.Request, h http.Handler) {
	h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), arrivalKey{}, time.Now())))
}

// arrival is when r arrived (Serve), or now for a request Serve did not stamp.
func arrival(r *http.Request) time.Time {
	if t, ok := r.Context().Value(arrivalKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}

// Join writes the rendered entries as the elements of a JSON array.
func Join(entries []Rendered) []byte {
	n := 2
	for _, e := range entries {
		n += len(e.Body) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, e := range entries {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, e.Body...)
	}
	return append(out, ']')
}

// Shared returns the shared parts of a simulator that embeds a Base (tests reach the
// history, served keys and faults of any full-log simulator through it).
func (b *Base) Shared() *Base { return b }
