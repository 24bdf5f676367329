package conga

import (
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/conga/congasim"
	"github.com/auditstream/auditstream/pollers/conga/mapping"
	"github.com/auditstream/auditstream/pollers/fulllog"
)

// Provider is Conga Sign as this build knows it: the shared full-log source over New's
// LogFetcher and (unless discover is off) its Lister, the simulator, and the mapping to
// OCSF. cmd/auditstream/app registers it with one line.
var Provider = pollers.Provider{Source: fulllog.Define(Name, New), Simulator: congasim.Plugin, Mapper: mapping.Mapper}
