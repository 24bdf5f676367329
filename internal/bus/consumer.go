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
	// OnLag, if set, receives the lag seen on each partition (high watermark - offset - 1).
	OnLag func(topic string, partition int, lag int64)
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
	report(gc, m)
	lctx, cancel := context.WithTimeout(ctx, gc.Linger)
	defer cancel()
	for len(batch) < gc.MaxBatch {
		m, err := r.FetchMessage(lctx)
		if err != nil {
			break // linger over (the message stays queued in the reader) or shutdown
		}
		batch = append(batch, m)
		report(gc, m)
	}
	return batch, nil
}

func report(gc GroupConfig, m kafka.Message) {
	if gc.OnLag != nil && m.HighWaterMark > 0 {
		gc.OnLag(m.Topic, m.Partition, m.HighWaterMark-m.Offset-1)
	}
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
