package pollhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/oauth2"
)

// OAuth2 does authenticated GETs with an OAuth2 access token from golang.org/x/oauth2,
// whose token requests go through the Client (retries, Retry-After and the size cap
// apply to the token endpoint too, and their answers are never quoted: they may echo
// the credentials). A token is fetched when there is none or it is about to expire (the
// library's Token.Valid), renewed with its refresh token when it has one (a full grant
// only when that fails), and renewed once more on a 401.
type OAuth2 struct {
	base  string
	http  *Client
	hc    *http.Client // the oauth2 library's HTTP client: a transport over http
	grant TokenFunc
	renew func(ctx context.Context, t *oauth2.Token) (*oauth2.Token, error)
	fail  func(err error) error
	adj   func(t *oauth2.Token)

	mu  sync.Mutex
	tok *oauth2.Token
}

// TokenFunc is a grant of the oauth2 library (clientcredentials.Config.Token, a closure
// over oauth2.Config.PasswordCredentialsToken...): ctx carries the HTTP client it must use.
type TokenFunc func(ctx context.Context) (*oauth2.Token, error)

// OAuth2Config is what an OAuth2 client needs besides the Client.
type OAuth2Config struct {
	// BaseURL of the API (a trailing slash is dropped).
	BaseURL string
	// Grant fetches a new token.
	Grant TokenFunc
	// Refresh, if set, is the oauth2.Config whose TokenSource renews a token that has a
	// refresh token; a refused refresh falls back on Grant.
	Refresh *oauth2.Config
	// Header is added to every token request (nil: none).
	Header http.Header
	// Expiry, if set, adjusts the expiry of every new token (renew earlier than the
	// library would, or give an expiry to a token the answer gave none).
	Expiry func(t *oauth2.Token)
	// Error turns a failed token request into the error returned (nil: as it is). The
	// library's own errors quote the whole answer body: it must keep only what carries
	// no secret (RetrieveError's status and error code, Scrub).
	Error func(err error) error
}

// NewOAuth2 builds the OAuth2 client of cfg over c.
func NewOAuth2(c *Client, cfg OAuth2Config) *OAuth2 {
	o := &OAuth2{base: strings.TrimRight(cfg.BaseURL, "/"), http: c, grant: cfg.Grant, fail: cfg.Error, adj: cfg.Expiry,
		hc: &http.Client{Transport: viaClient{c: c, header: cfg.Header}}}
	if cfg.Refresh != nil {
		o.renew = func(ctx context.Context, t *oauth2.Token) (*oauth2.Token, error) {
			return cfg.Refresh.TokenSource(ctx, &oauth2.Token{RefreshToken: t.RefreshToken}).Token()
		}
	}
	if o.fail == nil {
		o.fail = func(err error) error { return err }
	}
	return o
}

// Token returns a valid access token (caller of GetBearer).
func (o *OAuth2) Token(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tok.Valid() {
		return o.tok.AccessToken, nil
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.hc)
	if o.renew != nil && o.tok != nil && o.tok.RefreshToken != "" {
		tok, err := o.renew(ctx, o.tok)
		if err == nil {
			return o.keep(tok), nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		o.tok = nil // refused or expired: a full grant
	}
	tok, err := o.grant(ctx)
	if err != nil {
		return "", o.fail(err)
	}
	return o.keep(tok), nil
}

// keep makes tok the current token (caller holds mu) and returns its access token.
func (o *OAuth2) keep(tok *oauth2.Token) string {
	if o.adj != nil {
		o.adj(tok)
	}
	o.tok = tok
	return tok.AccessToken
}

// drop forgets the access token tok if it is still the current one (after a 401); its
// refresh token is kept.
func (o *OAuth2) drop(tok string) {
	o.mu.Lock()
	if o.tok != nil && o.tok.AccessToken == tok {
		t := *o.tok
		t.AccessToken = ""
		o.tok = &t
	}
	o.mu.Unlock()
}

// Get does GET base+path?q with a bearer token; a 401 renews the token once.
func (o *OAuth2) Get(ctx context.Context, path string, q url.Values) (*Response, error) {
	u := o.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return o.http.GetBearer(ctx, u, o.Token, o.drop)
}

// RetrieveError returns the status and the body of a token request the server refused
// (ok false: err is not such a refusal). A status is 0 when the library kept no response.
func RetrieveError(err error) (re *oauth2.RetrieveError, status int, ok bool) {
	if !errors.As(err, &re) {
		return nil, 0, false
	}
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	return re, status, true
}

// Scrub replaces every non-empty secret in s by "[redacted]".
func Scrub(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// viaClient is an http.RoundTripper that sends every request through a Client, so the
// oauth2 library's token requests follow the project's HTTP rules. Answers with a status
// the client does not retry are handed back as they are, for the library to read the
// OAuth2 error; answers that ran out of retries are an error.
type viaClient struct {
	c      *Client
	header http.Header
}

func (t viaClient) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	// The form carries the client secret: an answer echoing it is never quoted in logs.
	resp, err := t.c.Do(NoBodyExcerpt(req.Context()), func(ctx context.Context) (*http.Request, error) {
		r := req.Clone(ctx)
		for k, v := range t.header {
			r.Header[k] = v
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = nil
		return r, nil
	})
	if resp == nil {
		return nil, err
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", resp.Status, http.StatusText(resp.Status)), StatusCode: resp.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(resp.Body)), ContentLength: int64(len(resp.Body)),
		Request: req,
	}, nil
}

// Read does GET base+path (Get) and hands the answer to read.
func (o *OAuth2) Read(ctx context.Context, path string, read func(*Response) error) error {
	resp, err := o.Get(ctx, path, nil)
	if err != nil {
		return err
	}
	return read(resp)
}
