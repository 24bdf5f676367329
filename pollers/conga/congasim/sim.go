// Package congasim simulates the Conga Sign API for tests, benchmarks and `auditstream
// sim`: the OAuth2 token endpoint, the cs-packages listing and each package's audit trail.
//
// Behaviour, where public docs are silent, chosen and documented here:
//   - POST /api/v1/auth/connect/token, form client_id, client_secret, scope=sign,
//     grant_type=client_credentials → {access_token, expires_in, token_type: "Bearer"};
//     wrong credentials → 400 {"error": "ERROR_AUTHENTICATION_NOT_VALID"}; a disabled
//     client (client_disabled) → 403 {"error": "ERROR_AUTHENTICATION_CLIENT_DISABLED"}.
//     Tokens expire after token_ttl (default 1h); an expired or unknown token → 401.
//   - GET /api/sign/v1/cs-packages?from=&to= → {"count": n, "results": [...]}: from/to are
//     1-based inclusive indices (default 1..50, at most 100 per page), packages in creation
//     order; each has id, name, status (SENT, then COMPLETED, DECLINED, EXPIRED or
//     OPTED_OUT), created, updated (when its audit trail last grew — the simulator's clock at the
//     append, also for a duplicate carrying an older time —, also after completion).
//   - GET /api/sign/v1/cs-packages/{id}/audit → {"package-id", "audit-events": [...]} in
//     time order; date-time "2006-01-02 15:04:05" in UTC without a zone; events keep
//     arriving after the terminal status (View, Download); exact duplicates are legal.
//   - Errors {code, message, messageKey, name, technical, entity}: 401, 404, 429 (with
//     Retry-After), 500, 503; truncated 200 answers and slow answers as injected faults.
//
// Control endpoints (no auth): GET /_sim/served, GET /_sim/stats, PUT /_sim/faults.
package congasim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/simkit/logsim"
)

// Config of the simulator (also its YAML settings block).
type Config struct {
	// ClientDisabled answers every token request with ERROR_AUTHENTICATION_CLIENT_DISABLED.
	ClientDisabled       bool `yaml:"client_disabled"`
	logsim.OAuthSettings `yaml:",inline"`
}

// SetDefaults fills unset fields: tenant defaults to client_id, as in the poller.
func (c *Config) SetDefaults() { c.Settings.SetDefaults(c.ClientID, time.Hour) }

// Validate lists problems at path.
func (c *Config) Validate(path string, p *config.Problems) {
	c.OAuthSettings.Validate(path, p, "token endpoint", nil)
}

// Plugin registers the simulator.
var Plugin = logsim.Define("conga", "", Handler)

// Sim is the simulator; it is an http.Handler.
type Sim struct {
	logsim.Sim[Config]
	ids []string
}

// New builds a simulator (SetDefaults is applied).
func New(cfg Config) *Sim {
	s := &Sim{}
	s.Sim = logsim.NewSim(cfg, "cs-", s.render, apiError)
	for _, e := range s.H.Entities() {
		s.ids = append(s.ids, packageID(e.R))
	}
	s.Mux.HandleFunc("POST /api/v1/auth/connect/token", s.token)
	s.HandleAuthorized("GET /api/sign/v1/cs-packages", s.authorized, s.list)
	s.HandleAuthorized("GET /api/sign/v1/cs-packages/{id}/audit", s.authorized, s.audit)
	return s
}

func packageID(r uint64) string {
	x := rand.New(rand.NewPCG(r, 1))
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", x.Uint32(), x.Uint32()&0xffff, x.Uint32()&0xfff, x.Uint32()&0xfff, x.Uint64()&0xffffffffffff)
}

func apiError(w http.ResponseWriter, code int, msg string) {
	keys := map[int]string{401: "error.unauthorised.noSession", 403: "error.forbidden", 404: "error.notFound",
		429: "error.tooManyRequests", 500: "error.internal.default", 503: "error.unavailable"}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "messageKey": keys[code],
		"name": http.StatusText(code), "technical": msg, "entity": nil})
}

func (s *Sim) token(w http.ResponseWriter, r *http.Request) {
	s.Ledger.Count("token")
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "bad form")
		return
	}
	oauthErr := func(code int, e string) { logsim.OAuthError(w, code, map[string]string{"error": e}) }
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		oauthErr(http.StatusBadRequest, "unsupported_grant_type")
	case !s.Cfg.Accepts(f):
		oauthErr(http.StatusBadRequest, "ERROR_AUTHENTICATION_NOT_VALID")
	case s.Cfg.ClientDisabled:
		oauthErr(http.StatusForbidden, "ERROR_AUTHENTICATION_CLIENT_DISABLED")
	case !strings.Contains(" "+f.Get("scope")+" ", " sign "):
		oauthErr(http.StatusBadRequest, "invalid_scope")
	default:
		logsim.OAuthToken(w, "Bearer", s.Tokens, nil)
	}
}

func (s *Sim) authorized(w http.ResponseWriter, r *http.Request) bool {
	return s.Bearer(w, r, s.Tokens, "Unauthorized access")
}

var statuses = map[int]string{0: "COMPLETED", 1: "DECLINED", 2: "EXPIRED", 3: "OPTED_OUT"}

func (s *Sim) list(w http.ResponseWriter, r *http.Request) {
	from, to := 1, 50
	var err error
	q := r.URL.Query()
	if v := q.Get("from"); v != "" {
		if from, err = strconv.Atoi(v); err != nil || from < 1 {
			apiError(w, http.StatusBadRequest, "from must be a positive integer")
			return
		}
	}
	if v := q.Get("to"); v != "" {
		if to, err = strconv.Atoi(v); err != nil || to < from || to-from >= 100 {
			apiError(w, http.StatusBadRequest, "to must be between from and from+99")
			return
		}
	}
	s.AnswerListing(w, r, from-1, to-from+1, func(e *logsim.Entity, st logsim.State) (map[string]any, bool) {
		status := "SENT"
		if st.Terminal {
			status = statuses[int(e.Outcome)]
		}
		return map[string]any{"id": s.ids[e.Index], "name": fmt.Sprintf("Sales contract %04d", e.Index+1),
			"status": status, "created": st.Created.Format("2006-01-02T15:04:05Z"), "updated": st.Updated.Format("2006-01-02T15:04:05Z"),
			"type": "PACKAGE", "language": "en"}, true
	}, func(page []map[string]any, total int) []byte {
		return logsim.ListingBody("results", page, "count", total)
	})
}

func (s *Sim) audit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	now := s.H.Now()
	for _, e := range s.H.Entities() {
		if s.ids[e.Index] != id || !s.H.StateAt(e, now).Listed {
			continue
		}
		s.AnswerLog(w, r, e, id, now, s.Render(s.H.VisibleLog(e, now)), func(entries []logsim.Rendered) []byte {
			head, _ := json.Marshal(id)
			return append(append([]byte(`{"package-id":`+string(head)+`,"audit-events":`), logsim.Join(entries)...), '}')
		})
		return
	}
	apiError(w, http.StatusNotFound, "Package not found: "+id)
}

var (
	signers   = []string{"John Smith", "Mary Jones", "somegroup", "Ana García", "Li Wei"}
	inflight  = []string{"View", "View", "Click To Sign", "Click To Initial", "Capture Signature", "Accept", "Form Field", "Login", "Signing Session For Signer"}
	afterDone = []string{"View", "Download", "Download Zip", "View"}
	terminal  = map[int]string{0: "Confirm", 1: "Decline", 2: "View", 3: "Opt Out"}
)

// render draws one audit event from the entry's random value (pure: duplicates match).
func (s *Sim) render(e *logsim.Entry) []byte {
	x := rand.New(rand.NewPCG(e.R, 2))
	ent := s.H.Entities()[e.Entity]
	typ := inflight[x.IntN(len(inflight))]
	switch {
	case e.Terminal:
		typ = terminal[int(ent.Outcome)]
	case e.AfterTerminal:
		typ = afterDone[x.IntN(len(afterDone))]
	}
	u := x.IntN(len(signers))
	email := fmt.Sprintf("signer%d.%d@example.com", u, e.Entity)
	if signers[u] == "somegroup" {
		email = fmt.Sprintf("%08x-0572-4731-8520-99191340d78f@groups.congamerge.com", uint32(ent.R))
	}
	var data any
	switch typ {
	case "Click To Sign":
		data = fmt.Sprintf("Approval: %x", x.Uint32())
	case "Signing Session For Signer":
		data = "Signing session to signer : " + email + "(" + signers[u]
	case "Decline":
		data = "Reason: terms not acceptable"
	}
	b, _ := json.Marshal(map[string]any{
		"type": typ, "date-time": e.Time.UTC().Format("2006-01-02 15:04:05"),
		"target": fmt.Sprintf("doc%d", 1+x.IntN(2)), "user": signers[u], "user-email": email,
		"user-ip": fmt.Sprintf("198.51.100.%d", 1+x.IntN(254)), "data": data,
	})
	return b
}

// Handler is New as an http.Handler.
func Handler(cfg Config) http.Handler { return New(cfg) }
