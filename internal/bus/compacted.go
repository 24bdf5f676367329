package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
)

// readIdle is how long ReadRange waits for the next record before it asks the
// partition's leader whether any record is left before the end (var: tests shorten it).
var readIdle = 5 * time.Second

// readMessage is how ReadRange reads one record (var: tests simulate a stalled read).
var readMessage = (*kafka.Reader).ReadMessage

// maxIdleProbes bounds how many times in a row ReadRange finds records waiting that its
// reader did not deliver before it gives up with an error (the caller retries later).
const maxIdleProbes = 3

// ReadRange reads one partition of a topic from offset from (0 = its start) up to end
// (exclusive, a high watermark from PartitionEnds), handing every message to fn in
// order, without a consumer group (nothing is committed). It is how the compacted topics
// (checkpoints, targets) are loaded and caught up.
//
// A slow read (a leader election, a loaded broker) is never taken for the end: when no
// record arrives for a while, the partition's leader is asked directly for the records
// from the next offset on. Only when it answers that none exists before end (the last
// offsets of a compacted segment can be gone) does ReadRange return gapped = true with
// everything there is read; when records are there, reading goes on, and after a few
// such stalls (or when the leader cannot be asked) it returns an error, so that the
// caller keeps its position and reads the range again rather than skipping records.
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
	next, stalls := from, 0
	for {
		rctx, rcancel := context.WithTimeout(ctx, readIdle)
		m, err := readMessage(r, rctx)
		rcancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				return n, false, err
			}
			empty, perr := b.noRecordBefore(ctx, topic, partition, next, end)
			if perr != nil {
				return n, false, fmt.Errorf("read %s/%d: no record for %s at offset %d (end %d) and the leader cannot tell whether one is left: %w", topic, partition, readIdle, next, end, perr)
			}
			if empty {
				return n, true, nil
			}
			if stalls++; stalls >= maxIdleProbes {
				return n, false, fmt.Errorf("read %s/%d: records are left between offsets %d and %d but none was delivered in %d waits of %s", topic, partition, next, end, stalls, readIdle)
			}
			continue
		}
		stalls = 0
		n++
		fn(m)
		next = m.Offset + 1
		if m.Offset >= end-1 {
			return n, false, nil
		}
	}
}

// noRecordBefore asks the leader of topic/partition for the records from offset from
// on: it reports true only when the leader's answer proves that no record exists in
// [from, end) — an empty answer while the high watermark has reached end, or a first
// record at or after end.
func (b *Bus) noRecordBefore(ctx context.Context, topic string, partition int, from, end int64) (bool, error) {
	if len(b.Brokers()) == 0 {
		return false, errors.New("no brokers")
	}
	conn, err := b.Dialer().DialLeader(ctx, "tcp", b.Brokers()[0], topic, partition)
	if err != nil {
		return false, fmt.Errorf("dial the leader: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(readIdle + 5*time.Second)); err != nil {
		return false, err
	}
	if from <= 0 {
		first, err := conn.ReadFirstOffset()
		if err != nil {
			return false, fmt.Errorf("first offset: %w", err)
		}
		from = first
	}
	if _, err := conn.Seek(from, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
		return false, fmt.Errorf("seek %d: %w", from, err)
	}
	batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 500 * time.Millisecond})
	defer batch.Close()
	for {
		m, err := batch.ReadMessage()
		if err != nil {
			if errors.Is(err, io.EOF) && batch.HighWaterMark() >= end {
				return true, nil
			}
			if errors.Is(err, io.EOF) {
				return false, fmt.Errorf("the high watermark %d is below the end %d", batch.HighWaterMark(), end)
			}
			return false, err
		}
		if m.Offset < from {
			continue
		}
		return m.Offset >= end, nil
	}
}
