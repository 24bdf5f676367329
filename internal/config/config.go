// Package config loads the one YAML file that configures every role: ${ENV} and
// ${file:/path} expansion for secrets, defaults, and validation that lists every problem
// with its path.
package config

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Root is the whole configuration. Provider- and sink-specific blocks are kept as YAML
// nodes here and decoded by the packages that own them (see Registry).
type Root struct {
	Log        LogConfig        `yaml:"log"`
	Admin      AdminConfig      `yaml:"admin"`
	Kafka      KafkaConfig      `yaml:"kafka"`
	Pollers    []PollerConfig   `yaml:"pollers"`
	Normalizer NormalizerConfig `yaml:"normalizer"`
	Sinks      []SinkConfig     `yaml:"sinks"`
	Simulators []SimConfig      `yaml:"simulators"`
	// Targets configures how poller processes share the targets topic.
	Targets TargetsConfig `yaml:"targets"`

	file string         // the file it was read from
	pos  map[string]Pos // where each path is in it, for problems found after decoding
	// exp: the paths of values expanded from ${VAR} or ${file:}, so that no problem
	// quotes them (see Problems.Quote).
	exp map[string]expansion
	// budget of the nodes decoded through aliases, left for the plug-ins' blocks.
	budget *aliasBudget
}

// TargetsConfig is the consumer group through which poller processes share the targets
// (the entities they poll): the partitions of the targets topic a process is assigned
// are the targets it polls.
type TargetsConfig struct {
	// Group is the consumer group id. Default: auditstream-pollers-<hash of the sorted
	// poller names and providers>, so that only processes running the same pollers share
	// targets. An explicit group wins: every member must then run the same pollers (a
	// process polls only its own pollers' targets on its partitions; the others' are
	// polled by nobody and counted in auditstream_targets_unowned).
	Group string `yaml:"group"`
	// SessionTimeout: a poller process that stops heartbeating this long (killed, cut
	// off) loses its targets to the others (default 10s; the broker allows 6s-30m by
	// default).
	SessionTimeout Duration `yaml:"session_timeout"`
	// RebalanceTimeout: how long a rebalance waits for every process to stop its polls
	// and rejoin (default 60s); it must exceed the longest request a poll cannot cancel
	// (ECGridOS's SOAP calls: their http.timeout). Polls under way get half of it (at
	// most 10s) to publish what they fetched before they are cancelled.
	RebalanceTimeout Duration `yaml:"rebalance_timeout"`
	// Refresh: how often a process catches up with the targets topic, so that targets
	// added by discovery or by other systems are polled soon (default 5s).
	Refresh Duration `yaml:"refresh"`
}

// LogConfig of the process.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// AdminConfig of the admin HTTP port.
type AdminConfig struct {
	Listen string `yaml:"listen"` // default 127.0.0.1:9464; "off" disables it
}

// KafkaConfig says where Kafka is and how topics are made.
type KafkaConfig struct {
	// Brokers; empty = the embedded in-process broker (development only).
	Brokers  []string       `yaml:"brokers"`
	ClientID string         `yaml:"client_id"`
	Embedded EmbeddedConfig `yaml:"embedded"`
	Topics   TopicsConfig   `yaml:"topics"`
	// Compression of what the process writes: none, snappy (default), lz4 or zstd.
	// Consumers read every codec whatever this says.
	Compression string `yaml:"compression"`
	// TLS and SASL of every connection the process makes to the brokers (writer,
	// consumer groups, checkpoints, targets group, admin calls, the repair tools).
	TLS  KafkaTLS `yaml:"tls"`
	SASL SASL     `yaml:"sasl"`
}

// EmbeddedConfig of the in-process broker.
type EmbeddedConfig struct {
	Port    int    `yaml:"port"`     // 0 = a free port
	DataDir string `yaml:"data_dir"` // empty = in memory only
}

// TopicsConfig names and shapes the topics.
type TopicsConfig struct {
	RawPrefix   string `yaml:"raw_prefix"`
	Events      string `yaml:"events"`
	DLQ         string `yaml:"dlq"`
	Checkpoints string `yaml:"checkpoints"`
	// Targets is the compacted topic of the polled entities (default auditstream.targets).
	Targets           string   `yaml:"targets"`
	Partitions        int      `yaml:"partitions"`
	ReplicationFactor int      `yaml:"replication_factor"`
	RawRetention      Duration `yaml:"raw_retention"`
	// MaxMessageBytes is max.message.bytes of every topic (default 8 MiB): the largest
	// raw entry, canonical event or cursor that can be written.
	MaxMessageBytes int   `yaml:"max_message_bytes"`
	Create          *bool `yaml:"create"` // create missing topics at start (default true)
}

// HTTPConfig of a poller's provider client.
type HTTPConfig struct {
	Timeout       Duration `yaml:"timeout"`
	MaxRetries    int      `yaml:"max_retries"`
	MaxBodyBytes  int64    `yaml:"max_body_bytes"`
	MaxRetryAfter Duration `yaml:"max_retry_after"`
}

// PollerConfig is one poller; its provider block is in Provider.
type PollerConfig struct {
	Name     string `yaml:"name"`
	Provider string `yaml:"provider"`
	Schedule string `yaml:"schedule"`
	// DiscoverySchedule is when the poller lists its targets (static ones and the
	// provider's listing) and records them on the targets topic (default @every 5m).
	DiscoverySchedule string     `yaml:"discovery_schedule"`
	Jitter            Duration   `yaml:"jitter"`
	Parallel          int        `yaml:"parallel"`
	HTTP              HTTPConfig `yaml:"http"`
	// Settings is the provider's own block (e.g. `ionos:`), decoded by the provider.
	Settings yaml.Node `yaml:"settings"`
}

// NormalizerConfig of the normalize role.
type NormalizerConfig struct {
	Group     string   `yaml:"group"`
	Providers []string `yaml:"providers"` // default: the providers of the configured pollers
	MaxBatch  int      `yaml:"max_batch"`
	// MaxEventBytes: a larger canonical event loses raw_data (metadata.is_truncated); one
	// still too large is dead-lettered (default: max_message_bytes − 64 KiB).
	MaxEventBytes int `yaml:"max_event_bytes"`
	// Validate: when the full OCSF JSON Schema runs on canonical events: off, sample (default:
	// a ValidateSample fraction; failures are logged and counted, the event is published) or
	// all (every event; failures are dead-lettered with reason schema). The typed events'
	// invariant check runs on every event in every mode.
	Validate string `yaml:"validate"`
	// ValidateSample is the fraction of events validated in sample mode (default 0.001).
	ValidateSample float64 `yaml:"validate_sample"`
	// Zones: provider -> IANA zone of that provider's zone-less timestamps, for records that
	// carry no zone of their own (written by older versions, or of a provider without a
	// `zone` setting); a record's zone (the poller's settings.zone) comes first. Default UTC.
	Zones map[string]string `yaml:"zones"`
	// Observables: events also list the IP addresses, user names and e-mail addresses they
	// map as OCSF observables (default false: the official OCSF checker does not accept the
	// observable type_ids of the compiled OCSF schema yet).
	Observables bool `yaml:"observables"`
}

// SinkConfig is one sink; its type's block is in Settings.
type SinkConfig struct {
	Name  string `yaml:"name"`
	Type  string `yaml:"type"`
	Group string `yaml:"group"`
	// MaxBatch is the most events written at once (default 500).
	MaxBatch int `yaml:"max_batch"`
	// MaxBatchBytes caps the canonical JSON bytes of one write (default 4 MiB).
	MaxBatchBytes int `yaml:"max_batch_bytes"`
	// Linger is how long the sink waits for more events once one arrived (default 20ms).
	Linger   Duration  `yaml:"linger"`
	Settings yaml.Node `yaml:"settings"`
}

// SimConfig is one provider simulator started by `sim` and `run`.
type SimConfig struct {
	Provider string    `yaml:"provider"`
	Listen   string    `yaml:"listen"`
	Settings yaml.Node `yaml:"settings"`
}

// Load reads, expands, decodes and defaults a configuration file. It does not validate
// provider blocks; call Validate with the registry for that. Its error (*Error) lists
// every problem of reading the file, each at its line.
func Load(path string) (*Root, error) {
	var p Problems
	c := Read(path, &p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse is Load from a reader.
func Parse(r io.Reader) (*Root, error) {
	var p Problems
	c := Decode("", r, &p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Read is Load that does not stop at problems: every problem of reading the file
// (unset variables, unknown keys, values of the wrong type, ...) is recorded in p at its
// line, and the configuration is decoded as far as it goes and defaulted, so that
// validation can add its own problems to the same list (one pass). It returns nil only
// when the file cannot be read or is not YAML.
func Read(path string, p *Problems) *Root {
	f, err := os.Open(path)
	if err != nil {
		p.Add("", "%v", err)
		return nil
	}
	defer f.Close()
	return Decode(path, f, p)
}

var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// maxFileSize is the largest configuration file read.
const maxFileSize = 8 << 20

// Decode is Read from a reader; name is the file name problems are printed with.
func Decode(name string, r io.Reader, p *Problems) *Root {
	p.adopt(name, nil, nil, nil)
	raw, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		p.Add("", "%v", err)
		return nil
	}
	if len(raw) > maxFileSize {
		p.Add("", "file is larger than 8 MiB")
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		if m := syntaxLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			msg := "not valid YAML: " + m[2]
			if strings.HasPrefix(m[2], "did not find expected ',' or") {
				// yaml.v3 counts the line of the unclosed {...} or [...] from 0 here.
				line++
				msg += " (in the {...} or [...] that starts on this line)"
			}
			if lines := strings.Split(string(raw), "\n"); line >= 1 && line <= len(lines) && strings.Contains(lines[line-1], "${") {
				msg += ` (a ${VAR} inside {...} or [...] must be quoted: "${VAR}")`
			}
			p.list = append(p.list, problem{msg: msg, pos: Pos{Line: line, Col: 1}, decode: true})
		} else {
			p.Add("", "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil
	}
	secondDocument(raw, p)
	c := &Root{file: name}
	if doc.Kind != 0 {
		expandNode(&doc, "", p)
		index := Problems{budget: newAliasBudget(&doc)}
		if len(doc.Content) > 0 {
			index.index("", doc.Content[0])
		}
		decodeNode(&doc, c, "", &index)
		p.list = append(p.list, index.list...)
		p.adopt(name, index.pos, index.exp, index.budget)
		c.pos, c.exp, c.budget = index.pos, index.exp, index.budget
	}
	c.SetDefaults()
	return c
}

// secondDocument reports a second YAML document (after ---) in raw: only the first is
// read, so what the others say would be ignored.
func secondDocument(raw []byte, p *Problems) {
	const msg = "more than one YAML document (---): auditstream reads one"
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var first, second yaml.Node
	if dec.Decode(&first) != nil {
		return
	}
	err := dec.Decode(&second)
	switch {
	case err == io.EOF:
	case err != nil:
		line := 0
		if m := syntaxLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		p.list = append(p.list, problem{msg: msg, pos: Pos{Line: line, Col: 1}})
	case len(second.Content) == 1 && second.Content[0].Kind == yaml.ScalarNode &&
		second.Content[0].ShortTag() == "!!null" && second.Content[0].Value == "":
		// a trailing "---" alone: an empty document says nothing
	default:
		p.list = append(p.list, problem{msg: msg, pos: Pos{Line: second.Line, Col: second.Column}})
	}
}

// DecodeStrict decodes a provider/sink block into v, refusing unknown fields; the error
// lists every problem of the block with its line.
func DecodeStrict(n *yaml.Node, v any) error {
	if n.Kind == 0 {
		return nil
	}
	var p Problems
	decodeNode(n, v, "", &p)
	return p.Err()
}

// SetDefaults fills unset fields.
func (c *Root) SetDefaults() {
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = "127.0.0.1:9464"
	}
	k := &c.Kafka
	if k.ClientID == "" {
		k.ClientID = "auditstream"
	}
	if k.Compression == "" {
		k.Compression = DefaultCompression
	}
	t := &k.Topics
	if t.RawPrefix == "" {
		t.RawPrefix = "audit.raw."
	}
	if t.Events == "" {
		t.Events = "audit.events.v1"
	}
	if t.DLQ == "" {
		t.DLQ = "audit.dlq"
	}
	if t.Checkpoints == "" {
		t.Checkpoints = "auditstream.checkpoints"
	}
	if t.Targets == "" {
		t.Targets = "auditstream.targets"
	}
	if c.Targets.SessionTimeout == 0 {
		c.Targets.SessionTimeout = Duration(10 * time.Second)
	}
	if c.Targets.RebalanceTimeout == 0 {
		c.Targets.RebalanceTimeout = Duration(60 * time.Second)
	}
	if c.Targets.Refresh == 0 {
		c.Targets.Refresh = Duration(5 * time.Second)
	}
	if t.Partitions == 0 {
		t.Partitions = 6
	}
	if t.ReplicationFactor == 0 {
		t.ReplicationFactor = 1
	}
	if t.RawRetention == 0 {
		t.RawRetention = Duration(7 * 24 * time.Hour)
	}
	if t.MaxMessageBytes == 0 {
		t.MaxMessageBytes = 8 << 20
	}
	if t.Create == nil {
		yes := true
		t.Create = &yes
	}
	for i := range c.Pollers {
		pc := &c.Pollers[i]
		if pc.Schedule == "" {
			pc.Schedule = "@every 1m"
		}
		if pc.DiscoverySchedule == "" {
			pc.DiscoverySchedule = "@every 5m"
		}
		if pc.Parallel == 0 {
			pc.Parallel = 4
		}
		if pc.HTTP.Timeout == 0 {
			pc.HTTP.Timeout = Duration(30 * time.Second)
		}
		if pc.HTTP.MaxRetries == 0 {
			pc.HTTP.MaxRetries = 5
		}
		if pc.HTTP.MaxBodyBytes == 0 {
			pc.HTTP.MaxBodyBytes = 32 << 20
		}
		if pc.HTTP.MaxRetryAfter == 0 {
			pc.HTTP.MaxRetryAfter = Duration(5 * time.Minute)
		}
	}
	if c.Normalizer.Group == "" {
		c.Normalizer.Group = "auditstream-normalizer"
	}
	if len(c.Normalizer.Providers) == 0 {
		seen := map[string]bool{}
		for _, pc := range c.Pollers {
			if !seen[pc.Provider] && pc.Provider != "" {
				seen[pc.Provider] = true
				c.Normalizer.Providers = append(c.Normalizer.Providers, pc.Provider)
			}
		}
	}
	if c.Normalizer.MaxBatch == 0 {
		c.Normalizer.MaxBatch = 500
	}
	if c.Normalizer.MaxEventBytes == 0 {
		c.Normalizer.MaxEventBytes = c.Kafka.Topics.MaxMessageBytes - 64<<10
	}
	if c.Normalizer.Validate == "" {
		c.Normalizer.Validate = "sample"
	}
	if c.Normalizer.ValidateSample == 0 {
		c.Normalizer.ValidateSample = 0.001
	}
	for i := range c.Sinks {
		if c.Sinks[i].MaxBatch == 0 {
			c.Sinks[i].MaxBatch = 500
		}
		if c.Sinks[i].MaxBatchBytes == 0 {
			c.Sinks[i].MaxBatchBytes = 4 << 20
		}
		if c.Sinks[i].Linger == 0 {
			c.Sinks[i].Linger = Duration(20 * time.Millisecond)
		}
	}
}

// RawTopic is the raw topic of a provider.
func (c *Root) RawTopic(provider string) string { return c.Kafka.Topics.RawPrefix + provider }

// Embedded reports whether the in-process broker is used.
func (c *Root) Embedded() bool { return len(c.Kafka.Brokers) == 0 }
