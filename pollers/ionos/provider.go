package ionos

import (
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
	"github.com/auditstream/auditstream/pollers/ionos/mapping"
)

// Provider is the IONOS Cloud activity log as this build knows it: its source, simulator and mapping to
// OCSF. cmd/auditstream/app registers it with one line.
var Provider = pollers.Provider{
	Source: pollers.Define(Name, func(c *Config, d pollers.Deps) (pollers.Source, error) {
		return New(d.Poller, *c, d.HTTP, d.Log, d.Metrics), nil
	}),
	Simulator: ionossim.Plugin,
	Mapper:    mapping.Mapper{},
}
