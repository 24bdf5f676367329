// Package bus wraps segmentio/kafka-go with the settings the project fixes for every
// component: acks=all writers with a key-hash balancer, explicit topic creation,
// consumer-group readers that commit only after the downstream write, and an
// optional embedded in-process broker (franz-go kfake) for development.
package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/auditstream/auditstream/internal/config"
)

// Config is how a process reaches Kafka.
type Config struct {
	Brokers  []string
	ClientID string
	TLS      *tls.Config
	SASL     sasl.Mechanism
	// MaxMessageBytes is the largest message the topics accept (default 8 MiB); readers
	// fetch at least this much.
	MaxMessageBytes int
	// Compression of every batch the shared writer sends: "none", "snappy", "lz4" or
	// "zstd" (default config.DefaultCompression, chosen by measurement).
	Compression string
	// Path is the configuration block TLS and SASL come from ("kafka" by default), named
	// by authentication and certificate errors (set by Secure).
	Path string
	user string // the SASL username, for errors
}

// Writer and reader tuning, measured in docs/benchmarks.md ("Kafka efficiency"). A
// synchronous Publish of n messages waits for its batches; BatchTimeout only matters for
// the last, partial batch of a call, so it is kept short (freshness) and BatchSize large
// (one poller page or one normalizer batch fits in a request per partition).
const (
	BatchSize    = 1000
	BatchTimeout = 5 * time.Millisecond
	// ReaderMinBytes/ReaderMaxWait: a fetch returns as soon as any data is there (the
	// consumers batch themselves with a short linger), and waits at most this long.
	ReaderMinBytes = 1
	ReaderMaxWait  = 500 * time.Millisecond
)

// ParseCompression maps a codec name to kafka-go's (0 = none).
func ParseCompression(name string) (kafka.Compression, error) {
	switch name {
	case "none":
		return 0, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("unknown compression %q (want one of %v)", name, config.Compressions)
}

// Bus is the one Kafka connection set of a process: one shared writer, one admin client.
type Bus struct {
	cfg       Config
	log       *slog.Logger
	writer    *kafka.Writer
	transport *kafka.Transport
	client    *kafka.Client
	dialer    *kafka.Dialer
}

// New builds a Bus. It does not contact the brokers; call Ping or EnsureTopics for that.
func New(cfg Config, log *slog.Logger) (*Bus, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("bus: no brokers")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "auditstream"
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 8 << 20
	}
	if cfg.Compression == "" {
		cfg.Compression = config.DefaultCompression
	}
	codec, err := ParseCompression(cfg.Compression)
	if err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	transport := &kafka.Transport{
		ClientID:    cfg.ClientID,
		TLS:         cfg.TLS,
		SASL:        cfg.SASL,
		DialTimeout: 10 * time.Second,
		IdleTimeout: 60 * time.Second,
		MetadataTTL: 10 * time.Second,
	}
	w := &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           BatchTimeout,
		BatchSize:              BatchSize,
		Compression:            codec,
		BatchBytes:             int64(cfg.MaxMessageBytes) + 1<<20, // the broker, not the client, decides what is too large
		MaxAttempts:            5,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        time.Second,
		AllowAutoTopicCreation: false,
		Transport:              transport,
	}
	return &Bus{
		cfg:       cfg,
		log:       log,
		writer:    w,
		transport: transport,
		client:    &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 15 * time.Second, Transport: transport},
		dialer:    &kafka.Dialer{ClientID: cfg.ClientID, Timeout: 10 * time.Second, DualStack: true, TLS: cfg.TLS, SASLMechanism: cfg.SASL},
	}, nil
}

// Brokers returns the bootstrap addresses.
func (b *Bus) Brokers() []string { return b.cfg.Brokers }

// Close flushes and closes the shared writer, then the connections of the transport
// (kafka-go keeps a metadata goroutine per broker pool until they are closed).
func (b *Bus) Close() error {
	err := b.writer.Close()
	b.transport.CloseIdleConnections()
	return err
}

// TopicSpec is a topic created at start-up with explicit settings.
type TopicSpec struct {
	Name              string
	Partitions        int
	ReplicationFactor int
	Configs           map[string]string
}

// EnsureTopics creates the topics that do not exist yet. kafka-go returns a nil error
// even when creation failed, so every per-topic error is read; TopicAlreadyExists is success.
func (b *Bus) EnsureTopics(ctx context.Context, specs ...TopicSpec) error {
	req := &kafka.CreateTopicsRequest{Addr: b.client.Addr}
	for _, s := range specs {
		tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: s.ReplicationFactor}
		for k, v := range s.Configs {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		req.Topics = append(req.Topics, tc)
	}
	resp, err := b.client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics on %v: %w", b.cfg.Brokers, b.securityCause(ctx, err))
	}
	var errs []error
	for _, s := range specs {
		if e := resp.Errors[s.Name]; e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", s.Name, e))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// Creation is asynchronous on the controller: wait until every topic has leaders.
	for _, s := range specs {
		if err := b.waitTopic(ctx, s.Name); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bus) waitTopic(ctx context.Context, topic string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) > 0 {
			ready := true
			for _, p := range md.Topics[0].Partitions {
				if p.Error != nil || p.Leader.Host == "" {
					ready = false
				}
			}
			if ready {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s has no leaders after 30s (last error: %v)", topic, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Ping checks that a broker answers a metadata request.
func (b *Bus) Ping(ctx context.Context) error {
	_, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		return fmt.Errorf("kafka metadata from %v: %w", b.cfg.Brokers, b.explain(err))
	}
	return nil
}

// ErrPermanent marks a write error that retrying cannot fix (e.g. a message over the
// topic's max.message.bytes, an unknown topic after creation settled).
var ErrPermanent = errors.New("permanent kafka write error")

// Publish writes messages synchronously with acks=all. A nil return means every message
// is durably written. Temporary failures are retried a bounded number of times; after a
// partial failure everything from the first failed message on is sent again, so messages
// of one key keep their order (at the price of possible duplicates, which ids absorb).
// A permanent failure returns at once, wrapped with ErrPermanent.
func (b *Bus) Publish(ctx context.Context, msgs ...kafka.Message) error {
	pending := msgs
	var err error
	for attempt := 0; attempt < 5 && len(pending) > 0; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("publish %d messages: %w (last error: %v)", len(pending), ctx.Err(), err)
			case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
			}
		}
		err = b.writer.WriteMessages(ctx, pending...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		if e := b.explain(err); errors.Is(e, ErrSecurity) {
			return fmt.Errorf("publish %d messages: %w", len(pending), e)
		}
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(pending) {
			first := -1
			for i, e := range werrs {
				if e == nil {
					continue
				}
				if first < 0 {
					first = i
				}
				if permanent(e) {
					return fmt.Errorf("publish message %d of %d (topic %s, %d bytes): %w: %w", i+1, len(pending), pending[i].Topic, len(pending[i].Value), ErrPermanent, e)
				}
			}
			if first < 0 {
				return nil
			}
			pending = pending[first:]
		} else if permanent(err) {
			return fmt.Errorf("publish %d messages: %w: %w", len(pending), ErrPermanent, err)
		}
		b.log.Warn("kafka write failed, retrying", "messages", len(pending), "attempt", attempt+1, "err", err)
	}
	return fmt.Errorf("publish %d of %d messages: %w", len(pending), len(msgs), b.explain(err))
}

// permanent reports whether a write error cannot be fixed by retrying.
func permanent(err error) bool {
	var mtl kafka.MessageTooLargeError
	if errors.As(err, &mtl) {
		return true
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafka.MessageSizeTooLarge, kafka.RecordListTooLarge, kafka.InvalidRecord, kafka.TopicAuthorizationFailed, kafka.InvalidTopic:
			return true
		}
	}
	return false
}

// Dialer returns the dialer readers and consumer groups must use: it carries the TLS and
// SASL settings of the Config.
func (b *Bus) Dialer() *kafka.Dialer { return b.dialer }

// Client returns the admin client.
func (b *Bus) Client() *kafka.Client { return b.client }

// Header returns the value of a header, or "".
func Header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// PartitionEnds returns the last offset (high watermark) of every partition of a topic
// (see OffsetBounds).
func (b *Bus) PartitionEnds(ctx context.Context, topic string) (map[int]int64, error) {
	ends, _, err := b.OffsetBounds(ctx, topic)
	return ends, err
}

// OffsetBounds returns the end (high watermark) and start (log start) offsets of every
// partition of topic. Right after a topic is created the brokers' metadata may still be
// settling: retriable errors (not leader, leader not available) are retried for up to 20 s.
func (b *Bus) OffsetBounds(ctx context.Context, topic string) (ends, starts map[int]int64, err error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ends, starts, err := b.offsetBounds(ctx, topic)
		if err == nil || !isTemporary(err) || time.Now().After(deadline) {
			return ends, starts, err
		}
		b.log.Debug("partition offsets not available yet, retrying", "topic", topic, "err", err)
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func isTemporary(err error) bool {
	var ke kafka.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	return false
}

func (b *Bus) offsetBounds(ctx context.Context, topic string) (ends, starts map[int]int64, err error) {
	md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		if len(md.Topics) == 1 {
			return nil, nil, fmt.Errorf("metadata of %s: %w", topic, md.Topics[0].Error)
		}
		return nil, nil, fmt.Errorf("metadata of %s: %d topics in the answer", topic, len(md.Topics))
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range md.Topics[0].Partitions {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p.ID), kafka.FirstOffsetOf(p.ID))
	}
	resp, err := b.client.ListOffsets(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	ends, starts = map[int]int64{}, map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, nil, fmt.Errorf("list offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		ends[po.Partition] = po.LastOffset
		starts[po.Partition] = po.FirstOffset
	}
	return ends, starts, nil
}

// HostPort joins a host and port.
func HostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
