// Package conga polls the audit trail of Conga Sign packages
// (GET /api/sign/v1/cs-packages/{packageId}/audit), discovering packages from the
// cs-packages listing. Conga Sign returns each package's whole audit trail with no entry
// id: the shared log diff turns it into new records.
package conga

import (
	"cmp"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// Name is the provider name (audit.raw.conga).
const Name = "conga"

// DefaultTokenURL is the production token endpoint (preview accounts use
// https://login-rlspreview.congacloud.com/api/v1/auth/connect/token).
const DefaultTokenURL = "https://login-rls.congacloud.com/api/v1/auth/connect/token"

// Config of a Conga Sign poller (the `settings:` block of a poller with provider conga).
type Config struct {
	// BaseURL is the Conga Sign API host, e.g. https://sign-rls.congacloud.com (required:
	// it depends on the account's region).
	BaseURL string `yaml:"base_url"`
	// TokenURL is the OAuth2 token endpoint (default DefaultTokenURL).
	TokenURL string `yaml:"token_url"`
	// ClientID and ClientSecret are the API client's credentials (client credentials grant).
	ClientID     string        `yaml:"client_id"`
	ClientSecret config.Secret `yaml:"client_secret"`
	// Scope of the token (default "sign").
	Scope string `yaml:"scope"`
	// allow_plain_http: true accepts http:// URLs to a host that is not a loopback
	// address (tests only; logged as a warning at every start).
	config.PlainHTTP `yaml:",inline"`
	// The settings every full-log provider shares: tenant (default client_id), discover
	// (the GET /api/sign/v1/cs-packages listing, default true), page_size (packages per
	// listing request, default 50, at most 100), zone (of the zone-less `date-time`
	// values, default UTC), targets (static packages), retire_after...
	fulllog.Settings `yaml:",inline"`
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	c.TokenURL = cmp.Or(c.TokenURL, DefaultTokenURL)
	c.Scope = cmp.Or(c.Scope, "sign")
	c.Tenant = cmp.Or(c.Tenant, c.ClientID)
	c.Settings.SetDefaults()
}

// Validate lists the problems of the block at path.
func (c *Config) Validate(path string, p *config.Problems) {
	c.PlainHTTP.Check(path, p, c.endpoints()...)
	if c.ClientID == "" {
		p.Add(path+".client_id", "is required")
	}
	if c.ClientSecret == "" {
		p.Add(path+".client_secret", "is required")
	}
	c.Settings.ValidateProvider(path, p, 100)
}

// endpoints are the URL settings, which carry credentials.
func (c *Config) endpoints() []config.Endpoint {
	return []config.Endpoint{
		{Key: "base_url", URL: c.BaseURL, Carries: "the access token", Form: "https://sign-rls.congacloud.com",
			Shape: config.PathEnds("", "/api/sign/v1", "/api/sign", "/api")},
		{Key: "token_url", URL: c.TokenURL, Carries: "the client secret", Form: DefaultTokenURL, Shape: config.PathEnds("/token")},
	}
}

// InsecureTransport implements config.InsecureTransport.
func (c *Config) InsecureTransport() []string { return c.PlainHTTP.Insecure(c.endpoints()...) }

// HTTPHints are the settings the HTTP client's errors point at.
func (c *Config) HTTPHints() pollhttp.Hints {
	return pollhttp.Hints{BaseURL: "settings.base_url (expected like https://sign-rls.congacloud.com)",
		TokenURL: "settings.token_url (expected like " + DefaultTokenURL + ")", Credentials: "settings.client_id and settings.client_secret"}
}
