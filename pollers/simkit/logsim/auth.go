package logsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/auditstream/auditstream/internal/config"
)

// Client is the API client an OAuth2 simulator accepts (inline in its settings block:
// client_id, client_secret).
type Client struct {
	ClientID     string        `yaml:"client_id"`
	ClientSecret config.Secret `yaml:"client_secret"`
}

// Validate records a problem at path unless both are set: the simulator checks them like
// the real one (what: "token endpoint", "API").
func (c *Client) Validate(path string, p *config.Problems, what string) {
	if c.ClientID == "" || c.ClientSecret == "" {
		p.Add(path, "set client_id and client_secret (the simulator checks them like the real %s)", what)
	}
}

// Accepts reports whether the posted form f carries the client's credentials.
func (c *Client) Accepts(f url.Values) bool {
	return f.Get("client_id") == c.ClientID && f.Get("client_secret") == c.ClientSecret.Reveal()
}

// OAuthError answers a refused token request: code and the JSON object of fields
// ({"error": ...} and what the vendor adds).
func OAuthError(w http.ResponseWriter, code int, fields map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(fields)
}

// Bearer reports whether r carries "Authorization: Bearer <token>" with a valid token of
// tokens; if not, it counts "unauthorized" and answers 401 with msg in the vendor's
// error shape.
func (b *Base) Bearer(w http.ResponseWriter, r *http.Request, tokens *Tokens, msg string) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && tokens.Valid(tok) {
		return true
	}
	b.Ledger.Count("unauthorized")
	b.writeErr(w, http.StatusUnauthorized, msg)
	return false
}
