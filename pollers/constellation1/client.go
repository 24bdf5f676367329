package constellation1

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// client does the vendor's three-step authentication and authenticated GETs:
//
//  1. GET v1/encrypt/{apiKey}/{salt} → ReturnValue = the encrypted key;
//  2. GET v1/gettoken/{salt} with header "Authorization: <encrypted key>" → ReturnValue =
//     the token;
//  3. every call sends "Authorization: <token>" (no "Bearer").
//
// Tokens are very short-lived: one older than token_max_age is replaced before a request,
// and an answer that rejects the token (401/403, a null body or an error message instead
// of data) replaces it and repeats the request once.
type client struct {
	base     string // scheme://host/path of the API, no trailing slash
	basePath string // its escaped path
	http     *pollhttp.Client
	apiKey   config.Secret
	maxAge   time.Duration
	now      func() time.Time

	mu     sync.Mutex
	tok    string
	issued time.Time
}

func newClient(cfg Config, hc *pollhttp.Client) (*client, error) {
	base := strings.TrimRight(cfg.BaseURL, "/")
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("settings.base_url: %w", err)
	}
	return &client{base: base, basePath: u.EscapedPath(), http: hc, apiKey: cfg.APIKey, maxAge: cfg.TokenMaxAge.D(), now: time.Now}, nil
}

// AuthError is a refused authentication step.
type AuthError struct {
	Step    string
	Message string
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("constellation1 authentication refused at %s: %s (check settings.api_key)", e.Step, e.Message)
}

// scrub removes the API key from a message (the encrypt call carries it in its path).
func (c *client) scrub(s string) string {
	if k := c.apiKey.Reveal(); k != "" {
		s = strings.ReplaceAll(s, k, "[redacted]")
		s = strings.ReplaceAll(s, url.PathEscape(k), "[redacted]")
	}
	return s
}

func (c *client) newToken(ctx context.Context) (string, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	salt := hex.EncodeToString(b[:])
	// The API key travels in the path: the request line is set from URL.Opaque, and
	// URL.Path (which the HTTP client's logs and errors show) holds a redacted copy. The
	// answers (which may echo the key or the encrypted credential) are never quoted.
	ctx = pollhttp.NoBodyExcerpt(ctx)
	resp, err := c.http.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/encrypt/[redacted]/"+salt, nil)
		if err != nil {
			return nil, err
		}
		req.URL.Opaque = c.basePath + "/v1/encrypt/" + url.PathEscape(c.apiKey.Reveal()) + "/" + salt
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		if resp != nil {
			return "", &AuthError{Step: "encrypt", Message: c.scrub(err.Error())}
		}
		return "", fmt.Errorf("constellation1 encrypt: %s", c.scrub(err.Error()))
	}
	enc, err := DecodeReturnValue(resp.Body)
	if err != nil {
		return "", &AuthError{Step: "encrypt", Message: c.scrub(err.Error())}
	}
	resp, err = c.http.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/gettoken/"+salt, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", enc)
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		if resp != nil {
			return "", &AuthError{Step: "gettoken", Message: c.scrub(err.Error())}
		}
		return "", fmt.Errorf("constellation1 gettoken: %s", c.scrub(err.Error()))
	}
	tok, err := DecodeReturnValue(resp.Body)
	if err != nil {
		return "", &AuthError{Step: "gettoken", Message: c.scrub(err.Error())}
	}
	return tok, nil
}

// token returns a token younger than maxAge.
func (c *client) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != "" && c.now().Sub(c.issued) < c.maxAge {
		return c.tok, nil
	}
	tok, err := c.newToken(ctx)
	if err != nil {
		return "", err
	}
	c.tok, c.issued = tok, c.now()
	return tok, nil
}

func (c *client) drop(tok string) {
	c.mu.Lock()
	if c.tok == tok {
		c.tok = ""
	}
	c.mu.Unlock()
}

// get does GET base+path with the token and decodes the answer; a rejected token
// (401/403 or a RejectedError from decode) is replaced and the request repeated once.
func (c *client) get(ctx context.Context, path string, decode func([]byte) error) error {
	for attempt := 0; ; attempt++ {
		tok, err := c.token(ctx)
		if err != nil {
			return err
		}
		resp, err := c.http.Do(ctx, func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", tok)
			req.Header.Set("Accept", "application/json")
			return req, nil
		})
		if err == nil {
			err = decode(resp.Body)
			if attempt == 0 && IsRejected(err) {
				c.drop(tok)
				continue
			}
			return err
		}
		if attempt == 0 && (pollhttp.IsStatus(err, http.StatusUnauthorized) || pollhttp.IsStatus(err, http.StatusForbidden)) {
			c.drop(tok)
			continue
		}
		return err
	}
}
