package sinks

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/backoff"
	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/metrics"
)

// RunnerConfig configures the runner of one sink.
type RunnerConfig struct {
	EventsTopic string
	DLQTopic    string
	GroupID     string // default auditstream-sink-<name>
	// MaxBatch is the most events fetched and written at once (default 500).
	MaxBatch int
	// MaxBatchBytes caps the canonical JSON bytes of one Write (default 4 MiB); a fetched
	// batch above it is written in several Writes (one event larger than it goes alone).
	MaxBatchBytes int
	// Linger is how long the consumer waits for more events once one arrived (default 20ms).
	Linger time.Duration
	// RetryMin and RetryMax bound the backoff between retries (default 200ms and 30s).
	RetryMin, RetryMax time.Duration
	// FatalRetry is how often a sink stopped by a fatal error is tried again (default 1m):
	// fixing the credentials or permissions in the store resumes it without a restart.
	FatalRetry time.Duration
}

// Runner drives one sink from the events topic.
type Runner struct {
	cfg  RunnerConfig
	sink Sink
	bus  *bus.Bus
	log  *slog.Logger
	m    *metrics.Metrics
	d    *deliverer

	mu       sync.Mutex
	fatalErr error
}

// NewRunner builds a runner.
func NewRunner(cfg RunnerConfig, s Sink, b *bus.Bus, log *slog.Logger, m *metrics.Metrics) *Runner {
	if cfg.GroupID == "" {
		cfg.GroupID = "auditstream-sink-" + s.Name()
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 500
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = 4 << 20
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 200 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 30 * time.Second
	}
	if cfg.FatalRetry <= 0 {
		cfg.FatalRetry = time.Minute
	}
	name := s.Name()
	r := &Runner{cfg: cfg, sink: s, bus: b, log: log.With("role", "sink", "sink", name), m: m}
	r.d = &deliverer{sink: s, log: r.log, min: cfg.RetryMin, max: cfg.RetryMax, waitFatal: true, fatalRetry: cfg.FatalRetry,
		onRetry: func() { m.SinkRetries.WithLabelValues(name).Inc() },
		onWrite: func(d time.Duration) { m.SinkBatchDuration.WithLabelValues(name).Observe(d.Seconds()) },
		onFatal: func(err error) {
			r.mu.Lock()
			r.fatalErr = err
			r.mu.Unlock()
			v := 0.0
			if err != nil {
				v = 1
			}
			m.SinkFatal.WithLabelValues(name).Set(v)
		},
	}
	// Every series of this sink exists from the start at 0: Prometheus' increase() and
	// rate() miss the first increment of a series created by it.
	m.SinkFatal.WithLabelValues(name).Set(0)
	for _, outcome := range []string{"written", "duplicate", "dlq"} {
		m.SinkEvents.WithLabelValues(name, outcome)
	}
	m.SinkRetries.WithLabelValues(name)
	for _, reason := range []string{"no_id", "rejected"} { // the runner's own reasons
		m.DLQRecords.WithLabelValues("sink", reason)
	}
	return r
}

// Ready is the sink's readiness check: it fails while the sink is stopped by a fatal
// error, else it pings the store.
func (r *Runner) Ready(ctx context.Context) error {
	r.mu.Lock()
	err := r.fatalErr
	r.mu.Unlock()
	if err != nil {
		return errString(r.sink.Name(), err)
	}
	return r.sink.Ping(ctx)
}

// Run consumes until ctx is cancelled.
func (r *Runner) Run(ctx context.Context) error {
	r.log.Info("sink consuming", "group", r.cfg.GroupID, "topic", r.cfg.EventsTopic, "guarantee", r.sink.Guarantee().String())
	return r.bus.Consume(ctx, bus.GroupConfig{
		GroupID: r.cfg.GroupID, Topics: []string{r.cfg.EventsTopic}, MaxBatch: r.cfg.MaxBatch, Linger: r.cfg.Linger,
		OnLag: func(topic string, _ int, lag int64) {
			r.m.ConsumerLag.WithLabelValues(r.cfg.GroupID, topic).Set(float64(lag))
		},
	}, r.handle)
}

// handle delivers one fetched batch. It returns nil only once every event is written,
// already in the store, or dead-lettered (then the consumer commits the offsets); while
// the store is down it keeps retrying and holds this one batch (the consumer fetches
// nothing more). It returns an error only on shutdown: nothing is committed and the batch
// is read again.
func (r *Runner) handle(ctx context.Context, msgs []kafka.Message) error {
	name := r.sink.Name()
	stage := "sink:" + name
	var dlq []kafka.Message
	var reasons []string
	events := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		e, err := EventFromMessage(m)
		if err != nil {
			dlq = append(dlq, bus.DeadLetter(r.cfg.DLQTopic, stage, "no_id", err, m))
			reasons = append(reasons, "no_id")
			continue
		}
		events = append(events, e)
	}
	var out Delivery
	for _, chunk := range chunks(events, r.cfg.MaxBatchBytes) {
		if err := r.d.deliver(ctx, chunk, &out); err != nil {
			return fmt.Errorf("sink %s: %w", name, err)
		}
	}
	for _, rj := range out.Rejected {
		dlq = append(dlq, bus.DeadLetter(r.cfg.DLQTopic, stage, rj.Reason, rj.Err, rj.Event.Msg))
		reasons = append(reasons, rj.Reason)
	}
	r.m.SinkEvents.WithLabelValues(name, "written").Add(float64(out.Written))
	r.m.SinkEvents.WithLabelValues(name, "duplicate").Add(float64(out.Duplicates))
	if len(dlq) == 0 {
		return nil
	}
	bo := backoff.New(r.cfg.RetryMin, r.cfg.RetryMax)
	for {
		err := r.bus.Publish(ctx, dlq...)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("sink %s: dead-letter %d events: %w", name, len(dlq), err)
		}
		wait := bo.Next()
		r.log.Warn("dead-letter publish failed; retrying", "events", len(dlq), "retry_in", wait, "err", err)
		if !backoff.Sleep(ctx, wait) {
			return fmt.Errorf("sink %s: dead-letter %d events: %w", name, len(dlq), ctx.Err())
		}
	}
	r.m.SinkEvents.WithLabelValues(name, "dlq").Add(float64(len(dlq)))
	for _, reason := range reasons {
		r.m.DLQRecords.WithLabelValues("sink", reason).Inc()
	}
	r.log.Warn("events dead-lettered", "count", len(dlq), "first_reason", reasons[0])
	return nil
}

// chunks splits events into runs of at most maxBytes of canonical JSON (an event larger
// than maxBytes forms a run of its own).
func chunks(events []Event, maxBytes int) [][]Event {
	var out [][]Event
	start, size := 0, 0
	for i, e := range events {
		if i > start && size+len(e.Value) > maxBytes {
			out = append(out, events[start:i])
			start, size = i, 0
		}
		size += len(e.Value)
	}
	if start < len(events) {
		out = append(out, events[start:])
	}
	return out
}
