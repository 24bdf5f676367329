package ops

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
)

// DeadLetter is one record of the dead-letter topic with its reason headers (written by
// bus.DeadLetter): where it failed, why, and where it came from.
type DeadLetter struct {
	Partition int
	Offset    int64
	Time      time.Time
	Stage     string // normalize, replay, sink:<name>
	Reason    string
	Error     string
	// Origin of the record: topic, partition and offset it was read from.
	Topic           string
	OriginPartition int
	OriginOffset    int64
	Key, Value      []byte
	Headers         []kafka.Header // the original record's headers (CloudEvents headers of an event)
}

// ID is how commands name a dead letter: "<partition>:<offset>" on the DLQ topic.
func (d DeadLetter) ID() string {
	return strconv.Itoa(d.Partition) + ":" + strconv.FormatInt(d.Offset, 10)
}

func toDeadLetter(m kafka.Message) DeadLetter {
	op, _ := strconv.Atoi(bus.Header(m, "dlq.partition"))
	oo, _ := strconv.ParseInt(bus.Header(m, "dlq.offset"), 10, 64)
	return DeadLetter{Partition: m.Partition, Offset: m.Offset, Time: m.Time, Stage: bus.Header(m, "dlq.stage"),
		Reason: bus.Header(m, "dlq.reason"), Error: bus.Header(m, "dlq.error"), Topic: bus.Header(m, "dlq.topic"),
		OriginPartition: op, OriginOffset: oo, Key: m.Key, Value: m.Value, Headers: bus.OriginalHeaders(m)}
}

// DLQFilter selects dead letters; empty fields match everything.
type DLQFilter struct {
	Stage, Reason, Topic string
	IDs                  map[string]bool // "<partition>:<offset>"
	From, To             Position
	Limit                int // at most this many (0 = all)
}

func (f DLQFilter) match(d DeadLetter) bool {
	return (f.Stage == "" || f.Stage == d.Stage) && (f.Reason == "" || f.Reason == d.Reason) &&
		(f.Topic == "" || f.Topic == d.Topic) && (len(f.IDs) == 0 || f.IDs[d.ID()])
}

// ListDLQ returns the dead letters of topic that match f, oldest first per partition.
func ListDLQ(ctx context.Context, b *bus.Bus, topic string, f DLQFilter) ([]DeadLetter, error) {
	ranges, err := Ranges(ctx, b, topic, f.From, f.To)
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	err = Scan(ctx, b, topic, ranges, func(m kafka.Message) error {
		d := toDeadLetter(m)
		if !f.match(d) {
			return nil
		}
		out = append(out, d)
		if f.Limit > 0 && len(out) >= f.Limit {
			return errStop
		}
		return nil
	})
	return out, err
}

// RetryHeader marks a re-injected record with the dead letter it came from.
const RetryHeader = "auditstream.retry_of"

// RetryDLQ writes the selected dead letters back to the topics they came from, with
// their original key, value and headers (the consumers there handle them again; event
// ids keep that idempotent). dlqTopic names the DLQ in the retry header. A dead letter without
// an origin topic is skipped and returned in skipped.
func RetryDLQ(ctx context.Context, b *bus.Bus, dlqTopic string, letters []DeadLetter) (retried int, skipped []DeadLetter, err error) {
	var out []kafka.Message
	for _, d := range letters {
		if d.Topic == "" {
			skipped = append(skipped, d)
			continue
		}
		headers := append(append([]kafka.Header(nil), d.Headers...), kafka.Header{Key: RetryHeader, Value: []byte(dlqTopic + "/" + d.ID())})
		out = append(out, kafka.Message{Topic: d.Topic, Key: d.Key, Value: d.Value, Headers: headers})
	}
	if len(out) == 0 {
		return 0, skipped, nil
	}
	if err := b.Publish(ctx, out...); err != nil {
		return 0, skipped, fmt.Errorf("re-inject %d dead letters: %w", len(out), err)
	}
	return len(out), skipped, nil
}
