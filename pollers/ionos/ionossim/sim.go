// Package ionossim is a faithful simulator of the IONOS Cloud Activity Log API
// (as its public documentation describes it) for tests, benchmarks and `auditstream sim`.
//
// Behaviour, where public docs are silent, chosen and documented here:
//   - GET /activitylog/v1/contracts → [{id, type, href}].
//   - GET /activitylog/v1/contracts/{n}?dateStart&dateEnd&offset&limit (startDate/endDate
//     accepted too): dateStart inclusive, dateEnd exclusive; offset default 0, limit
//     default 20, offset+limit ≤ 10000 (else 400, Elasticsearch-style).
//   - Hits are ordered by @uuid, i.e. not by time, stably across pages.
//   - Auth: Bearer <token> or Basic; anything else is 401.
//   - Type drift: contractNumber is a string or a number, auditVersion "0.1" or 1.
//   - Late events: a share of events becomes visible up to MaxLate after its time,
//     inside windows a poller may already have read.
//   - Faults (per request, seeded): 429 with Retry-After, 500, 503, slow answers,
//     truncated JSON with status 200.
//
// Control endpoints for tests (no auth): GET /_sim/served (the @uuids served in complete
// 200 answers), GET /_sim/stats, PUT /_sim/faults.
package ionossim

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/pollers/simkit"
)

// Faults are per-request probabilities (0..1).
type Faults struct {
	TooManyRequests float64       `json:"too_many_requests" yaml:"too_many_requests"`
	ServerError     float64       `json:"server_error" yaml:"server_error"`
	Unavailable     float64       `json:"unavailable" yaml:"unavailable"`
	Slow            float64       `json:"slow" yaml:"slow"`
	Truncated       float64       `json:"truncated" yaml:"truncated"`
	SlowDelay       time.Duration `json:"slow_delay" yaml:"slow_delay"`   // default 2s
	RetryAfter      int           `json:"retry_after" yaml:"retry_after"` // seconds, default 1
}

// Config of the simulator.
type Config struct {
	Token     string
	Username  string
	Password  string
	Contracts []string
	// Seed makes the event history and the faults deterministic (0 = random per start).
	Seed uint64
	// Rate is new events per second over all contracts.
	Rate float64
	// MaxEvents stops generation after this many events (0 = no limit).
	MaxEvents int
	// Backfill is how many events exist before the simulator starts (spread over the
	// hour before start).
	Backfill int
	// LateFraction of events become visible up to MaxLate after their time.
	LateFraction float64
	MaxLate      time.Duration
	// MaxResults caps offset+limit (default 10000).
	MaxResults int
	// TotalStyle is how hits.total is written: "" a number; "es7" Elasticsearch 7's
	// {"value": n, "relation": "eq"}, capped at TrackTotalHits with relation "gte";
	// "none" no total at all.
	TotalStyle     string
	TrackTotalHits int // default 10000
	// MaxLimit silently clamps limit (0 = no clamp), as some servers do.
	MaxLimit int
	Faults   Faults
	// Now is the clock (default time.Now).
	Now func() time.Time
}

type event struct {
	uuid     string
	contract string
	t        time.Time
	arrival  time.Time
	body     []byte
}

// Sim is the simulator; it is an http.Handler.
type Sim struct {
	cfg   Config
	mux   *http.ServeMux
	start time.Time

	mu     sync.Mutex
	rng    *rand.Rand // event generation
	frng   *rand.Rand // faults
	faults Faults
	stream *simkit.Stream
	// byContr holds each contract's events sorted by time, so a request finds its window
	// by binary search (cost grows with the window, not with the history); the answer's
	// uuid order is made per request from the window's events.
	byContr map[string][]*event
	ledger  *simkit.Ledger
}

// New builds a simulator.
func New(cfg Config) *Sim {
	if len(cfg.Contracts) == 0 {
		cfg.Contracts = []string{"31721060"}
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 5
	}
	if cfg.MaxResults <= 0 {
		cfg.MaxResults = 10000
	}
	simkit.DefaultClock(&cfg.Now, &cfg.Seed)
	s := &Sim{
		cfg: cfg, mux: http.NewServeMux(), start: cfg.Now().UTC(),
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x10c05)), frng: rand.New(rand.NewPCG(cfg.Seed, 0xfa17)),
		faults: cfg.Faults, byContr: map[string][]*event{}, ledger: simkit.NewLedger(),
	}
	s.stream = simkit.NewStream(s.start, cfg.Rate, cfg.MaxEvents, cfg.Backfill,
		func(t time.Time) { s.add(t, false) }, func(t time.Time) { s.add(t, true) })
	s.mux.HandleFunc("GET /activitylog/v1/contracts", s.contracts)
	s.mux.HandleFunc("GET /activitylog/v1/contracts/{contract}", s.entries)
	simkit.Control[Faults]{Served: func(w http.ResponseWriter, _ *http.Request) { s.ledger.WriteServed(w) },
		Stats: func() any { return s.Stats() }, SetFaults: s.SetFaults, Error: apiError}.Register(s.mux, "")
	return s
}

func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetFaults replaces the fault probabilities.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

func (s *Sim) add(t time.Time, mayBeLate bool) {
	r := s.rng
	c := s.cfg.Contracts[r.IntN(len(s.cfg.Contracts))]
	t = t.Add(time.Duration(r.Int64N(int64(time.Millisecond)))).Truncate(time.Millisecond)
	arrival := t
	if mayBeLate && s.cfg.MaxLate > 0 && r.Float64() < s.cfg.LateFraction {
		arrival = t.Add(time.Duration(r.Int64N(int64(s.cfg.MaxLate)) + 1))
	}
	id := simkit.UUID(r)
	e := &event{uuid: id, contract: c, t: t, arrival: arrival, body: s.body(id, c, t)}
	// Times come nearly in order (within a millisecond), not quite.
	s.byContr[c] = simkit.Insert(s.byContr[c], e, func(a, b *event) bool { return a.t.Before(b.t) })
}

var (
	actions = []struct{ action, typ string }{
		{"sec.user.create", "user"}, {"sec.user.delete", "user"}, {"sec.group.update", "group"},
		{"cloud.server.create", "server"}, {"cloud.server.stop", "server"}, {"cloud.volume.delete", "volume"},
		{"dbaas.cluster.create", "cluster"}, {"s3.bucket.policy.update", "bucket"},
	}
	services = []string{"DCD", "CloudAPI", "SDK-Go", "Terraform", "ExampleService"}
	types    = []string{"RequestAccepted", "RequestAccepted", "RequestAccepted", "RequestDenied", "RequestFailed"}
)

// body renders an entry: the JSON encoding/json writes for it (keys sorted), built
// directly — at thousands of events per second the simulator shares the pipeline's
// process in benchmarks, and a map per entry through encoding/json cost more than the
// poller reading it.
func (s *Sim) body(id, contract string, t time.Time) []byte {
	r := s.rng
	a := actions[r.IntN(len(actions))]
	cn, err := json.Marshal(contract)
	if err != nil {
		cn = []byte(`""`)
	}
	if r.IntN(4) == 0 {
		if n, err := strconv.ParseInt(contract, 10, 64); err == nil {
			cn = strconv.AppendInt(nil, n, 10) // type drift: a number
		}
	}
	av := `"0.1"`
	if r.IntN(5) == 0 {
		av = "1"
	}
	// The draws keep their order (requestId, sourceIP, username, sourceService, resource
	// id, type): a seed gives the same history as before.
	reqID, ip, user, svc := r.Uint32(), r.IntN(254)+1, r.IntN(40), services[r.IntN(len(services))]
	resID, typ := r.IntN(100000), types[r.IntN(len(types))]
	b := make([]byte, 0, 512)
	b = append(b, `{"@uuid":"`...)
	b = append(b, id...)
	b = append(b, `","event":{"param":{},"resources":[{"action":["`...)
	b = append(b, a.action...)
	b = append(b, `"],"id":"`...)
	b = strconv.AppendInt(b, int64(resID), 10)
	b = append(b, `","type":"`...)
	b = append(b, a.typ...)
	b = append(b, `"}],"type":"`...)
	b = append(b, typ...)
	b = append(b, `"},"meta":{"auditVersion":`...)
	b = append(b, av...)
	b = fmt.Appendf(b, `,"requestId":"req-%08x","time":"`, reqID)
	b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `"},"principal":{"identity":{"contractNumber":`...)
	b = append(b, cn...)
	b = fmt.Appendf(b, `,"username":"user%d@example.com"},"sourceIP":"203.0.113.%d","sourceService":"`, user, ip)
	b = append(b, svc...)
	b = append(b, `"}}`...)
	return b
}

func (s *Sim) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if s.cfg.Token != "" && h == "Bearer "+s.cfg.Token {
		return true
	}
	if u, p, ok := r.BasicAuth(); ok && s.cfg.Username != "" && u == s.cfg.Username && p == s.cfg.Password {
		return true
	}
	return false
}

func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"httpStatus": code, "messages": []any{map[string]string{"errorCode": strconv.Itoa(code), "message": msg}}})
}

// fault applies an injected fault; it reports whether the request was answered, and
// whether the body must be truncated.
func (s *Sim) fault(w http.ResponseWriter, r *http.Request, path string) (answered, truncate bool) {
	s.mu.Lock()
	f := s.faults
	x := s.frng.Float64()
	s.mu.Unlock()
	s.ledger.Count(path)
	ra := f.RetryAfter
	if ra <= 0 {
		ra = 1
	}
	switch simkit.Pick(x, f.TooManyRequests, f.ServerError, f.Unavailable, f.Slow, f.Truncated) {
	case 0:
		s.ledger.Count("fault_429")
		w.Header().Set("Retry-After", strconv.Itoa(ra))
		apiError(w, http.StatusTooManyRequests, "rate limit exceeded")
		return true, false
	case 1:
		s.ledger.Count("fault_500")
		apiError(w, http.StatusInternalServerError, "internal error")
		return true, false
	case 2:
		s.ledger.Count("fault_503")
		apiError(w, http.StatusServiceUnavailable, "service unavailable")
		return true, false
	case 3:
		s.ledger.Count("fault_slow")
		return !simkit.SlowDown(r, f.SlowDelay), false
	case 4:
		s.ledger.Count("fault_truncated")
		return false, true
	}
	return false, false
}

func (s *Sim) contracts(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		apiError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if done, _ := s.fault(w, r, "contracts"); done {
		return
	}
	var out []map[string]string
	for _, c := range s.cfg.Contracts {
		out = append(out, map[string]string{"id": c, "type": "contract", "href": "/activitylog/v1/contracts/" + c})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", v)
}

func (s *Sim) entries(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		apiError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	contract := r.PathValue("contract")
	known := false
	for _, c := range s.cfg.Contracts {
		known = known || c == contract
	}
	if !known {
		apiError(w, http.StatusNotFound, "contract "+contract+" not found")
		return
	}
	q := r.URL.Query()
	get := func(a, b string) string {
		if v := q.Get(a); v != "" {
			return v
		}
		return q.Get(b)
	}
	var from, to time.Time
	var err error
	if v := get("dateStart", "startDate"); v != "" {
		if from, err = parseTime(v); err != nil {
			apiError(w, http.StatusBadRequest, "dateStart: "+err.Error())
			return
		}
	}
	if v := get("dateEnd", "endDate"); v != "" {
		if to, err = parseTime(v); err != nil {
			apiError(w, http.StatusBadRequest, "dateEnd: "+err.Error())
			return
		}
	}
	offset, limit := 0, 20
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			apiError(w, http.StatusBadRequest, "offset must be a non-negative integer")
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			apiError(w, http.StatusBadRequest, "limit must be a positive integer")
			return
		}
	}
	if s.cfg.MaxLimit > 0 && limit > s.cfg.MaxLimit {
		limit = s.cfg.MaxLimit
	}
	if offset+limit > s.cfg.MaxResults {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("offset + limit must be <= %d", s.cfg.MaxResults))
		return
	}
	answered, truncate := s.fault(w, r, "entries")
	if answered {
		return
	}
	now := s.cfg.Now().UTC()
	s.mu.Lock()
	s.stream.Advance(now)
	list := s.byContr[contract]
	lo, hi := 0, len(list)
	if !from.IsZero() {
		lo = sort.Search(len(list), func(i int) bool { return !list[i].t.Before(from) })
	}
	if !to.IsZero() {
		hi = max(lo, sort.Search(len(list), func(i int) bool { return !list[i].t.Before(to) }))
	}
	match := make([]*event, 0, hi-lo)
	for _, e := range list[lo:hi] {
		if !e.arrival.After(now) {
			match = append(match, e)
		}
	}
	// Hits are ordered by @uuid, stably across pages.
	sort.Slice(match, func(i, j int) bool { return match[i].uuid < match[j].uuid })
	total := len(match)
	if offset > total {
		offset = total
	}
	page := match[offset:min(offset+limit, total)]
	var sb strings.Builder
	n := 64
	for _, e := range page {
		n += len(e.body) + 40
	}
	sb.Grow(n)
	switch s.cfg.TotalStyle {
	case "es7":
		track := s.cfg.TrackTotalHits
		if track <= 0 {
			track = 10000
		}
		if total > track {
			fmt.Fprintf(&sb, `{"hits":{"total":{"value":%d,"relation":"gte"},"hits":[`, track)
		} else {
			fmt.Fprintf(&sb, `{"hits":{"total":{"value":%d,"relation":"eq"},"hits":[`, total)
		}
	case "none":
		sb.WriteString(`{"hits":{"hits":[`)
	default:
		fmt.Fprintf(&sb, `{"hits":{"total":%d,"hits":[`, total)
	}
	for i, e := range page {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"_index":"activitylog","_source":`)
		sb.Write(e.body)
		sb.WriteByte('}')
	}
	sb.WriteString("]}}")
	body := sb.String()
	if truncate {
		body = body[:len(body)/2]
	} else {
		for _, e := range page {
			s.ledger.MarkServed(e.uuid)
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, body)
}

// Served returns the @uuids served at least once in a complete answer.
func (s *Sim) Served() map[string]bool { return s.ledger.Served() }

// Generated returns the @uuids of every generated event, visible or not yet.
func (s *Sim) Generated() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stream.Advance(s.cfg.Now().UTC())
	out := make(map[string]bool, s.stream.Generated)
	for _, l := range s.byContr {
		for _, e := range l {
			out[e.uuid] = true
		}
	}
	return out
}

// Stats of the simulator.
type Stats struct {
	Generated int `json:"generated"`
	Late      int `json:"late"`
	Visible   int `json:"visible"`
	simkit.LedgerStats
}

// Stats returns counters (and generates the events whose time has come).
func (s *Sim) Stats() Stats {
	now := s.cfg.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stream.Advance(now)
	st := Stats{Generated: s.stream.Generated, LedgerStats: s.ledger.Stats()}
	for _, l := range s.byContr {
		for _, e := range l {
			if !e.arrival.After(now) {
				st.Visible++
			}
			if e.arrival.After(e.t) {
				st.Late++
			}
		}
	}
	return st
}

// Done reports whether generation is finished and every event is visible.
func (s *Sim) Done() bool {
	st := s.Stats()
	return s.cfg.MaxEvents > 0 && st.Generated >= s.cfg.MaxEvents && st.Visible == st.Generated
}
