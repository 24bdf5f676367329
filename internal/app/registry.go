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
	"github.com/auditstream/auditstream/pollers/ecgrid"
	"github.com/auditstream/auditstream/pollers/ecgrid/ecgridsim"
	"github.com/auditstream/auditstream/pollers/ionos"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/file"
)

// Providers lists the providers this build knows.
var Providers = []string{ionos.Provider, ecgrid.Provider}

// SinkTypes lists the sink types this build knows.
var SinkTypes = []string{"file"}

// validatePoller checks a poller's provider block.
func validatePoller(pc config.PollerConfig, path string, p *config.Problems) {
	switch pc.Provider {
	case ionos.Provider:
		var c ionos.Config
		if err := config.DecodeStrict(&pc.Settings, &c); err != nil {
			p.Add(path+".settings", "%v", err)
			return
		}
		c.SetDefaults()
		c.Validate(path+".settings", p)
	case ecgrid.Provider:
		var c ecgrid.Config
		if err := config.DecodeStrict(&pc.Settings, &c); err != nil {
			p.Add(path+".settings", "%v", err)
			return
		}
		c.SetDefaults()
		c.Validate(path+".settings", p)
	case "":
	default:
		p.Add(path+".provider", "unknown provider %q (known: %v)", pc.Provider, Providers)
	}
}

// newSource builds a poller's Source.
func newSource(pc config.PollerConfig, log *slog.Logger, m *metrics.Metrics) (pollers.Source, error) {
	hc := &http.Client{Timeout: pc.HTTP.Timeout.D()}
	client, err := pollhttp.New(hc, pc.Provider, pollhttp.Config{
		MaxRetries: pc.HTTP.MaxRetries, MaxBodyBytes: pc.HTTP.MaxBodyBytes, MaxRetryAfter: pc.HTTP.MaxRetryAfter.D(),
	}, log, m)
	if err != nil {
		return nil, err
	}
	switch pc.Provider {
	case ionos.Provider:
		var c ionos.Config
		if err := config.DecodeStrict(&pc.Settings, &c); err != nil {
			return nil, err
		}
		c.SetDefaults()
		return ionos.New(pc.Name, c, client, log, m), nil
	case ecgrid.Provider:
		var c ecgrid.Config
		if err := config.DecodeStrict(&pc.Settings, &c); err != nil {
			return nil, err
		}
		c.SetDefaults()
		return ecgrid.New(pc.Name, c, ecgrid.Options{Timeout: pc.HTTP.Timeout.D(), MaxRetries: pc.HTTP.MaxRetries,
			MaxBodyBytes: pc.HTTP.MaxBodyBytes}, log, m)
	}
	return nil, fmt.Errorf("unknown provider %q", pc.Provider)
}

// validateSink checks a sink's block.
func validateSink(sc config.SinkConfig, path string, p *config.Problems) {
	switch sc.Type {
	case "file":
		var c file.Config
		if err := config.DecodeStrict(&sc.Settings, &c); err != nil {
			p.Add(path+".settings", "%v", err)
			return
		}
		c.Validate(path+".settings", p)
	case "":
	default:
		p.Add(path+".type", "unknown sink type %q (known: %v)", sc.Type, SinkTypes)
	}
}

// openSink opens a sink.
func openSink(sc config.SinkConfig, log *slog.Logger) (sinks.Sink, error) {
	switch sc.Type {
	case "file":
		var c file.Config
		if err := config.DecodeStrict(&sc.Settings, &c); err != nil {
			return nil, err
		}
		return file.Open(sc.Name, c, log)
	}
	return nil, fmt.Errorf("unknown sink type %q", sc.Type)
}

// validateSim checks a simulator block.
func validateSim(sc config.SimConfig, path string, p *config.Problems) {
	switch sc.Provider {
	case ionos.Provider:
		var s ionossim.Settings
		if err := config.DecodeStrict(&sc.Settings, &s); err != nil {
			p.Add(path+".settings", "%v", err)
			return
		}
		s.Validate(path+".settings", p)
	case ecgrid.Provider:
		var s ecgridsim.Settings
		if err := config.DecodeStrict(&sc.Settings, &s); err != nil {
			p.Add(path+".settings", "%v", err)
			return
		}
		s.Validate(path+".settings", p)
	default:
		p.Add(path+".provider", "no simulator for provider %q (known: %v)", sc.Provider, Providers)
	}
}

// newSim builds a simulator's handler and the path prefix of its API.
func newSim(sc config.SimConfig) (http.Handler, string, error) {
	switch sc.Provider {
	case ionos.Provider:
		var s ionossim.Settings
		if err := config.DecodeStrict(&sc.Settings, &s); err != nil {
			return nil, "", err
		}
		return ionossim.New(s.Config()), "/activitylog/v1", nil
	case ecgrid.Provider:
		var s ecgridsim.Settings
		if err := config.DecodeStrict(&sc.Settings, &s); err != nil {
			return nil, "", err
		}
		return ecgridsim.New(s.Config()), "/v4.1/prod/ECGridOS.asmx", nil
	}
	return nil, "", fmt.Errorf("no simulator for provider %q", sc.Provider)
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
