// Package app wires the roles of the auditstream binary together: it validates the
// configuration, starts Kafka (or the embedded broker), the simulators, the pollers, the
// normalizer, the sinks and the admin server, and shuts them down in order.
package app

import (
	"fmt"
	"log/slog"
	"net/http"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/conga"
	"github.com/auditstream/auditstream/pollers/constellation1"
	"github.com/auditstream/auditstream/pollers/ecgrid"
	"github.com/auditstream/auditstream/pollers/ionos"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/pollers/signinghub"
	"github.com/auditstream/auditstream/pollers/simkit"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/elasticsearch"
	"github.com/auditstream/auditstream/sinks/file"
	"github.com/auditstream/auditstream/sinks/kafka"
	"github.com/auditstream/auditstream/sinks/loki"
	"github.com/auditstream/auditstream/sinks/postgres"
	"github.com/auditstream/auditstream/sinks/splunkhec"
	"github.com/auditstream/auditstream/sinks/syslog"
	"github.com/auditstream/auditstream/sinks/webhook"
)

// The plug-ins of this build: one line per provider (its source, simulator and mapping;
// see pollers.Provider) and one per sink type.
var (
	providers = []pollers.Provider{
		ionos.Provider,
		ecgrid.Provider,
		constellation1.Provider,
		conga.Provider,
		signinghub.Provider,
	}
	sinkPlugins = []sinks.Plugin{
		file.Plugin,
		postgres.Plugin,
		webhook.Plugin,
		kafka.Plugin,
		syslog.Plugin,
		loki.Plugin,
		splunkhec.Plugin,
		elasticsearch.Plugin,
	}
)

// Providers lists the providers this build knows.
var Providers = func() []string {
	out := make([]string, len(providers))
	for i, p := range providers {
		out[i] = p.Name()
	}
	return out
}()

// Mappers are the providers' mappings by name, for the normalizer.
func Mappers() map[string]mapkit.Mapper {
	out := make(map[string]mapkit.Mapper, len(providers))
	for _, p := range providers {
		out[p.Name()] = p.Mapper
	}
	return out
}

// SinkTypes lists the sink types this build knows.
var SinkTypes = func() []string {
	var out []string
	for _, p := range sinkPlugins {
		out = append(out, p.Type)
	}
	return out
}()

// providerPlugin returns the source plug-in of the provider name.
func providerPlugin(name string) (pollers.Plugin, error) {
	p, ok := find(providers, func(p pollers.Provider) bool { return p.Name() == name })
	if !ok {
		return pollers.Plugin{}, fmt.Errorf("unknown provider %q", name)
	}
	return p.Source, nil
}

// simPlugin returns the simulator plug-in of the provider name.
func simPlugin(provider string) (simkit.Plugin, error) {
	p, ok := find(providers, func(p pollers.Provider) bool { return p.Name() == provider })
	if !ok {
		return simkit.Plugin{}, fmt.Errorf("no simulator for provider %q", provider)
	}
	return p.Simulator, nil
}

// sinkPlugin returns the plug-in of the sink type typ.
func sinkPlugin(typ string) (sinks.Plugin, error) {
	p, ok := find(sinkPlugins, func(p sinks.Plugin) bool { return p.Type == typ })
	if !ok {
		return sinks.Plugin{}, fmt.Errorf("unknown sink type %q", typ)
	}
	return p, nil
}

// find returns the first element of list that match accepts.
func find[T any](list []T, match func(T) bool) (T, bool) {
	for _, v := range list {
		if match(v) {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// checker is a plug-in that validates its settings block (pollers, sinks and simulators).
type checker interface {
	Check(n *yaml.Node, path string, p *config.Problems)
}

// checkPlugin validates the settings block of the plug-in that lookup finds for name, in a
// block at path; a name no plug-in has is a problem at path+field listing the known ones.
func checkPlugin[P checker](name string, lookup func(string) (P, error), known []string, settings *yaml.Node, path, field string, p *config.Problems) {
	pl, err := lookup(name)
	if err != nil {
		p.Add(path+field, "%v (known: %v)", err, known)
		return
	}
	pl.Check(settings, path+".settings", p)
}

// newSource builds a poller's Source.
func newSource(pc config.PollerConfig, log *slog.Logger, m *metrics.Metrics) (pollers.Source, error) {
	pl, err := providerPlugin(pc.Provider)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: pc.HTTP.Timeout.D()}
	client, err := pollhttp.New(hc, pc.Provider, pollhttp.Config{
		MaxRetries: pc.HTTP.MaxRetries, MaxBodyBytes: pc.HTTP.MaxBodyBytes, MaxRetryAfter: pc.HTTP.MaxRetryAfter.D(),
	}, log, m)
	if err != nil {
		return nil, err
	}
	client = client.WithHints(httpHints(pc)) // its errors name the poller's settings
	return pl.New(&pc.Settings, pollers.Deps{Poller: pc.Name, HTTP: client, HTTPConfig: pc.HTTP, Log: log, Metrics: m})
}

// openSink opens a sink.
func openSink(sc config.SinkConfig, log *slog.Logger, m *metrics.Metrics) (sinks.Sink, error) {
	pl, err := sinkPlugin(sc.Type)
	if err != nil {
		return nil, err
	}
	return pl.Open(sc.Name, &sc.Settings, sinks.Deps{Log: log, Metrics: m})
}

// newSim builds a simulator's handler and the path prefix of its API.
func newSim(sc config.SimConfig) (http.Handler, string, error) {
	pl, err := simPlugin(sc.Provider)
	if err != nil {
		return nil, "", err
	}
	h, err := pl.New(&sc.Settings)
	if err != nil {
		return nil, "", err
	}
	return h, pl.Prefix, nil
}

// Load reads the configuration file at path and validates it in one pass: its error
// (*config.Error) lists every problem, of reading the file (unset variables, unknown keys,
// wrong types, bad durations) and of validating it (the plug-ins' blocks, schedules,
// required keys), each at its line. validate, the roles and the repair tools all load
// their configuration here.
func Load(path string) (*config.Root, error) {
	var p config.Problems
	c := config.Read(path, &p)
	if c != nil {
		validate(c, &p)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks the whole configuration and lists every problem.
func Validate(c *config.Root) error {
	var p config.Problems
	validate(c, &p)
	return p.Err()
}

func validate(c *config.Root, p *config.Problems) {
	c.Validate(p)
	for i, pc := range c.Pollers {
		path := fmt.Sprintf("pollers[%d]", i)
		if pc.Provider != "" { // else reported by config.Root.Validate
			checkPlugin(pc.Provider, providerPlugin, Providers, &pc.Settings, path, ".provider", p)
		}
		if _, err := pollers.ParseSchedule(pc.Schedule); err != nil {
			p.Add(path+".schedule", "%v", err)
		}
		if _, err := pollers.ParseSchedule(pc.DiscoverySchedule); err != nil {
			p.Add(path+".discovery_schedule", "%v", err)
		}
	}
	for i, sc := range c.Sinks {
		if sc.Type != "" { // else reported by config.Root.Validate
			checkPlugin(sc.Type, sinkPlugin, SinkTypes, &sc.Settings, fmt.Sprintf("sinks[%d]", i), ".type", p)
		}
	}
	for i, sc := range c.Simulators {
		if sc.Provider == "" {
			p.Add(fmt.Sprintf("simulators[%d].provider", i), "is required")
			continue
		}
		checkPlugin(sc.Provider, simPlugin, Providers, &sc.Settings, fmt.Sprintf("simulators[%d]", i), ".provider", p)
	}
	known := map[string]bool{}
	for _, pr := range Providers {
		known[pr] = true
	}
	for i, pr := range c.Normalizer.Providers {
		if !known[pr] {
			p.Add(fmt.Sprintf("normalizer.providers[%d]", i), "unknown provider %q", pr)
		}
	}
}
