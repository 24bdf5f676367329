package logsim

import (
	"net/http"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/simkit"
)

// Define declares a full-log simulator for `auditstream sim` and `run`: its settings
// block C (decoded, defaulted and validated by the plug-in) and newSim, which builds it
// from the block.
func Define[C any, PC interface {
	*C
	config.Settings
}](provider, prefix string, newSim func(C) http.Handler) simkit.Plugin {
	return simkit.Define[C, PC](provider, prefix, func(c *C) http.Handler { return newSim(*c) })
}

// Sim is the skeleton every full-log simulator embeds, generic in its settings block C
// (which embeds Settings): the shared Base (the simulator's http.Handler), the settings,
// defaulted, and the access tokens it issues. A simulator adds its vendor's routes to
// Mux and its own state.
type Sim[C any] struct {
	*Base
	Cfg    C
	Tokens *Tokens
}

// NewSim builds the skeleton from cfg, SetDefaults applied: access tokens issued with
// tokenPrefix live token_ttl on the settings' clock; render draws one entry in the
// vendor's shape and writeErr writes the vendor's error body.
func NewSim[C any, PC interface {
	*C
	config.Settings
	SimSettings() *Settings
}](cfg C, tokenPrefix string, render func(*Entry) []byte, writeErr ErrorWriter) Sim[C] {
	PC(&cfg).SetDefaults()
	s := PC(&cfg).SimSettings()
	return Sim[C]{Base: NewBase(s, render, writeErr), Cfg: cfg, Tokens: NewTokens(tokenPrefix, s.TokenTTL.D(), s.Clock())}
}
