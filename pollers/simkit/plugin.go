package simkit

import (
	"net/http"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/block"
)

// Plugin is one provider simulator as `auditstream sim` and `run` see it: the provider
// it imitates, the path prefix of its API, and how its settings block is decoded,
// defaulted, validated and turned into a handler.
type Plugin struct {
	Provider string
	// Prefix is the path of the simulated API under the listen address (the base URL a
	// poller is given is http://<listen><Prefix>).
	Prefix string
	// Block checks the settings block (Check).
	block.Block
	build func(settings any) http.Handler
}

// Define declares a simulator whose settings block is S.
func Define[S any, PS interface {
	*S
	config.Settings
}](provider, prefix string, build func(s *S) http.Handler) Plugin {
	return Plugin{Provider: provider, Prefix: prefix, Block: block.Of[S, PS](),
		build: func(s any) http.Handler { return build(s.(*S)) }}
}

// New decodes the settings block and builds the handler.
func (pl Plugin) New(n *yaml.Node) (http.Handler, error) {
	s, err := pl.Decode(n, "simulator "+pl.Provider)
	if err != nil {
		return nil, err
	}
	return pl.build(s), nil
}
