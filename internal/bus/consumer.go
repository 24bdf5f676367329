package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/backoff"
)

// GroupConfig configures a consumer-group loop.
type GroupConfig struct {
	GroupID string
	Topics  []string
	// MaxBatch is the most messages handed to the handler at once (default 500).
	MaxBatch int
	// Linger is how long to wait for more messages once one arrived (default 20ms).
	Linger time.Duration
	// SessionTimeout is how long a dead member keeps its partitions (default 10s).
	SessionTimeout time.Duration
	// OnLag, if set, receives the group's lag on each of its topics every LagInterval:
	// the SUM over the topic's partitions of (end offset − committed offset), read from
	// the broker (a partition the group never committed counts from the log start).
	// partition is always -1 (all partitions). Every member of a group computes the same
	// number, so aggregate it across processes with max, never sum.
	OnLag func(topic string, partition int, lag int64)
	// LagInterval is how often OnLag is computed (default 10s).
	LagInterval time.Duration
}

// Handler processes one batch. It returns nil only when every message of the batch
// has been durably handled downstream (written, or dead-lettered); then the offsets
// are committed. An error makes the loop retry the same batch after a backoff.
type Handler func(ctx context.Context, batch []kafka.Message) error

// Consume runs a consumer group until ctx is cancelled. It never commits an offset whose
// message the handler did not report as durably handled. It returns nil on cancellation.
func (b *Bus) Consume(ctx context.Context, gc GroupConfig, h Handler) error {
	if gc.MaxBatch <= 0 {
		gc.MaxBatch = 500
	}
	if gc.Linger <= 0 {
		gc.Linger = 20 * time.Millisecond
	}
	if gc.SessionTimeout <= 0 {
		gc.SessionTimeout = 10 * time.Second
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           b.cfg.Brokers,
		GroupID:           gc.GroupID,
		GroupTopics:       gc.Topics,
		Dialer:            b.dialer,
		MinBytes:          ReaderMinBytes,
		MaxBytes:          b.cfg.MaxMessageBytes + 1<<20,
		MaxWait:           ReaderMaxWait,
		CommitInterval:    0, // synchronous commits only
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: time.Second,
		SessionTimeout:    gc.SessionTimeout,
		RebalanceTimeout:  gc.SessionTimeout,
		JoinGroupBackoff:  500 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    500 * time.Millisecond,
		ErrorLogger:       kafka.LoggerFunc(func(msg string, args ...any) { b.log.Debug(fmt.Sprintf(msg, args...), "group", gc.GroupID) }),
	})
	defer closeWithTimeout(r, 5*time.Second, b)
	if gc.OnLag != nil {
		if gc.LagInterval <= 0 {
			gc.LagInterval = 10 * time.Second
		}
		lctx, stopLag := context.WithCancel(ctx)
		lagDone := make(chan struct{})
		go func() { defer close(lagDone); b.reportLag(lctx, gc) }()
		defer func() { stopLag(); <-lagDone }()
	}

	bo := backoff.New(200*time.Millisecond, 30*time.Second)
	for {
		batch, err := fetchBatch(ctx, r, gc)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			b.log.Warn("kafka fetch failed", "group", gc.GroupID, "err", err)
			if !backoff.Sleep(ctx, bo.Next()) {
				return nil
			}
			continue
		}
		bo.Reset()
		for {
			err := h(ctx, batch)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				// Not committed: the next member (or this one after restart) reads the batch again.
				return nil
			}
			d := bo.Next()
			b.log.Warn("batch not handled, retrying the same batch", "group", gc.GroupID, "messages", len(batch), "retry_in", d, "err", err)
			if !backoff.Sleep(ctx, d) {
				return nil
			}
		}
		bo.Reset()
		// Commit with a context that survives shutdown so a handled batch is not re-read needlessly.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := r.CommitMessages(cctx, batch...); err != nil {
			// Typical after a rebalance: the partitions moved, the new owner re-reads (duplicates, never loss).
			b.log.Warn("offset commit failed; messages will be delivered again", "group", gc.GroupID, "messages", len(batch), "err", err)
		}
		cancel()
	}
}

func fetchBatch(ctx context.Context, r *kafka.Reader, gc GroupConfig) ([]kafka.Message, error) {
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	batch := []kafka.Message{m}
	lctx, cancel := context.WithTimeout(ctx, gc.Linger)
	defer cancel()
	for len(batch) < gc.MaxBatch {
		m, err := r.FetchMessage(lctx)
		if err != nil {
			break // linger over (the message stays queued in the reader) or shutdown
		}
		batch = append(batch, m)
	}
	return batch, nil
}

// reportLag calls gc.OnLag for every topic of the group every gc.LagInterval (and once
// at start) until ctx ends. A failed computation is logged at debug and skipped: the
// gauge keeps its last value rather than dropping to a wrong one.
func (b *Bus) reportLag(ctx context.Context, gc GroupConfig) {
	t := time.NewTicker(gc.LagInterval)
	defer t.Stop()
	for {
		for _, topic := range gc.Topics {
			qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			lag, err := b.GroupLag(qctx, gc.GroupID, topic)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					b.log.Debug("consumer lag not computed", "group", gc.GroupID, "topic", topic, "err", err)
				}
				continue
			}
			total := int64(0)
			for _, l := range lag {
				total += l
			}
			gc.OnLag(topic, -1, total)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// GroupLag returns, per partition of topic, how many messages group has not committed
// yet: end offset − committed offset, or end − log start when the group has never
// committed on the partition.
func (b *Bus) GroupLag(ctx context.Context, group, topic string) (map[int]int64, error) {
	ends, starts, err := b.OffsetBounds(ctx, topic)
	if err != nil {
		return nil, err
	}
	req := &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{}}
	for p := range ends {
		req.Topics[topic] = append(req.Topics[topic], p)
	}
	resp, err := b.client.OffsetFetch(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s on %s: %w", group, topic, err)
	}
	committed := map[int]int64{}
	if resp.Error != nil && !errors.Is(resp.Error, kafka.GroupIdNotFound) { // not found: nothing committed yet
		return nil, fmt.Errorf("committed offsets of group %s on %s: %w", group, topic, resp.Error)
	}
	for _, p := range resp.Topics[topic] {
		if p.Error == nil {
			committed[p.Partition] = p.CommittedOffset
		}
	}
	out := make(map[int]int64, len(ends))
	for p, end := range ends {
		from, ok := committed[p]
		if !ok || from < 0 {
			from = starts[p]
		}
		out[p] = max(end-from, 0)
	}
	return out, nil
}

func closeWithTimeout(r interface{ Close() error }, d time.Duration, b *Bus) {
	done := make(chan error, 1)
	go func() { done <- r.Close() }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			b.log.Debug("kafka reader close", "err", err)
		}
	case <-time.After(d):
		b.log.Warn("kafka reader close timed out", "after", d)
	}
}
