package ecgridsim

import (
	"net/http"

	"github.com/auditstream/auditstream/pollers/simkit"
)

// Plugin registers the ECGridOS simulator (provider "ecgrid").
var Plugin = simkit.Define("ecgrid", "/v4.1/prod/ECGridOS.asmx", func(s *Settings) http.Handler { return New(s.Config()) })

// SetDefaults is a no-op: the simulator's defaults are applied by New.
func (s *Settings) SetDefaults() {}
