package ecgrid

import (
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/ecgrid/ecgridsim"
	"github.com/auditstream/auditstream/pollers/ecgrid/mapping"
)

// Provider is the ECGridOS SessionLog as this build knows it: its source, simulator and mapping to
// OCSF. cmd/auditstream/app registers it with one line.
var Provider = pollers.Provider{
	Source: pollers.Define(Name, func(c *Config, d pollers.Deps) (pollers.Source, error) {
		return New(d.Poller, *c, Options{Timeout: d.HTTPConfig.Timeout.D(), MaxRetries: d.HTTPConfig.MaxRetries,
			MaxBodyBytes: d.HTTPConfig.MaxBodyBytes}, d.Log, d.Metrics)
	}),
	Simulator: ecgridsim.Plugin,
	Mapper:    mapping.Mapper{},
}
