package signinghub

import (
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/signinghub/mapping"
	"github.com/auditstream/auditstream/pollers/signinghub/signinghubsim"
)

// Provider is SigningHub as this build knows it: the shared full-log source over New's
// LogFetcher and (unless discover is off) its Lister, the simulator, and the mapping to
// OCSF. cmd/auditstream/app registers it with one line.
var Provider = pollers.Provider{Source: fulllog.Define(Name, New), Simulator: signinghubsim.Plugin, Mapper: mapping.Mapper}
