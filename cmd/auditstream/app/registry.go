// Package app wires the roles of the auditstream binary together: it validates the
// configuration, starts Kafka (or the embedded broker), the simulators, the pollers, the
// normalizer, the sinks and the admin server, and shuts them down in order.
package app

import (
	"fmt"
	"log/slog"
	"net/http"

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

func providerPlugin(name string) (pollers.Plugin, bool) {
	for _, p := range providers {
		if p.Name() == name {
			return p.Source, true
		}
	}
	return pollers.Plugin{}, false
}

func simPlugin(provider string) (simkit.Plugin, bool) {
	for _, p := range providers {
		if p.Name() == provider {
			return p.Simulator, true
		}
	}
	return simkit.Plugin{}, false
}

func sinkPlugin(typ string) (sinks.Plugin, bool) {
	for _, p := range sinkPlugins {
		if p.Type == typ {
			return p, true
		}
	}
	return sinks.Plugin{}, false
}

// validatePoller checks a poller's provider block.
func validatePoller(pc config.PollerConfig, path string, p *config.Problems) {
	if pc.Provider == "" {
		return // reported by config.Root.Validate
	}
	pl, ok := providerPlugin(pc.Provider)
	if !ok {
		p.Add(path+".provider", "unknown provider %q (known: %v)", pc.Provider, Providers)
		return
	}
	pl.Check(&pc.Settings, path+".settings", p)
}

// newSource builds a poller's Source.
func newSource(pc config.PollerConfig, log *slog.Logger, m *metrics.Metrics) (pollers.Source, error) {
	pl, ok := providerPlugin(pc.Provider)
	if !ok {
		return nil, fmt.Errorf("unknown provider %q", pc.Provider)
	}
	hc := &http.Client{Timeout: pc.HTTP.Timeout.D()}
	client, err := pollhttp.New(hc, pc.Provider, pollhttp.Config{
		MaxRetries: pc.HTTP.MaxRetries, MaxBodyBytes: pc.HTTP.MaxBodyBytes, MaxRetryAfter: pc.HTTP.MaxRetryAfter.D(),
	}, log, m)
	if err != nil {
		return nil, err
	}
	return pl.New(&pc.Settings, pollers.Deps{Poller: pc.Name, HTTP: client, HTTPConfig: pc.HTTP, Log: log, Metrics: m})
}

// validateSink checks a sink's block.
func validateSink(sc config.SinkConfig, path string, p *config.Problems) {
	if sc.Type == "" {
		return // reported by config.Root.Validate
	}
	pl, ok := sinkPlugin(sc.Type)
	if !ok {
		p.Add(path+".type", "unknown sink type %q (known: %v)", sc.Type, SinkTypes)
		return
	}
	pl.Check(&sc.Settings, path+".settings", p)
}

// openSink opens a sink.
func openSink(sc config.SinkConfig, log *slog.Logger, m *metrics.Metrics) (sinks.Sink, error) {
	pl, ok := sinkPlugin(sc.Type)
	if !ok {
		return nil, fmt.Errorf("unknown sink type %q", sc.Type)
	}
	return pl.Open(sc.Name, &sc.Settings, sinks.Deps{Log: log, Metrics: m})
}

// validateSim checks a simulator block.
func validateSim(sc config.SimConfig, path string, p *config.Problems) {
	pl, ok := simPlugin(sc.Provider)
	if !ok {
		p.Add(path+".provider", "no simulator for provider %q (known: %v)", sc.Provider, Providers)
		return
	}
	pl.Check(&sc.Settings, path+".settings", p)
}

// newSim builds a simulator's handler and the path prefix of its API.
func newSim(sc config.SimConfig) (http.Handler, string, error) {
	pl, ok := simPlugin(sc.Provider)
	if !ok {
		return nil, "", fmt.Errorf("no simulator for provider %q", sc.Provider)
	}
	h, err := pl.New(&sc.Settings)
	if err != nil {
		return nil, "", err
	}
	return h, pl.Prefix, nil
}

// Validate checks the whole configuration and lists every problem.
func Validate(c *config.Root) error {
	var p config.Problems
	c.Validate(&p)
	for i, pc := range c.Pollers {
		path := fmt.Sprintf("pollers[%d]", i)
		validatePoller(pc, path, &p)
		if _, err := pollers.ParseSchedule(pc.Schedule); err != nil {
			p.Add(path+".schedule", "%v", err)
		}
		if _, err := pollers.ParseSchedule(pc.DiscoverySchedule); err != nil {
			p.Add(path+".discovery_schedule", "%v", err)
		}
	}
	for i, sc := range c.Sinks {
		validateSink(sc, fmt.Sprintf("sinks[%d]", i), &p)
	}
	for i, sc := range c.Simulators {
		validateSim(sc, fmt.Sprintf("simulators[%d]", i), &p)
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
	return p.Err()
}
