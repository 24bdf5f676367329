package signinghub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// client does authenticated GETs with a SigningHub access token: fetched with the
// configured grant, renewed with the refresh token before it expires (a full
// authentication only when that fails), and renewed once more on a 401.
type client struct {
	cfg  Config
	base string
	http *pollhttp.Client
	now  func() time.Time

	mu      sync.Mutex
	access  string
	refresh string
	expiry  time.Time
}

func newClient(cfg Config, hc *pollhttp.Client) *client {
	return &client{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), http: hc, now: time.Now}
}

// ErrOTP is returned when SigningHub asks for a one-time password.
var ErrOTP = errors.New("SigningHub asks for a one-time password (403 with x-otp): this user signs in with a second factor, " +
	"which a poller cannot answer; set settings.grant_type to client_credentials, or use an API user without OTP")

// AuthError is a refused authentication: the status and SigningHub's error text.
type AuthError struct {
	Status  int
	Grant   string
	Message string
}

func (e *AuthError) Error() string {
	hint := "check settings.client_id, settings.client_secret"
	if e.Grant == GrantPassword {
		hint += ", settings.username and settings.password"
	}
	return fmt.Sprintf("signinghub authentication (grant %s) refused: HTTP %d %s (%s)", e.Grant, e.Status, e.Message, hint)
}

type tokenAnswer struct {
	AccessToken  string          `json:"access_token"`
	TokenType    string          `json:"token_type"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
	RefreshToken string          `json:"refresh_token"`
}

// authenticate posts the form to /authenticate and stores the tokens (caller holds mu).
func (c *client) authenticate(ctx context.Context, form url.Values) error {
	grant := form.Get("grant_type")
	body := form.Encode()
	// The form carries the client secret and password: an answer echoing it is never
	// quoted in logs or errors.
	resp, err := c.http.Do(pollhttp.NoBodyExcerpt(ctx), func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/authenticate", strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		if resp != nil && resp.Status == http.StatusForbidden && resp.Header.Get("x-otp") != "" {
			return ErrOTP
		}
		if resp != nil {
			return &AuthError{Status: resp.Status, Grant: grant, Message: c.scrub(APIError(resp.Body))}
		}
		return fmt.Errorf("signinghub authentication: %s", c.scrub(err.Error()))
	}
	var a tokenAnswer
	if err := json.Unmarshal(resp.Body, &a); err != nil || a.AccessToken == "" {
		return fmt.Errorf("signinghub authentication: the answer has no access_token")
	}
	c.access, c.refresh = a.AccessToken, a.RefreshToken
	secs := 3600.0
	if v, err := jsonNumber(a.ExpiresIn); err == nil && v > 0 {
		secs = v
	}
	// Renew a minute early (or at half the lifetime of a short token).
	ttl := time.Duration(secs * float64(time.Second))
	c.expiry = c.now().Add(ttl - min(time.Minute, ttl/2))
	return nil
}

func jsonNumber(raw json.RawMessage) (float64, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	var f float64
	err := json.Unmarshal(raw, &f)
	return f, err
}

func (c *client) scrub(s string) string {
	for _, secret := range []string{c.cfg.ClientSecret.Reveal(), c.cfg.Password.Reveal(), c.refresh} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// token returns a valid access token.
func (c *client) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.access != "" && c.now().Before(c.expiry) {
		return c.access, nil
	}
	c.access = ""
	if c.refresh != "" {
		err := c.authenticate(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.refresh},
			"client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret.Reveal()}})
		if err == nil {
			return c.access, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		c.refresh = "" // refused or expired: authenticate afresh
	}
	form := url.Values{"grant_type": {c.cfg.GrantType}, "client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret.Reveal()}}
	if c.cfg.GrantType == GrantPassword {
		form.Set("username", c.cfg.Username)
		form.Set("password", c.cfg.Password.Reveal())
	}
	if c.cfg.Scope != "" {
		form.Set("scope", c.cfg.Scope)
	}
	if err := c.authenticate(ctx, form); err != nil {
		return "", err
	}
	return c.access, nil
}

// drop forgets tok if it is still the current access token (after a 401).
func (c *client) drop(tok string) {
	c.mu.Lock()
	if c.access == tok {
		c.access = ""
	}
	c.mu.Unlock()
}

// get does GET base+path with a bearer token; a 401 renews the token once.
func (c *client) get(ctx context.Context, path string) (*pollhttp.Response, error) {
	return c.http.GetBearer(ctx, c.base+path, c.token, c.drop)
}
