package normalizer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/timeparse"
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
	// Validate says when the full OCSF JSON Schema runs on an event: ValidateOff, ValidateSample
	// (default: a ValidateSample fraction of events; a failure is logged and counted in
	// auditstream_normalizer_schema_failures_total, the event is still published) or
	// ValidateAll (every event; a failure dead-letters the record with reason "schema").
	// Every event passes the generated types' Check whatever the mode.
	Validate string
	// ValidateSample is the fraction of events validated in ValidateSample mode (default 0.01).
	ValidateSample float64
	// Zones: provider -> IANA zone of that provider's zone-less timestamps (default UTC).
	Zones map[string]string
}

// Validation modes (normalizer.validate).
const (
	ValidateOff    = "off"
	ValidateSample = "sample"
	ValidateAll    = "all"
)

// Normalizer is the normalize role.
type Normalizer struct {
	cfg       Config
	bus       *bus.Bus
	log       *slog.Logger
	m         *metrics.Metrics
	mappers   map[string]Mapper
	zones     map[string]*time.Location
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
	switch cfg.Validate {
	case "":
		cfg.Validate = ValidateSample
	case ValidateOff, ValidateSample, ValidateAll:
	default:
		return nil, fmt.Errorf("normalizer.validate %q is not off, sample or all", cfg.Validate)
	}
	if cfg.ValidateSample == 0 {
		cfg.ValidateSample = 0.01
	}
	if cfg.ValidateSample < 0 || cfg.ValidateSample > 1 {
		return nil, fmt.Errorf("normalizer.validate_sample %v is not a fraction between 0 and 1", cfg.ValidateSample)
	}
	zones := map[string]*time.Location{}
	for p, name := range cfg.Zones {
		loc, err := timeparse.Location(name)
		if err != nil {
			return nil, fmt.Errorf("normalizer.zones.%s: %w", p, err)
		}
		zones[p] = loc
	}
	v, err := schemas.Load(schemas.EventSchema)
	if err != nil {
		return nil, err
	}
	return &Normalizer{cfg: cfg, bus: b, log: log.With("role", "normalize"), m: m, mappers: Mappers(), zones: zones, validator: v, now: time.Now}, nil
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

// zone is the provider's zone for zone-less timestamps.
func (n *Normalizer) zone(provider string) *time.Location {
	if z, ok := n.zones[provider]; ok {
		return z
	}
	return time.UTC
}

// bufs are the encode buffers (an event is copied out of one, so a buffer never escapes).
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Normalize turns one raw record value into a canonical event. On failure it returns the
// DLQ reason.
func (n *Normalizer) Normalize(value []byte) (c *Canonical, provider, reason string, err error) {
	env, err := schemas.DecodeEnvelope(value)
	if err != nil {
		return nil, "", ReasonDecode, err
	}
	defer env.Release()
	mp, ok := n.mappers[env.Provider]
	if !ok {
		return nil, env.Provider, ReasonUnknownProvider, fmt.Errorf("no mapper for provider %q", env.Provider)
	}
	ev, base, err := safeMap(mp, env, n.zone(env.Provider), n.now())
	if err != nil {
		if ie := (*invariantError)(nil); errors.As(err, &ie) {
			return nil, env.Provider, ReasonSchema, err
		}
		return nil, env.Provider, ReasonMap, err
	}
	defer ev.Release() // after the return values are built: the event is written by then
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	b := ev.AppendJSON((*bp)[:0])
	if len(b) > n.cfg.MaxEventBytes {
		// raw_data is the entry again: leave it out (the raw topic keeps the entry).
		size := len(b)
		base.RawData, base.Metadata.IsTruncated, base.Metadata.UntruncatedSize = "", ocsf.Bool(true), size
		b = ev.AppendJSON(b[:0])
		if len(b) > n.cfg.MaxEventBytes {
			*bp = b
			return nil, env.Provider, ReasonTooLarge, fmt.Errorf("canonical event is %d bytes without raw_data (%d with), over max_event_bytes %d", len(b), size, n.cfg.MaxEventBytes)
		}
	}
	*bp = b
	if n.cfg.Validate == ValidateAll || n.cfg.Validate == ValidateSample && rand.Float64() < n.cfg.ValidateSample {
		if err := n.validator.ValidateJSON(b); err != nil {
			n.m.SchemaFailures.WithLabelValues(env.Provider).Inc()
			if n.cfg.Validate == ValidateAll {
				return nil, env.Provider, ReasonSchema, err
			}
			n.log.Warn("sampled event does not match the OCSF schema; published anyway (normalizer.validate: all dead-letters such events)",
				"provider", env.Provider, "event", base.Metadata.UID, "err", err)
		}
	}
	return &Canonical{ID: base.Metadata.UID, Provider: env.Provider, Tenant: env.Tenant, ClassUID: ev.Class(),
		Time: time.UnixMilli(base.Time), JSON: bytes.Clone(b)}, env.Provider, "", nil
}

// safeMap maps and finishes an event, turning a mapper panic into an error: a poison
// record must not stop the consumer.
func safeMap(mp Mapper, env *schemas.Envelope, zone *time.Location, processed time.Time) (ev ocsf.Event, base *ocsf.Base, err error) {
	defer func() {
		if r := recover(); r != nil {
			ev, base, err = nil, nil, fmt.Errorf("mapper panicked: %v", r)
		}
	}()
	if ev, err = mp.Map(env, zone); err != nil {
		return nil, nil, err
	}
	if ev == nil {
		return nil, nil, errors.New("mapper returned no event")
	}
	if base, err = finish(ev, env, processed); err != nil {
		return nil, nil, err
	}
	return ev, base, nil
}
