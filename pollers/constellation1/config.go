// Package constellation1 polls the action logs of Constellation1 eSign signing sessions
// (GET rest/v1/sessions/{sessionId}/actionlogs), discovering sessions from the archived,
// expired and deleted listings and the lite listing of in-flight sessions. The action
// log has no entry id and identical entries repeat: the shared log diff turns each
// fetched log into new records.
package constellation1

import (
	"cmp"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// Name is the provider name (audit.raw.constellation1).
const Name = "constellation1"

// DefaultBaseURL is the production API (staging: https://api.stage.esignonline.net/rest).
const DefaultBaseURL = "https://api.esignonline.net/rest"

// Listings the poller can read.
const (
	ListArchived = "archived"
	ListExpired  = "expired"
	ListDeleted  = "deleted"
	ListLite     = "lite"
)

// Config of a Constellation1 eSign poller (the `settings:` block of a poller with
// provider constellation1).
type Config struct {
	// BaseURL of the REST API, up to and including /rest (default DefaultBaseURL).
	BaseURL string `yaml:"base_url"`
	// APIKey is the account's API key (it travels in the path of the encrypt call).
	APIKey config.Secret `yaml:"api_key"`
	// Username is the eSign user whose in-flight sessions the lite listing returns.
	Username string `yaml:"username"`
	// TransactionID narrows the lite listing to one transaction (default "0": all).
	TransactionID string `yaml:"transaction_id"`
	// Listings to read (default archived, expired, deleted and, with a username, lite).
	Listings []string `yaml:"listings"`
	// TokenMaxAge: a token older than this is replaced before a request (default 10s;
	// the vendor's tokens are very short-lived). A rejected token is replaced anyway.
	TokenMaxAge config.Duration `yaml:"token_max_age"`
	// allow_plain_http: true accepts an http:// base_url to a host that is not a
	// loopback address (tests only; logged as a warning at every start).
	config.PlainHTTP `yaml:",inline"`
	// The settings every full-log provider shares: tenant (default username, else
	// "default"), discover (the session listings, default true), page_size (of the
	// listings, default 50, the lite listing's maximum), zone (of zone-less dates,
	// default UTC; the vendor's is unknown), targets (static sessions), retire_after...
	fulllog.Settings `yaml:",inline"`
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	c.BaseURL = cmp.Or(c.BaseURL, DefaultBaseURL)
	c.TransactionID = cmp.Or(c.TransactionID, "0")
	c.Tenant = cmp.Or(c.Tenant, c.Username, "default")
	if len(c.Listings) == 0 {
		c.Listings = []string{ListArchived, ListExpired, ListDeleted}
		if c.Username != "" {
			c.Listings = append(c.Listings, ListLite)
		}
	}
	c.TokenMaxAge = cmp.Or(c.TokenMaxAge, config.Duration(10*time.Second))
	c.Settings.SetDefaults()
}

// Validate lists the problems of the block at path.
func (c *Config) Validate(path string, p *config.Problems) {
	c.PlainHTTP.Check(path, p, c.endpoint())
	if c.APIKey == "" {
		p.Add(path+".api_key", "is required")
	}
	for i, l := range c.Listings {
		switch l {
		case ListArchived, ListExpired, ListDeleted:
		case ListLite:
			if c.Username == "" {
				p.Add(path+".username", "is required by the lite listing")
			}
		default:
			p.Add(path+".listings", "item %d: %q is not archived, expired, deleted or lite", i, l)
		}
	}
	p.Positive(path+".token_max_age", c.TokenMaxAge)
	c.Settings.ValidateProvider(path, p, 50)
}

// endpoint is the base URL, up to and including /rest: the v1/... paths follow it.
func (c *Config) endpoint() config.Endpoint {
	return config.Endpoint{Key: "base_url", URL: c.BaseURL, Carries: "the API key and the session token",
		Form: DefaultBaseURL, Shape: config.PathEnds("/rest", "/v1")}
}

// InsecureTransport implements config.InsecureTransport.
func (c *Config) InsecureTransport() []string { return c.PlainHTTP.Insecure(c.endpoint()) }

// HTTPHints are the settings the HTTP client's errors point at.
func (c *Config) HTTPHints() pollhttp.Hints {
	return pollhttp.Hints{BaseURL: "settings.base_url (expected like " + DefaultBaseURL + ", ending in /rest)", Credentials: "settings.api_key"}
}
