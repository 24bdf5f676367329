package normalizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/normalizer/ocsf"
	"github.com/auditstream/auditstream/schemas"
)

// Config of the normalizer.
type Config struct {
	GroupID     string   // consumer group (default auditstream-normalizer)
	RawTopics   []string // audit.raw.<provider> topics to read
	EventsTopic string   // audit.events.v1
	DLQTopic    string   // audit.dlq
	MaxBatch    int      // messages per batch (default 500)
	// MaxEventBytes bounds a canonical event: a larger one loses raw_data (marked
	// metadata.is_truncated; the raw topic keeps the entry), one still too large is
	// dead-lettered (default 8 MiB − 64 KiB).
	MaxEventBytes int
}

// Normalizer is the normalize role.
type Normalizer struct {
	cfg       Config
	bus       *bus.Bus
	log       *slog.Logger
	m         *metrics.Metrics
	mappers   map[string]Mapper
	validator *schemas.Validator
	now       func() time.Time
}

// New builds a normalizer with the built-in mappers.
func New(cfg Config, b *bus.Bus, log *slog.Logger, m *metrics.Metrics) (*Normalizer, error) {
	if cfg.GroupID == "" {
		cfg.GroupID = "auditstream-normalizer"
	}
	if cfg.MaxEventBytes <= 0 {
		cfg.MaxEventBytes = 8<<20 - 64<<10
	}
	v, err := schemas.Load(schemas.EventSchema)
	if err != nil {
		return nil, err
	}
	return &Normalizer{cfg: cfg, bus: b, log: log.With("role", "normalize"), m: m, mappers: Mappers(), validator: v, now: time.Now}, nil
}

// Run consumes until ctx is cancelled.
func (n *Normalizer) Run(ctx context.Context) error {
	n.log.Info("normalizer consuming", "group", n.cfg.GroupID, "topics", n.cfg.RawTopics, "to", n.cfg.EventsTopic)
	return n.bus.Consume(ctx, bus.GroupConfig{
		GroupID: n.cfg.GroupID, Topics: n.cfg.RawTopics, MaxBatch: n.cfg.MaxBatch,
		OnLag: func(topic string, _ int, lag int64) {
			n.m.ConsumerLag.WithLabelValues(n.cfg.GroupID, topic).Set(float64(lag))
		},
	}, n.handle)
}

type result struct {
	c                *Canonical
	provider, reason string
	err              error
}

// normalizeAll maps a batch on every core (mapping and schema validation are CPU-bound);
// results keep the batch order, so per-key order is kept on the events topic.
func (n *Normalizer) normalizeAll(batch []kafka.Message) []result {
	res := make([]result, len(batch))
	workers := min(runtime.GOMAXPROCS(0), len(batch))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batch) {
					return
				}
				r := &res[i]
				r.c, r.provider, r.reason, r.err = n.Normalize(batch[i].Value)
			}
		}()
	}
	wg.Wait()
	return res
}

func (n *Normalizer) handle(ctx context.Context, batch []kafka.Message) error {
	out := make([]kafka.Message, 0, len(batch))
	type outcome struct{ provider, result, reason string }
	outcomes := make([]outcome, 0, len(batch))
	for i, r := range n.normalizeAll(batch) {
		m := batch[i]
		ev, provider, reason, err := r.c, r.provider, r.reason, r.err
		if err != nil {
			out = append(out, bus.DeadLetter(n.cfg.DLQTopic, "normalize", reason, err, m))
			outcomes = append(outcomes, outcome{provider, "dlq", reason})
			n.log.Warn("record dead-lettered", "reason", reason, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
			continue
		}
		out = append(out, ev.Message(n.cfg.EventsTopic, m.Key))
		outcomes = append(outcomes, outcome{provider, "ok", ""})
	}
	if err := n.bus.Publish(ctx, out...); err != nil {
		if !errors.Is(err, bus.ErrPermanent) {
			return fmt.Errorf("write %d normalized records: %w", len(out), err)
		}
		// Kafka refuses one of them for good (a topic with a smaller max.message.bytes than
		// configured, say): write one by one and dead-letter what is refused.
		n.log.Warn("kafka refused a normalized record; writing the batch one by one", "err", err)
		for i := range out {
			err := n.bus.Publish(ctx, out[i])
			if err == nil {
				continue
			}
			if !errors.Is(err, bus.ErrPermanent) {
				return fmt.Errorf("write normalized record %d of %d: %w", i+1, len(out), err)
			}
			if err := n.bus.Publish(ctx, bus.DeadLetter(n.cfg.DLQTopic, "normalize", ReasonKafkaRejected, err, batch[i])); err != nil {
				return fmt.Errorf("dead-letter the record kafka refused: %w", err)
			}
			outcomes[i] = outcome{outcomes[i].provider, "dlq", ReasonKafkaRejected}
			n.log.Warn("record dead-lettered", "reason", ReasonKafkaRejected, "topic", batch[i].Topic, "partition", batch[i].Partition, "offset", batch[i].Offset, "err", err)
		}
	}
	for _, o := range outcomes {
		p := o.provider
		if p == "" {
			p = "unknown"
		}
		n.m.NormalizedEvents.WithLabelValues(p, o.result).Inc()
		if o.result == "dlq" {
			n.m.DLQRecords.WithLabelValues("normalize", o.reason).Inc()
		}
	}
	return nil
}

// Canonical is a validated canonical event.
type Canonical struct {
	ID       string // metadata.uid
	Provider string
	Tenant   string
	ClassUID int
	Time     time.Time
	JSON     []byte
}

// Message builds the Kafka record with CloudEvents binary-mode headers.
func (c *Canonical) Message(topic string, key []byte) kafka.Message {
	return kafka.Message{Topic: topic, Key: key, Value: c.JSON, Headers: []kafka.Header{
		{Key: "ce_specversion", Value: []byte("1.0")},
		{Key: "ce_id", Value: []byte(c.ID)},
		{Key: "ce_source", Value: []byte("/auditstream/" + c.Provider + "/" + c.Tenant)},
		{Key: "ce_type", Value: []byte("io.auditstream.ocsf." + strconv.Itoa(c.ClassUID))},
		{Key: "ce_time", Value: []byte(c.Time.UTC().Format(time.RFC3339Nano))},
		{Key: "content-type", Value: []byte("application/json")},
	}}
}

// DLQ reasons.
const (
	ReasonDecode          = "decode"
	ReasonUnknownProvider = "unknown_provider"
	ReasonMap             = "map"
	ReasonSchema          = "schema"
	ReasonTooLarge        = "too_large"
	ReasonKafkaRejected   = "kafka_rejected"
)

// Normalize turns one raw record value into a validated canonical event. On failure it
// returns the DLQ reason.
func (n *Normalizer) Normalize(value []byte) (c *Canonical, provider, reason string, err error) {
	env, err := schemas.DecodeEnvelope(value)
	if err != nil {
		return nil, "", ReasonDecode, err
	}
	mp, ok := n.mappers[env.Provider]
	if !ok {
		return nil, env.Provider, ReasonUnknownProvider, fmt.Errorf("no mapper for provider %q", env.Provider)
	}
	ev, err := safeMap(mp, env)
	if err != nil {
		return nil, env.Provider, ReasonMap, err
	}
	if err := finish(ev, env, n.now()); err != nil {
		return nil, env.Provider, ReasonMap, err
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, env.Provider, ReasonMap, err
	}
	if len(b) > n.cfg.MaxEventBytes {
		// raw_data is the entry again: leave it out (the raw topic keeps the entry).
		size := len(b)
		ev.RawData, ev.Metadata.IsTruncated, ev.Metadata.UntruncatedSize = "", ocsf.Bool(true), size
		if b, err = json.Marshal(ev); err != nil {
			return nil, env.Provider, ReasonMap, err
		}
		if len(b) > n.cfg.MaxEventBytes {
			return nil, env.Provider, ReasonTooLarge, fmt.Errorf("canonical event is %d bytes without raw_data (%d with), over max_event_bytes %d", len(b), size, n.cfg.MaxEventBytes)
		}
	}
	if err := n.validator.ValidateJSON(b); err != nil {
		return nil, env.Provider, ReasonSchema, err
	}
	return &Canonical{ID: ev.Metadata.UID, Provider: env.Provider, Tenant: env.Tenant, ClassUID: ev.ClassUID,
		Time: time.UnixMilli(ev.Time), JSON: b}, env.Provider, "", nil
}

// safeMap turns a mapper panic into an error: a poison record must not stop the consumer.
func safeMap(mp Mapper, env *schemas.Envelope) (ev *ocsf.Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mapper panicked: %v", r)
		}
	}()
	ev, err = mp.Map(env)
	if err == nil && ev == nil {
		err = errors.New("mapper returned no event")
	}
	return ev, err
}
