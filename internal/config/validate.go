package config

import (
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Compressions are the codecs kafka.compression accepts.
var Compressions = []string{"none", "snappy", "lz4", "zstd"}

// DefaultCompression is the codec chosen by measurement (docs/benchmarks.md, "Kafka
// efficiency"): snappy and lz4 cost the same client CPU and shrink the audit JSON 4–6×
// (lz4 about 10 % more), but kafka-go's lz4 keeps 4 MiB block buffers that add 10–15 MiB
// to every process; zstd shrinks twice as much for about three times the CPU.
const DefaultCompression = "snappy"

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// Validate checks the generic parts; provider and sink blocks are checked by their owners.
func (c *Root) Validate(p *Problems) {
	p.adopt(c.file, c.pos, c.exp, c.budget) // so that problems found here are printed at their lines
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		p.Add("log.level", "%s is not one of debug, info, warn, error", p.Quote("log.level", c.Log.Level))
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		p.Add("log.format", "%s is not text or json", p.Quote("log.format", c.Log.Format))
	}
	if c.Admin.Listen != "off" {
		if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
			p.Add("admin.listen", "%s is not host:port (or \"off\")", p.Quote("admin.listen", c.Admin.Listen))
		}
	}
	for i, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			at := fmt.Sprintf("kafka.brokers[%d]", i)
			p.Add(at, "%s is not host:port", p.Quote(at, b))
		}
	}
	c.Kafka.TLS.Validate("kafka.tls", p)
	c.Kafka.SASL.Validate("kafka.sasl", p)
	if c.Embedded() && (c.Kafka.TLS.On() || !c.Kafka.SASL.IsZero()) {
		p.Add("kafka", "tls and sasl need kafka.brokers (the embedded development broker speaks plaintext only)")
	}
	if !slices.Contains(Compressions, c.Kafka.Compression) {
		p.Add("kafka.compression", "%s is not one of %s", p.Quote("kafka.compression", c.Kafka.Compression), strings.Join(Compressions, ", "))
	}
	t := c.Kafka.Topics
	for path, v := range map[string]string{"kafka.topics.events": t.Events, "kafka.topics.dlq": t.DLQ, "kafka.topics.checkpoints": t.Checkpoints, "kafka.topics.targets": t.Targets, "kafka.topics.raw_prefix": t.RawPrefix} {
		if strings.ContainsAny(v, " /\\,") {
			p.Add(path, "%s is not a valid topic name", p.Quote(path, v))
		}
	}
	if t.Partitions < 1 {
		p.Add("kafka.topics.partitions", "must be >= 1")
	}
	if t.MaxMessageBytes < 1<<20 || t.MaxMessageBytes > 64<<20 {
		p.Add("kafka.topics.max_message_bytes", "must be between 1 MiB and 64 MiB, got %d", t.MaxMessageBytes)
	}
	if c.Normalizer.MaxEventBytes < 64<<10 || c.Normalizer.MaxEventBytes > t.MaxMessageBytes {
		p.Add("normalizer.max_event_bytes", "must be between 64 KiB and kafka.topics.max_message_bytes (%d), got %d", t.MaxMessageBytes, c.Normalizer.MaxEventBytes)
	}
	switch c.Normalizer.Validate {
	case "off", "sample", "all":
	default:
		p.Add("normalizer.validate", "%s is not one of off, sample, all", p.Quote("normalizer.validate", c.Normalizer.Validate))
	}
	if c.Normalizer.ValidateSample <= 0 || c.Normalizer.ValidateSample > 1 {
		p.Add("normalizer.validate_sample", "must be a fraction in (0, 1], got %v", c.Normalizer.ValidateSample)
	}
	for _, prov := range slices.Sorted(maps.Keys(c.Normalizer.Zones)) {
		// The same rule as a poller's zone (Zone, timeparse.Location).
		z, at := c.Normalizer.Zones[prov], "normalizer.zones."+prov
		if z == "Local" {
			p.Add(at, "zone %q depends on the machine; name the zone (e.g. Europe/Berlin)", z)
		} else if _, err := time.LoadLocation(z); err != nil && !strings.EqualFold(z, "utc") {
			if p.Expanded(at) {
				p.Add(at, "%s is not an IANA time zone name (like UTC, Europe/Berlin)", p.Quote(at, z))
			} else {
				p.Add(at, "%q is not an IANA time zone name (like UTC, Europe/Berlin): %v", z, err)
			}
		}
	}
	c.validateZones(p) // a poller's zone against normalizer.zones (zone.go)
	if t.ReplicationFactor < 1 {
		p.Add("kafka.topics.replication_factor", "must be >= 1")
	}
	if tc := c.Targets; tc.SessionTimeout.D() < 6*time.Second || tc.SessionTimeout.D() > 30*time.Minute {
		p.Add("targets.session_timeout", "must be between 6s and 30m (the broker's default group limits), got %s", tc.SessionTimeout.D())
	}
	if c.Targets.RebalanceTimeout.D() < time.Second {
		p.Add("targets.rebalance_timeout", "must be at least 1s, got %s", c.Targets.RebalanceTimeout.D())
	}
	p.Positive("targets.refresh", c.Targets.Refresh)
	if c.Targets.Group != "" && strings.TrimSpace(c.Targets.Group) == "" {
		p.Add("targets.group", "must not be blank (leave it unset for the default)")
	}
	names := map[string]bool{}
	for i, pc := range c.Pollers {
		path := fmt.Sprintf("pollers[%d]", i)
		checkName(p, path+".name", pc.Name, " (1-63 characters)", names)
		if pc.Provider == "" {
			p.Add(path+".provider", "is required")
		}
		if pc.Parallel < 1 {
			p.Add(path+".parallel", "must be >= 1")
		}
		if pc.HTTP.Timeout <= 0 {
			p.Add(path+".http.timeout", "must be positive")
		}
		if pc.HTTP.MaxBodyBytes < 1024 {
			p.Add(path+".http.max_body_bytes", "must be at least 1024")
		}
		if pc.Jitter < 0 {
			p.Add(path+".jitter", "must not be negative")
		}
		if pc.HTTP.Timeout >= c.Targets.RebalanceTimeout {
			// A request that cannot be cancelled (SOAP) could outlive the poller's
			// ownership of its target in a rebalance.
			p.Add(path+".http.timeout", "must be below targets.rebalance_timeout (%s), got %s", c.Targets.RebalanceTimeout.D(), pc.HTTP.Timeout.D())
		}
	}
	snames := map[string]bool{}
	for i, s := range c.Sinks {
		path := fmt.Sprintf("sinks[%d]", i)
		checkName(p, path+".name", s.Name, "", snames)
		if s.Type == "" {
			p.Add(path+".type", "is required")
		}
		if s.MaxBatch < 0 {
			p.Add(path+".max_batch", "must be positive")
		}
		if s.MaxBatchBytes < 0 {
			p.Add(path+".max_batch_bytes", "must be positive")
		}
		if s.Linger < 0 {
			p.Add(path+".linger", "must not be negative")
		}
	}
	for i, s := range c.Simulators {
		path := fmt.Sprintf("simulators[%d]", i)
		if _, _, err := net.SplitHostPort(s.Listen); err != nil {
			p.Add(path+".listen", "%s is not host:port", p.Quote(path+".listen", s.Listen))
		}
	}
}

// checkName reports a name at path that namePattern refuses (hint: what the message adds)
// or that names already holds, and adds it to names.
func checkName(p *Problems, path, name, hint string, names map[string]bool) {
	if name == "" {
		p.Add(path, "is required")
	} else if !namePattern.MatchString(name) {
		p.Add(path, "%s must be lower-case letters, digits, '.', '_' or '-'%s", p.Quote(path, name), hint)
	} else if names[name] {
		p.Add(path, "%s is used twice", p.Quote(path, name))
	}
	names[name] = true
}
