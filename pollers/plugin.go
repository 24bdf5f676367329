package pollers

import (
	"log/slog"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers/block"
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
	Name string
	// Block checks the settings block (Check).
	block.Block
	build func(settings any, d Deps) (Source, error)
}

// Define declares a provider whose settings block is S.
func Define[S any, PS interface {
	*S
	config.Settings
}](name string, build func(s *S, d Deps) (Source, error)) Plugin {
	return Plugin{Name: name, Block: block.Of[S, PS](),
		build: func(s any, d Deps) (Source, error) { return build(s.(*S), d) }}
}

// New decodes the settings block and builds the Source.
func (pl Plugin) New(n *yaml.Node, d Deps) (Source, error) {
	s, err := pl.Decode(n, "provider "+pl.Name)
	if err != nil {
		return nil, err
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
