// Package kafka is the Kafka sink: it re-publishes the canonical events to another topic,
// on the same or another cluster, keyed by event id, in a chosen format.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	kgo "github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection/cloudevents"
	"github.com/auditstream/auditstream/sinks/projection/ecs"
)

// Plugin registers the kafka sink type.
var Plugin = sinks.DefineLogged("kafka", Open)

// Formats of the record values: the OCSF event as it is (with the CloudEvents binary-mode
// headers), its ECS projection, or a CloudEvents structured-mode event.
var Formats = []string{"ocsf", "ecs", "cloudevents"}

// Settings of a kafka sink (its `settings:` block).
type Settings struct {
	// Brokers of the target cluster (bootstrap host:port list).
	Brokers []string `yaml:"brokers"`
	// Topic receives the events.
	Topic string `yaml:"topic"`
	// Format of the record values: ocsf (default: the canonical event, with its
	// CloudEvents binary-mode headers), ecs (ECS JSON) or cloudevents (structured mode).
	Format string `yaml:"format"`
	// Key of each record: event_id (default: a compacted topic then keeps one record per
	// event) or source (provider/tenant, the key of the events topic: per-tenant order).
	Key string `yaml:"key"`
	// ClientID of the producer (default auditstream-sink-<name>).
	ClientID string `yaml:"client_id"`
	// Compression: none, snappy, lz4 or zstd (default: the project's default).
	Compression string `yaml:"compression"`
	// Partitions and ReplicationFactor are used only when the topic does not exist yet
	// (default 3 and 1); Compact creates it with cleanup.policy=compact.
	Partitions        int  `yaml:"partitions"`
	ReplicationFactor int  `yaml:"replication_factor"`
	Compact           bool `yaml:"compact"`
	// TLS and SASL of the connections to the target cluster, the same blocks as
	// kafka.tls and kafka.sasl (the target cluster has its own: nothing is inherited).
	TLS  config.KafkaTLS `yaml:"tls"`
	SASL config.SASL     `yaml:"sasl"`
}

// InsecureTransport implements config.InsecureTransport: tls.insecure_skip_verify, and
// SASL PLAIN without TLS (the password in clear text).
func (s *Settings) InsecureTransport() []string {
	out := s.TLS.Insecure("tls")
	if s.SASL.Mechanism == "plain" && !s.TLS.On() {
		out = append(out, "sasl uses PLAIN without tls: the password crosses the network in clear text (set tls, or use scram-sha-512)")
	}
	return out
}

// SetDefaults implements config.Settings.
func (s *Settings) SetDefaults() {
	if s.Format == "" {
		s.Format = "ocsf"
	}
	if s.Key == "" {
		s.Key = "event_id"
	}
	if s.Compression == "" {
		s.Compression = config.DefaultCompression
	}
	if s.Partitions == 0 {
		s.Partitions = 3
	}
	if s.ReplicationFactor == 0 {
		s.ReplicationFactor = 1
	}
}

// Validate implements config.Settings.
func (s *Settings) Validate(path string, p *config.Problems) {
	if len(s.Brokers) == 0 {
		p.Add(path+".brokers", "is required (host:port of the target cluster)")
	}
	for i, b := range s.Brokers {
		if !strings.Contains(b, ":") {
			p.Add(fmt.Sprintf("%s.brokers[%d]", path, i), "%q is not host:port", b)
		}
	}
	if s.Topic == "" {
		p.Add(path+".topic", "is required")
	}
	if !slices.Contains(Formats, s.Format) {
		p.Add(path+".format", "%q is not one of %v", s.Format, Formats)
	}
	if s.Key != "event_id" && s.Key != "source" {
		p.Add(path+".key", "%q must be event_id or source", s.Key)
	}
	if !slices.Contains(config.Compressions, s.Compression) {
		p.Add(path+".compression", "%q is not one of %v", s.Compression, config.Compressions)
	}
	if s.Partitions < 1 || s.ReplicationFactor < 1 {
		p.Add(path+".partitions", "partitions and replication_factor must be at least 1")
	}
	s.TLS.Validate(path+".tls", p)
	s.SASL.Validate(path+".sasl", p)
}

// Sink publishes events to one topic.
type Sink struct {
	name string
	cfg  Settings
	log  *slog.Logger
	bus  *bus.Bus

	mu      sync.Mutex
	created bool
}

// Open builds the producer; it does not contact the brokers (the first write does, and
// creates the topic when missing).
func Open(name string, cfg Settings, log *slog.Logger) (*Sink, error) {
	cid := cfg.ClientID
	if cid == "" {
		cid = "auditstream-sink-" + name
	}
	bc := bus.Config{Brokers: cfg.Brokers, ClientID: cid, Compression: cfg.Compression}
	if err := bc.Secure("settings", cfg.TLS, cfg.SASL); err != nil {
		return nil, fmt.Errorf("kafka sink %s: %w", name, err)
	}
	b, err := bus.New(bc, log)
	if err != nil {
		return nil, fmt.Errorf("kafka sink %s: %w", name, err)
	}
	log.Info("kafka sink ready", "sink", name, "brokers", cfg.Brokers, "topic", cfg.Topic, "format", cfg.Format, "key", cfg.Key,
		"tls", cfg.TLS.On(), "sasl", cfg.SASL.Mechanism)
	return &Sink{name: name, cfg: cfg, log: log, bus: b}, nil
}

// Name implements sinks.Sink.
func (s *Sink) Name() string { return s.name }

// Guarantee implements sinks.Sink: a batch whose acknowledgement was lost is published
// again, so the topic can hold an event twice. Keyed by event_id on a compacted topic,
// compaction later keeps one record per event, but readers before compaction see both.
func (s *Sink) Guarantee() sinks.Guarantee { return sinks.AtLeastOnce }

// Ping implements sinks.Sink.
func (s *Sink) Ping(ctx context.Context) error {
	if err := s.bus.Ping(ctx); err != nil {
		return fmt.Errorf("kafka sink %s: %w", s.name, err)
	}
	return nil
}

// Close implements sinks.Sink.
func (s *Sink) Close(context.Context) error { return s.bus.Close() }

// Write implements sinks.Sink: one synchronous publish (acks=all) of the whole batch.
func (s *Sink) Write(ctx context.Context, batch []sinks.Event, res []sinks.ItemResult) error {
	if err := s.ensureTopic(ctx); err != nil {
		return s.fail("create topic "+s.cfg.Topic, err)
	}
	msgs := make([]kgo.Message, 0, len(batch))
	sent := make([]int, 0, len(batch))
	for i, e := range batch {
		m, err := s.record(e)
		if err != nil {
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "projection", Err: err}
			continue
		}
		msgs = append(msgs, m)
		sent = append(sent, i)
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := s.bus.Publish(ctx, msgs...); err != nil {
		return s.fail(fmt.Sprintf("publish %d events to %s", len(msgs), s.cfg.Topic), err)
	}
	for _, i := range sent {
		res[i] = sinks.ItemResult{Status: sinks.Written}
	}
	return nil
}

// record builds the target record of an event. OCSF: the canonical JSON with the
// CloudEvents binary-mode headers of the events topic (ce_id, ce_source, ce_type,
// ce_time, ...). ECS: the ECS document, with the ce_id header. CloudEvents: a
// structured-mode event (attributes in the value, content-type
// application/cloudevents+json, no ce_ headers, as the Kafka binding requires).
func (s *Sink) record(e sinks.Event) (kgo.Message, error) {
	key := []byte(e.ID)
	if s.cfg.Key == "source" {
		key = e.Key
	}
	m := kgo.Message{Topic: s.cfg.Topic, Key: key}
	switch s.cfg.Format {
	case "ecs":
		v, err := ecs.Append(nil, e, ecs.Options{})
		if err != nil {
			return m, fmt.Errorf("ECS projection of event %s: %w", e.ID, err)
		}
		m.Value = v
		m.Headers = []kgo.Header{{Key: "ce_id", Value: []byte(e.ID)}, {Key: "content-type", Value: []byte("application/json")}}
		return m, nil
	case "cloudevents":
		v, err := cloudevents.Append(nil, e)
		if err != nil {
			return m, fmt.Errorf("CloudEvents projection of event %s: %w", e.ID, err)
		}
		m.Value = v
		m.Headers = []kgo.Header{{Key: "content-type", Value: []byte(cloudevents.ContentType)}}
		return m, nil
	}
	m.Value = e.Value
	for _, h := range e.Msg.Headers {
		if strings.HasPrefix(h.Key, "ce_") || h.Key == "content-type" {
			m.Headers = append(m.Headers, h)
		}
	}
	if !slices.ContainsFunc(m.Headers, func(h kgo.Header) bool { return h.Key == "ce_id" }) {
		m.Headers = append(m.Headers, kgo.Header{Key: "ce_id", Value: []byte(e.ID)})
	}
	return m, nil
}

func (s *Sink) ensureTopic(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.created {
		return nil
	}
	spec := bus.TopicSpec{Name: s.cfg.Topic, Partitions: s.cfg.Partitions, ReplicationFactor: s.cfg.ReplicationFactor}
	if s.cfg.Compact {
		spec.Configs = map[string]string{"cleanup.policy": "compact"}
	}
	if err := s.bus.EnsureTopics(ctx, spec); err != nil {
		return err
	}
	s.created = true
	return nil
}

// fail classifies a failed publish: a missing authorization is fatal, a record the
// broker refuses (too large, invalid) is bisected down to the event, anything else is
// retried.
func (s *Sink) fail(what string, err error) error {
	wrapped := fmt.Errorf("kafka sink %s: %s: %w", s.name, what, err)
	if errors.Is(err, bus.ErrSecurity) {
		return sinks.Fatal(wrapped)
	}
	for _, ke := range []kgo.Error{kgo.TopicAuthorizationFailed, kgo.ClusterAuthorizationFailed, kgo.SASLAuthenticationFailed,
		kgo.TransactionalIDAuthorizationFailed, kgo.GroupAuthorizationFailed} {
		if errors.Is(err, ke) {
			return sinks.Fatal(wrapped)
		}
	}
	if errors.Is(err, bus.ErrPermanent) {
		return sinks.RejectBatch("kafka_refused", wrapped)
	}
	return wrapped
}
