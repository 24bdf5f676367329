// Package hecserver is a strict contract server of the Splunk HTTP Event Collector (HEC)
// JSON event endpoint, written from Splunk's public HEC documentation ("Format events for
// HTTP Event Collector", "HTTP Event Collector status codes", "About HTTP Event Collector
// Indexer Acknowledgment"). Splunk itself cannot run in the test environment (it is not
// free software and is not in any package registry the project may use); this server
// answers as Splunk does, so the splunk_hec sink's tests exercise the same refusals:
//
//   - Authorization "Splunk <token>": missing → 401 code 2, malformed → 401 code 3, unknown
//     token → 403 code 4, disabled token → 403 code 1.
//   - Tokens with indexer acknowledgement need a channel (X-Splunk-Request-Channel header
//     or ?channel=): missing → 400 code 10, not a GUID → 400 code 11; a successful post
//     answers an ackId, which /services/collector/ack reports true once "indexed".
//     Polling acks on a token without acknowledgement → 400 code 14.
//   - Body: concatenated JSON event objects. Empty → 400 code 5; not JSON or a bad field
//     type → 400 code 6; no "event" → 400 code 12; blank event → 400 code 13; an index the
//     token may not write → 400 code 7; indexed "fields" values that are not strings (or
//     arrays of strings) → 400 code 15. An error answers "invalid-event-number" (0-based);
//     the events before it are indexed, the rest are not.
//   - Busy (injected) → 503 code 9.
//   - A proxy or load balancer in front of HEC (injected, SetFront) → its HTTP status with
//     an HTML body that holds no HEC code.
package hecserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Token is one HEC token's configuration.
type Token struct {
	Disabled bool
	Ack      bool     // indexer acknowledgement on
	Indexes  []string // allowed indexes; empty: any
	// DefaultIndex is used when an event names none (default "main").
	DefaultIndex string
}

// Event is one indexed event.
type Event struct {
	Token      string
	Channel    string
	Time       float64
	Host       string
	Source     string
	Sourcetype string
	Index      string
	Event      json.RawMessage
	Fields     map[string]any
}

// Server is the contract server; use it as an http.Handler.
type Server struct {
	mu     sync.Mutex
	tokens map[string]Token
	events []Event
	// busy: the next n event posts answer 503 code 9.
	busy int
	// acks per channel: next id, and ids not yet reported true with the polls they still need.
	nextAck     map[string]int
	pendingAck  map[string]map[int]int
	ackAfter    int
	requests    int
	maxBodySize int64
	delay       time.Duration
	// front: non-zero, every request is answered by "a proxy in front of HEC" with this
	// status and a plain (non-HEC) body.
	front int
}

// New returns a server that knows tokens.
func New(tokens map[string]Token) *Server {
	return &Server{tokens: tokens, nextAck: map[string]int{}, pendingAck: map[string]map[int]int{}, maxBodySize: 1 << 20}
}

// SetBusy makes the next n event posts answer 503 (code 9, server is busy).
func (s *Server) SetBusy(n int) { s.mu.Lock(); s.busy = n; s.mu.Unlock() }

// SetAckAfter makes each ack id report true only on the n-th poll that asks for it.
func (s *Server) SetAckAfter(n int) { s.mu.Lock(); s.ackAfter = n; s.mu.Unlock() }

// SetMaxBodySize sets the largest request body (Splunk's max_content_length); larger → 413.
func (s *Server) SetMaxBodySize(n int64) { s.mu.Lock(); s.maxBodySize = n; s.mu.Unlock() }

// SetToken adds or changes a token.
func (s *Server) SetToken(name string, t Token) { s.mu.Lock(); s.tokens[name] = t; s.mu.Unlock() }

// DeleteToken removes a token (its requests then answer 403 code 4, invalid token).
func (s *Server) DeleteToken(name string) { s.mu.Lock(); delete(s.tokens, name); s.mu.Unlock() }

// SetFront makes every request answered as a proxy or load balancer in front of HEC would:
// HTTP status with an HTML body and no HEC code; 0 restores HEC's own answers.
func (s *Server) SetFront(status int) { s.mu.Lock(); s.front = status; s.mu.Unlock() }

// SetDelay makes every event post wait d (or until the client gives up) before it is read.
func (s *Server) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// Events returns a copy of the indexed events.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Requests counts event posts.
func (s *Server) Requests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.requests }

// CountByID counts indexed events by fields.event_id.
func (s *Server) CountByID() map[string]int {
	out := map[string]int{}
	for _, e := range s.Events() {
		if id, ok := e.Fields["event_id"].(string); ok {
			out[id]++
		}
	}
	return out
}

func reply(w http.ResponseWriter, status, code int, text string, extra map[string]any) {
	m := map[string]any{"text": text, "code": code}
	for k, v := range extra {
		m[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(m)
}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.front != 0 {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(s.front)
		_, _ = fmt.Fprintf(w, "<html><body><h1>%d %s</h1>nginx</body></html>\n", s.front, http.StatusText(s.front))
		return
	}
	switch r.URL.Path {
	case "/services/collector/health", "/services/collector/health/1.0":
		if s.busy > 0 {
			reply(w, 503, 18, "HEC is unhealthy, queues are full", nil)
			return
		}
		reply(w, 200, 17, "HEC is healthy", nil)
		return
	case "/services/collector/event", "/services/collector/event/1.0", "/services/collector", "/services/collector/ack":
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		reply(w, 401, 2, "Token is required", nil)
		return
	}
	name, ok := strings.CutPrefix(auth, "Splunk ")
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		reply(w, 401, 3, "Invalid authorization", nil)
		return
	}
	tok, ok := s.tokens[name]
	if !ok {
		reply(w, 403, 4, "Invalid token", nil)
		return
	}
	if tok.Disabled {
		reply(w, 403, 1, "Token disabled", nil)
		return
	}
	channel := r.Header.Get("X-Splunk-Request-Channel")
	if channel == "" {
		channel = r.URL.Query().Get("channel")
	}
	if r.URL.Path == "/services/collector/ack" {
		s.ack(w, r, tok, channel)
		return
	}
	if tok.Ack {
		if !channelOK(w, channel) {
			return
		}
	}
	s.requests++
	if d := s.delay; d > 0 {
		s.mu.Unlock()
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		s.mu.Lock()
	}
	if s.busy > 0 {
		s.busy--
		reply(w, 503, 9, "Server is busy", nil)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.maxBodySize+1))
	if err != nil {
		reply(w, 400, 6, "Invalid data format", nil)
		return
	}
	if int64(len(body)) > s.maxBodySize {
		http.Error(w, "Content-Length of request exceeds max_content_length", http.StatusRequestEntityTooLarge)
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		reply(w, 400, 5, "No data", nil)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for n := 0; ; n++ {
		var raw map[string]json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			reply(w, 400, 6, "Invalid data format", map[string]any{"invalid-event-number": n})
			return
		}
		ev, code, text := validate(raw, tok)
		if code != 0 {
			reply(w, 400, code, text, map[string]any{"invalid-event-number": n})
			return
		}
		ev.Token, ev.Channel = name, channel
		s.events = append(s.events, ev) // events before an invalid one are indexed
	}
	if !tok.Ack {
		reply(w, 200, 0, "Success", nil)
		return
	}
	id := s.nextAck[channel]
	s.nextAck[channel] = id + 1
	if s.pendingAck[channel] == nil {
		s.pendingAck[channel] = map[int]int{}
	}
	s.pendingAck[channel][id] = s.ackAfter
	reply(w, 200, 0, "Success", map[string]any{"ackId": id})
}

// channelOK answers HEC's error for a missing or malformed channel and returns false;
// true when channel is a GUID.
func channelOK(w http.ResponseWriter, channel string) bool {
	switch {
	case channel == "":
		reply(w, 400, 10, "Data channel is missing", nil)
	case !guid.MatchString(channel):
		reply(w, 400, 11, "Invalid data channel", nil)
	default:
		return true
	}
	return false
}

func (s *Server) ack(w http.ResponseWriter, r *http.Request, tok Token, channel string) {
	if !tok.Ack {
		reply(w, 400, 14, "ACK is disabled", nil)
		return
	}
	if !channelOK(w, channel) {
		return
	}
	var req struct {
		Acks []int `json:"acks"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Acks == nil {
		reply(w, 400, 6, "Invalid data format", nil)
		return
	}
	out := map[string]bool{}
	pend := s.pendingAck[channel]
	for _, id := range req.Acks {
		left, known := pend[id]
		switch {
		case !known:
			out[strconv.Itoa(id)] = false
		case left <= 1:
			out[strconv.Itoa(id)] = true
			delete(pend, id) // reported once, as Splunk does
		default:
			pend[id] = left - 1
			out[strconv.Itoa(id)] = false
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"acks": out})
}

// validate checks one event object as HEC does.
func validate(raw map[string]json.RawMessage, tok Token) (Event, int, string) {
	var ev Event
	str := func(key string, dst *string) bool {
		v, ok := raw[key]
		if !ok {
			return true
		}
		return json.Unmarshal(v, dst) == nil
	}
	if !str("host", &ev.Host) || !str("source", &ev.Source) || !str("sourcetype", &ev.Sourcetype) || !str("index", &ev.Index) {
		return ev, 6, "Invalid data format"
	}
	if t, ok := raw["time"]; ok {
		var n json.Number
		var s string
		switch {
		case json.Unmarshal(t, &n) == nil:
		case json.Unmarshal(t, &s) == nil:
			n = json.Number(s)
		default:
			return ev, 6, "Invalid data format"
		}
		f, err := n.Float64()
		if err != nil || f < 0 {
			return ev, 6, "Invalid data format"
		}
		ev.Time = f
	}
	e, ok := raw["event"]
	if !ok {
		return ev, 12, "Event field is required"
	}
	if t := bytes.TrimSpace(e); bytes.Equal(t, []byte("null")) || bytes.Equal(t, []byte(`""`)) || len(t) == 0 {
		return ev, 13, "Event field cannot be blank"
	}
	ev.Event = e
	if f, ok := raw["fields"]; ok {
		if err := json.Unmarshal(f, &ev.Fields); err != nil {
			return ev, 15, "Error in handling indexed fields"
		}
		for _, v := range ev.Fields {
			switch x := v.(type) {
			case string:
			case []any:
				for _, y := range x {
					if _, ok := y.(string); !ok {
						return ev, 15, "Error in handling indexed fields"
					}
				}
			default:
				return ev, 15, "Error in handling indexed fields"
			}
		}
	}
	if ev.Index == "" {
		ev.Index = tok.DefaultIndex
		if ev.Index == "" {
			ev.Index = "main"
		}
	}
	if len(tok.Indexes) > 0 && !slices.Contains(tok.Indexes, ev.Index) {
		return ev, 7, "Incorrect index"
	}
	return ev, 0, ""
}

// String describes the server state (for test failure messages).
func (s *Server) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("hecserver: %d events, %d requests", len(s.events), s.requests)
}
