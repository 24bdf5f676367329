// Package checkpoint keeps poller cursors on the compacted auditstream.checkpoints topic.
// The topic is the store: at start-up it is read to its end; each Save is an acks=all
// write, so a cursor is durable before the poller moves on.
package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

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
	cursors *cursors

	syncMu sync.Mutex
	next   map[int]int64 // per partition, the offset after the last one read
}

// Open loads every cursor of the checkpoints topic (the latest value per key wins; a
// null value deletes the key). The topic must exist.
func Open(ctx context.Context, b *bus.Bus, topic string, log *slog.Logger, m *metrics.Metrics) (*Store, error) {
	s := &Store{bus: b, topic: topic, log: log, metrics: m, cursors: newCursors(), next: map[int]int64{}}
	n, err := s.catchUp(ctx)
	if err != nil {
		return nil, err
	}
	log.Info("checkpoints loaded", "topic", topic, "records", n, "keys", s.cursors.n)
	return s, nil
}

// Sync reads what other processes wrote to the checkpoints topic since the last read,
// up to the topic's current end. A process calls it when it takes targets over from
// another one (work sharing), before polling them, so that it resumes from their latest
// cursors. It must not run while this process polls the keys concerned.
func (s *Store) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	n, err := s.catchUp(ctx)
	if err == nil && n > 0 {
		s.log.Debug("checkpoints synced", "topic", s.topic, "records", n)
	}
	return err
}

func (s *Store) catchUp(ctx context.Context) (int, error) {
	ends, err := s.bus.PartitionEnds(ctx, s.topic)
	if err != nil {
		return 0, fmt.Errorf("load checkpoints: %w", err)
	}
	n := 0
	for p, end := range ends {
		from := s.next[p]
		if end <= from {
			continue
		}
		c, err := s.readPartition(ctx, p, from, end)
		if err != nil {
			return n, fmt.Errorf("load checkpoints from %s/%d: %w", s.topic, p, err)
		}
		n += c
		s.next[p] = end
	}
	return n, nil
}

func (s *Store) readPartition(ctx context.Context, partition int, from, end int64) (int, error) {
	n, gapped, err := s.bus.ReadRange(ctx, s.topic, partition, from, end, func(m kafka.Message) { s.apply(string(m.Key), m.Value) })
	if gapped {
		s.log.Warn("checkpoints partition ended before its high watermark (compacted tail); loaded what is there",
			"topic", s.topic, "partition", partition, "read", n, "end", end)
	}
	return n, err
}

func (s *Store) apply(key string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == nil {
		s.cursors.remove(key)
		return
	}
	s.cursors.put(key, value)
}

// Get returns (a copy of) the cursor stored under key, or nil (none, or an empty value
// another writer put on the topic: sources take nil for "first poll").
func (s *Store) Get(key string) json.RawMessage {
	s.mu.RLock()
	c, ok := s.cursors.get(key)
	s.mu.RUnlock()
	if !ok || c == "" {
		return nil
	}
	return json.RawMessage(c)
}

// Keys returns the number of stored cursors.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cursors.n
}

// Save writes a cursor durably (acks=all) and only then makes it the current one.
func (s *Store) Save(ctx context.Context, key string, cursor json.RawMessage) error {
	if !json.Valid(cursor) {
		return fmt.Errorf("save checkpoint %s: cursor is not JSON", key)
	}
	return s.write(ctx, "save", key, cursor)
}

// Delete tombstones a cursor: a null value on the compacted topic, so that compaction
// eventually removes the key. It returns once the tombstone is acknowledged.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.write(ctx, "tombstone", key, nil)
}

func (s *Store) write(ctx context.Context, what, key string, value json.RawMessage) error {
	if err := s.bus.Publish(ctx, kafka.Message{Topic: s.topic, Key: []byte(key), Value: value}); err != nil {
		s.metrics.CheckpointWrites.WithLabelValues("error").Inc()
		return fmt.Errorf("%s checkpoint %s: %w", what, key, err)
	}
	s.metrics.CheckpointWrites.WithLabelValues("ok").Inc()
	s.apply(key, value)
	return nil
}

// All returns a copy of every stored cursor by key (for listing tools).
func (s *Store) All() map[string]json.RawMessage {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]json.RawMessage, s.cursors.n)
	s.cursors.all(func(k, v string) { out[k] = json.RawMessage(v) })
	return out
}
