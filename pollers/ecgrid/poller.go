package ecgrid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/backoff"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/window"
	"github.com/auditstream/auditstream/schemas"
)

// Name is the provider name (audit.raw.ecgrid).
const Name = "ecgrid"

// Options are the transport settings (from the poller's `http:` block).
type Options struct {
	Timeout      time.Duration // per request (default 30s)
	MaxRetries   int           // retries of one call after the first attempt (default 5)
	MaxBodyBytes int64         // response size cap (default 32 MiB)
	Transport    http.RoundTripper
}

// maxOwn bounds the remembered ids of the poller's own login sessions.
const maxOwn = 1000

// Source polls the SessionLog of each configured user.
type Source struct {
	cfg    Config
	client *Client
	log    *slog.Logger
	m      *metrics.Metrics
	name   string
	now    func() time.Time

	mu       sync.Mutex
	sid      string // current login session ("" = none)
	gen      int    // bumped at every login
	own      map[string]bool
	ownOrder []string

	store   *sessionStore // nil without session_dir
	orphans []string      // sessions of this user to log out (from session_dir)
	// After a TooManySessions refusal no Login is tried before limitUntil.
	limitUntil   time.Time
	limitErr     error
	limitBackoff *backoff.Backoff
}

// Delays between Logins refused with TooManySessions (doubling, jittered).
const (
	sessionLimitBackoffMin = 30 * time.Second
	sessionLimitBackoffMax = 15 * time.Minute
)

// New builds the ECGridOS source. cfg must be validated (SetDefaults applied).
func New(name string, cfg Config, opt Options, log *slog.Logger, m *metrics.Metrics) (*Source, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 5
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = DefaultMaxBodyBytes
	}
	log = log.With("poller", name, "provider", Name)
	ep := Endpoint{URL: cfg.Endpoint, Namespace: cfg.Namespace, Timeout: opt.Timeout, MaxBody: opt.MaxBodyBytes,
		Transport: opt.Transport, Observe: observer(m)}
	var caller Caller
	if cfg.SOAPVersion == "1.2" {
		caller = NewSoap12Caller(ep)
	} else {
		c, err := NewGosoapCaller(ep, []string{cfg.Methods.Login, cfg.Methods.Logout, cfg.Methods.SessionLog, cfg.Methods.SessionLogEx})
		if err != nil {
			return nil, err
		}
		caller = c
	}
	methods := Methods{Login: cfg.Methods.Login, Logout: cfg.Methods.Logout, SessionLog: cfg.Methods.SessionLog,
		SessionLogEx: cfg.Methods.SessionLogEx, LoginParam: cfg.Methods.LoginParam}
	s := &Source{cfg: cfg, client: NewClient(caller, methods, opt.MaxRetries, cfg.BackoffMin.D(), cfg.BackoffMax.D(), log),
		log: log, m: m, name: name, now: time.Now, own: map[string]bool{},
		limitBackoff: backoff.New(sessionLimitBackoffMin, sessionLimitBackoffMax)}
	if cfg.SessionDir != "" && cfg.APIKey == "" {
		st, state, err := openSessionStore(cfg.SessionDir, cfg.Endpoint, cfg.Login, log)
		if err != nil {
			return nil, err
		}
		s.store, s.orphans = st, state.Orphans
		for _, id := range state.Orphans {
			s.markOwn(id)
		}
		if state.SessionID != "" {
			// Validated by the first call that needs it: an expired one logs in again.
			s.sid, s.gen = state.SessionID, 1
			s.markOwn(state.SessionID)
			log.Info("reusing the ECGridOS session kept in session_dir", "login", cfg.Login, "slot", st.slot)
		}
	}
	return s, nil
}

// markOwn remembers a login session of this poller (caller holds mu or owns s alone).
func (s *Source) markOwn(sid string) {
	if s.own[sid] {
		return
	}
	s.own[sid] = true
	s.ownOrder = append(s.ownOrder, sid)
	if len(s.ownOrder) > maxOwn {
		delete(s.own, s.ownOrder[0])
		s.ownOrder = s.ownOrder[1:]
	}
}

// persist saves the session state in session_dir (caller holds mu). A failure is logged:
// the poller goes on with the session in memory.
func (s *Source) persist() {
	if s.store == nil {
		return
	}
	if err := s.store.save(sessionState{SessionID: s.sid, Orphans: s.orphans}); err != nil {
		s.log.Warn("cannot keep the ECGridOS session in session_dir; a crash leaves it open until the provider's idle timeout", "err", err)
	}
}

// logoutOrphans logs out, best effort, the sessions session_dir named as no longer used
// (caller holds mu). Each is tried once: one that cannot be logged out expires at the
// provider's idle timeout.
func (s *Source) logoutOrphans(ctx context.Context) {
	if len(s.orphans) == 0 {
		return
	}
	n := 0
	for _, id := range s.orphans {
		err := s.client.Logout(ctx, id)
		switch {
		case err == nil:
			n++
		case errors.Is(err, ErrSessionExpired):
			// already ended
		default:
			s.log.Warn("cannot log out an orphaned ECGridOS session; it expires at the provider's idle timeout", "login", s.cfg.Login, "err", err)
		}
	}
	if n > 0 {
		s.log.Info("logged out orphaned ECGridOS sessions", "login", s.cfg.Login, "count", n)
	}
	s.orphans = nil
	s.persist()
}

// Targets returns one target per configured user; the tenant is the network id.
func (s *Source) Targets(context.Context) ([]pollers.Target, error) {
	out := make([]pollers.Target, 0, len(s.cfg.Users))
	for _, u := range s.cfg.Users {
		out = append(out, pollers.Target{Tenant: s.cfg.NetworkID, Entity: strconv.Itoa(u)})
	}
	return out, nil
}

// session returns a valid session id and its generation, logging in when needed.
func (s *Source) session(ctx context.Context) (string, int, error) {
	if s.cfg.APIKey != "" {
		return s.cfg.APIKey.Reveal(), 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logoutOrphans(ctx) // frees their places before a Login counts against the limit
	if s.sid != "" {
		return s.sid, s.gen, nil
	}
	if now := s.now(); now.Before(s.limitUntil) {
		return "", 0, fmt.Errorf("no ECGridOS Login as %s before %s: the user's limit of open sessions was reached (TooManySessions); "+
			"waiting for sessions to end rather than asking again: %w", s.cfg.Login, s.limitUntil.UTC().Format(time.RFC3339), s.limitErr)
	}
	sid, err := s.client.Login(ctx, s.cfg.Login, s.cfg.Password.Reveal())
	if errors.Is(err, ErrSessionLimit) {
		d := s.limitBackoff.Next()
		s.limitUntil, s.limitErr = s.now().Add(d), err
		hint := "set settings.session_dir so a restarted poller reuses its session and logs out the ones it left"
		if s.store != nil {
			hint = "session_dir is set, so other processes or clients of this user hold them"
		}
		return "", 0, fmt.Errorf("ECGridOS refused a new session: the limit of open sessions per user is reached (TooManySessions) for %s. "+
			"Open sessions (of crashed pollers, other processes or people using this user) end at logout or at the provider's idle timeout; "+
			"give the poller a user of its own, or %s. Next Login in %s at the earliest: %w",
			s.cfg.Login, hint, d.Round(time.Second), err)
	}
	if err != nil {
		return "", 0, err
	}
	s.limitBackoff.Reset()
	s.limitUntil, s.limitErr = time.Time{}, nil
	s.sid = sid
	s.gen++
	s.markOwn(sid)
	s.persist()
	s.log.Info("logged in to ECGridOS", "login", s.cfg.Login)
	return sid, s.gen, nil
}

// withSession runs fn with a session, logging in again once when the session expired.
func (s *Source) withSession(ctx context.Context, fn func(sid string) error) error {
	for attempt := 0; ; attempt++ {
		sid, gen, err := s.session(ctx)
		if err != nil {
			return err
		}
		err = fn(sid)
		if !errors.Is(err, ErrSessionExpired) || s.cfg.APIKey != "" || attempt > 0 {
			return err
		}
		s.mu.Lock()
		if s.gen == gen {
			s.sid = ""
		}
		s.mu.Unlock()
		s.log.Info("ECGridOS session expired; logging in again")
	}
}

func (s *Source) isOwn(sid string) bool {
	if sid == "" {
		return false
	}
	if s.cfg.APIKey != "" && sid == s.cfg.APIKey.Reveal() {
		return true // never publish the API key
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.own[sid]
}

// Close logs out of the login session (implements pollers.Closer) and releases the
// session_dir slot. A session whose Logout fails stays in session_dir for the next start.
func (s *Source) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		s.store.close()
		s.store = nil
	}()
	s.logoutOrphans(ctx)
	sid := s.sid
	s.sid = ""
	if sid == "" {
		return nil
	}
	if err := s.client.Logout(ctx, sid); err != nil && !errors.Is(err, ErrSessionExpired) {
		return fmt.Errorf("ecgridos logout: %w", err) // session_dir keeps it for the next start
	}
	s.persist()
	s.log.Info("logged out of ECGridOS")
	return nil
}

// Cursor is the SessionLog-mode checkpoint of one user.
type Cursor struct {
	V int `json:"v"`
	// Watermark is the newest Created seen (for the freshness metric).
	Watermark time.Time `json:"watermark"`
	// Seen holds the keys (SessionIDs) of the last answers, newest first, at most
	// 2×MaxRecords.
	Seen []string `json:"seen"`
}

// decodeCursor reads a SessionLog cursor; a window cursor (SessionLogEx mode) is converted.
func decodeCursor(raw json.RawMessage) (*Cursor, error) {
	if raw == nil {
		return nil, nil
	}
	var w struct {
		V         int             `json:"v"`
		Watermark time.Time       `json:"watermark"`
		Seen      json.RawMessage `json:"seen"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("ecgrid cursor: %w", err)
	}
	if w.V != 1 {
		return nil, fmt.Errorf("ecgrid cursor: unsupported version %d", w.V)
	}
	c := &Cursor{V: 1, Watermark: w.Watermark}
	if len(w.Seen) > 0 && w.Seen[0] == '{' {
		var m map[string]int64
		if err := json.Unmarshal(w.Seen, &m); err != nil {
			return nil, fmt.Errorf("ecgrid cursor: %w", err)
		}
		for id := range m {
			c.Seen = append(c.Seen, id)
		}
		sort.Slice(c.Seen, func(i, j int) bool { return m[c.Seen[i]] > m[c.Seen[j]] })
	} else if len(w.Seen) > 0 && string(w.Seen) != "null" {
		if err := json.Unmarshal(w.Seen, &c.Seen); err != nil {
			return nil, fmt.Errorf("ecgrid cursor: %w", err)
		}
	}
	return c, nil
}

// Poll fetches what is new for one user.
func (s *Source) Poll(ctx context.Context, t pollers.Target, cursor json.RawMessage, emit pollers.Emit) (pollers.Outcome, error) {
	uid, err := strconv.Atoi(t.Entity)
	if err != nil {
		return pollers.Outcome{}, fmt.Errorf("target %q is not a user id", t.Entity)
	}
	if s.cfg.SessionLogEx {
		return pollers.Outcome{}, s.pollWindows(ctx, uid, cursor, emit)
	}
	return s.pollLog(ctx, uid, cursor, emit)
}

func record(r SessionInfo) pollers.Record {
	return pollers.Record{NativeID: r.SessionID, Time: r.Created, ContentType: schemas.ContentXML, Raw: r.Raw}
}

// pollLog applies the SessionLog rule: the answer is the newest MaxRecords sessions; rows
// already in the cursor are dropped; a full answer with no row already seen may have
// missed sessions (a gap): it is logged, counted and the user polled again at once.
func (s *Source) pollLog(ctx context.Context, uid int, raw json.RawMessage, emit pollers.Emit) (pollers.Outcome, error) {
	cur, err := decodeCursor(raw)
	if err != nil {
		return pollers.Outcome{}, err
	}
	first := cur == nil
	if first {
		cur = &Cursor{V: 1}
	}
	var rows []SessionInfo
	err = s.withSession(ctx, func(sid string) error {
		var err error
		rows, err = s.client.SessionLog(ctx, sid, uid, s.cfg.MaxRecords)
		return err
	})
	if err != nil {
		return pollers.Outcome{}, fmt.Errorf("user %d: %w", uid, err)
	}
	seen := make(map[string]bool, len(cur.Seen))
	for _, id := range cur.Seen {
		seen[id] = true
	}
	// Newest first, so the bounded seen list keeps the newest.
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Created.After(rows[j].Created) })
	var recs []pollers.Record
	overlap, own := false, 0
	keys := make([]string, 0, len(rows))
	inAnswer := map[string]bool{}
	for _, r := range rows {
		k := r.Key()
		if inAnswer[k] {
			continue // the same row twice in one answer
		}
		inAnswer[k] = true
		keys = append(keys, k)
		if r.Created.After(cur.Watermark) {
			cur.Watermark = r.Created
		}
		if seen[k] {
			overlap = true
			continue
		}
		if s.isOwn(r.SessionID) {
			own++
			continue
		}
		recs = append(recs, record(r))
	}
	for _, id := range cur.Seen {
		if !inAnswer[id] {
			keys = append(keys, id)
		}
	}
	if limit := 2 * s.cfg.MaxRecords; len(keys) > limit {
		keys = keys[:limit]
	}
	cur.Seen = keys
	b, err := json.Marshal(cur)
	if err != nil {
		return pollers.Outcome{}, err
	}
	if err := emit(ctx, recs, b); err != nil {
		return pollers.Outcome{}, err
	}
	if own > 0 {
		s.log.Debug("own login sessions left out", "user", uid, "count", own)
	}
	if len(rows) >= s.cfg.MaxRecords && !overlap {
		if first {
			s.log.Info("first poll returned a full page: older sessions are beyond SessionLog's reach", "user", uid, "max_records", s.cfg.MaxRecords)
			return pollers.Outcome{}, nil
		}
		s.m.PollGaps.WithLabelValues(s.name, Name).Inc()
		s.log.Warn("possible gap: a full SessionLog answer with no session seen before; polling again sooner (lower the schedule interval or raise max_records)",
			"user", uid, "max_records", s.cfg.MaxRecords)
		return pollers.Outcome{Again: true}, nil
	}
	return pollers.Outcome{}, nil
}

// pollWindows applies the shared window rule with SessionLogEx.
func (s *Source) pollWindows(ctx context.Context, uid int, raw json.RawMessage, emit pollers.Emit) error {
	if _, err := window.Decode(raw); err != nil {
		// A SessionLog-mode cursor: carry its watermark and seen ids over.
		c, err2 := decodeCursor(raw)
		if err2 != nil || c.Watermark.IsZero() {
			return err
		}
		wc := window.Cursor{V: 1, Watermark: c.Watermark, Seen: map[string]int64{}}
		for _, id := range c.Seen {
			wc.Seen[id] = c.Watermark.UnixMilli()
		}
		raw, _ = json.Marshal(wc)
	}
	st, err := window.Poll(ctx, s.cfg.Window.Config(s.cfg.MaxRecords), s.now(), raw, func(ctx context.Context, start, end time.Time, page func([]window.Entry) error) error {
		var rows []SessionInfo
		err := s.withSession(ctx, func(sid string) error {
			var err error
			rows, err = s.client.SessionLogEx(ctx, sid, uid, start, end, s.cfg.MaxRecords)
			return err
		})
		if err != nil {
			return err
		}
		if len(rows) >= s.cfg.MaxRecords {
			return fmt.Errorf("%d rows: %w", len(rows), window.ErrTooMany)
		}
		entries := make([]window.Entry, 0, len(rows))
		for _, r := range rows {
			if s.isOwn(r.SessionID) {
				continue
			}
			entries = append(entries, window.Entry{ID: r.Key(), Time: r.Created, Record: record(r)})
		}
		return page(entries)
	}, emit, s.log)
	if st.Splits > 0 {
		s.log.Info("windows split at the SessionLogEx cap", "user", uid, "splits", st.Splits)
	}
	if err != nil {
		return fmt.Errorf("user %d: %w", uid, err)
	}
	return nil
}
