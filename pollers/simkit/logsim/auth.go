package logsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/simkit"
)

// Client is the API client an OAuth2 simulator accepts (inline in its settings block:
// client_id, client_secret).
type Client struct {
	ClientID     string        `yaml:"client_id"`
	ClientSecret config.Secret `yaml:"client_secret"`
}

// OAuthSettings are what the settings block of a simulator whose API takes OAuth2 client
// credentials shares with the others: the client it accepts (client_id, client_secret)
// and the shared Settings, both inline; the simulator inlines them after its own keys.
type OAuthSettings struct {
	Client   `yaml:",inline"`
	Settings `yaml:",inline"`
}

// Validate lists problems at path: the client's (what: see Client.Validate), then those
// vendor lists for the simulator's own keys (nil: none), then the shared settings'.
func (o *OAuthSettings) Validate(path string, p *config.Problems, what string, vendor func()) {
	o.Client.Validate(path, p, what)
	if vendor != nil {
		vendor()
	}
	o.Settings.Validate(path, p)
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

// OAuthToken answers a granted token request (RFC 6749, 5.1): a new access token of
// access with its lifetime in seconds (expires_in), tokenType as the vendor spells it
// and, unless refresh is nil, a new refresh token of refresh.
func OAuthToken(w http.ResponseWriter, tokenType string, access, refresh *Tokens) {
	answer := map[string]any{"access_token": access.Issue(), "token_type": tokenType, "expires_in": int(access.ttl.Seconds())}
	if refresh != nil {
		answer["refresh_token"] = refresh.Issue()
	}
	simkit.WriteJSON(w, answer)
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
