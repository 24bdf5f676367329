// Package sinks holds the shared sink runner and one folder per sink. A sink implements
// one call, Write(batch); the runner does batching, retries with backoff and jitter,
// backpressure (a failing sink stops its consumer: lag grows, nothing is committed),
// dead-lettering of permanently rejected events, and offset commits after the write.
package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/metrics"
)

// Event is one canonical event as read from audit.events.v1, with the routing fields the
// normalizer put in its CloudEvents headers, so that no sink re-parses the JSON to route.
type Event struct {
	ID    string // metadata.uid (the CloudEvents id): the idempotency key
	Key   []byte
	Value []byte // the canonical event JSON
	Msg   kafka.Message

	Time     time.Time // event time (ce_time)
	ClassUID int       // OCSF class_uid (from ce_type io.auditstream.ocsf.<class_uid>)
	Provider string    // from ce_source /auditstream/<provider>/<tenant>
	Tenant   string    // from ce_source
}

// Result tells the runner what a successful Write did with each event.
type Result struct {
	Written    int
	Duplicates int // already in the store (idempotent skip)
}

// LegacySink is the first sink interface (all-or-nothing Write); it is being replaced
// by Sink (api.go), which answers per event. Write must be idempotent on Event.ID.
type LegacySink interface {
	Name() string
	Write(ctx context.Context, batch []Event) (Result, error)
	// Ping reports whether the store is reachable (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}

// Rejected is returned by Write when some events can never be written (a poison event);
// every other event of the batch was written.
type Rejected struct {
	Result
	ByIndex map[int]error
}

func (r *Rejected) Error() string {
	return fmt.Sprintf("%d event(s) rejected permanently", len(r.ByIndex))
}

// PermanentError marks a whole-batch failure that retrying cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a permanent failure.
func Permanent(err error) error { return &PermanentError{Err: err} }

// RunnerConfig configures the runner of one sink.
type RunnerConfig struct {
	EventsTopic string
	DLQTopic    string
	GroupID     string // default auditstream-sink-<name>
	MaxBatch    int
}

// Runner drives one sink from the events topic.
type Runner struct {
	cfg  RunnerConfig
	sink LegacySink
	bus  *bus.Bus
	log  *slog.Logger
	m    *metrics.Metrics
}

// NewRunner builds a runner.
func NewRunner(cfg RunnerConfig, s LegacySink, b *bus.Bus, log *slog.Logger, m *metrics.Metrics) *Runner {
	if cfg.GroupID == "" {
		cfg.GroupID = "auditstream-sink-" + s.Name()
	}
	return &Runner{cfg: cfg, sink: s, bus: b, log: log.With("role", "sink", "sink", s.Name()), m: m}
}

// Run consumes until ctx is cancelled.
func (r *Runner) Run(ctx context.Context) error {
	r.log.Info("sink consuming", "group", r.cfg.GroupID, "topic", r.cfg.EventsTopic)
	return r.bus.Consume(ctx, bus.GroupConfig{
		GroupID: r.cfg.GroupID, Topics: []string{r.cfg.EventsTopic}, MaxBatch: r.cfg.MaxBatch,
		OnLag: func(topic string, _ int, lag int64) {
			r.m.ConsumerLag.WithLabelValues(r.cfg.GroupID, topic).Set(float64(lag))
		},
	}, r.handle)
}

func (r *Runner) handle(ctx context.Context, msgs []kafka.Message) error {
	name := r.sink.Name()
	var dlq []kafka.Message
	events := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		id, err := EventID(m)
		if err != nil {
			dlq = append(dlq, bus.DeadLetter(r.cfg.DLQTopic, "sink:"+name, "no_id", err, m))
			continue
		}
		events = append(events, Event{ID: id, Key: m.Key, Value: m.Value, Msg: m})
	}
	if len(events) > 0 {
		start := time.Now()
		res, err := r.sink.Write(ctx, events)
		var rej *Rejected
		var perm *PermanentError
		switch {
		case err == nil:
		case errors.As(err, &rej):
			res = rej.Result
			for i, e := range rej.ByIndex {
				if i >= 0 && i < len(events) {
					dlq = append(dlq, bus.DeadLetter(r.cfg.DLQTopic, "sink:"+name, "rejected", e, events[i].Msg))
				}
			}
		case errors.As(err, &perm):
			for _, e := range events {
				dlq = append(dlq, bus.DeadLetter(r.cfg.DLQTopic, "sink:"+name, "rejected", err, e.Msg))
			}
		default:
			r.m.SinkRetries.WithLabelValues(name).Inc()
			return fmt.Errorf("sink %s: %w", name, err)
		}
		r.m.SinkBatchDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		r.m.SinkEvents.WithLabelValues(name, "written").Add(float64(res.Written))
		r.m.SinkEvents.WithLabelValues(name, "duplicate").Add(float64(res.Duplicates))
	}
	if len(dlq) > 0 {
		if err := r.bus.Publish(ctx, dlq...); err != nil {
			return fmt.Errorf("sink %s: dead-letter %d events: %w", name, len(dlq), err)
		}
		r.m.SinkEvents.WithLabelValues(name, "dlq").Add(float64(len(dlq)))
		r.m.DLQRecords.WithLabelValues("sink", "rejected").Add(float64(len(dlq)))
		r.log.Warn("events dead-lettered", "count", len(dlq))
	}
	return nil
}

// EventID reads the event id: the ce_id header, else metadata.uid of the body.
func EventID(m kafka.Message) (string, error) {
	if id := bus.Header(m, "ce_id"); id != "" {
		return id, nil
	}
	var v struct {
		Metadata struct {
			UID string `json:"uid"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(m.Value, &v); err != nil || v.Metadata.UID == "" {
		return "", fmt.Errorf("event at %s/%d/%d has no ce_id header and no metadata.uid", m.Topic, m.Partition, m.Offset)
	}
	return v.Metadata.UID, nil
}
