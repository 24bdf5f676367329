// Package pollhttp is the HTTP client every REST poller uses: bounded retries with
// jittered backoff that honour Retry-After, a response size cap, per-status metrics,
// redirects followed only within the same host and never from https to http
// (CheckRedirect), and errors that carry the status and a short, secret-free body excerpt
// (none at all for requests marked with NoBodyExcerpt, whose answers may echo
// credentials) and name the setting at fault (Hints: the base URL behind a 404 or a web
// page instead of the API, the credentials behind a persistent 401).
package pollhttp

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/backoff"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/retryafter"
	"github.com/auditstream/auditstream/internal/stopping"
)

// Config bounds requests. Zero values take the defaults.
type Config struct {
	MaxRetries    int           // retries after the first attempt (default 5)
	BackoffMin    time.Duration // default 500ms
	BackoffMax    time.Duration // default 30s
	MaxRetryAfter time.Duration // cap on a server's Retry-After (default 5m)
	MaxBodyBytes  int64         // response size cap (default 32 MiB)
}

func (c *Config) defaults() {
	if c.MaxRetries == 0 {
		c.MaxRetries = 5
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 500 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = 5 * time.Minute
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 32 << 20
	}
}

// Client does requests for one provider.
type Client struct {
	http     *http.Client
	provider string
	cfg      Config
	log      *slog.Logger
	m        *metrics.Metrics
	hints    Hints
}

// Hints name the settings a provider's errors point at (a provider's settings give them,
// HTTPHints): the base URL behind a 404 or a page that is not the API's, the credentials
// behind a 401 that a new token does not cure.
type Hints struct {
	// BaseURL is the API's URL setting and its expected form ("settings.base_url
	// (expected like https://…)").
	BaseURL string
	// TokenURL is the token endpoint's setting when it has its own ("": BaseURL).
	TokenURL string
	// Credentials names the credential settings ("settings.client_id and settings.client_secret").
	Credentials string
}

func (h Hints) baseURL() string { return cmp.Or(h.BaseURL, "the provider's URL setting") }

func (h Hints) credentials() string {
	return cmp.Or(h.Credentials, "the provider's credential settings")
}

// WithHints returns a copy of c whose errors (and refused redirects) name h's settings.
func (c *Client) WithHints(h Hints) *Client {
	cp := *c
	own := *c.http
	own.CheckRedirect = RedirectPolicy(h.baseURL())
	cp.http, cp.hints = &own, h
	return &cp
}

// New builds a Client. hc must have a Timeout; New refuses one without.
func New(hc *http.Client, provider string, cfg Config, log *slog.Logger, m *metrics.Metrics) (*Client, error) {
	if hc == nil || hc.Timeout <= 0 {
		return nil, errors.New("pollhttp: the http.Client needs a Timeout")
	}
	cfg.defaults()
	own := *hc // the caller's client is not modified
	own.CheckRedirect = RedirectPolicy(Hints{}.baseURL())
	return &Client{http: &own, provider: provider, cfg: cfg, log: log, m: m}, nil
}

// ErrRedirect is returned for a redirect to another host (or scheme): its answer is
// not the provider's, so accepting it could move a cursor past data never read.
var ErrRedirect = errors.New("redirect to another host refused")

// ErrDowngrade is returned for a redirect from https to http (on any host): following
// it would send the credentials in clear text. It wraps ErrRedirect.
var ErrDowngrade = fmt.Errorf("%w: a redirect from https to plain http", ErrRedirect)

// CheckRedirect is the redirect policy of provider clients (http.Client.CheckRedirect):
// a redirect to the same scheme and host is followed (at most 10 times) without a
// Referer header (it would carry the query, which may hold secrets); any other redirect
// fails with ErrRedirect (a downgrade from https to http with ErrDowngrade), and the
// request is not sent. The Client's own policy names its base URL setting (WithHints).
var CheckRedirect = RedirectPolicy("the configured URL")

// RedirectPolicy is CheckRedirect whose errors tell to check setting (a URL setting
// and its expected form).
func RedirectPolicy(setting string) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		first, last := via[0].URL, via[len(via)-1]
		if strings.EqualFold(last.URL.Scheme, "https") && !strings.EqualFold(req.URL.Scheme, "https") {
			return fmt.Errorf("%w: %s %s answered with a redirect to %s://%s%s, refused: the credentials would cross the network "+
				"in clear text; set %s to the https:// address the service answers at", ErrDowngrade,
				last.Method, last.URL.Path, req.URL.Scheme, req.URL.Host, req.URL.Path, setting)
		}
		if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
			return fmt.Errorf("%w: %s %s answered with a redirect to %s://%s%s (check %s)", ErrRedirect,
				last.Method, last.URL.Path, req.URL.Scheme, req.URL.Host, req.URL.Path, setting)
		}
		if len(via) >= 10 {
			return fmt.Errorf("%w: more than 10 redirects from %s", ErrRedirect, first.Path)
		}
		req.Header.Del("Referer")
		return nil
	}
}

// Response is a fully read response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// StatusError is a response with a status that was not retried (or ran out of retries).
type StatusError struct {
	Status  int
	Method  string
	URL     string // without query secrets: the path only
	Excerpt string
	// Hint, if set, names the setting to check.
	Hint string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Status, e.Excerpt)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// IsStatus reports whether err is a StatusError with the code.
func IsStatus(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == code
}

// ErrTooLarge is returned when a body exceeds MaxBodyBytes.
var ErrTooLarge = errors.New("response body over the size cap")

// Retryable reports whether a status is worth retrying.
func Retryable(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusInternalServerError ||
		code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

type noExcerptKey struct{}

// NoBodyExcerpt marks the requests made under ctx as carrying secrets (a token request
// with a client secret or a password in its form): their answers may echo the request,
// so neither the retry warnings nor the errors of Do quote the answer's body. The
// Response of a non-2xx answer still carries the body for the caller to read.
func NoBodyExcerpt(ctx context.Context) context.Context {
	return context.WithValue(ctx, noExcerptKey{}, true)
}

// withheld is the excerpt of an answer to a request marked with NoBodyExcerpt.
const withheld = "(body not shown: the request carries credentials)"

// Do sends the request that build makes (a new one per attempt) and returns the response
// once it has a 2xx status. Retries transport errors, 429 and 5xx; honours Retry-After.
func (c *Client) Do(ctx context.Context, build func(ctx context.Context) (*http.Request, error)) (*Response, error) {
	bo := backoff.New(c.cfg.BackoffMin, c.cfg.BackoffMax)
	secret, _ := ctx.Value(noExcerptKey{}).(bool)
	var lastErr error
	for attempt := 0; ; attempt++ {
		req, err := build(ctx)
		if err != nil {
			return nil, fmt.Errorf("build request: %w", err)
		}
		resp, err := c.once(req)
		var wait time.Duration
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil && (errors.Is(err, ErrTooLarge) || errors.Is(err, ErrRedirect)):
			return nil, err
		case err != nil:
			lastErr = err
		case resp.Status >= 200 && resp.Status < 300:
			if err := c.notAPI(req, resp, secret); err != nil {
				return nil, err
			}
			return resp, nil
		case Retryable(resp.Status):
			lastErr = c.statusErr(req, resp, secret)
			wait = retryafter.Header(resp.Header, c.cfg.MaxRetryAfter)
		default:
			return resp, c.statusErr(req, resp, secret)
		}
		if attempt >= c.cfg.MaxRetries {
			return nil, fmt.Errorf("giving up after %d attempts: %w", attempt+1, lastErr)
		}
		if wait == 0 {
			wait = bo.Next()
		}
		c.log.Warn("provider request failed, retrying", "provider", c.provider, "path", req.URL.Path,
			"attempt", attempt+1, "retry_in", wait.Round(time.Millisecond), "err", lastErr)
		// A retry wait holds nothing fetched: it ends as soon as the poll run is asked to
		// stop (shutdown, rebalance), not only when its context is cancelled.
		if !stopping.Sleep(ctx, wait) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("retry abandoned, the poll run is stopping: %w", lastErr)
		}
	}
}

func (c *Client) once(req *http.Request) (*Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		code := "error"
		if resp != nil { // a refused redirect: the answer that asked for it
			code = strconv.Itoa(resp.StatusCode)
			resp.Body.Close()
		}
		c.m.ProviderHTTPRequests.WithLabelValues(c.provider, code).Inc()
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, stripURL(err))
	}
	defer resp.Body.Close()
	c.m.ProviderHTTPRequests.WithLabelValues(c.provider, strconv.Itoa(resp.StatusCode)).Inc()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", req.Method, req.URL.Path, err)
	}
	if int64(len(body)) > c.cfg.MaxBodyBytes {
		return nil, fmt.Errorf("%s %s: %w (%d bytes)", req.Method, req.URL.Path, ErrTooLarge, c.cfg.MaxBodyBytes)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func (c *Client) statusErr(req *http.Request, resp *Response, secret bool) error {
	e := &StatusError{Status: resp.Status, Method: req.Method, URL: req.URL.Path, Excerpt: withheld}
	if !secret {
		e.Excerpt = Excerpt(resp.Body)
	}
	// A 404 of an authentication request, or one that is not the API's own answer (a web
	// server's page rather than JSON or XML), means the path is wrong: the base URL.
	switch {
	case resp.Status == http.StatusNotFound && (secret || !structured(resp)):
		e.Hint = "no such path: check " + c.baseURL(secret)
	case resp.Status == http.StatusUnauthorized && !secret:
		e.Hint = "the credentials are refused: check " + c.hints.credentials()
	}
	return e
}

// baseURL names the URL setting of a request (secret: an authentication request).
func (c *Client) baseURL(secret bool) string {
	if secret && c.hints.TokenURL != "" {
		return c.hints.TokenURL
	}
	return c.hints.baseURL()
}

// structured reports whether an answer looks like an API's: JSON or XML, by its content
// type or, without one, by its first character.
func structured(resp *Response) bool {
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if strings.Contains(ct, "json") || strings.Contains(ct, "xml") {
		return true
	}
	b := bytes.TrimSpace(resp.Body)
	return ct == "" && len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// notAPI returns an error for a 2xx answer that is a web page (text/html, or markup to
// a request that asked for JSON): a login page, a proxy's or a portal's, not the API. It
// says what arrived (the content type and, unless the request carries credentials, a
// short excerpt) and which setting to check.
func (c *Client) notAPI(req *http.Request, resp *Response, secret bool) error {
	ct := resp.Header.Get("Content-Type")
	b := bytes.TrimSpace(resp.Body)
	html := strings.Contains(strings.ToLower(ct), "text/html")
	markup := len(b) > 0 && b[0] == '<' && strings.Contains(req.Header.Get("Accept"), "json")
	if !html && !markup {
		return nil
	}
	excerpt := withheld
	if !secret {
		excerpt = fmt.Sprintf("%q", Excerpt(b[:min(len(b), 120)]))
	}
	return fmt.Errorf("%s %s: HTTP %d answered %s, not the API's JSON: %s (check %s)", req.Method, req.URL.Path, resp.Status,
		cmp.Or(ct, "no content type"), excerpt, c.baseURL(secret))
}

// Unauthorized explains a 401 (or 403) that a new token did not cure: the credentials
// themselves are refused (or lack the permission), and the error names their settings.
// Any other error is returned as it is.
func (c *Client) Unauthorized(err error) error {
	var se *StatusError
	if !errors.As(err, &se) || (se.Status != http.StatusUnauthorized && se.Status != http.StatusForbidden) {
		return err
	}
	if se.Hint == "" {
		se.Hint = "check " + c.hints.credentials()
	}
	return fmt.Errorf("refused again with a new token: %w", err)
}

// Excerpt returns at most 200 printable characters of a body, for error messages.
func Excerpt(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r < 32 || r == 127 {
			return ' '
		}
		return r
	}, string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// stripURL removes the query (which may carry secrets) from url.Error messages.
func stripURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// GetBearer does GET url with "Authorization: Bearer <token>" (Accept: application/json),
// token from token (which fetches one when it has none). A 401 answer means the server no
// longer knows the token (a restart, a revocation): drop forgets it and the request is
// repeated once with a new one.
func (c *Client) GetBearer(ctx context.Context, url string, token func(context.Context) (string, error), drop func(token string)) (*Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := token(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(ctx, func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Accept", "application/json")
			return req, nil
		})
		if attempt == 0 && IsStatus(err, http.StatusUnauthorized) {
			drop(tok)
			continue
		}
		if attempt > 0 {
			err = c.Unauthorized(err)
		}
		return resp, err
	}
}
