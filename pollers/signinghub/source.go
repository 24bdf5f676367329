package signinghub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// New builds the SigningHub provider: it lists packages and fetches their workflow
// history (pollers.Lister and pollers.LogFetcher). cfg must be validated (SetDefaults
// applied). The listing is GET
// /v3/packages/{document_status}/{page_no}/{records_per_page} (page_no from 1), read
// until a short or empty page or x-total-records; a package's log is its workflow
// history. A history shorter than before (SigningHub plans that delete the detailed log
// on completion) is returned as it is: the log diff reports the shrink.
func New(cfg Config, hc *pollhttp.Client) (*fulllog.REST, error) {
	return &fulllog.REST{Settings: cfg.Settings, Loc: cfg.Zone.Location(), Get: newClient(cfg, hc).Read,
		Page: func(_ string, n int) (string, string) {
			return "/v3/packages/" + url.PathEscape(cfg.DocumentStatus) + "/" + strconv.Itoa(n+1) + "/" + strconv.Itoa(cfg.PageSize),
				fmt.Sprintf("list packages page %d", n+1)
		},
		ReadPage: DecodePackages, Terminal: Terminal,
		Total: func(h http.Header) int { return fulllog.ParseTotal(h.Get("x-total-records")) },
		Kind:  "package", LogName: "history",
		LogPath: func(id string) string { return "/v3/packages/" + url.PathEscape(id) + "/log" },
		ReadLog: func(body []byte, loc *time.Location) (*fulllog.Log, error) {
			l, err := DecodeLog(body, loc)
			if err != nil {
				return nil, err
			}
			return &l.Log, nil
		},
	}, nil
}

// newClient returns the client of authenticated GETs with a SigningHub access token
// (golang.org/x/oauth2 against POST /authenticate, through the project's HTTP client):
// fetched with the configured grant, renewed with the refresh token before it expires (a
// full authentication only when that fails), and renewed once more on a 401.
func newClient(cfg Config, hc *pollhttp.Client) *pollhttp.OAuth2 {
	base := strings.TrimRight(cfg.BaseURL, "/")
	var scopes []string
	if cfg.Scope != "" {
		scopes = []string{cfg.Scope}
	}
	oc := &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret.Reveal(), Scopes: scopes,
		Endpoint: oauth2.Endpoint{TokenURL: base + "/authenticate", AuthStyle: oauth2.AuthStyleInParams}}
	grant := func(ctx context.Context) (*oauth2.Token, error) {
		return oc.PasswordCredentialsToken(ctx, cfg.Username, cfg.Password.Reveal())
	}
	if cfg.GrantType == GrantClientCredentials {
		cc := clientcredentials.Config{ClientID: oc.ClientID, ClientSecret: oc.ClientSecret, TokenURL: oc.Endpoint.TokenURL,
			Scopes: scopes, AuthStyle: oauth2.AuthStyleInParams}
		grant = cc.Token
	}
	return pollhttp.NewOAuth2(hc, pollhttp.OAuth2Config{BaseURL: base, Grant: grant, Refresh: oc,
		Header: http.Header{"Accept": {"application/json"}}, Expiry: renewEarly,
		Error: func(err error) error {
			secrets := []string{cfg.ClientSecret.Reveal(), cfg.Password.Reveal()}
			re, status, ok := pollhttp.RetrieveError(err)
			switch {
			case ok && status == http.StatusForbidden && re.Response.Header.Get("x-otp") != "":
				return ErrOTP
			case ok:
				return &AuthError{Status: status, Grant: cfg.GrantType, Message: pollhttp.Scrub(APIError(re.Body), secrets...)}
			}
			return fmt.Errorf("signinghub authentication: %s", pollhttp.Scrub(err.Error(), secrets...))
		}})
}

// renewEarly makes a token expire a minute early (or at half the lifetime of a short
// token); one whose answer has no expires_in lives an hour.
func renewEarly(t *oauth2.Token) {
	now := time.Now()
	ttl := time.Hour
	if !t.Expiry.IsZero() {
		ttl = t.Expiry.Sub(now)
	}
	t.Expiry = now.Add(ttl - min(time.Minute, ttl/2))
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
	if e.Status == http.StatusNotFound {
		hint = "no /authenticate there: check settings.base_url, expected like " + DefaultBaseURL + " (the host, without /v3)"
	}
	return fmt.Sprintf("signinghub authentication (grant %s) refused: HTTP %d %s (%s)", e.Grant, e.Status, e.Message, hint)
}
