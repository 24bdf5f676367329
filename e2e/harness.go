// Package e2e runs whole pipelines — simulator → poller → Kafka → normalizer → Kafka →
// sink — inside a test, on a real or embedded broker, with parts that can be stopped and
// restarted mid-run. Topic and group names are unique per pipeline.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/auditstream/auditstream/cmd/auditstream/app"
	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/checkpoint"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/normalizer"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/file"
)

// Pipeline is one isolated set of topics and groups on a broker.
type Pipeline struct {
	T       testing.TB
	Bus     *bus.Bus
	Log     *slog.Logger
	Metrics *metrics.Metrics
	// Topics
	RawPrefix, Events, DLQ, Checkpoints string
	suffix                              string
}

// New creates the pipeline's topics on brokers.
func New(t testing.TB, brokers []string, providers ...string) *Pipeline {
	t.Helper()
	u := testkit.Unique()
	p := &Pipeline{T: t, Bus: testkit.NewBus(t, brokers), Log: testkit.Logger(t), Metrics: metrics.NewUnregistered(),
		RawPrefix: "e2e." + u + ".audit.raw.", Events: "e2e." + u + ".audit.events.v1", DLQ: "e2e." + u + ".audit.dlq",
		Checkpoints: "e2e." + u + ".checkpoints", suffix: u}
	specs := []bus.TopicSpec{
		{Name: p.Events, Partitions: 3, ReplicationFactor: 1},
		{Name: p.DLQ, Partitions: 1, ReplicationFactor: 1},
		{Name: p.Checkpoints, Partitions: 1, ReplicationFactor: 1, Configs: map[string]string{"cleanup.policy": "compact"}},
	}
	for _, pr := range providers {
		specs = append(specs, bus.TopicSpec{Name: p.RawPrefix + pr, Partitions: 3, ReplicationFactor: 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Bus.EnsureTopics(ctx, specs...); err != nil {
		t.Fatal(err)
	}
	return p
}

// Part is a running component.
type Part struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}
}

// Stop cancels the part and waits for it (at most 60 s).
func (p *Part) Stop(t testing.TB) {
	t.Helper()
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not stop within 60s", p.name)
	}
}

func (p *Pipeline) start(name string, run func(ctx context.Context)) *Part {
	ctx, cancel := context.WithCancel(context.Background())
	part := &Part{name: name, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(part.done); run(ctx) }()
	p.T.Cleanup(func() { cancel(); <-part.done })
	return part
}

// StartPoller runs src like the scheduler would, one PollOnce every interval. The
// checkpoint store is opened anew, as a restarted process would.
func (p *Pipeline) StartPoller(name, provider string, src pollers.Source, every time.Duration) *Part {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := checkpoint.Open(ctx, p.Bus, p.Checkpoints, p.Log, p.Metrics)
	if err != nil {
		p.T.Fatal(err)
	}
	r := pollers.NewRunner(pollers.RunnerConfig{Name: name, Provider: provider, Topic: p.RawPrefix + provider}, src, store, p.Bus, p.Log, p.Metrics)
	return p.start("poller "+name, func(ctx context.Context) {
		for ctx.Err() == nil {
			if err := r.PollOnce(ctx); err != nil && ctx.Err() == nil {
				p.Log.Info("poll run failed (will retry)", "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(every):
			}
		}
	})
}

// StartNormalizer runs a normalizer member of the pipeline's group.
func (p *Pipeline) StartNormalizer(providers ...string) *Part {
	p.T.Helper()
	var topics []string
	for _, pr := range providers {
		topics = append(topics, p.RawPrefix+pr)
	}
	n, err := normalizer.New(normalizer.Config{GroupID: "e2e-normalizer-" + p.suffix, RawTopics: topics, EventsTopic: p.Events, DLQTopic: p.DLQ, Mappers: app.Mappers()}, p.Bus, p.Log, p.Metrics)
	if err != nil {
		p.T.Fatal(err)
	}
	return p.start("normalizer", func(ctx context.Context) {
		if err := n.Run(ctx); err != nil {
			p.T.Errorf("normalizer: %v", err)
		}
	})
}

// StartFileSink runs a file sink writing to path.
func (p *Pipeline) StartFileSink(path string) *Part {
	p.T.Helper()
	s, err := file.Open("e2e", file.Settings{Path: path}, p.Log)
	if err != nil {
		p.T.Fatal(err)
	}
	return p.StartSink(s, "e2e-sink-"+p.suffix)
}

// StartSink runs s on the events topic as consumer group group (empty: one of its own),
// retrying quickly (at most 2 s between attempts), and closes it when stopped.
func (p *Pipeline) StartSink(s sinks.Sink, group string) *Part {
	p.T.Helper()
	if group == "" {
		group = "e2e-sink-" + p.suffix + "-" + s.Name()
	}
	r := sinks.NewRunner(sinks.RunnerConfig{EventsTopic: p.Events, DLQTopic: p.DLQ, GroupID: group,
		RetryMin: 100 * time.Millisecond, RetryMax: 2 * time.Second}, s, p.Bus, p.Log, p.Metrics)
	return p.start("sink "+s.Name(), func(ctx context.Context) {
		defer s.Close(context.WithoutCancel(ctx))
		if err := r.Run(ctx); err != nil {
			p.T.Errorf("sink %s: %v", s.Name(), err)
		}
	})
}

// FileEvent is one line of a JSONL sink file, decoded.
type FileEvent struct {
	UID      string
	ClassUID int
	Raw      map[string]any
	Line     []byte
}

// ReadFile reads a JSONL sink file: events by metadata.uid, and how many lines held each.
func ReadFile(t testing.TB, path string) (events map[string]FileEvent, lines map[string]int) {
	t.Helper()
	events, lines = map[string]FileEvent{}, map[string]int{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return events, lines
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: invalid JSON line: %v", path, err)
		}
		md, _ := v["metadata"].(map[string]any)
		uid, _ := md["uid"].(string)
		cu, _ := v["class_uid"].(float64)
		lines[uid]++
		events[uid] = FileEvent{UID: uid, ClassUID: int(cu), Raw: v, Line: append([]byte(nil), sc.Bytes()...)}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return events, lines
}

// WaitForEvents waits up to timeout for the file sink's file at path to hold at least n events.
func WaitForEvents(t testing.TB, timeout time.Duration, what, path string, n int) {
	t.Helper()
	WaitFor(t, timeout, what, func() (bool, string) {
		ev, _ := ReadFile(t, path)
		return len(ev) >= n, fmt.Sprintf("%d events", len(ev))
	})
}

// WaitFor polls cond every 250ms until it is true or the timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, status := cond()
		last = status
		if ok {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last: %s)", timeout, what, last)
}
