package pollers

import (
	"fmt"
	"log/slog"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/pollers/simkit"
	"github.com/auditstream/auditstream/schemas/mapkit"
)

// Deps are what the process hands every provider it builds.
type Deps struct {
	// Poller is the poller's name (unique in a deployment).
	Poller string
	// HTTP is the provider HTTP client built from the poller's `http:` block (retries,
	// Retry-After, size cap, no cross-host redirects, errors without secrets).
	HTTP *pollhttp.Client
	// HTTPConfig is that block, for providers whose client is not plain HTTP (SOAP).
	HTTPConfig config.HTTPConfig
	Log        *slog.Logger
	Metrics    *metrics.Metrics
}

// Plugin is one provider as the process sees it: its name, how its settings block is
// decoded, defaulted and validated (once, in the provider's own Settings type), and how
// its Source is built. A provider package declares one with Define and the process
// registers it with one line (cmd/auditstream/app/registry.go).
type Plugin struct {
	Name   string
	decode func(n *yaml.Node, path string, p *config.Problems) any
	build  func(settings any, d Deps) (Source, error)
}

// Define declares a provider whose settings block is S.
func Define[S any, PS interface {
	*S
	config.Settings
}](name string, build func(s *S, d Deps) (Source, error)) Plugin {
	return Plugin{
		Name: name,
		decode: func(n *yaml.Node, path string, p *config.Problems) any {
			if s := config.DecodeBlock[S, PS](n, path, p); s != nil {
				return s
			}
			return nil
		},
		build: func(s any, d Deps) (Source, error) { return build(s.(*S), d) },
	}
}

// Check validates a settings block at path.
func (pl Plugin) Check(n *yaml.Node, path string, p *config.Problems) { pl.decode(n, path, p) }

// New decodes the settings block and builds the Source.
func (pl Plugin) New(n *yaml.Node, d Deps) (Source, error) {
	var p config.Problems
	s := pl.decode(n, "settings", &p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("provider %s: settings did not decode", pl.Name)
	}
	return pl.build(s, d)
}

// Provider is everything this build knows about one provider: how its pollers collect
// (Source), how its simulator imitates it (Simulator, for `auditstream sim`, `run` and the
// tests), and how its entries map to OCSF (Mapper, handed to the normalizer). A provider
// folder exports one value of it; cmd/auditstream/app/registry.go registers it with one
// line.
type Provider struct {
	Source    Plugin
	Simulator simkit.Plugin
	Mapper    mapkit.Mapper
}

// Name is the provider's name (the `provider:` of a poller, the raw topic's suffix).
func (p Provider) Name() string { return p.Source.Name }
