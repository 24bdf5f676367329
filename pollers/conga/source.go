package conga

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// New builds the Conga Sign provider: it lists packages and fetches their audit trails
// (pollers.Lister and pollers.LogFetcher). cfg must be validated (SetDefaults applied).
// The listing is GET /api/sign/v1/cs-packages with from/to: 1-based, inclusive indices of
// the first and last package of a page (OneSpan Sign's scheme, which Conga Sign shares),
// read until a short or empty page or the answer's count; a package's log is its audit
// trail.
func New(cfg Config, hc *pollhttp.Client) (*fulllog.REST, error) {
	size := cfg.PageSize
	from := func(n int) int { return 1 + n*size } // every page before n was whole
	return &fulllog.REST{Settings: cfg.Settings, Loc: cfg.Zone.Location(), Get: newClient(cfg, hc).Read,
		Page: func(_ string, n int) (string, string) {
			q := url.Values{"from": {strconv.Itoa(from(n))}, "to": {strconv.Itoa(from(n) + size - 1)}}
			return "/api/sign/v1/cs-packages?" + q.Encode(), fmt.Sprintf("list packages from %d", from(n))
		},
		ReadPage: DecodePackages, Terminal: Terminal,
		Kind: "package", LogName: "audit", ReadLog: DecodeAudit,
		LogPath: func(id string) string { return "/api/sign/v1/cs-packages/" + url.PathEscape(id) + "/audit" },
	}, nil
}

// newClient returns the client of authenticated GETs: an OAuth2 client-credentials
// token (fetched through the project's HTTP client, so retries, Retry-After and the size
// cap apply to the token endpoint too), renewed before it expires and once more on a 401.
func newClient(cfg Config, hc *pollhttp.Client) *pollhttp.OAuth2 {
	cc := clientcredentials.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret.Reveal(), TokenURL: cfg.TokenURL,
		Scopes: strings.Fields(cfg.Scope), AuthStyle: oauth2.AuthStyleInParams,
	}
	return pollhttp.NewOAuth2(hc, pollhttp.OAuth2Config{BaseURL: cfg.BaseURL, Grant: cc.Token, Error: func(err error) error {
		if re, status, ok := pollhttp.RetrieveError(err); ok {
			return &AuthError{Status: status, Code: pollhttp.Scrub(re.ErrorCode, cfg.ClientSecret.Reveal())}
		}
		return fmt.Errorf("conga token request: %s", pollhttp.Scrub(err.Error(), cfg.ClientSecret.Reveal()))
	}})
}

// AuthError is a refused token request. It carries the status and the vendor's error
// code only: the oauth2 library's own error quotes the whole answer body.
type AuthError struct {
	Status int
	Code   string
}

func (e *AuthError) Error() string {
	hint := "check settings.client_id and settings.client_secret"
	switch {
	case e.Code == "ERROR_AUTHENTICATION_CLIENT_DISABLED":
		hint = "the API client is disabled in Conga Sign: enable it or configure another one"
	case e.Status == http.StatusNotFound:
		hint = "no token endpoint there: check settings.token_url, expected like " + DefaultTokenURL
	}
	code := e.Code
	if code == "" {
		code = "no error code"
	}
	return fmt.Sprintf("conga token request refused: HTTP %d %s (%s)", e.Status, code, hint)
}
