package constellation1

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// New builds the Constellation1 eSign provider: it lists signing sessions and fetches
// their action logs (pollers.Lister and pollers.LogFetcher). cfg must be validated
// (SetDefaults applied). It reads each configured listing (pages from 0) until a short or
// empty page or the answer's total; a session's log is its action log.
func New(cfg Config, hc *pollhttp.Client) (*fulllog.REST, error) {
	c, err := newClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	return &fulllog.REST{Settings: cfg.Settings, Loc: cfg.Zone.Location(), Get: c.get,
		Listings: cfg.Listings, Page: func(listing string, n int) (string, string) {
			return listPath(cfg, listing, n), fmt.Sprintf("list %s sessions page %d", listing, n)
		},
		ReadPage: DecodeSessions, Terminal: Terminal,
		Kind: "session", LogName: "action log",
		LogPath: func(id string) string { return "/v1/sessions/" + url.PathEscape(id) + "/actionlogs" },
		ReadLog: func(body []byte, loc *time.Location) (*fulllog.Log, error) {
			es, err := DecodeActionLogs(body, loc)
			return &fulllog.Log{Entries: es}, err
		},
	}, nil
}

// listPath is the path of page n (0-based) of a listing.
func listPath(cfg Config, listing string, n int) string {
	size, num := strconv.Itoa(cfg.PageSize), strconv.Itoa(n)
	if listing == ListLite {
		return "/v1/sessions/lite/" + url.PathEscape(cfg.Username) + "/" + url.PathEscape(cfg.TransactionID) +
			"/" + size + "/" + num + "/sortBy?colName=ModifiedDate&sortOrder=asc"
	}
	return "/v1/sessions/" + listing + "/" + size + "/" + num
}

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
	// NotFound: the step answered 404, so the base URL is wrong rather than the key (the
	// message says so).
	NotFound bool
}

func (e *AuthError) Error() string {
	if e.NotFound { // the message names settings.base_url (pollhttp's hint)
		return fmt.Sprintf("constellation1 authentication refused at %s: %s", e.Step, e.Message)
	}
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
	enc, err := c.step(ctx, "encrypt", "/v1/encrypt/[redacted]/"+salt, func(req *http.Request) {
		req.URL.Opaque = c.basePath + "/v1/encrypt/" + url.PathEscape(c.apiKey.Reveal()) + "/" + salt
	})
	if err != nil {
		return "", err
	}
	return c.step(ctx, "gettoken", "/v1/gettoken/"+salt, func(req *http.Request) { req.Header.Set("Authorization", enc) })
}

// step does one authentication call, GET base+path as set builds it, and returns the
// answer's ReturnValue; a refusal is an AuthError naming the step.
func (c *client) step(ctx context.Context, name, path string, set func(*http.Request)) (string, error) {
	resp, err := c.http.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
		if err != nil {
			return nil, err
		}
		set(req)
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		if resp != nil {
			return "", &AuthError{Step: name, Message: c.scrub(err.Error()), NotFound: pollhttp.IsStatus(err, http.StatusNotFound)}
		}
		return "", fmt.Errorf("constellation1 %s: %s", name, c.scrub(err.Error()))
	}
	v, err := DecodeReturnValue(resp.Body)
	if err != nil {
		return "", &AuthError{Step: name, Message: c.scrub(err.Error())}
	}
	return v, nil
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

// get does GET base+path with the token and reads the answer; a rejected token
// (401/403 or a RejectedError from read) is replaced and the request repeated once.
func (c *client) get(ctx context.Context, path string, read func(*pollhttp.Response) error) error {
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
			err = read(resp)
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
		return c.http.Unauthorized(err)
	}
}
