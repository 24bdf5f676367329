// Package signinghubsim simulates the Ascertia SigningHub API for tests, benchmarks and
// `auditstream sim`: /authenticate, the package listing and each package's workflow
// history.
//
// Behaviour, where public docs are silent, chosen and documented here:
//   - POST /authenticate, form-encoded: grant_type=password (client_id, client_secret,
//     username, password, optional scope), client_credentials (client_id,
//     client_secret) or refresh_token (refresh_token, client_id, client_secret) →
//     {access_token, token_type: "bearer", expires_in, refresh_token}. Access tokens
//     live token_ttl (default 86399 s), refresh tokens ten times as long and only once.
//     Wrong credentials → 400 {"error": "invalid_grant", "error_description": ...}; with
//     `otp: true` a correct password grant is answered 403 with the `x-otp` header.
//   - GET /v3/packages/{document_status}/{page_no}/{records_per_page} (page_no from 1,
//     records_per_page ≤ 100) → [{package_id, package_name, package_owner,
//     package_status, modified_on, ...}] with the x-total-records header; packages in
//     creation order; modified_on is when the history last grew (the simulator's clock at the append).
//   - GET /v3/packages/{package_id}/log → the package fields and actions[], newest first;
//     date_time zone-less ("2006-01-02T15:04:05", UTC); log_id repeats (it is not
//     unique); exact duplicates and same-second entries occur; entries keep arriving
//     after completion (DOWNLOADED, OPENED).
//   - clear_log_on_complete: once a package reaches its terminal status, its history is
//     replaced by one evidence entry (plus what arrives afterwards), as on plans that
//     delete the detailed log when the workflow completes.
//   - Errors {"Message": "..."}: 401, 403, 404, 429 (Retry-After), 500, 503; truncated 200
//     answers and slow answers as injected faults.
//
// Control endpoints (no auth): GET /_sim/served, GET /_sim/stats, PUT /_sim/faults.
package signinghubsim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/simkit/logsim"
)

// Config of the simulator (also its YAML settings block).
type Config struct {
	// Username and Password of the user the password grant accepts (empty: only
	// client_credentials is accepted).
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password"`
	// OTP makes the password grant ask for a one-time password (403 with x-otp).
	OTP bool `yaml:"otp"`
	// ClearLogOnComplete replaces a package's history by one evidence entry once the
	// package reaches its terminal status.
	ClearLogOnComplete   bool `yaml:"clear_log_on_complete"`
	logsim.OAuthSettings `yaml:",inline"`
}

// SetDefaults fills unset fields: tenant defaults as in the poller (username, else
// client_id).
func (c *Config) SetDefaults() {
	c.Settings.SetDefaults(cmp.Or(c.Username, c.ClientID), 86399*time.Second)
}

// Validate lists problems at path.
func (c *Config) Validate(path string, p *config.Problems) {
	c.OAuthSettings.Validate(path, p, "API", func() {
		if (c.Username == "") != (c.Password == "") {
			p.Add(path, "set both username and password, or neither")
		}
	})
}

// Plugin registers the simulator.
var Plugin = logsim.Define("signinghub", "", Handler)

// Sim is the simulator; it is an http.Handler.
type Sim struct {
	logsim.Sim[Config]
	refresh  *logsim.Tokens
	evidence map[int]*logsim.Entry
}

// New builds a simulator (SetDefaults is applied).
func New(cfg Config) *Sim {
	s := &Sim{evidence: map[int]*logsim.Entry{}}
	s.Sim = logsim.NewSim(cfg, "sh-", s.render, logsim.MessageError)
	s.refresh = logsim.NewTokens("shr-", 10*s.Cfg.TokenTTL.D(), s.Cfg.Clock())
	for _, e := range s.H.Entities() {
		for _, x := range e.Entries {
			if x.Terminal {
				s.evidence[e.Index] = &logsim.Entry{Entity: e.Index, Seq: -1, Time: x.Time, R: e.R}
			}
		}
	}
	s.Mux.HandleFunc("POST /authenticate", s.authenticate)
	s.HandleAuthorized("GET /v3/packages/{status}/{page}/{per}", s.authorized, s.list)
	s.HandleAuthorized("GET /v3/packages/{id}/log", s.authorized, s.log)
	return s
}

var apiError = logsim.MessageError

func (s *Sim) authenticate(w http.ResponseWriter, r *http.Request) {
	s.Ledger.Count("authenticate")
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "bad form")
		return
	}
	f := r.PostForm
	fail := func(code int, desc string) {
		logsim.OAuthError(w, code, map[string]string{"error": "invalid_grant", "error_description": desc})
	}
	if !s.Cfg.Accepts(f) {
		fail(http.StatusBadRequest, "Invalid client credentials")
		return
	}
	switch f.Get("grant_type") {
	case "password":
		if s.Cfg.Username == "" || f.Get("username") != s.Cfg.Username || f.Get("password") != s.Cfg.Password.Reveal() {
			fail(http.StatusBadRequest, "Invalid username or password")
			return
		}
		if s.Cfg.OTP {
			w.Header().Set("x-otp", "true")
			apiError(w, http.StatusForbidden, "OTP required: an OTP has been sent to your registered mobile number")
			return
		}
		s.Ledger.Count("authenticate_password")
	case "client_credentials":
		s.Ledger.Count("authenticate_client")
	case "refresh_token":
		rt := f.Get("refresh_token")
		if !s.refresh.Valid(rt) {
			fail(http.StatusBadRequest, "Invalid or expired refresh token")
			return
		}
		s.refresh.Revoke(rt)
		s.Ledger.Count("authenticate_refresh")
	default:
		fail(http.StatusBadRequest, "unsupported grant_type")
		return
	}
	logsim.OAuthToken(w, "bearer", s.Tokens, s.refresh)
}

func (s *Sim) authorized(w http.ResponseWriter, r *http.Request) bool {
	return s.Bearer(w, r, s.Tokens, "Request authorization denied")
}

var outcomes = map[int]string{0: "COMPLETED", 1: "DECLINED", 2: "EXPIRED", 3: "RECALLED"}

func (s *Sim) status(e *logsim.Entity, st logsim.State) string {
	if st.Terminal {
		return outcomes[int(e.Outcome)]
	}
	return "INPROGRESS"
}

func (s *Sim) list(w http.ResponseWriter, r *http.Request) {
	filter := r.PathValue("status")
	page, err1 := strconv.Atoi(r.PathValue("page"))
	per, err2 := strconv.Atoi(r.PathValue("per"))
	if err1 != nil || err2 != nil || page < 1 || per < 1 || per > 100 {
		apiError(w, http.StatusBadRequest, "page_no must be >= 1 and records_per_page between 1 and 100")
		return
	}
	s.AnswerListing(w, r, (page-1)*per, per, func(e *logsim.Entity, st logsim.State) (map[string]any, bool) {
		status := s.status(e, st)
		return map[string]any{"package_id": 1000 + e.Index, "package_name": packageName(e.Index),
			"package_owner": "owner@example.com", "owner_name": "Owner Name", "package_status": status,
			"folder": "INBOX", "unread": false, "uploaded_on": st.Created.Format("2006-01-02T15:04:05"),
			"modified_on": st.Updated.Format("2006-01-02T15:04:05")}, filter == "ALL" || filter == status
	}, func(page []map[string]any, total int) []byte {
		if total >= 0 {
			w.Header().Set("x-total-records", strconv.Itoa(total))
		}
		body, _ := json.Marshal(page)
		return body
	})
}

func packageName(i int) string { return fmt.Sprintf("sales contract %d", 100+i) }

func (s *Sim) log(w http.ResponseWriter, r *http.Request) {
	e, st, now, ok := s.ListedByNumber(w, r, 1000, "Document not found")
	if !ok {
		return
	}
	visible := s.H.VisibleLog(e, now)
	if s.Cfg.ClearLogOnComplete && st.Terminal {
		kept := []*logsim.Entry{s.evidence[e.Index]}
		for _, x := range visible {
			if x.AfterTerminal {
				kept = append(kept, x)
			}
		}
		visible = kept
	}
	rendered := s.Render(visible)
	for i, j := 0, len(rendered)-1; i < j; i, j = i+1, j-1 { // newest first
		rendered[i], rendered[j] = rendered[j], rendered[i]
	}
	s.AnswerLog(w, r, e, r.PathValue("id"), now, rendered, func(entries []logsim.Rendered) []byte {
		head, _ := json.Marshal(map[string]any{"package_id": 1000 + e.Index, "package_status": s.status(e, st),
			"package_owner": "owner@example.com", "owner_name": "Owner Name",
			"documents": []any{map[string]any{"document_id": 5000 + e.Index, "document_name": packageName(e.Index),
				"document_order": 1, "document_type": "PDF", "document_pages": 3}}})
		return append(append(head[:len(head)-1], `,"actions":`...), append(logsim.Join(entries), '}')...)
	})
}

var (
	inflight = []struct{ action, infoType, value string }{
		{"SHARED", "SHARED_WITH", "Mark Spencer"}, {"OPENED", "VIEWER", "WEB_BROWSER"}, {"OPENED", "VIEWER", "MOBILE_APP"},
		{"SIGNED", "METHOD", "SERVER"}, {"SIGNED", "SIGNING_METHOD", "LOCAL"}, {"UPLOADED", "DOCUMENT", "sales contract"},
		{"REVIEWED", "REVIEWER", "Sam Crook"}, {"FORM_FILLED", "FIELDS", "3"}, {"LOGIN", "IP", "192.0.2.10"},
	}
	after    = []struct{ action, infoType, value string }{{"DOWNLOADED", "FORMAT", "PDF"}, {"OPENED", "VIEWER", "WEB_BROWSER"}}
	terminal = map[int]struct{ action, infoType, value string }{0: {"COMPLETED", "WORKFLOW", "COMPLETED"},
		1: {"DECLINED", "REASON", "Terms not accepted"}, 2: {"EXPIRED", "WORKFLOW", "EXPIRED"}, 3: {"RECALLED", "REASON", "Sent by mistake"}}
	users = []struct{ email, name string }{{"john@ascertia.com", "John Smith"}, {"sam@ascertia.com", "Sam Crook"},
		{"mark@example.com", "Mark Spencer"}, {"ana@example.com", "Ana García"}}
)

// render draws one history entry from the entry's random value (pure: duplicates match).
func (s *Sim) render(e *logsim.Entry) []byte {
	x := rand.New(rand.NewPCG(e.R, 3))
	a := inflight[x.IntN(len(inflight))]
	switch {
	case e.Seq < 0:
		a = struct{ action, infoType, value string }{"EVIDENCE_REPORT", "EVIDENCE", "Detailed workflow history removed on completion"}
	case e.Terminal:
		a = terminal[int(s.H.Entities()[e.Entity].Outcome)]
	case e.AfterTerminal:
		a = after[x.IntN(len(after))]
	}
	u := users[x.IntN(len(users))]
	m := map[string]any{
		"log_id": 1 + x.IntN(3), "date_time": e.Time.UTC().Format("2006-01-02T15:04:05"), "action_type": a.action,
		"user_email": u.email, "user_name": u.name, "information": map[string]string{"type": a.infoType, "value": a.value},
	}
	if x.IntN(3) > 0 {
		m["enterprise_name"] = "TEFCO INC."
	}
	b, _ := json.Marshal(m)
	return b
}

// Handler is New as an http.Handler.
func Handler(cfg Config) http.Handler { return New(cfg) }
