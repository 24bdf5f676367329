package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/config"
)

// results is everything a run measured.
type results struct {
	Machine           machine
	Started, Finished time.Time
	Runs, N           int
	LoadStart         string // /proc/loadavg's 1-minute figure
	LoadEnd           string
	BrokerIdle        float64 // broker CPU-seconds per second while idle, before the runs
	Normalize         []cpuWindow
	Ceiling           []cpuWindow
	Codecs            []codecResult
	Batching          []batchResult
	E2E               []e2eResult
	Pollers           []pollerResult
	PollerCodecs      []pollerResult
	Lookback          *lookbackResult
}

type codecResult struct {
	Topic, Codec string
	W            cpuWindow
	Bytes        int64 // on the broker's disk
	RawBytes     int64 // sum of the values
}

type batchResult struct {
	C copyCfg
	W cpuWindow
}

// proc is a subprocess of the auditstream binary.
type proc struct {
	cmd  *exec.Cmd
	done chan error
}

func startProc(bin, logPath string, args ...string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); lf.Close() }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// alive reports whether the process still runs.
func (p *proc) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// stop asks the process to drain and exit (SIGTERM), killing it after 30 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func writeConfig(dir, name, body string) (string, error) {
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(body), 0o600)
}

// topicsYAML is the targets group and the kafka block (last, so a caller may add keys to
// it) of a bench process: its own topic names and its own targets topic and group. With
// the defaults (auditstream.targets, a group derived from the poller set) a bench poller would poll every
// target any earlier run or test on the broker recorded there, and share the group's
// rebalances with their processes.
func topicsYAML(brokers []string, prefix string) string {
	return fmt.Sprintf(`targets:
  group: %s.pollers
kafka:
  brokers: [%s]
  client_id: auditstream-bench
  topics:
    raw_prefix: %s.raw.
    events: %s.events
    dlq: %s.dlq
    checkpoints: %s.checkpoints
    targets: %s.targets
`, prefix, joinQuoted(brokers), prefix, prefix, prefix, prefix, prefix)
}

func joinQuoted(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%q", s)
	}
	return out
}

// waitCount samples a process's and the broker's CPU from the first message on topic to
// the n-th, polling the topic's end offsets.
func waitCount(ctx context.Context, b *bus.Bus, topic string, n int, pid int, br *broker, p *proc, timeout time.Duration) (cpuWindow, error) {
	deadline := time.Now().Add(timeout)
	var (
		start       time.Time
		c0, b0      time.Duration
		first, last int64
	)
	for {
		cnt, err := topicCount(ctx, b, topic)
		if err == nil {
			last = cnt
			if cnt > 0 && start.IsZero() {
				start, first = time.Now(), cnt
				c0, _ = procCPU(pid)
				b0 = brokerCPU(br)
			}
			if cnt >= int64(n) {
				c1, _ := procCPU(pid)
				return cpuWindow{wall: time.Since(start), cpu: c1 - c0, broker: brokerCPU(br) - b0, events: int(cnt - first)}, nil
			}
		}
		if p != nil && p.exited() {
			return cpuWindow{}, fmt.Errorf("process exited with %d of %d messages on %s", last, n, topic)
		}
		if time.Now().After(deadline) {
			return cpuWindow{}, fmt.Errorf("%d of %d messages on %s after %s", last, n, topic, timeout)
		}
		select {
		case <-ctx.Done():
			return cpuWindow{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func kafkaSection(ctx context.Context, o options, b *bus.Bus, br *broker, id string, res *results, log *slog.Logger) error {
	corpus, err := corpusIONOS(o.n)
	if err != nil {
		return err
	}
	if br != nil {
		b0 := brokerCPU(br)
		time.Sleep(3 * time.Second)
		res.BrokerIdle = (brokerCPU(br) - b0).Seconds() / 3
	}
	dir, err := os.MkdirTemp("", "auditstream-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	def := copyCfg{codec: config.DefaultCompression, batchSize: bus.BatchSize, batchTimeout: bus.BatchTimeout, minBytes: bus.ReaderMinBytes, maxWait: bus.ReaderMaxWait}
	var firstRaw, firstEvents string
	for r := 1; r <= o.runs; r++ {
		prefix := fmt.Sprintf("%s.r%d", id, r)
		raw, events := prefix+".raw.ionos", prefix+".events"
		if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: raw, Partitions: 6, ReplicationFactor: 1},
			bus.TopicSpec{Name: events, Partitions: 6, ReplicationFactor: 1}, bus.TopicSpec{Name: prefix + ".ceiling", Partitions: 6, ReplicationFactor: 1}); err != nil {
			return err
		}
		msgs := make([]kafka.Message, len(corpus))
		for i, m := range corpus {
			m.Topic = raw
			msgs[i] = m
		}
		for i := 0; i < len(msgs); i += 1000 {
			if err := b.Publish(ctx, msgs[i:min(i+1000, len(msgs))]...); err != nil {
				return err
			}
		}
		// (b) auditstream normalize through the broker.
		cfgPath, err := writeConfig(dir, fmt.Sprintf("normalize-%d.yaml", r), "log: {level: warn}\nadmin: {listen: \"off\"}\n"+topicsYAML(o.brokers, prefix)+
			fmt.Sprintf("normalizer:\n  providers: [ionos]\n  group: %s.normalizer\n", prefix))
		if err != nil {
			return err
		}
		p, err := startProc(o.bin, filepath.Join(dir, fmt.Sprintf("normalize-%d.log", r)), "normalize", "--config", cfgPath)
		if err != nil {
			return err
		}
		w, err := waitCount(ctx, b, events, o.n, p.pid(), br, p, 5*time.Minute)
		p.stop()
		if err != nil {
			logTail(log, filepath.Join(dir, fmt.Sprintf("normalize-%d.log", r)))
			return fmt.Errorf("normalize run %d: %w", r, err)
		}
		res.Normalize = append(res.Normalize, w)
		pr, brr := w.rates()
		log.Info("normalize through Kafka", "run", r, "events", w.events, "events_per_cpu_s", int(pr), "broker_events_per_cpu_s", int(brr))
		// (c) the ceiling: plain consume + produce of the same records.
		cw, err := copyTopic(ctx, o.brokers, br, raw, prefix+".ceiling", o.n, def, log)
		if err != nil {
			return err
		}
		res.Ceiling = append(res.Ceiling, cw)
		pr, brr = cw.rates()
		log.Info("raw ceiling", "run", r, "events", cw.events, "events_per_cpu_s", int(pr), "broker_events_per_cpu_s", int(brr))
		if r == 1 {
			firstRaw, firstEvents = raw, events
		}
	}
	if !has(o.sections, "codecs") {
		return nil
	}
	// Codecs, on the raw and the events topic: copy each with each codec.
	sizes := map[string]int64{}
	for _, src := range []string{firstRaw, firstEvents} {
		sizes[src] = valueBytes(ctx, o.brokers, src, o.n)
	}
	for _, codec := range []string{"none", "snappy", "lz4", "zstd"} {
		for _, src := range []string{firstRaw, firstEvents} {
			topic := "raw"
			if src == firstEvents {
				topic = "events"
			}
			dst := fmt.Sprintf("%s.codec-%s-%s", id, codec, topic)
			if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: dst, Partitions: 6, ReplicationFactor: 1}); err != nil {
				return err
			}
			c := def
			c.codec = codec
			w, err := copyTopic(ctx, o.brokers, br, src, dst, o.n, c, log)
			if err != nil {
				return err
			}
			res.Codecs = append(res.Codecs, codecResult{Topic: topic, Codec: codec, W: w, Bytes: br.topicBytes(dst), RawBytes: sizes[src]})
			log.Info("codec", "topic", topic, "codec", codec, "bytes", br.topicBytes(dst))
		}
	}
	// Batching: the writer's batch size/timeout and the reader's MinBytes/MaxWait.
	for i, c := range []copyCfg{
		{batchSize: 100, batchTimeout: time.Millisecond, minBytes: 1, maxWait: 500 * time.Millisecond},
		{batchSize: 1000, batchTimeout: time.Millisecond, minBytes: 1, maxWait: 500 * time.Millisecond},
		{batchSize: 1000, batchTimeout: 10 * time.Millisecond, minBytes: 1, maxWait: 500 * time.Millisecond},
		{batchSize: 5000, batchTimeout: 5 * time.Millisecond, minBytes: 1, maxWait: 500 * time.Millisecond},
		{batchSize: 1000, batchTimeout: 5 * time.Millisecond, minBytes: 64 << 10, maxWait: 10 * time.Millisecond},
	} {
		c.codec = def.codec
		dst := fmt.Sprintf("%s.batch-%d", id, i)
		if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: dst, Partitions: 6, ReplicationFactor: 1}); err != nil {
			return err
		}
		w, err := copyTopic(ctx, o.brokers, br, firstEvents, dst, o.n, c, log)
		if err != nil {
			return err
		}
		res.Batching = append(res.Batching, batchResult{C: c, W: w})
		log.Info("batching", "cfg", fmt.Sprintf("%+v", c), "wall", w.wall)
	}
	return nil
}

// valueBytes sums the value sizes of the first n messages of a topic (the uncompressed
// payload the codecs are compared against).
func valueBytes(ctx context.Context, brokers []string, topic string, n int) int64 {
	var total int64
	for p := 0; p < 6; p++ {
		readPartition(ctx, brokers, topic, p, 2*time.Second, func(m kafka.Message) { total += recordBytes(m) })
	}
	return total
}

func logTail(log *slog.Logger, path string) {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	log.Error("process log", "path", path, "tail", string(b))
}

func busBatch() int             { return bus.BatchSize }
func busTimeout() time.Duration { return bus.BatchTimeout }
func busMinBytes() int          { return bus.ReaderMinBytes }
func busMaxWait() time.Duration { return bus.ReaderMaxWait }

// recordBytes is what a record carries: key, value and headers.
func recordBytes(m kafka.Message) int64 {
	n := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return int64(n)
}
