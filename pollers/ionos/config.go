// Package ionos polls the IONOS Cloud Activity Log (GET /contracts/{contractNumber}).
package ionos

import (
	"strconv"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/pollers/window"
)

// Config of an IONOS poller (the `ionos:` block of a poller).
type Config struct {
	// BaseURL of the Activity Log API (default https://api.ionos.com/activitylog/v1).
	BaseURL string `yaml:"base_url"`
	// Token is a bearer token; or use Username and Password (Basic, being phased out).
	Token    config.Secret `yaml:"token"`
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password"`
	// Contracts to poll; empty = every contract GET /contracts lists.
	Contracts []string `yaml:"contracts"`
	// PageSize is the limit of one request (default 1000).
	PageSize int `yaml:"page_size"`
	// MaxResults is the most entries one query can page through, offset+limit (default 10000).
	MaxResults int `yaml:"max_results"`
	// Window holds the shared window settings (overlap, lag, initial_lookback,
	// start_window, max_window, min_window, max_seen), written beside the keys above.
	Window window.Settings `yaml:",inline"`
	// allow_plain_http: true accepts an http:// base_url to a host that is not a
	// loopback address (tests only; logged as a warning at every start).
	config.PlainHTTP `yaml:",inline"`
}

// DefaultBaseURL is the public API.
const DefaultBaseURL = "https://api.ionos.com/activitylog/v1"

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.PageSize == 0 {
		c.PageSize = 1000
	}
	if c.MaxResults == 0 {
		c.MaxResults = 10000
	}
	c.Window.SetDefaults()
}

// Validate lists the problems of the block at path.
func (c *Config) Validate(path string, p *config.Problems) {
	c.PlainHTTP.Check(path, p, c.endpoint())
	if c.Token == "" && (c.Username == "" || c.Password == "") {
		p.Add(path, "set token, or username and password")
	}
	if c.Token != "" && c.Username != "" {
		p.Add(path, "set token or username/password, not both")
	}
	if c.PageSize < 1 || c.PageSize > c.MaxResults {
		p.Add(path+".page_size", "must be between 1 and max_results (%d), got %d", c.MaxResults, c.PageSize)
	}
	c.Window.Validate(path, p)
	for i, id := range c.Contracts {
		if id == "" {
			p.Add(path+".contracts["+strconv.Itoa(i)+"]", "is empty")
		}
	}
}

// endpoint is the base URL, up to and including /activitylog/v1.
func (c *Config) endpoint() config.Endpoint {
	return config.Endpoint{Key: "base_url", URL: c.BaseURL, Carries: "the bearer token (or the Basic credentials)",
		Form: DefaultBaseURL, Shape: config.PathEnds("/activitylog/v1", "/contracts")}
}

// InsecureTransport implements config.InsecureTransport.
func (c *Config) InsecureTransport() []string { return c.PlainHTTP.Insecure(c.endpoint()) }

// HTTPHints are the settings the HTTP client's errors point at.
func (c *Config) HTTPHints() pollhttp.Hints {
	creds := "settings.token"
	if c.Token == "" {
		creds = "settings.username and settings.password"
	}
	return pollhttp.Hints{BaseURL: "settings.base_url (expected like " + DefaultBaseURL + ")", Credentials: creds}
}
