package ecgrid

import "github.com/auditstream/auditstream/pollers"

// Plugin registers the ECGridOS provider.
var Plugin = pollers.Define(Provider, func(c *Config, d pollers.Deps) (pollers.Source, error) {
	return New(d.Poller, *c, Options{Timeout: d.HTTPConfig.Timeout.D(), MaxRetries: d.HTTPConfig.MaxRetries,
		MaxBodyBytes: d.HTTPConfig.MaxBodyBytes}, d.Log, d.Metrics)
})
