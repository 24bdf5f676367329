// Package checkpoint keeps poller cursors on the compacted auditstream.checkpoints topic.
// The topic is the store: at start-up it is read to its end; each Save is an acks=all
// write, so a cursor is durable before the poller moves on.
package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/metrics"
)

// Store reads and writes cursors by key (`<poller>/<target>`).
type Store struct {
	bus     *bus.Bus
	topic   string
	log     *slog.Logger
	metrics *metrics.Metrics

	mu      sync.RWMutex
	cursors map[string]json.RawMessage
}

// Open loads every cursor of the checkpoints topic (the latest value per key wins; a
// null value deletes the key). The topic must exist.
func Open(ctx context.Context, b *bus.Bus, topic string, log *slog.Logger, m *metrics.Metrics) (*Store, error) {
	s := &Store{bus: b, topic: topic, log: log, metrics: m, cursors: map[string]json.RawMessage{}}
	ends, err := b.PartitionEnds(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("load checkpoints: %w", err)
	}
	n := 0
	for p, end := range ends {
		if end <= 0 {
			continue
		}
		c, err := s.readPartition(ctx, p, end)
		if err != nil {
			return nil, fmt.Errorf("load checkpoints from %s/%d: %w", topic, p, err)
		}
		n += c
	}
	log.Info("checkpoints loaded", "topic", topic, "records", n, "keys", len(s.cursors))
	return s, nil
}

func (s *Store) readPartition(ctx context.Context, partition int, end int64) (int, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: s.bus.Brokers(), Topic: s.topic, Partition: partition, Dialer: s.bus.Dialer(),
		MinBytes: 1, MaxBytes: 64 << 20, MaxWait: 200 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	n := 0
	for {
		// A partition reader without a group: nothing is committed. A read that finds
		// nothing for 5 s means the records before end were compacted away (the last
		// offset of a cleaned segment can be gone): everything there is has been read.
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := r.ReadMessage(rctx)
		rcancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				s.log.Warn("checkpoints partition ended before its high watermark (compacted tail); loaded what is there",
					"topic", s.topic, "partition", partition, "read", n, "end", end)
				return n, nil
			}
			return n, err
		}
		n++
		s.apply(string(m.Key), m.Value)
		if m.Offset >= end-1 {
			return n, nil
		}
	}
}

func (s *Store) apply(key string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == nil {
		delete(s.cursors, key)
		return
	}
	s.cursors[key] = append(json.RawMessage(nil), value...)
}

// Get returns the cursor stored under key, or nil.
func (s *Store) Get(key string) json.RawMessage {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cursors[key]
}

// Keys returns the number of stored cursors.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.cursors)
}

// Save writes a cursor durably (acks=all) and only then makes it the current one.
func (s *Store) Save(ctx context.Context, key string, cursor json.RawMessage) error {
	if !json.Valid(cursor) {
		return fmt.Errorf("save checkpoint %s: cursor is not JSON", key)
	}
	err := s.bus.Publish(ctx, kafka.Message{Topic: s.topic, Key: []byte(key), Value: cursor})
	if err != nil {
		s.metrics.CheckpointWrites.WithLabelValues("error").Inc()
		return fmt.Errorf("save checkpoint %s: %w", key, err)
	}
	s.metrics.CheckpointWrites.WithLabelValues("ok").Inc()
	s.apply(key, cursor)
	return nil
}
