package conga

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
	"golang.org/x/oauth2/clientcredentials"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// client does authenticated GETs: an OAuth2 client-credentials token (fetched through
// the project's HTTP client, so retries, Retry-After and the size cap apply to the token
// endpoint too), renewed before it expires and once more on a 401.
type client struct {
	base   string
	http   *pollhttp.Client
	oauth  clientcredentials.Config
	secret config.Secret
	hc     *http.Client // the oauth2 library's HTTP client: a transport over http

	mu  sync.Mutex
	tok *oauth2.Token
}

func newClient(cfg Config, hc *pollhttp.Client) *client {
	return &client{
		base: strings.TrimRight(cfg.BaseURL, "/"),
		http: hc,
		oauth: clientcredentials.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret.Reveal(), TokenURL: cfg.TokenURL,
			Scopes: strings.Fields(cfg.Scope), AuthStyle: oauth2.AuthStyleInParams,
		},
		secret: cfg.ClientSecret,
		hc:     &http.Client{Transport: viaPollHTTP{hc}},
	}
}

// AuthError is a refused token request. It carries the status and the vendor's error
// code only: the oauth2 library's own error quotes the whole answer body.
type AuthError struct {
	Status int
	Code   string
}

func (e *AuthError) Error() string {
	hint := "check settings.client_id and settings.client_secret"
	if e.Code == "ERROR_AUTHENTICATION_CLIENT_DISABLED" {
		hint = "the API client is disabled in Conga Sign: enable it or configure another one"
	}
	code := e.Code
	if code == "" {
		code = "no error code"
	}
	return fmt.Sprintf("conga token request refused: HTTP %d %s (%s)", e.Status, code, hint)
}

// token returns a valid access token, fetching one when there is none or it is about to
// expire (the oauth2 library's Valid keeps a safety margin).
func (c *client) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.Valid() {
		return c.tok.AccessToken, nil
	}
	tok, err := c.oauth.Token(context.WithValue(ctx, oauth2.HTTPClient, c.hc))
	if err != nil {
		return "", c.authErr(err)
	}
	c.tok = tok
	return tok.AccessToken, nil
}

func (c *client) authErr(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		code := re.ErrorCode
		if s := c.secret.Reveal(); s != "" {
			code = strings.ReplaceAll(code, s, "[redacted]")
		}
		return &AuthError{Status: status, Code: code}
	}
	msg := err.Error()
	if s := c.secret.Reveal(); s != "" {
		msg = strings.ReplaceAll(msg, s, "[redacted]")
	}
	return fmt.Errorf("conga token request: %s", msg)
}

// drop forgets tok if it is still the current token (after a 401).
func (c *client) drop(tok string) {
	c.mu.Lock()
	if c.tok != nil && c.tok.AccessToken == tok {
		c.tok = nil
	}
	c.mu.Unlock()
}

// get does GET base+path?q with a bearer token; a 401 renews the token once.
func (c *client) get(ctx context.Context, path string, q url.Values) (*pollhttp.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return c.http.GetBearer(ctx, u, c.token, c.drop)
}

// viaPollHTTP is an http.RoundTripper that sends every request through a pollhttp.Client,
// so the oauth2 library's token requests follow the project's HTTP rules. Answers with
// a status the client does not retry are handed back as they are, for the library to
// read the OAuth2 error; answers that ran out of retries are an error.
type viaPollHTTP struct{ c *pollhttp.Client }

func (t viaPollHTTP) RoundTrip(req *http.Request) (*http.Response, error) {
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
	resp, err := t.c.Do(pollhttp.NoBodyExcerpt(req.Context()), func(ctx context.Context) (*http.Request, error) {
		r := req.Clone(ctx)
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
