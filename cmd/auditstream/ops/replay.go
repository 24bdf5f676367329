package ops

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/normalizer"
)

// Normalizer is what replay needs of the normalizer: the same Normalize the normalize
// role runs, so a replayed record becomes exactly the event the fixed normalizer makes.
type Normalizer interface {
	Normalize(value []byte) (c *normalizer.Canonical, provider, reason string, err error)
}

// ReplayConfig selects what to re-normalize.
type ReplayConfig struct {
	RawTopics   []string // audit.raw.<provider> topics to read
	EventsTopic string
	DLQTopic    string
	From, To    Position
	DryRun      bool // read and normalize, write nothing
	// BatchSize is how many records are written at once (default 500).
	BatchSize int
}

// ReplayReport counts what a replay did (or, in a dry run, would do), per raw topic.
type ReplayReport struct {
	Topics []TopicReport
}

// TopicReport is the part of a replay on one raw topic.
type TopicReport struct {
	Topic        string
	Ranges       []PartitionRange
	Read         int
	Events       int            // canonical events written (or to write)
	DeadLettered map[string]int // by reason
}

// Replay re-normalizes the raw records in [From, To) of each raw topic and writes the
// events to the events topic with the same keys and headers the normalize role writes.
// Event ids are derived from the raw record ids, so a replayed event has the id of the
// event it replaces: idempotent stores keep one row per event, and replaying twice is
// harmless. Records that still fail go to the dead-letter topic (stage "replay").
func Replay(ctx context.Context, b *bus.Bus, n Normalizer, cfg ReplayConfig, log *slog.Logger, m *metrics.Metrics) (ReplayReport, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	var rep ReplayReport
	for _, topic := range cfg.RawTopics {
		ranges, err := Ranges(ctx, b, topic, cfg.From, cfg.To)
		if err != nil {
			return rep, err
		}
		tr := TopicReport{Topic: topic, Ranges: ranges, DeadLettered: map[string]int{}}
		var out []kafka.Message
		flush := func() error {
			if cfg.DryRun || len(out) == 0 {
				out = out[:0]
				return nil
			}
			if err := b.Publish(ctx, out...); err != nil {
				return fmt.Errorf("replay %s: write %d records: %w", topic, len(out), err)
			}
			out = out[:0]
			return nil
		}
		err = Scan(ctx, b, topic, ranges, func(msg kafka.Message) error {
			tr.Read++
			c, provider, reason, err := n.Normalize(msg.Value)
			if err != nil {
				tr.DeadLettered[reason]++
				out = append(out, bus.DeadLetter(cfg.DLQTopic, "replay", reason, err, msg))
				if !cfg.DryRun {
					m.DLQRecords.WithLabelValues("replay", reason).Inc()
				}
				log.Warn("record still fails; dead-lettered", "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset,
					"provider", provider, "reason", reason, "err", err)
			} else {
				tr.Events++
				out = append(out, c.Message(cfg.EventsTopic, msg.Key))
			}
			if len(out) >= cfg.BatchSize {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		rep.Topics = append(rep.Topics, tr)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}
