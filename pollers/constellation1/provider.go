package constellation1

import (
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/constellation1/constellation1sim"
	"github.com/auditstream/auditstream/pollers/constellation1/mapping"
	"github.com/auditstream/auditstream/pollers/fulllog"
)

// Provider is Constellation1 eSign as this build knows it: the shared full-log source over New's
// LogFetcher and (unless discover is off) its Lister, the simulator, and the mapping to
// OCSF. cmd/auditstream/app registers it with one line.
var Provider = pollers.Provider{Source: fulllog.Define(Name, New), Simulator: constellation1sim.Plugin, Mapper: mapping.Mapper}
