// Package constellation1sim simulates the Constellation1 eSign REST API for tests,
// benchmarks and `auditstream sim`: the encrypt/gettoken authentication, the session
// listings and each session's action log, under /rest.
//
// Behaviour, where public docs are silent, chosen and documented here:
//   - GET /rest/v1/encrypt/{apiKey}/{salt} → {"ReturnValue": <encrypted key>} (401
//     {"Message"} for a wrong key); GET /rest/v1/gettoken/{salt} with "Authorization:
//     <encrypted key>" → {"ReturnValue": <token>}. Tokens live token_ttl (default 20 s).
//     Calls send "Authorization: <token>"; an unknown or expired token is answered, in
//     turn, 401 {"Message": ...}, 200 with a null body, or 200 {"ReturnValue": null,
//     "Message": "Invalid or expired token"} — the vendor's "error message or null".
//   - GET /rest/v1/sessions/{archived|expired|deleted}/{pageSize}/{pageNum} (pages from
//     0, pageSize ≤ 100) and GET /rest/v1/sessions/lite/{username}/{transactionId}/
//     {pageSize}/{pageNum}/sortBy?colName=&sortOrder= (pageSize ≤ 50; in-flight sessions
//     of that user) → {"Sessions"|"SessionsLite": [{SessionId, SessionName, Status,
//     StatusName, CreatedDate, ModifiedDate}], "TotalCount": n}. archived = Completed (3)
//     and Cancelled (4), expired = Expired (7), deleted = Deleted (5), lite = InSent (2)
//     and InPaused (6). ModifiedDate is when the action log last grew (the
//     simulator's clock at the append): it moves after completion too.
//   - GET /rest/v1/sessions/{sessionId}/actionlogs → {"ActionLog": [{Date, IPAddress,
//     Description}]} in time order; some sessions spell the list "Actionlog" and write
//     ISO dates without a zone (in the `zone` setting) instead of WCF "/Date(ms-0500)/";
//     identical entries repeat; entries keep arriving after completion ("Completed and
//     closed by ..."); some entries carry the sender's IP, not the signer's.
//   - Errors {"Message": ...}: 404 for an unknown session, 429 (Retry-After), 500, 503;
//     truncated 200 answers and slow answers as injected faults.
//
// Control endpoints (no auth, at the root like every simulator's): GET /_sim/served,
// GET /_sim/stats, PUT /_sim/faults.
package constellation1sim

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/simkit"
	"github.com/auditstream/auditstream/pollers/simkit/logsim"
)

// Config of the simulator (also its YAML settings block).
type Config struct {
	APIKey config.Secret `yaml:"api_key"`
	// Username whose in-flight sessions the lite listing returns.
	Username string `yaml:"username"`
	// Zone of the zone-less ISO dates some sessions write (default UTC).
	Zone            config.Zone `yaml:"zone"`
	logsim.Settings `yaml:",inline"`
}

// SetDefaults fills unset fields: tenant defaults as in the poller (username, else
// "default").
func (c *Config) SetDefaults() {
	c.Settings.SetDefaults(cmp.Or(c.Username, "default"), 20*time.Second)
}

// Validate lists problems at path.
func (c *Config) Validate(path string, p *config.Problems) {
	if c.APIKey == "" {
		p.Add(path+".api_key", "is required (the simulator checks it like the real API)")
	}
	c.Zone.Validate(path+".zone", p)
	c.Settings.Validate(path, p)
}

// Plugin registers the simulator.
var Plugin = logsim.Define("constellation1", "/rest", Handler)

// Sim is the simulator; it is an http.Handler.
type Sim struct {
	logsim.Sim[Config]
	loc *time.Location

	mu       sync.Mutex
	rejected int
}

// New builds a simulator (SetDefaults is applied; an unknown zone is UTC).
func New(cfg Config) *Sim {
	s := &Sim{loc: cfg.Zone.Location()}
	s.Sim = logsim.NewSim(cfg, "c1-", s.render, logsim.MessageError)
	s.Mux.HandleFunc("GET /rest/v1/encrypt/{key}/{salt}", s.encrypt)
	s.Mux.HandleFunc("GET /rest/v1/gettoken/{salt}", s.gettoken)
	s.HandleAuthorized("GET /rest/v1/sessions/{kind}/{size}/{num}", s.authorized, s.list)
	s.HandleAuthorized("GET /rest/v1/sessions/lite/{user}/{tid}/{size}/{num}/sortBy", s.authorized, s.list)
	s.HandleAuthorized("GET /rest/v1/sessions/{id}/actionlogs", s.authorized, s.actionlogs)
	return s
}

var apiError = logsim.MessageError

func (s *Sim) encrypted(salt string) string {
	sum := sha256.Sum256([]byte(s.Cfg.APIKey.Reveal() + ":" + salt))
	return hex.EncodeToString(sum[:16])
}

func (s *Sim) encrypt(w http.ResponseWriter, r *http.Request) {
	s.Ledger.Count("encrypt")
	if r.PathValue("key") != s.Cfg.APIKey.Reveal() {
		apiError(w, http.StatusUnauthorized, "Invalid API key")
		return
	}
	simkit.WriteJSON(w, map[string]any{"ReturnValue": s.encrypted(r.PathValue("salt"))})
}

func (s *Sim) gettoken(w http.ResponseWriter, r *http.Request) {
	s.Ledger.Count("gettoken")
	if r.Header.Get("Authorization") != s.encrypted(r.PathValue("salt")) {
		simkit.WriteJSON(w, map[string]any{"ReturnValue": nil, "Message": "Invalid encrypted key"})
		return
	}
	simkit.WriteJSON(w, map[string]any{"ReturnValue": s.Tokens.Issue()})
}

// authorized answers a rejected token in one of the vendor's three ways, in turn.
func (s *Sim) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.Tokens.Valid(r.Header.Get("Authorization")) {
		return true
	}
	s.Ledger.Count("rejected_token")
	s.mu.Lock()
	s.rejected++
	n := s.rejected
	s.mu.Unlock()
	switch n % 3 {
	case 0:
		apiError(w, http.StatusUnauthorized, "Authorization has been denied for this request.")
	case 1:
		logsim.Write(w, []byte("null"), false)
	default:
		simkit.WriteJSON(w, map[string]any{"ReturnValue": nil, "Message": "Invalid or expired token"})
	}
	return false
}

// status is the session's status number at st.
func status(e *logsim.Entity, st logsim.State) int {
	if st.Terminal {
		return map[logsim.Outcome]int{logsim.Completed: 3, logsim.Declined: 4, logsim.Expired: 7, logsim.Cancelled: 5}[e.Outcome]
	}
	if e.R%5 == 0 {
		return 6
	}
	return 2
}

var statusNames = map[int]string{1: "InDraft", 2: "InSent", 3: "Completed", 4: "Cancelled", 5: "Deleted", 6: "InPaused", 7: "Expired"}

func wcf(t time.Time) string { return fmt.Sprintf("/Date(%d-0500)/", t.UnixMilli()) }

func (s *Sim) list(w http.ResponseWriter, r *http.Request) {
	kind, maxSize, field := r.PathValue("kind"), 100, "Sessions"
	if r.PathValue("user") != "" {
		kind, maxSize, field = "lite", 50, "SessionsLite"
		if r.PathValue("user") != s.Cfg.Username {
			apiError(w, http.StatusNotFound, "User not found")
			return
		}
	}
	want := map[string]map[int]bool{"archived": {3: true, 4: true}, "expired": {7: true}, "deleted": {5: true}, "lite": {2: true, 6: true}}[kind]
	size, err1 := strconv.Atoi(r.PathValue("size"))
	num, err2 := strconv.Atoi(r.PathValue("num"))
	if want == nil || err1 != nil || err2 != nil || size < 1 || size > maxSize || num < 0 {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("pageSize must be between 1 and %d and pageNum >= 0", maxSize))
		return
	}
	s.AnswerListing(w, r, num*size, size, func(e *logsim.Entity, st logsim.State) (map[string]any, bool) {
		code := status(e, st)
		return map[string]any{"SessionId": 70000 + e.Index, "SessionName": fmt.Sprintf("Purchase agreement %d", 70000+e.Index),
			"Status": code, "StatusName": statusNames[code], "CreatedDate": wcf(st.Created), "ModifiedDate": wcf(st.Updated)}, want[code]
	}, func(page []map[string]any, total int) []byte {
		return logsim.ListingBody(field, page, "TotalCount", total)
	})
}

func (s *Sim) actionlogs(w http.ResponseWriter, r *http.Request) {
	e, _, now, ok := s.ListedByNumber(w, r, 70000, "Session not found")
	if !ok {
		return
	}
	field := "ActionLog"
	if e.R%3 == 0 {
		field = "Actionlog"
	}
	s.AnswerLog(w, r, e, r.PathValue("id"), now, s.Render(s.H.VisibleLog(e, now)), func(entries []logsim.Rendered) []byte {
		return append(append([]byte(`{"`+field+`":`), logsim.Join(entries)...), '}')
	})
}

var (
	signers  = []string{"Jane Buyer", "Joe Seller", "Pat Agent", "Lee Lender"}
	inflight = []string{"Document sent to %s", "Document viewed by %s", "Signature applied by %s", "Initials applied by %s",
		"Consent to do business electronically accepted by %s", "Document viewed by %s", "Session reminder sent to %s"}
	after    = []string{"Completed and closed by %s", "Document downloaded by %s", "Document viewed by %s"}
	terminal = map[logsim.Outcome]string{logsim.Completed: "Session completed; last signature by %s", logsim.Declined: "Session cancelled by %s",
		logsim.Expired: "Session expired before %s signed", logsim.Cancelled: "Session deleted by %s"}
)

// render draws one action log entry from the entry's random value (pure: duplicates match).
func (s *Sim) render(e *logsim.Entry) []byte {
	x := rand.New(rand.NewPCG(e.R, 4))
	ent := s.H.Entities()[e.Entity]
	format := inflight[x.IntN(len(inflight))]
	switch {
	case e.Seq == 0:
		format = "Session created by %s"
	case e.Terminal:
		format = terminal[ent.Outcome]
	case e.AfterTerminal:
		format = after[x.IntN(len(after))]
	}
	who := signers[x.IntN(len(signers))]
	ip := fmt.Sprintf("203.0.113.%d", 1+x.IntN(200))
	if x.IntN(4) == 0 {
		ip = fmt.Sprintf("198.51.100.%d", 1+ent.R%200) // the sender's IP on a signer's action
	}
	date := wcf(e.Time)
	if ent.R%4 == 1 {
		date = e.Time.In(s.loc).Format("2006-01-02T15:04:05")
	}
	b, _ := json.Marshal(map[string]string{"Date": date, "IPAddress": ip, "Description": fmt.Sprintf(format, who)})
	return b
}

// Handler is New as an http.Handler.
func Handler(cfg Config) http.Handler { return New(cfg) }
