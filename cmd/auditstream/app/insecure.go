package app

import (
	"fmt"
	"log/slog"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// Insecure is a component of a configuration whose connections run with a weakened
// protection: what its block says (config.InsecureTransport), one reason a line.
type Insecure struct {
	// Component is the metric's label: kafka, poller:<name> or sink:<name>.
	Component string
	// Block is the block's path in the configuration (kafka.tls, pollers[0].settings).
	Block   string
	Reasons []string
}

// InsecureTransports lists the components of c that the roles run and whose blocks
// weaken their connections: an allow_plain_http opt-out used, a tls.insecure_skip_verify,
// SASL PLAIN without TLS. c must be valid.
func InsecureTransports(c *config.Root, roles Roles) []Insecure {
	var out []Insecure
	add := func(component, block string, s any) {
		if it, ok := s.(config.InsecureTransport); ok {
			if r := it.InsecureTransport(); len(r) > 0 {
				out = append(out, Insecure{Component: component, Block: block, Reasons: r})
			}
		}
	}
	if roles.NeedsKafka() && !c.Embedded() {
		add("kafka", "kafka", kafkaBlock{c.Kafka.TLS, c.Kafka.SASL})
	}
	if roles.Poll {
		for i, pc := range c.Pollers {
			if s, err := pollerSettings(pc); err == nil {
				add("poller:"+pc.Name, fmt.Sprintf("pollers[%d].settings", i), s)
			}
		}
	}
	if roles.Sink {
		only := map[string]bool{}
		for _, s := range roles.Sinks {
			only[s] = true
		}
		for i, sc := range c.Sinks {
			if len(only) > 0 && !only[sc.Name] {
				continue
			}
			if pl, err := sinkPlugin(sc.Type); err == nil {
				if s, err := pl.Decode(&sc.Settings); err == nil {
					add("sink:"+sc.Name, fmt.Sprintf("sinks[%d].settings", i), s)
				}
			}
		}
	}
	return out
}

// kafkaBlock is the kafka block's tls and sasl as a config.InsecureTransport:
// tls.insecure_skip_verify, and SASL PLAIN without TLS (the password in clear text), as
// a Kafka sink's settings say them.
type kafkaBlock struct {
	tls  config.KafkaTLS
	sasl config.SASL
}

func (k kafkaBlock) InsecureTransport() []string {
	out := k.tls.Insecure("tls")
	if k.sasl.Mechanism == "plain" && !k.tls.On() {
		out = append(out, "sasl uses PLAIN without tls: the password crosses the network in clear text (set kafka.tls, or use scram-sha-512)")
	}
	return out
}

// warnInsecure logs a warning for every weakened connection of the roles, naming the
// block and the setting, and sets auditstream_insecure_transport{component} to 1: at
// every start, so that an opt-out never goes unnoticed.
func warnInsecure(c *config.Root, roles Roles, log *slog.Logger, m *metrics.Metrics) {
	for _, in := range InsecureTransports(c, roles) {
		for _, r := range in.Reasons {
			log.Warn("insecure transport: "+in.Block+"."+r, "component", in.Component, "block", in.Block)
		}
		m.InsecureTransport.WithLabelValues(in.Component).Set(1)
	}
}

// pollerSettings decodes a poller's settings block (its provider's Settings type).
func pollerSettings(pc config.PollerConfig) (any, error) {
	pl, err := providerPlugin(pc.Provider)
	if err != nil {
		return nil, err
	}
	return pl.Decode(&pc.Settings, "provider "+pc.Provider)
}

// httpHints are the settings a poller's HTTP errors name (a provider's HTTPHints).
func httpHints(pc config.PollerConfig) pollhttp.Hints {
	s, err := pollerSettings(pc)
	if h, ok := s.(interface{ HTTPHints() pollhttp.Hints }); ok && err == nil {
		return h.HTTPHints()
	}
	return pollhttp.Hints{}
}
