// Package ionos polls the IONOS Cloud Activity Log (GET /contracts/{contractNumber}).
package ionos

import (
	"strconv"
	"time"

	"github.com/auditstream/auditstream/internal/config"
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
	// Overlap re-reads this much before the watermark so late entries are caught (default 10m).
	Overlap config.Duration `yaml:"overlap"`
	// Lag keeps windows this far behind now (default 1m).
	Lag config.Duration `yaml:"lag"`
	// InitialLookback is how far back the first poll starts (default 24h).
	InitialLookback config.Duration `yaml:"initial_lookback"`
	// MaxWindow cuts a long catch-up into windows of at most this (default 6h).
	MaxWindow config.Duration `yaml:"max_window"`
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
	if c.Overlap == 0 {
		c.Overlap = config.Duration(10 * time.Minute)
	}
	if c.Lag == 0 {
		c.Lag = config.Duration(time.Minute)
	}
	if c.InitialLookback == 0 {
		c.InitialLookback = config.Duration(24 * time.Hour)
	}
	if c.MaxWindow == 0 {
		c.MaxWindow = config.Duration(6 * time.Hour)
	}
}

// Validate lists the problems of the block at path.
func (c *Config) Validate(path string, p *config.Problems) {
	p.CheckURL(path+".base_url", c.BaseURL)
	if c.Token == "" && (c.Username == "" || c.Password == "") {
		p.Add(path, "set token, or username and password")
	}
	if c.Token != "" && c.Username != "" {
		p.Add(path, "set token or username/password, not both")
	}
	if c.PageSize < 1 || c.PageSize > c.MaxResults {
		p.Add(path+".page_size", "must be between 1 and max_results (%d), got %d", c.MaxResults, c.PageSize)
	}
	p.Positive(path+".overlap", c.Overlap)
	if c.Lag < 0 {
		p.Add(path+".lag", "must not be negative")
	}
	p.Positive(path+".initial_lookback", c.InitialLookback)
	p.Positive(path+".max_window", c.MaxWindow)
	for i, id := range c.Contracts {
		if id == "" {
			p.Add(path+".contracts["+strconv.Itoa(i)+"]", "is empty")
		}
	}
}
