package simkit

import (
	"fmt"
	"net/http"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
)

// Plugin is one provider simulator as `auditstream sim` and `run` see it: the provider
// it imitates, the path prefix of its API, and how its settings block is decoded,
// defaulted, validated and turned into a handler.
type Plugin struct {
	Provider string
	// Prefix is the path of the simulated API under the listen address (the base URL a
	// poller is given is http://<listen><Prefix>).
	Prefix string
	decode func(n *yaml.Node, path string, p *config.Problems) any
	build  func(settings any) http.Handler
}

// Define declares a simulator whose settings block is S.
func Define[S any, PS interface {
	*S
	config.Settings
}](provider, prefix string, build func(s *S) http.Handler) Plugin {
	return Plugin{
		Provider: provider, Prefix: prefix,
		decode: func(n *yaml.Node, path string, p *config.Problems) any {
			if s := config.DecodeBlock[S, PS](n, path, p); s != nil {
				return s
			}
			return nil
		},
		build: func(s any) http.Handler { return build(s.(*S)) },
	}
}

// Check validates a settings block at path.
func (pl Plugin) Check(n *yaml.Node, path string, p *config.Problems) { pl.decode(n, path, p) }

// New decodes the settings block and builds the handler.
func (pl Plugin) New(n *yaml.Node) (http.Handler, error) {
	var p config.Problems
	s := pl.decode(n, "settings", &p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("simulator %s: settings did not decode", pl.Provider)
	}
	return pl.build(s), nil
}
