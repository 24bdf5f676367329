// Package ecgridsim is a faithful simulator of the ECGridOS SOAP service
// (as its public API description documents it) for tests, benchmarks and `auditstream sim`.
//
// Behaviour, where public docs are silent, chosen and documented here:
//   - POST <path> with SOAP 1.1 (text/xml, SOAPAction "<ns><Method>") or SOAP 1.2
//     (application/soap+xml; action=...); GET <path>?WSDL returns a WSDL with both bindings.
//   - Login(Email|LoginName, Password) → a new session GUID; Logout(SessionID);
//     SessionLog(SessionID, UserID, MaxRecords) → the newest MaxRecords sessions of the user
//     (0 = self), newest first; SessionLogEx(SessionID, UserID, StartTime, EndTime,
//     MaxRecords ≤ 100) → the sessions created in [StartTime, EndTime), oldest first.
//   - Every Login is itself a session in the history (Created = login time, Expires = the
//     idle expiry at that time, or the logout time).
//   - Sessions expire after IdleTimeout without a call; at most MaxSessionsPerUser open
//     sessions per user (Login beyond is a TooManySessions fault). An API key is accepted
//     wherever a SessionID goes.
//   - Integer parameters must hold an integer: an empty <UserID/> (gosoap's int trap) is
//     an InvalidParameter fault. A wrong namespace or SOAPAction is a soap:Client fault.
//   - Faults: HTTP 500 with soap:Fault (1.1: faultcode/faultstring/detail, 1.2:
//     Code/Reason/Detail), the detail carrying ErrorCode, ErrorString, ErrorItem,
//     ErrorMessage. Error codes: AuthenticationFailed, SessionTimeout, TooManySessions,
//     InvalidParameter, AccessDenied, InternalError.
//   - Injectable faults (per SOAP request, seeded): server fault, malformed XML (200),
//     an answer in another namespace (https://os.ecgrid.io/, complete and correct), a slow
//     answer, HTTP 500 without a body, and the caller's session expiring.
//
// Control endpoints for tests (no auth): GET /_sim/served (the SessionIDs of history
// sessions served in complete answers), GET /_sim/stats.
package ecgridsim

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/pollers/simkit"
)

// Namespaces.
const (
	DefaultNamespace = "http://www.ecgridos.net/"
	OtherNamespace   = "https://os.ecgrid.io/"
	soap11NS         = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12NS         = "http://www.w3.org/2003/05/soap-envelope"
)

// User is an account of the simulated network.
type User struct {
	ID        int    `yaml:"id"`
	Login     string `yaml:"login"` // empty: cannot log in
	Password  string `yaml:"password"`
	NetworkID int    `yaml:"network_id"`
	MailboxID int    `yaml:"mailbox_id"`
}

// Faults are per-request probabilities (0..1).
type Faults struct {
	ServerFault    float64
	Malformed      float64
	WrongNamespace float64
	Slow           float64
	EmptyError     float64 // HTTP 500 without a body
	ExpireSession  float64 // the caller's session expires just before the call
	SlowDelay      time.Duration
}

// Config of the simulator.
type Config struct {
	Users []User
	// APIKey (with APIKeyUser) is accepted as a SessionID.
	APIKey     string
	APIKeyUser int
	Namespace  string // default http://www.ecgridos.net/
	// Seed makes the history and the faults deterministic (0 = random per start).
	Seed uint64
	// Rate is new history sessions per second over all users; MaxEvents stops generation.
	Rate      float64
	MaxEvents int
	// Backfill sessions exist before start (spread over the hour before).
	Backfill           int
	IdleTimeout        time.Duration // default 20m
	MaxSessionsPerUser int           // default 5
	Faults             Faults
	Now                func() time.Time
}

type session struct {
	id       string
	user     *User
	created  time.Time
	expires  time.Time
	login    bool // created by the Login API
	lastUsed time.Time
	open     bool
}

// Sim is the simulator; it is an http.Handler.
type Sim struct {
	cfg   Config
	start time.Time

	mu        sync.Mutex
	rng, frng *rand.Rand
	faults    Faults
	stream    *simkit.Stream
	byUser    map[int][]*session // sorted by created, then id
	byID      map[string]*session
	ledger    *simkit.Ledger
}

// New builds a simulator.
func New(cfg Config) *Sim {
	if len(cfg.Users) == 0 {
		cfg.Users = []User{{ID: 12345, Login: "sim@example.com", Password: "sim-password", NetworkID: 100, MailboxID: 200}}
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 1
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 20 * time.Minute
	}
	if cfg.MaxSessionsPerUser <= 0 {
		cfg.MaxSessionsPerUser = 5
	}
	simkit.DefaultClock(&cfg.Now, &cfg.Seed)
	s := &Sim{cfg: cfg, start: cfg.Now().UTC(), rng: rand.New(rand.NewPCG(cfg.Seed, 0xec6)), frng: rand.New(rand.NewPCG(cfg.Seed, 0xfa17)),
		faults: cfg.Faults, byUser: map[int][]*session{}, byID: map[string]*session{}, ledger: simkit.NewLedger()}
	s.stream = simkit.NewStream(s.start, cfg.Rate, cfg.MaxEvents, cfg.Backfill, s.addHistory, s.addHistory)
	return s
}

// SetFaults replaces the fault probabilities.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

func (s *Sim) guid(r *rand.Rand) string {
	return strings.ToUpper(simkit.UUID(r))
}

func (s *Sim) insert(se *session) {
	s.byUser[se.user.ID] = simkit.Insert(s.byUser[se.user.ID], se, func(a, b *session) bool {
		return b.created.After(a.created) || b.created.Equal(a.created) && b.id > a.id
	})
	s.byID[se.id] = se
}

// addHistory generates one past session of a random user (caller holds mu).
func (s *Sim) addHistory(t time.Time) {
	r := s.rng
	u := &s.cfg.Users[r.IntN(len(s.cfg.Users))]
	t = t.Add(time.Duration(r.Int64N(int64(time.Millisecond)))).Truncate(time.Millisecond)
	se := &session{id: s.guid(r), user: u, created: t, expires: t.Add(time.Duration(5+r.IntN(55)) * time.Minute)}
	s.insert(se)
}

// Burst adds n history sessions of user at now at once (to force a full page).
func (s *Sim) Burst(userID, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var u *User
	for i := range s.cfg.Users {
		if s.cfg.Users[i].ID == userID {
			u = &s.cfg.Users[i]
		}
	}
	if u == nil {
		return
	}
	// Newer than every session of the user, so the burst is the newest page.
	base := s.cfg.Now().UTC().Truncate(time.Millisecond).Add(-time.Duration(n) * time.Millisecond)
	if l := s.byUser[userID]; len(l) > 0 && !base.After(l[len(l)-1].created) {
		base = l[len(l)-1].created
	}
	for i := 0; i < n; i++ {
		t := base.Add(time.Duration(i+1) * time.Millisecond)
		s.insert(&session{id: s.guid(s.rng), user: u, created: t, expires: t.Add(time.Hour)})
		s.stream.Generated++
	}
}

// ExpireAll ends every open session (as an idle timeout would).
func (s *Sim) ExpireAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, se := range s.byID {
		if se.open {
			se.open = false
			s.ledger.Count("expired_all")
		}
	}
}

// ---- requests ----

type soapReq struct {
	v12    bool
	method string
	ns     string
	params map[string]string
}

type fault struct {
	client          bool // soap:Client (Sender) or soap:Server (Receiver)
	code, msg, item string
	status          int
}

func (f *fault) Error() string { return f.code + ": " + f.msg }

func parseRequest(r *http.Request) (*soapReq, *fault) {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	req := &soapReq{params: map[string]string{}}
	switch {
	case strings.HasPrefix(ct, "application/soap+xml"):
		req.v12 = true
	case strings.HasPrefix(ct, "text/xml"):
	default:
		return nil, &fault{client: true, code: "InvalidParameter", msg: "unsupported content type " + ct, status: http.StatusUnsupportedMediaType}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return req, &fault{client: true, code: "InvalidParameter", msg: "cannot read request"}
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	depth, inBody := 0, false
	var cur string
	var text strings.Builder
	envNS := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return req, &fault{client: true, code: "InvalidParameter", msg: "request is not well-formed XML"}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1:
				envNS = t.Name.Space
			case depth == 2 && t.Name.Local == "Body":
				inBody = true
			case depth == 3 && inBody:
				req.method, req.ns = t.Name.Local, t.Name.Space
			case depth == 4 && inBody:
				cur = t.Name.Local
				text.Reset()
			}
		case xml.CharData:
			if depth == 4 && cur != "" {
				text.Write(t)
			}
		case xml.EndElement:
			if depth == 4 && cur != "" {
				req.params[cur] = strings.TrimSpace(text.String())
				cur = ""
			}
			depth--
		}
	}
	if (req.v12 && envNS != soap12NS) || (!req.v12 && envNS != soap11NS) {
		return req, &fault{client: true, code: "InvalidParameter", msg: "envelope namespace " + envNS + " does not match the content type"}
	}
	if req.method == "" {
		return req, &fault{client: true, code: "InvalidParameter", msg: "no operation in the SOAP body"}
	}
	return req, nil
}

func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_sim/served":
		s.servedHandler(w)
		return
	case r.URL.Path == "/_sim/stats":
		simkit.WriteJSON(w, s.Stats())
		return
	case r.Method == http.MethodGet && (r.URL.RawQuery == "WSDL" || strings.EqualFold(r.URL.RawQuery, "wsdl")):
		s.wsdl(w, r)
		return
	case r.Method != http.MethodPost:
		http.Error(w, "POST a SOAP envelope, or GET ?WSDL", http.StatusMethodNotAllowed)
		return
	}
	req, f := parseRequest(r)
	if f != nil {
		s.writeFault(w, req, f)
		return
	}
	s.ledger.Count("call_" + req.method)
	if req.ns != s.cfg.Namespace {
		s.writeFault(w, req, &fault{client: true, code: "InvalidParameter", msg: fmt.Sprintf("Server did not recognize the operation {%s}%s", req.ns, req.method)})
		return
	}
	if !req.v12 {
		want := `"` + s.cfg.Namespace + req.method + `"`
		if got := r.Header.Get("SOAPAction"); got != want && got != strings.Trim(want, `"`) {
			s.writeFault(w, req, &fault{client: true, code: "InvalidParameter", msg: "Server did not recognize the value of HTTP Header SOAPAction: " + got})
			return
		}
	}
	// Injected faults.
	s.mu.Lock()
	fs := s.faults
	x := s.frng.Float64()
	s.mu.Unlock()
	malformed, otherNS := false, false
	switch simkit.Pick(x, fs.ServerFault, fs.EmptyError, fs.Malformed, fs.WrongNamespace, fs.Slow, fs.ExpireSession) {
	case 0:
		s.ledger.Count("fault_server")
		s.writeFault(w, req, &fault{code: "InternalError", msg: "An internal error occurred"})
		return
	case 1:
		s.ledger.Count("fault_empty_500")
		w.WriteHeader(http.StatusInternalServerError)
		return
	case 2:
		s.ledger.Count("fault_malformed")
		malformed = true
	case 3:
		s.ledger.Count("fault_wrong_namespace")
		otherNS = true
	case 4:
		s.ledger.Count("fault_slow")
		if !simkit.SlowDown(r, fs.SlowDelay) {
			return
		}
	case 5:
		s.mu.Lock()
		if se := s.byID[req.params["SessionID"]]; se != nil && se.open {
			se.open = false
			s.ledger.Count("fault_session_expired")
		}
		s.mu.Unlock()
	}
	var inner string
	var servedIDs []string
	switch req.method {
	case "Login":
		inner, f = s.login(req)
	case "Logout":
		inner, f = s.logout(req)
	case "SessionLog", "SessionLogEx":
		inner, servedIDs, f = s.sessionLog(req)
	default:
		f = &fault{client: true, code: "InvalidParameter", msg: "Server did not recognize the operation " + req.method}
	}
	if f != nil {
		s.writeFault(w, req, f)
		return
	}
	ns := s.cfg.Namespace
	if otherNS {
		ns = OtherNamespace
	}
	doc := envelope(req.v12, fmt.Sprintf(`<%sResponse xmlns="%s">%s</%sResponse>`, req.method, ns, inner, req.method))
	if malformed {
		doc = doc[:len(doc)*2/3]
		if req.method == "Login" {
			s.ledger.Count("login_answer_lost") // a session the caller never learns about
		}
	} else {
		s.ledger.MarkServed(servedIDs...)
	}
	writeXML(w, req.v12, http.StatusOK, doc)
}

func envelope(v12 bool, inner string) string {
	if v12 {
		return `<?xml version="1.0" encoding="utf-8"?><soap12:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap12="` + soap12NS + `"><soap12:Body>` + inner + `</soap12:Body></soap12:Envelope>`
	}
	return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="` + soap11NS + `"><soap:Body>` + inner + `</soap:Body></soap:Envelope>`
}

func writeXML(w http.ResponseWriter, v12 bool, status int, doc string) {
	if v12 {
		w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, doc)
}

func esc(v string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(v))
	return b.String()
}

func (s *Sim) writeFault(w http.ResponseWriter, req *soapReq, f *fault) {
	s.ledger.Count("fault_" + f.code)
	v12 := req != nil && req.v12
	detail := fmt.Sprintf(`<ErrorCode>%s</ErrorCode><ErrorString>%s</ErrorString><ErrorItem>%s</ErrorItem><ErrorMessage>%s</ErrorMessage>`,
		esc(f.code), esc(f.msg), esc(f.item), esc(f.code+": "+f.msg))
	var inner string
	if v12 {
		code := "soap12:Receiver"
		if f.client {
			code = "soap12:Sender"
		}
		inner = `<soap12:Fault><soap12:Code><soap12:Value>` + code + `</soap12:Value></soap12:Code><soap12:Reason><soap12:Text xml:lang="en">` +
			esc(f.msg) + `</soap12:Text></soap12:Reason><soap12:Detail>` + detail + `</soap12:Detail></soap12:Fault>`
	} else {
		code := "soap:Server"
		if f.client {
			code = "soap:Client"
		}
		inner = `<soap:Fault><faultcode>` + code + `</faultcode><faultstring>` + esc(f.msg) + `</faultstring><detail>` + detail + `</detail></soap:Fault>`
	}
	status := f.status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	writeXML(w, v12, status, envelope(v12, inner))
}

// auth resolves a SessionID (or the API key) to a user, touching the session (caller holds mu).
func (s *Sim) auth(sid string, now time.Time) (*User, *fault) {
	if s.cfg.APIKey != "" && sid == s.cfg.APIKey {
		for i := range s.cfg.Users {
			if s.cfg.Users[i].ID == s.cfg.APIKeyUser {
				return &s.cfg.Users[i], nil
			}
		}
	}
	se := s.byID[sid]
	if se == nil || !se.login {
		return nil, &fault{client: true, code: "SessionTimeout", msg: "Session expired or invalid", item: "SessionID"}
	}
	if se.open && now.Sub(se.lastUsed) > s.cfg.IdleTimeout {
		se.open = false
		se.expires = se.lastUsed.Add(s.cfg.IdleTimeout)
		s.ledger.Count("idle_expired")
	}
	if !se.open {
		return nil, &fault{client: true, code: "SessionTimeout", msg: "Session expired or invalid", item: "SessionID"}
	}
	se.lastUsed = now
	se.expires = now.Add(s.cfg.IdleTimeout)
	return se.user, nil
}

func (s *Sim) login(req *soapReq) (string, *fault) {
	name := req.params["Email"]
	if name == "" {
		name = req.params["LoginName"]
	}
	now := s.cfg.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	var u *User
	for i := range s.cfg.Users {
		if s.cfg.Users[i].Login != "" && strings.EqualFold(s.cfg.Users[i].Login, name) && s.cfg.Users[i].Password == req.params["Password"] {
			u = &s.cfg.Users[i]
		}
	}
	if u == nil {
		return "", &fault{client: true, code: "AuthenticationFailed", msg: "Invalid login or password"}
	}
	open := 0
	for _, se := range s.byUser[u.ID] {
		if se.login && se.open {
			if now.Sub(se.lastUsed) > s.cfg.IdleTimeout {
				se.open = false
				se.expires = se.lastUsed.Add(s.cfg.IdleTimeout)
				s.ledger.Count("idle_expired")
				continue
			}
			open++
		}
	}
	if open >= s.cfg.MaxSessionsPerUser {
		return "", &fault{client: true, code: "TooManySessions", msg: fmt.Sprintf("Too many sessions: at most %d open sessions per user", s.cfg.MaxSessionsPerUser)}
	}
	now = now.Truncate(time.Millisecond)
	se := &session{id: s.guid(s.frng), user: u, created: now, expires: now.Add(s.cfg.IdleTimeout), login: true, lastUsed: now, open: true}
	s.insert(se)
	s.ledger.Count("logins")
	return "<LoginResult>" + se.id + "</LoginResult>", nil
}

func (s *Sim) logout(req *soapReq) (string, *fault) {
	now := s.cfg.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, f := s.auth(req.params["SessionID"], now); f != nil {
		return "", f
	}
	if se := s.byID[req.params["SessionID"]]; se != nil {
		se.open = false
		se.expires = now.Truncate(time.Millisecond)
	}
	s.ledger.Count("logouts")
	return "<LogoutResult>true</LogoutResult>", nil
}

func intParam(req *soapReq, name string) (int, *fault) {
	v, ok := req.params[name]
	n, err := strconv.Atoi(v)
	if !ok || err != nil {
		return 0, &fault{client: true, code: "InvalidParameter", msg: fmt.Sprintf("%s %q is not an integer", name, v), item: name}
	}
	return n, nil
}

func timeParam(req *soapReq, name string) (time.Time, *fault) {
	t, err := time.Parse(time.RFC3339Nano, req.params[name])
	if err != nil {
		return t, &fault{client: true, code: "InvalidParameter", msg: fmt.Sprintf("%s %q is not a dateTime", name, req.params[name]), item: name}
	}
	return t, nil
}

func (s *Sim) sessionLog(req *soapReq) (string, []string, *fault) {
	uid, f := intParam(req, "UserID")
	if f != nil {
		return "", nil, f
	}
	maxRec, f := intParam(req, "MaxRecords")
	if f != nil {
		return "", nil, f
	}
	ex := req.method == "SessionLogEx"
	if maxRec < 1 || maxRec > 32767 || ex && maxRec > 100 {
		return "", nil, &fault{client: true, code: "InvalidParameter", msg: "MaxRecords out of range", item: "MaxRecords"}
	}
	var from, to time.Time
	if ex {
		if from, f = timeParam(req, "StartTime"); f != nil {
			return "", nil, f
		}
		if to, f = timeParam(req, "EndTime"); f != nil {
			return "", nil, f
		}
	}
	now := s.cfg.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stream.Advance(now)
	self, f := s.auth(req.params["SessionID"], now)
	if f != nil {
		return "", nil, f
	}
	if uid == 0 {
		uid = self.ID
	}
	var target *User
	for i := range s.cfg.Users {
		if s.cfg.Users[i].ID == uid {
			target = &s.cfg.Users[i]
		}
	}
	if target == nil || target.NetworkID != self.NetworkID {
		return "", nil, &fault{client: true, code: "AccessDenied", msg: fmt.Sprintf("Access denied to user %d", uid), item: "UserID"}
	}
	list := s.byUser[uid]
	var pick []*session
	if ex {
		for _, se := range list {
			if !se.created.Before(from) && se.created.Before(to) {
				pick = append(pick, se)
				if len(pick) == maxRec {
					break
				}
			}
		}
	} else {
		for i := len(list) - 1; i >= 0 && len(pick) < maxRec; i-- {
			pick = append(pick, list[i])
		}
	}
	var b strings.Builder
	b.WriteString("<" + req.method + "Result>")
	ids := make([]string, 0, len(pick))
	for _, se := range pick {
		exp := se.expires
		if se.login && se.open {
			exp = se.lastUsed.Add(s.cfg.IdleTimeout)
		}
		fmt.Fprintf(&b, "<SessionIDInfo><SessionID>%s</SessionID><UserID>%d</UserID><NetworkID>%d</NetworkID><MailboxID>%d</MailboxID><Created>%s</Created><Expires>%s</Expires></SessionIDInfo>",
			se.id, se.user.ID, se.user.NetworkID, se.user.MailboxID, se.created.Format("2006-01-02T15:04:05.000Z"), exp.UTC().Format("2006-01-02T15:04:05.000Z"))
		if !se.login {
			ids = append(ids, se.id)
		}
	}
	b.WriteString("</" + req.method + "Result>")
	return b.String(), ids, nil
}

// Served returns the SessionIDs of history sessions served at least once in a complete
// answer (the poller's own Login sessions are not history: see LoginSessions).
func (s *Sim) Served() map[string]bool { return s.ledger.Served() }

// Generated returns the SessionIDs of every generated history session.
func (s *Sim) Generated() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stream.Advance(s.cfg.Now().UTC())
	out := map[string]bool{}
	for id, se := range s.byID {
		if !se.login {
			out[id] = true
		}
	}
	return out
}

// LoginSessions returns the SessionIDs created by the Login API.
func (s *Sim) LoginSessions() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for id, se := range s.byID {
		if se.login {
			out[id] = true
		}
	}
	return out
}

// Stats of the simulator.
type Stats struct {
	Generated int `json:"generated"`
	Logins    int `json:"logins"`
	Open      int `json:"open_sessions"`
	simkit.LedgerStats
}

// Stats returns counters (and generates the sessions whose time has come).
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stream.Advance(s.cfg.Now().UTC())
	st := Stats{Generated: s.stream.Generated, LedgerStats: s.ledger.Stats()}
	for _, se := range s.byID {
		if se.login {
			st.Logins++
			if se.open {
				st.Open++
			}
		}
	}
	return st
}

// Done reports whether generation is finished.
func (s *Sim) Done() bool {
	st := s.Stats()
	return s.cfg.MaxEvents > 0 && st.Generated >= s.cfg.MaxEvents
}

func (s *Sim) servedHandler(w http.ResponseWriter) { s.ledger.WriteServed(w) }
