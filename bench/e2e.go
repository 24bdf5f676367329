package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
)

type e2eResult struct {
	Rate, PollInterval time.Duration
	Seconds            float64
	Events             int     // events that reached the canonical topic in the measured window
	PerSecond          float64 // sustained events/s on the canonical topic
	P50, P99, Max      time.Duration
	RawP50, RawP99     time.Duration // the same, to the raw topic (the poller's share)
	CPU, Broker        time.Duration // of the pipeline process and the broker over the window
	Requests           int           // simulator requests in the window
	Generated          int           // events the simulator generated in the window
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func simStats(ctx context.Context, base string) (ionossim.Stats, error) {
	var st ionossim.Stats
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_sim/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// e2eSection runs simulator → poller → raw → normalizer → events → file sink in one
// `auditstream run` process at a sustained rate, and reads the canonical topic back:
// freshness is the Kafka timestamp of the canonical event (its write) minus the
// event's time at the provider (the simulator makes an entry visible at its time).
func e2eSection(ctx context.Context, o options, b *bus.Bus, br *broker, id string, res *results, log *slog.Logger) error {
	dir, err := os.MkdirTemp("", "auditstream-bench-e2e-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	const interval = time.Second
	var contracts []string
	for i := 0; i < 10; i++ {
		contracts = append(contracts, fmt.Sprintf("%d", 31722000+i))
	}
	for r := 1; r <= o.runs; r++ {
		prefix := fmt.Sprintf("%s.e2e%d", id, r)
		port, err := freePort()
		if err != nil {
			return err
		}
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		cfg := "log: {level: warn}\nadmin: {listen: \"off\"}\n" + topicsYAML(o.brokers, prefix) + fmt.Sprintf(`simulators:
  - provider: ionos
    listen: 127.0.0.1:%d
    settings: {token: bench, contracts: [%s], rate: %d, seed: %d}
pollers:
  - name: bench-ionos
    provider: ionos
    schedule: "@every %s"
    parallel: 10
    settings: {base_url: %s/activitylog/v1, token: bench, overlap: 1s, lag: 200ms, initial_lookback: 1m, page_size: 1000}
normalizer:
  group: %s.normalizer
sinks:
  - name: file
    type: file
    group: %s.sink
    settings: {path: %s}
`, port, strings.Join(contracts, ", "), o.e2eRate, 100+r, interval, base, prefix, prefix, filepath.Join(dir, fmt.Sprintf("events-%d.jsonl", r)))
		path, err := writeConfig(dir, fmt.Sprintf("e2e-%d.yaml", r), cfg)
		if err != nil {
			return err
		}
		logPath := filepath.Join(dir, fmt.Sprintf("e2e-%d.log", r))
		p, err := startProc(o.bin, logPath, "run", "--config", path)
		if err != nil {
			return err
		}
		out, err := e2eRun(ctx, o, b, br, p, base, prefix+".raw.ionos", prefix+".events", interval)
		p.stop()
		if err != nil {
			logTail(log, logPath)
			return fmt.Errorf("end-to-end run %d: %w", r, err)
		}
		res.E2E = append(res.E2E, out)
		log.Info("end to end", "run", r, "events_per_s", int(out.PerSecond), "p50", out.P50, "p99", out.P99, "max", out.Max)
	}
	return nil
}

func e2eRun(ctx context.Context, o options, b *bus.Bus, br *broker, p *proc, base, rawTopic, events string, interval time.Duration) (e2eResult, error) {
	out := e2eResult{Rate: time.Duration(o.e2eRate), PollInterval: interval, Seconds: float64(o.e2eSecs)}
	// Warm up: consumer groups joined, the first polls done, events flowing.
	if _, err := waitCount(ctx, b, events, 1, p.pid(), nil, p, 2*time.Minute); err != nil {
		return out, err
	}
	time.Sleep(5 * time.Second)
	st0, err := simStats(ctx, base)
	if err != nil {
		return out, err
	}
	t0 := time.Now()
	c0, _ := procCPU(p.pid())
	b0 := brokerCPU(br)
	select {
	case <-ctx.Done():
		return out, ctx.Err()
	case <-time.After(time.Duration(o.e2eSecs) * time.Second):
	}
	t1 := time.Now()
	c1, _ := procCPU(p.pid())
	out.CPU, out.Broker = c1-c0, brokerCPU(br)-b0
	st1, err := simStats(ctx, base)
	if err != nil {
		return out, err
	}
	out.Requests = st1.Requests["entries"] - st0.Requests["entries"]
	out.Generated = st1.Generated - st0.Generated
	// Let the events of the window arrive (p99 must be well under this).
	time.Sleep(3*interval + 2*time.Second)
	if p.exited() {
		return out, fmt.Errorf("pipeline process exited")
	}
	lat, arrived, err := readFreshness(ctx, o.brokers, events, t0, t1, eventTime)
	if err != nil {
		return out, err
	}
	rawLat, _, err := readFreshness(ctx, o.brokers, rawTopic, t0, t1, rawTime)
	if err != nil {
		return out, err
	}
	if len(rawLat) > 0 {
		sort.Slice(rawLat, func(i, j int) bool { return rawLat[i] < rawLat[j] })
		out.RawP50, out.RawP99 = rawLat[len(rawLat)/2], rawLat[len(rawLat)*99/100]
	}
	if len(lat) == 0 {
		return out, fmt.Errorf("no events with a time in the measured window")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	out.P50, out.P99, out.Max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	out.Events = arrived
	out.PerSecond = float64(arrived) / t1.Sub(t0).Seconds()
	return out, nil
}

// eventTime is the provider time of a canonical event (OCSF time, Unix ms).
func eventTime(v []byte) time.Time {
	var ev struct {
		Time int64 `json:"time"`
	}
	if json.Unmarshal(v, &ev) != nil || ev.Time <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ev.Time)
}

// rawTime is the provider time of a raw IONOS envelope (record.meta.time).
func rawTime(v []byte) time.Time {
	var env struct {
		Record struct {
			Meta struct {
				Time time.Time `json:"time"`
			} `json:"meta"`
		} `json:"record"`
	}
	if json.Unmarshal(v, &env) != nil {
		return time.Time{}
	}
	return env.Record.Meta.Time
}

// readFreshness reads a whole topic: for each record whose provider time is in [t0, t1)
// the delay to its write on the topic; and how many records were written in [t0, t1).
func readFreshness(ctx context.Context, brokers []string, topic string, t0, t1 time.Time, when func([]byte) time.Time) ([]time.Duration, int, error) {
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, 0, err
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, 0, err
	}
	var lat []time.Duration
	arrived := 0
	for _, pt := range parts {
		readPartition(ctx, brokers, topic, pt.ID, 3*time.Second, func(m kafka.Message) {
			if at := when(m.Value); !at.IsZero() && !at.Before(t0) && at.Before(t1) {
				lat = append(lat, m.Time.Sub(at))
			}
			if !m.Time.Before(t0) && m.Time.Before(t1) {
				arrived++
			}
		})
	}
	return lat, arrived, nil
}

// readPartition calls fn with each record of a topic partition in order, up to its high
// watermark or until no record comes for idle.
func readPartition(ctx context.Context, brokers []string, topic string, partition int, idle time.Duration, fn func(kafka.Message)) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: partition, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	for {
		rctx, cancel := context.WithTimeout(ctx, idle)
		m, err := r.ReadMessage(rctx)
		cancel()
		if err != nil {
			return
		}
		fn(m)
		if m.Offset >= m.HighWaterMark-1 {
			return
		}
	}
}
