package normalizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bisect"
	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/ocsf"
	"github.com/auditstream/auditstream/schemas/timeparse"
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
	// ValidateSample is the fraction of events validated in ValidateSample mode (default 0.001: see DefaultValidateSample).
	ValidateSample float64
	// Mappers: provider -> its mapping (each provider's pollers/<provider>/mapping, handed
	// in by the composition root). A record of a provider without one is dead-lettered
	// with reason unknown_provider.
	Mappers map[string]mapkit.Mapper
	// Zones: provider -> IANA zone of that provider's zone-less timestamps, for the records
	// that carry no zone of their own: a record's envelope zone (the poller's `zone:`
	// setting) comes first; this is the fallback for records written by older versions and
	// by pollers without a zone (default UTC). `auditstream validate` refuses a poller
	// zone that disagrees with it.
	Zones map[string]string
	// Observables: every event also lists the IP addresses, user names and e-mail addresses
	// it maps as OCSF observables (type_id 2, 4, 5). Off by default: the official OCSF
	// checker reads the raw OCSF definitions, whose observable type_id lists only 0 and 99,
	// and rejects these type_ids (the compiled OCSF schema accepts them).
	Observables bool
}

// Validation modes (normalizer.validate).
const (
	ValidateOff    = "off"
	ValidateSample = "sample"
	ValidateAll    = "all"
)

// DefaultValidateSample is the default fraction of events the full JSON Schema checks in
// ValidateSample mode: one in a thousand. The schema check costs about 200 µs an event
// (some 40 times the rest of the normalization); what it can still find is a fault of a
// mapper or of the generated types that the tests, goldens and fuzz targets (which run it
// on every event they make) missed — a fault that repeats on every entry of that shape, so
// one sample in a thousand finds it within seconds at any real rate, for a few per cent
// of the CPU (1 % of events cost about a quarter).
const DefaultValidateSample = 0.001

// Normalizer is the normalize role.
type Normalizer struct {
	cfg     Config
	bus     *bus.Bus
	log     *slog.Logger
	m       *metrics.Metrics
	mappers map[string]mapkit.Mapper
	zones   map[string]*time.Location
	// locs caches the locations of the envelope zones seen (name -> *time.Location):
	// loading a zone reads the zone database. Only zones that exist are kept, so it holds
	// at most the few hundred IANA names.
	locs      sync.Map
	validator *schemas.Validator
	now       func() time.Time
	// publish writes to Kafka (the bus's Publish; replaced in tests).
	publish func(context.Context, ...kafka.Message) error
}

// New builds a normalizer with cfg.Mappers.
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
		cfg.ValidateSample = DefaultValidateSample
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
	n := &Normalizer{cfg: cfg, bus: b, log: log.With("role", "normalize"), m: m, mappers: make(map[string]mapkit.Mapper, len(cfg.Mappers)), zones: zones, validator: v, now: time.Now}
	maps.Copy(n.mappers, cfg.Mappers)
	if b != nil {
		n.publish = b.Publish
	}
	return n, nil
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
	msg              kafka.Message // the event (when err is nil)
	provider, reason string
	err              error
}

// slab holds the bytes (event JSON, ids, header values) and headers of the events one
// worker writes for a batch: one growing buffer instead of several allocations per event.
// A message points into the slab, so a slab is reused (slabs) only once the batch is
// durably written; after a failed publish it is left to the collector, since the Kafka
// writer may still hold messages of a cancelled write.
type slab struct {
	b []byte
	h []kafka.Header
}

// maxSlab bounds the slabs kept for reuse (one outsized event must not pin its buffer).
const maxSlab = 4 << 20

var slabs = sync.Pool{New: func() any { return &slab{b: make([]byte, 0, 64<<10), h: make([]kafka.Header, 0, 6*256)} }}

func releaseSlabs(ss []*slab) {
	for _, s := range ss {
		if s != nil && cap(s.b) <= maxSlab {
			s.b, s.h = s.b[:0], s.h[:0]
			slabs.Put(s)
		}
	}
}

// normalizeAll maps a batch on every core (mapping and schema validation are CPU-bound);
// results keep the batch order, so per-key order is kept on the events topic. The
// messages live in the returned slabs.
func (n *Normalizer) normalizeAll(batch []kafka.Message) ([]result, []*slab) {
	res := make([]result, len(batch))
	workers := min(runtime.GOMAXPROCS(0), len(batch))
	used := make([]*slab, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := slabs.Get().(*slab)
			used[w] = s
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batch) {
					return
				}
				r := &res[i]
				r.msg, r.provider, r.reason, r.err = n.record(s, batch[i])
			}
		}()
	}
	wg.Wait()
	return res, used
}

// record normalizes one raw record into the events topic's message, written into s.
func (n *Normalizer) record(s *slab, m kafka.Message) (kafka.Message, string, string, error) {
	c, provider, reason, err := n.normalizeTo(&s.b, m.Value)
	if err != nil {
		return kafka.Message{}, provider, reason, err
	}
	return c.appendMessage(s, n.cfg.EventsTopic, m.Key), provider, "", nil
}

// metricProvider is the provider label of a record's metrics: a provider without a mapper
// is "unknown" (any writer of a raw topic chooses that string; labels stay bounded).
func (n *Normalizer) metricProvider(p string) string {
	if _, ok := n.mappers[p]; ok {
		return p
	}
	return "unknown"
}

func (n *Normalizer) handle(ctx context.Context, batch []kafka.Message) error {
	res, used := n.normalizeAll(batch)
	out := make([]kafka.Message, len(batch))
	type outcome struct{ provider, result, reason string }
	outcomes := make([]outcome, len(batch))
	for i, r := range res {
		m := batch[i]
		if r.err != nil {
			out[i] = bus.DeadLetter(n.cfg.DLQTopic, "normalize", r.reason, r.err, m)
			outcomes[i] = outcome{r.provider, "dlq", r.reason}
			n.log.Warn("record dead-lettered", "reason", r.reason, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", r.err)
			continue
		}
		out[i] = r.msg
		outcomes[i] = outcome{r.provider, "ok", ""}
	}
	// When Kafka refuses a record for good (a topic with a smaller max.message.bytes than
	// configured, say) it refuses its whole write: bisect isolates the refused records,
	// dead-letters them and writes the rest in order.
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	write := func(ctx context.Context, items []int) error {
		return n.publish(ctx, out[items[0]:items[0]+len(items)]...) // bisect halves stay contiguous
	}
	refused := func(err error) bool { return errors.Is(err, bus.ErrPermanent) }
	poison := func(i int, err error) error {
		if err := n.publish(ctx, bus.DeadLetter(n.cfg.DLQTopic, "normalize", ReasonKafkaRejected, err, batch[i])); err != nil {
			return fmt.Errorf("dead-letter the record kafka refused: %w", err)
		}
		outcomes[i] = outcome{outcomes[i].provider, "dlq", ReasonKafkaRejected}
		n.log.Warn("record dead-lettered", "reason", ReasonKafkaRejected, "topic", batch[i].Topic, "partition", batch[i].Partition, "offset", batch[i].Offset, "err", err)
		return nil
	}
	if err := bisect.Do(ctx, idx, write, refused, poison); err != nil {
		return fmt.Errorf("write %d normalized records: %w", len(out), err)
	}
	releaseSlabs(used)
	for _, o := range outcomes {
		p := n.metricProvider(o.provider)
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

// Header values every event carries.
var (
	ceSpecVersion = []byte("1.0")
	ceContentType = []byte("application/json")
)

// Message builds the Kafka record with CloudEvents binary-mode headers.
func (c *Canonical) Message(topic string, key []byte) kafka.Message {
	return c.appendMessage(&slab{}, topic, key)
}

// appendMessage is Message with the header values and headers written into s.
func (c *Canonical) appendMessage(s *slab, topic string, key []byte) kafka.Message {
	b := s.b
	i0 := len(b)
	b = append(b, c.ID...)
	i1 := len(b)
	b = append(append(append(append(b, "/auditstream/"...), c.Provider...), '/'), c.Tenant...)
	i2 := len(b)
	b = strconv.AppendInt(append(b, "io.auditstream.ocsf."...), int64(c.ClassUID), 10)
	i3 := len(b)
	b = c.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	i4 := len(b)
	s.b = b
	h0 := len(s.h)
	s.h = append(s.h,
		kafka.Header{Key: "ce_specversion", Value: ceSpecVersion},
		kafka.Header{Key: "ce_id", Value: b[i0:i1:i1]},
		kafka.Header{Key: "ce_source", Value: b[i1:i2:i2]},
		kafka.Header{Key: "ce_type", Value: b[i2:i3:i3]},
		kafka.Header{Key: "ce_time", Value: b[i3:i4:i4]},
		kafka.Header{Key: "content-type", Value: ceContentType},
	)
	h1 := len(s.h)
	return kafka.Message{Topic: topic, Key: key, Value: c.JSON, Headers: s.h[h0:h1:h1]}
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

// zone is the zone of a record's zone-less timestamps: the envelope's (the poller's `zone:`
// setting), else normalizer.zones.<provider> (records of older versions, pollers without
// a zone), else UTC. An envelope zone that names no zone is an error.
func (n *Normalizer) zone(env *schemas.Envelope) (*time.Location, error) {
	if env.Zone == "" {
		if z, ok := n.zones[env.Provider]; ok {
			return z, nil
		}
		return time.UTC, nil
	}
	if loc, ok := n.locs.Load(env.Zone); ok {
		return loc.(*time.Location), nil
	}
	loc, err := timeparse.Location(env.Zone)
	if err != nil {
		return nil, fmt.Errorf("envelope zone %q: %w", env.Zone, err)
	}
	n.locs.Store(strings.Clone(env.Zone), loc) // env.Zone aliases the record's bytes
	return loc, nil
}

// Normalize turns one raw record value into a canonical event. On failure it returns the
// DLQ reason.
func (n *Normalizer) Normalize(value []byte) (c *Canonical, provider, reason string, err error) {
	var b []byte
	cv, provider, reason, err := n.normalizeTo(&b, value)
	if err != nil {
		return nil, provider, reason, err
	}
	return &cv, provider, "", nil
}

// normalizeTo is Normalize writing the event's JSON (and the id it holds) at the end of
// *buf: the returned event's JSON and ID point into it, so the bytes written must not
// change while the event is in use.
func (n *Normalizer) normalizeTo(buf *[]byte, value []byte) (c Canonical, provider, reason string, err error) {
	env, err := schemas.DecodeEnvelope(value)
	if err != nil {
		return Canonical{}, "", ReasonDecode, err
	}
	defer env.Release()
	mp, ok := n.mappers[env.Provider]
	if !ok {
		return Canonical{}, env.Provider, ReasonUnknownProvider, fmt.Errorf("no mapper for provider %q", env.Provider)
	}
	b := schemas.AppendEventID(*buf, env.ID)
	uid := unsafe.String(unsafe.SliceData(b[len(b)-36:]), 36)
	*buf = b
	zone, err := n.zone(env)
	if err != nil {
		return Canonical{}, env.Provider, ReasonDecode, err
	}
	ev, base, err := safeMap(mp, env, uid, zone, n.now(), n.cfg.Observables)
	if err != nil {
		if ie := (*mapkit.InvariantError)(nil); errors.As(err, &ie) {
			return Canonical{}, env.Provider, ReasonSchema, err
		}
		return Canonical{}, env.Provider, ReasonMap, err
	}
	defer ev.Release() // after the return values are built: the event is written by then
	start := len(b)
	b = ev.AppendJSON(b)
	if len(b)-start > n.cfg.MaxEventBytes {
		// raw_data is the entry again: leave it out (the raw topic keeps the entry).
		size := len(b) - start
		base.RawData, base.Metadata.IsTruncated, base.Metadata.UntruncatedSize = "", ocsf.Bool(true), size
		b = ev.AppendJSON(b[:start])
		if len(b)-start > n.cfg.MaxEventBytes {
			*buf = b[:start]
			return Canonical{}, env.Provider, ReasonTooLarge, fmt.Errorf("canonical event is %d bytes without raw_data (%d with), over max_event_bytes %d", len(b)-start, size, n.cfg.MaxEventBytes)
		}
	}
	*buf = b
	js := b[start:len(b):len(b)]
	if n.cfg.Validate == ValidateAll || n.cfg.Validate == ValidateSample && rand.Float64() < n.cfg.ValidateSample {
		if err := n.validator.ValidateJSON(js); err != nil {
			n.m.SchemaFailures.WithLabelValues(env.Provider).Inc()
			if n.cfg.Validate == ValidateAll {
				return Canonical{}, env.Provider, ReasonSchema, err
			}
			n.log.Warn("sampled event does not match the OCSF schema; published anyway (normalizer.validate: all dead-letters such events)",
				"provider", env.Provider, "event", uid, "err", err)
		}
	}
	return Canonical{ID: uid, Provider: env.Provider, Tenant: env.Tenant, ClassUID: ev.Class(),
		Time: time.UnixMilli(base.Time), JSON: js}, env.Provider, "", nil
}

// safeMap maps and finishes an event, turning a mapper panic into an error: a poison
// record must not stop the consumer.
func safeMap(mp mapkit.Mapper, env *schemas.Envelope, uid string, zone *time.Location, processed time.Time, observables bool) (ev ocsf.Event, base *ocsf.Base, err error) {
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
	if base, err = mapkit.Finish(ev, env, uid, processed, observables); err != nil {
		return nil, nil, err
	}
	return ev, base, nil
}
