// Package conga polls the audit trail of Conga Sign packages
// (GET /api/sign/v1/cs-packages/{packageId}/audit), discovering packages from the
// cs-packages listing. Conga Sign returns each package's whole audit trail with no entry
// id: the shared log diff turns it into new records.
package conga

import (
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/timeparse"
	"github.com/auditstream/auditstream/pollers/fulllog"
)

// Provider is the provider name (audit.raw.conga).
const Provider = "conga"

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
	// Tenant names the account in keys and events (default client_id).
	Tenant string `yaml:"tenant"`
	// Discover lists packages with GET /api/sign/v1/cs-packages (default true).
	Discover *bool `yaml:"discover"`
	// PageSize is the number of packages per listing request (default 50, at most 100).
	PageSize int `yaml:"page_size"`
	// Targets (static packages) and RetireAfter, shared by every full-log provider.
	fulllog.Settings `yaml:",inline"`
	// Zone is the time zone of the zone-less `date-time` values (default UTC).
	Zone timeparse.Zone `yaml:"zone"`
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.TokenURL == "" {
		c.TokenURL = DefaultTokenURL
	}
	if c.Scope == "" {
		c.Scope = "sign"
	}
	if c.Tenant == "" {
		c.Tenant = c.ClientID
	}
	if c.Discover == nil {
		t := true
		c.Discover = &t
	}
	if c.PageSize == 0 {
		c.PageSize = 50
	}
	c.Settings.SetDefaults()
	for i := range c.Targets {
		if c.Targets[i].Tenant == "" {
			c.Targets[i].Tenant = c.Tenant
		}
	}
}

// Validate lists the problems of the block at path.
func (c *Config) Validate(path string, p *config.Problems) {
	p.CheckURL(path+".base_url", c.BaseURL)
	p.CheckURL(path+".token_url", c.TokenURL)
	if c.ClientID == "" {
		p.Add(path+".client_id", "is required")
	}
	if c.ClientSecret == "" {
		p.Add(path+".client_secret", "is required")
	}
	if c.PageSize < 1 || c.PageSize > 100 {
		p.Add(path+".page_size", "must be between 1 and 100, got %d", c.PageSize)
	}
	c.Zone.Validate(path+".zone", p)
	if !*c.Discover && len(c.Targets) == 0 {
		p.Add(path, "discover is off and no targets are listed: nothing to poll")
	}
	c.Settings.Validate(path, p)
}
