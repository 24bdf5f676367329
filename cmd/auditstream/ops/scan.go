// Package ops holds the repair tools behind `auditstream replay`, `auditstream dlq` and
// `auditstream cursors`: reading ranges of topics, re-normalizing raw records,
// listing and re-injecting dead letters, and listing and resetting poller cursors.
// Every tool that changes something has a dry run; the command line decides the default.
package ops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
)

// Position is one end of a range: an offset (the same on every partition), a time (the
// first record at or after it, by record timestamp), or unset (the log start for a
// start, the end at the time of the call for an end).
type Position struct {
	Offset int64 // when HasOffset
	Time   time.Time
	set    bool
	offset bool
}

// ParsePosition reads "" (unset), a non-negative integer (an offset), or an RFC 3339
// time ("2026-11-21T10:00:00Z"; a date "2026-11-21" means its midnight UTC).
func ParsePosition(s string) (Position, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Position{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return Position{}, fmt.Errorf("offset %d: must be ≥ 0", n)
		}
		return Position{Offset: n, set: true, offset: true}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return Position{Time: t, set: true}, nil
		}
	}
	return Position{}, fmt.Errorf("%q is neither an offset nor an RFC 3339 time (2026-11-21T10:00:00Z)", s)
}

// String describes the position.
func (p Position) String() string {
	switch {
	case !p.set:
		return "unset"
	case p.offset:
		return "offset " + strconv.FormatInt(p.Offset, 10)
	default:
		return p.Time.UTC().Format(time.RFC3339Nano)
	}
}

// PartitionRange is [From, To) on one partition.
type PartitionRange struct {
	Partition int
	From, To  int64
}

// Ranges resolves [from, to) on every partition of topic, clamped to what the log holds.
func Ranges(ctx context.Context, b *bus.Bus, topic string, from, to Position) ([]PartitionRange, error) {
	ends, starts, err := b.OffsetBounds(ctx, topic)
	if err != nil {
		return nil, err
	}
	fromOff, err := resolve(ctx, b, topic, from, starts, ends)
	if err != nil {
		return nil, err
	}
	toOff, err := resolve(ctx, b, topic, to, ends, ends)
	if err != nil {
		return nil, err
	}
	var out []PartitionRange
	for p := range ends {
		f, t := max(fromOff[p], starts[p]), min(toOff[p], ends[p])
		out = append(out, PartitionRange{Partition: p, From: f, To: max(t, f)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out, nil
}

// resolve turns a position into an offset per partition; unset gives def.
func resolve(ctx context.Context, b *bus.Bus, topic string, pos Position, def, ends map[int]int64) (map[int]int64, error) {
	out := map[int]int64{}
	switch {
	case !pos.set:
		for p, o := range def {
			out[p] = o
		}
	case pos.offset:
		for p := range ends {
			out[p] = pos.Offset
		}
	default:
		req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
		for p := range ends {
			req.Topics[topic] = append(req.Topics[topic], kafka.TimeOffsetOf(p, pos.Time))
		}
		resp, err := b.Client().ListOffsets(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("offsets of %s at %s: %w", topic, pos, err)
		}
		for _, po := range resp.Topics[topic] {
			if po.Error != nil {
				return nil, fmt.Errorf("offsets of %s/%d at %s: %w", topic, po.Partition, pos, po.Error)
			}
			out[po.Partition] = ends[po.Partition] // no record at or after the time
			for off := range po.Offsets {
				if off >= 0 {
					out[po.Partition] = off
				}
			}
		}
	}
	return out, nil
}

// idleEnd is how long a read may find nothing before the rest of a range counts as gone
// (compacted away, or deleted by retention while reading).
const idleEnd = 5 * time.Second

// Scan calls fn with every record of topic in the ranges, partition by partition in
// offset order. fn returning errStop ends the scan early without an error.
func Scan(ctx context.Context, b *bus.Bus, topic string, ranges []PartitionRange, fn func(kafka.Message) error) error {
	for _, r := range ranges {
		if r.From >= r.To {
			continue
		}
		if err := scanPartition(ctx, b, topic, r, fn); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

var errStop = errors.New("stop scan")

func scanPartition(ctx context.Context, b *bus.Bus, topic string, r PartitionRange, fn func(kafka.Message) error) error {
	rd := kafka.NewReader(kafka.ReaderConfig{
		Brokers: b.Brokers(), Topic: topic, Partition: r.Partition, Dialer: b.Dialer(),
		MinBytes: 1, MaxBytes: 64 << 20, MaxWait: 200 * time.Millisecond,
	})
	defer rd.Close()
	if err := rd.SetOffset(r.From); err != nil {
		return fmt.Errorf("read %s/%d from %d: %w", topic, r.Partition, r.From, err)
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, idleEnd)
		m, err := rd.ReadMessage(rctx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return nil // the rest of the range is not there any more
			}
			return fmt.Errorf("read %s/%d: %w", topic, r.Partition, err)
		}
		if m.Offset >= r.To {
			return nil
		}
		if err := fn(m); err != nil {
			return err
		}
		if m.Offset >= r.To-1 {
			return nil
		}
	}
}
