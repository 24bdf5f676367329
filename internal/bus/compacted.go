package bus

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"
)

// ReadRange reads one partition of a topic from offset from (0 = its start) up to end
// (exclusive, a high watermark from PartitionEnds), handing every message to fn in
// order, without a consumer group (nothing is committed). It is how the compacted topics
// (checkpoints, targets) are loaded and caught up. A read that finds nothing for 5 s
// before end means the records before end were compacted away (the last offsets of a
// cleaned segment can be gone): everything there is has been read, and it returns the
// count with gapped = true.
func (b *Bus) ReadRange(ctx context.Context, topic string, partition int, from, end int64, fn func(kafka.Message)) (n int, gapped bool, err error) {
	if end <= from {
		return 0, false, nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: b.Brokers(), Topic: topic, Partition: partition, Dialer: b.Dialer(),
		MinBytes: 1, MaxBytes: 64 << 20, MaxWait: 200 * time.Millisecond,
	})
	defer r.Close()
	start := from
	if start <= 0 {
		start = kafka.FirstOffset
	}
	if err := r.SetOffset(start); err != nil {
		return 0, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := r.ReadMessage(rctx)
		rcancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return n, true, nil
			}
			return n, false, err
		}
		n++
		fn(m)
		if m.Offset >= end-1 {
			return n, false, nil
		}
	}
}
