// Package signinghub polls the workflow history of Ascertia SigningHub packages
// (GET /v3/packages/{package_id}/log), discovering packages from the
// /v3/packages/{document_status}/{page_no}/{records_per_page} listing. SigningHub returns
// each package's whole history with no unique entry id (log_id repeats): the shared log
// diff turns it into new records.
package signinghub

import (
	"cmp"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// Name is the provider name (audit.raw.signinghub).
const Name = "signinghub"

// DefaultBaseURL is SigningHub's cloud API.
const DefaultBaseURL = "https://api.signinghub.com"

// Grant types of POST /authenticate.
const (
	GrantPassword          = "password"
	GrantClientCredentials = "client_credentials"
)

// Config of a SigningHub poller (the `settings:` block of a poller with provider signinghub).
type Config struct {
	// BaseURL of the API (default DefaultBaseURL; on-premises installations have their own).
	BaseURL string `yaml:"base_url"`
	// GrantType is "password" (default: an enterprise user) or "client_credentials".
	GrantType    string        `yaml:"grant_type"`
	ClientID     string        `yaml:"client_id"`
	ClientSecret config.Secret `yaml:"client_secret"`
	// Username and Password of the user (password grant).
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password"`
	// Scope is the optional user to act as (an enterprise admin acting for a user).
	Scope string `yaml:"scope"`
	// DocumentStatus is the listing's status filter (default ALL).
	DocumentStatus string `yaml:"document_status"`
	// allow_plain_http: true accepts an http:// base_url to a host that is not a
	// loopback address (tests only; logged as a warning at every start).
	config.PlainHTTP `yaml:",inline"`
	// The settings every full-log provider shares: tenant (default username, else
	// client_id), discover (the package listing, default true), page_size
	// (records_per_page of the listing, default 50, at most 100), zone (of the zone-less
	// date_time values, default UTC), targets (static packages), retire_after...
	fulllog.Settings `yaml:",inline"`
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	c.BaseURL = cmp.Or(c.BaseURL, DefaultBaseURL)
	c.GrantType = cmp.Or(c.GrantType, GrantPassword)
	c.Tenant = cmp.Or(c.Tenant, c.Username, c.ClientID)
	c.DocumentStatus = cmp.Or(c.DocumentStatus, "ALL")
	c.Settings.SetDefaults()
}

var documentStatuses = map[string]bool{"ALL": true, "DRAFT": true, "PENDING": true, "SIGNED": true, "DECLINED": true,
	"INPROGRESS": true, "EDITED": true, "REVIEWED": true, "COMPLETED": true}

// Validate lists the problems of the block at path.
func (c *Config) Validate(path string, p *config.Problems) {
	c.PlainHTTP.Check(path, p, c.endpoint())
	if c.ClientID == "" {
		p.Add(path+".client_id", "is required")
	}
	if c.ClientSecret == "" {
		p.Add(path+".client_secret", "is required")
	}
	switch c.GrantType {
	case GrantPassword:
		if c.Username == "" || c.Password == "" {
			p.Add(path, "grant_type password needs username and password")
		}
	case GrantClientCredentials:
	default:
		p.Add(path+".grant_type", "%q is not \"password\" or \"client_credentials\"", c.GrantType)
	}
	if !documentStatuses[c.DocumentStatus] {
		p.Add(path+".document_status", "%q is not one of ALL, DRAFT, PENDING, SIGNED, DECLINED, INPROGRESS, EDITED, REVIEWED, COMPLETED", c.DocumentStatus)
	}
	c.Settings.ValidateProvider(path, p, 100)
}

// endpoint is the base URL: POST /authenticate and the /v3 paths follow it.
func (c *Config) endpoint() config.Endpoint {
	return config.Endpoint{Key: "base_url", URL: c.BaseURL, Carries: "the client secret, the password and the access token",
		Form: DefaultBaseURL + " (the host, without /v3)", Shape: config.PathEnds("", "/v3", "/v4", "/authenticate")}
}

// InsecureTransport implements config.InsecureTransport.
func (c *Config) InsecureTransport() []string { return c.PlainHTTP.Insecure(c.endpoint()) }

// HTTPHints are the settings the HTTP client's errors point at.
func (c *Config) HTTPHints() pollhttp.Hints {
	creds := "settings.client_id and settings.client_secret"
	if c.GrantType == GrantPassword {
		creds = "settings.client_id, settings.client_secret, settings.username and settings.password"
	}
	return pollhttp.Hints{BaseURL: "settings.base_url (expected like " + DefaultBaseURL + ", without /v3)", Credentials: creds}
}
