package ionossim

import (
	"net/http"

	"github.com/auditstream/auditstream/pollers/simkit"
)

// Plugin registers the IONOS simulator (provider "ionos").
var Plugin = simkit.Define("ionos", "/activitylog/v1", func(s *Settings) http.Handler { return New(s.Config()) })

// SetDefaults is a no-op: the simulator's defaults are applied by New.
func (s *Settings) SetDefaults() {}
