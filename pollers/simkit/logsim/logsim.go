// Package logsim is the growing-log model the simulators of full-log providers share
// (Conga Sign, SigningHub, Constellation1 eSign): a deterministic history of entities
// (packages, signing sessions) whose audit logs grow over time, with exact duplicates,
// same-second entries, a terminal status reached part-way and entries that keep arriving
// after it. Each simulator renders the entries in its vendor's shape and serves them on
// its vendor's paths; this package also holds their shared fault injection, expiring
// tokens and the served-entry keys tests compare with delivered events.
package logsim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/simkit"
	"github.com/auditstream/auditstream/schemas"
)

// Config shapes a history.
type Config struct {
	// Seed makes the history deterministic (0 = random per start).
	Seed uint64
	// Entities is the number of packages or sessions (default 20).
	Entities int
	// EntriesPerEntity is the length of each entity's whole log (default 12).
	EntriesPerEntity int
	// AfterTerminal is how many of those entries arrive after the terminal status (views,
	// downloads, "completed and closed by"...; default EntriesPerEntity/4).
	AfterTerminal int
	// Concurrent is how many entities are in flight at once (default 20): entities start
	// over time, so a listing keeps finding new ones.
	Concurrent int
	// Rate is entries per second after start over all entities (0 = the whole history
	// exists at start).
	Rate float64
	// Backfill is how many entries exist before start (spread over the hour before).
	Backfill int
	// DuplicateFraction is the share of entries that are an exact copy of the entry
	// before them in the same log (same second, same fields).
	DuplicateFraction float64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Outcome is how an entity ended.
type Outcome int

// Outcomes.
const (
	Completed Outcome = iota
	Declined
	Expired
	Cancelled
)

// Entry is one log entry of the model; the simulator renders it.
type Entry struct {
	Entity int
	// Seq is the entry's place in its entity's whole log (0-based).
	Seq int
	// Time is the entry's own time, whole seconds (an exact duplicate repeats the one
	// before it).
	Time time.Time
	// Arrival is when it becomes visible.
	Arrival time.Time
	// R is the entry's random draw: renderers pick every field from it, so a duplicate
	// (same R, same Time) renders to the same bytes.
	R uint64
	// Duplicate marks an exact copy of the entry before it.
	Duplicate bool
	// AfterTerminal marks an entry that arrives after the entity's terminal status.
	AfterTerminal bool
	// Terminal marks the entry that moves the entity to its terminal status.
	Terminal bool
}

// Entity is one package or session of the model.
type Entity struct {
	Index   int
	Outcome Outcome
	R       uint64
	Entries []*Entry
}

// State is what the vendor would say of an entity at a moment.
type State struct {
	// Listed: the entity exists (its first entry arrived).
	Listed bool
	// Created is its first entry's time. Updated is when its log last changed: the
	// arrival of its last visible entry (never before that entry's own time), as a
	// vendor bumps a package's modification time whenever anything is appended — also
	// an exact duplicate that carries its original's older time.
	Created, Updated time.Time
	// Terminal: the terminal entry arrived; TerminalAt is its time.
	Terminal   bool
	TerminalAt time.Time
	// Visible is the number of visible entries.
	Visible int
	// lastChange is the arrival of the last visible entry: the log as visible changed then.
	lastChange time.Time
}

// History is the whole deterministic history.
type History struct {
	cfg      Config
	start    time.Time
	entities []*Entity
	total    int
	last     time.Time
}

func (c *Config) defaults() {
	if c.Entities <= 0 {
		c.Entities = 20
	}
	if c.EntriesPerEntity <= 0 {
		c.EntriesPerEntity = 12
	}
	if c.AfterTerminal <= 0 || c.AfterTerminal >= c.EntriesPerEntity {
		c.AfterTerminal = c.EntriesPerEntity / 4
	}
	if c.Concurrent <= 0 {
		c.Concurrent = 20
	}
	simkit.DefaultClock(&c.Now, &c.Seed)
}

// New generates the history; start is the simulator's start.
func New(cfg Config) *History {
	cfg.defaults()
	h := &History{cfg: cfg, start: cfg.Now().UTC()}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x106))
	for i := 0; i < cfg.Entities; i++ {
		e := &Entity{Index: i, R: rng.Uint64()}
		switch x := rng.IntN(20); {
		case x < 15:
			e.Outcome = Completed
		case x < 17:
			e.Outcome = Declined
		case x < 19:
			e.Outcome = Expired
		default:
			e.Outcome = Cancelled
		}
		h.entities = append(h.entities, e)
	}
	h.total = cfg.Entities * cfg.EntriesPerEntity
	terminalSeq := cfg.EntriesPerEntity - cfg.AfterTerminal - 1
	next, active := 0, []*Entity{}
	for i := 0; i < h.total; i++ {
		for len(active) < cfg.Concurrent && next < len(h.entities) {
			active = append(active, h.entities[next])
			next++
		}
		k := rng.IntN(len(active))
		ent := active[k]
		arrival := h.arrival(i)
		seq := len(ent.Entries)
		e := &Entry{Entity: ent.Index, Seq: seq, Time: arrival.Truncate(time.Second), Arrival: arrival, R: rng.Uint64(),
			Terminal: seq == terminalSeq, AfterTerminal: seq > terminalSeq}
		if seq > 0 && !e.Terminal && rng.Float64() < cfg.DuplicateFraction {
			prev := ent.Entries[seq-1]
			if prev.Terminal == e.Terminal {
				e.Time, e.R, e.Duplicate = prev.Time, prev.R, true
			}
		}
		ent.Entries = append(ent.Entries, e)
		if len(ent.Entries) == cfg.EntriesPerEntity {
			active = append(active[:k], active[k+1:]...)
		}
		h.last = arrival
	}
	return h
}

// arrival is the visible-from time of the i-th entry of the whole history.
func (h *History) arrival(i int) time.Time {
	b := h.cfg.Backfill
	if h.cfg.Rate <= 0 {
		b = h.total
	}
	if i < b {
		step := time.Hour / time.Duration(max(b, 1))
		return h.start.Add(-time.Hour + time.Duration(i)*step)
	}
	return h.start.Add(time.Duration(float64(i-b+1) / h.cfg.Rate * float64(time.Second)))
}

// Now is the history's clock.
func (h *History) Now() time.Time { return h.cfg.Now().UTC() }

// Entities returns every entity (listed or not yet).
func (h *History) Entities() []*Entity { return h.entities }

// Total is the number of entries of the whole history.
func (h *History) Total() int { return h.total }

// Done reports whether every entry has arrived.
func (h *History) Done() bool { return !h.Now().Before(h.last) }

// Arrived counts the entries visible at now.
func (h *History) Arrived(now time.Time) int {
	n := 0
	for _, e := range h.entities {
		n += h.StateAt(e, now).Visible
	}
	return n
}

// StateAt says what the vendor would report of e at now.
func (h *History) StateAt(e *Entity, now time.Time) State {
	var st State
	for _, x := range e.Entries {
		if x.Arrival.After(now) {
			continue // entries of one entity arrive in Seq order
		}
		if !st.Listed {
			st.Listed, st.Created = true, x.Time
		}
		st.Visible++
		st.lastChange = x.Arrival
		st.Updated = x.Time
		if x.Arrival.After(st.Updated) {
			st.Updated = x.Arrival
		}
		if x.Terminal {
			st.Terminal, st.TerminalAt = true, x.Time
		}
	}
	return st
}

// VisibleLog returns e's entries visible at now, in Seq order.
func (h *History) VisibleLog(e *Entity, now time.Time) []*Entry {
	var out []*Entry
	for _, x := range e.Entries {
		if !x.Arrival.After(now) {
			out = append(out, x)
		}
	}
	return out
}

// Served records the entries a simulator served in complete answers, keyed so a test can
// compute the raw record ids the pipeline must produce: ServedKey(tenant, entity,
// fingerprint, occurrence), where fingerprint is schemas.Fingerprint of the entry exactly
// as served and occurrence counts identical entries in that answer's log (1, 2, ...).
type Served struct {
	mu sync.Mutex
	// keys maps each served key to when the request that first served it arrived.
	keys map[string]time.Time
	// upTo is, per entity, the history time its last whole answer showed the log at.
	upTo map[*Entity]time.Time
}

// NewServed returns an empty record.
func NewServed() *Served { return &Served{keys: map[string]time.Time{}, upTo: map[*Entity]time.Time{}} }

// Answered records that a whole answer showed e's log as it stood at now.
func (s *Served) Answered(e *Entity, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.After(s.upTo[e]) {
		s.upTo[e] = now
	}
}

// answeredUpTo is the history time of e's latest whole answer (zero: never answered).
func (s *Served) answeredUpTo(e *Entity) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upTo[e]
}

// ServedKey is the key of one served entry: tenant/entity/fingerprint/occurrence.
func ServedKey(tenant, entity, fingerprint string, occurrence int) string {
	return tenant + "/" + entity + "/" + fingerprint + "/" + strconv.Itoa(occurrence)
}

// ParseServedKey splits a key made by ServedKey (the entity may not hold a "/").
func ParseServedKey(k string) (tenant, entity, fingerprint string, occurrence int, err error) {
	i := strings.LastIndexByte(k, '/')
	if i < 0 {
		return "", "", "", 0, fmt.Errorf("served key %q has no occurrence", k)
	}
	if occurrence, err = strconv.Atoi(k[i+1:]); err != nil {
		return "", "", "", 0, fmt.Errorf("served key %q: %w", k, err)
	}
	rest := k[:i]
	j := strings.LastIndexByte(rest, '/')
	if j < 0 {
		return "", "", "", 0, fmt.Errorf("served key %q has no fingerprint", k)
	}
	fingerprint, rest = rest[j+1:], rest[:j]
	l := strings.LastIndexByte(rest, '/')
	if l < 0 {
		return "", "", "", 0, fmt.Errorf("served key %q has no entity", k)
	}
	return rest[:l], rest[l+1:], fingerprint, occurrence, nil
}

// Mark records one answer, to a request that arrived at arrived: the entries of entity's
// log, each as served (fingerprints precomputed by the caller), in the answer's order.
func (s *Served) Mark(tenant, entity string, fingerprints []string, arrived time.Time) {
	seen := map[string]int{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fp := range fingerprints {
		seen[fp]++
		k := ServedKey(tenant, entity, fp, seen[fp])
		if first, ok := s.keys[k]; !ok || arrived.Before(first) {
			s.keys[k] = arrived
		}
	}
}

// Keys returns a copy of the served keys.
func (s *Served) Keys() map[string]bool { return s.KeysBefore(time.Time{}) }

// KeysBefore returns the keys served by a request that arrived before t (zero t: all).
// A test that kills a client learns what was served to it: the keys served by requests
// that arrived before the kill.
func (s *Served) KeysBefore(t time.Time) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.keys))
	for k, at := range s.keys {
		if t.IsZero() || at.Before(t) {
			out[k] = true
		}
	}
	return out
}

// Count is the number of served keys.
func (s *Served) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// Sorted returns the served keys, sorted.
func (s *Served) Sorted() []string {
	keys := s.Keys()
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// RecordIDs turns served keys into the raw record ids the pipeline must publish for
// provider (schemas.RecordID over tenant, entity, fingerprint, occurrence).
func RecordIDs(provider string, keys map[string]bool) (map[string]bool, error) {
	out := make(map[string]bool, len(keys))
	for k := range keys {
		tenant, entity, fp, occ, err := ParseServedKey(k)
		if err != nil {
			return nil, err
		}
		out[schemas.RecordID(provider, tenant, entity, fp, occ)] = true
	}
	return out, nil
}

// Tokens issues opaque tokens that expire after a TTL.
type Tokens struct {
	mu     sync.Mutex
	ttl    time.Duration
	now    func() time.Time
	prefix string
	n      int
	issued map[string]time.Time
}

// NewTokens returns a token issuer.
func NewTokens(prefix string, ttl time.Duration, now func() time.Time) *Tokens {
	return &Tokens{ttl: ttl, now: now, prefix: prefix, issued: map[string]time.Time{}}
}

// Issue returns a new token.
func (t *Tokens) Issue() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	tok := fmt.Sprintf("%s%08d%x", t.prefix, t.n, t.now().UnixNano()&0xffffff)
	t.issued[tok] = t.now().Add(t.ttl)
	return tok
}

// Valid reports whether tok was issued and has not expired (expired ones are dropped).
func (t *Tokens) Valid(tok string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.issued[tok]
	if !ok {
		return false
	}
	if !t.now().Before(exp) {
		delete(t.issued, tok)
		return false
	}
	return true
}

// Revoke drops tok.
func (t *Tokens) Revoke(tok string) {
	t.mu.Lock()
	delete(t.issued, tok)
	t.mu.Unlock()
}

// FaultSettings are the per-request fault probabilities of a simulator's `faults:` block.
type FaultSettings struct {
	TooManyRequests float64         `yaml:"too_many_requests" json:"too_many_requests"`
	ServerError     float64         `yaml:"server_error" json:"server_error"`
	Unavailable     float64         `yaml:"unavailable" json:"unavailable"`
	Slow            float64         `yaml:"slow" json:"slow"`
	Truncated       float64         `yaml:"truncated" json:"truncated"`
	SlowDelay       config.Duration `yaml:"slow_delay" json:"slow_delay"`   // default 2s
	RetryAfter      int             `yaml:"retry_after" json:"retry_after"` // seconds, default 1
}

// Validate lists problems at path.
func (f FaultSettings) Validate(path string, p *config.Problems) {
	if sum := f.TooManyRequests + f.ServerError + f.Unavailable + f.Slow + f.Truncated; sum > 1 || f.TooManyRequests < 0 ||
		f.ServerError < 0 || f.Unavailable < 0 || f.Slow < 0 || f.Truncated < 0 {
		p.Add(path, "probabilities must be >= 0 and sum to at most 1")
	}
	if f.SlowDelay < 0 || f.RetryAfter < 0 {
		p.Add(path, "slow_delay and retry_after must not be negative")
	}
}

// Rendered is an entry in its vendor's shape with its fingerprint.
type Rendered struct {
	Body        []byte
	Fingerprint string
}

// Cache renders each entry once (rendering is a pure function of the entry).
type Cache struct {
	mu     sync.Mutex
	m      map[*Entry]Rendered
	render func(*Entry) []byte
}

// NewCache returns a cache over render.
func NewCache(render func(*Entry) []byte) *Cache {
	return &Cache{m: map[*Entry]Rendered{}, render: render}
}

// Get returns e rendered.
func (c *Cache) Get(e *Entry) Rendered {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.m[e]; ok {
		return r
	}
	b := c.render(e)
	fp, err := schemas.Fingerprint(b)
	if err != nil {
		panic(fmt.Sprintf("logsim: a rendered entry is not JSON: %v", err)) // a simulator bug
	}
	r := Rendered{Body: b, Fingerprint: fp}
	c.m[e] = r
	return r
}

// Stats are the counters every full-log simulator reports on /_sim/stats.
type Stats struct {
	// Total entries of the whole history; Arrived of them are visible now.
	Total   int `json:"total"`
	Arrived int `json:"arrived"`
	// Entities listed now, and how many of them reached their terminal status.
	Listed   int `json:"listed"`
	Terminal int `json:"terminal"`
	// Duplicates is the number of exact duplicates in the whole history.
	Duplicates int `json:"duplicates"`
	// Served is the number of distinct served keys.
	Served int  `json:"served"`
	Done   bool `json:"done"`
	// Pending counts listed entities whose log changed after the last whole answer that
	// showed it (or that were never answered): once the history is Done and Pending is 0,
	// every answer to come repeats served entries, so the served set is final.
	Pending  int            `json:"pending"`
	Requests map[string]int `json:"requests"`
}

// Stats counts the history at now.
func (h *History) Stats(served *Served, ledger *simkit.Ledger) Stats {
	now := h.Now()
	st := Stats{Total: h.total, Served: served.Count(), Requests: ledger.Counts(), Done: h.Done()}
	for _, e := range h.entities {
		s := h.StateAt(e, now)
		st.Arrived += s.Visible
		if s.Listed {
			st.Listed++
		}
		if s.Terminal {
			st.Terminal++
		}
		if s.Listed && served.answeredUpTo(e).Before(s.lastChange) {
			st.Pending++
		}
		for _, x := range e.Entries {
			if x.Duplicate {
				st.Duplicates++
			}
		}
	}
	return st
}

// FetchedKeys computes the served keys of one fetched log (records as a provider's
// LogFetcher returns them): what a simulator marked served for that answer.
func FetchedKeys(tenant, entity string, raws []json.RawMessage) ([]string, error) {
	seen := map[string]int{}
	out := make([]string, 0, len(raws))
	for _, raw := range raws {
		fp, err := schemas.Fingerprint(raw)
		if err != nil {
			return nil, err
		}
		seen[fp]++
		out = append(out, ServedKey(tenant, entity, fp, seen[fp]))
	}
	return out, nil
}
