package ionos

import "github.com/auditstream/auditstream/pollers"

// Plugin registers the IONOS provider.
var Plugin = pollers.Define(Provider, func(c *Config, d pollers.Deps) (pollers.Source, error) {
	return New(d.Poller, *c, d.HTTP, d.Log, d.Metrics), nil
})
