package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
)

type pollerResult struct {
	Targets     int
	RSS, HWM    int64 // bytes: the median VmRSS sampled during the measured rounds, VmHWM after them
	RSSMax      int64 // the largest VmRSS sample
	CursorBytes int64 // the latest cursor of every target
	Rounds      int
	Requests    int // simulator requests in the measured rounds
	NewEvents   int // events generated in them
	Codec       string
	Heap        int64 // median go_memstats_heap_inuse_bytes from the process's /metrics
}

// pollerSection runs `auditstream poll` against an IONOS simulator with lo and then hi
// contracts and reads the poll process's resident memory after a few rounds; then, with lo
// contracts, once per codec (the codecs' buffers are part of a process's memory).
func pollerSection(ctx context.Context, o options, id string, res *results, log *slog.Logger) error {
	dir, err := os.MkdirTemp("", "auditstream-bench-poll-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, n := range []int{o.targetsLo, o.targetsHi} {
		r, err := runPoller(ctx, o, dir, fmt.Sprintf("%s.poll%d", id, n), n, config.DefaultCompression, 30*time.Second, log)
		if err != nil {
			return err
		}
		res.Pollers = append(res.Pollers, r)
	}
	if !has(o.sections, "codecs") {
		return nil
	}
	for _, codec := range config.Compressions {
		r, err := runPoller(ctx, o, dir, fmt.Sprintf("%s.pollc-%s", id, codec), o.targetsLo, codec, 15*time.Second, log)
		if err != nil {
			return err
		}
		r.Codec = codec
		res.PollerCodecs = append(res.PollerCodecs, r)
	}
	return nil
}

func runPoller(ctx context.Context, o options, dir, prefix string, n int, codec string, measure time.Duration, log *slog.Logger) (pollerResult, error) {
	var contracts []string
	for i := 0; i < n; i++ {
		contracts = append(contracts, fmt.Sprintf("%d", 40000000+i))
	}
	// 50 new events/s spread over the contracts, after an hour's backfill.
	sim := ionossim.New(ionossim.Config{Token: "bench", Contracts: contracts, Seed: uint64(n), Rate: 50, Backfill: n})
	port, err := freePort()
	if err != nil {
		return pollerResult{}, err
	}
	srv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
	defer srv.Close()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	adminPort, err := freePort()
	if err != nil {
		return pollerResult{}, err
	}
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	cfg := "log: {level: warn}\nadmin: {listen: \"" + admin + "\"}\n" + topicsYAML(o.brokers, prefix) + fmt.Sprintf(`  compression: %s
pollers:
  - name: bench-ionos
    provider: ionos
    schedule: "@every 2s"
    parallel: 16
    settings: {base_url: %s/activitylog/v1, token: bench, overlap: 1m, lag: 1s, initial_lookback: 2h, page_size: 1000}
`, codec, base)
	path, err := writeConfig(dir, prefix+".yaml", cfg)
	if err != nil {
		return pollerResult{}, err
	}
	logPath := filepath.Join(dir, prefix+".log")
	p, err := startProc(o.bin, logPath, "poll", "--config", path)
	if err != nil {
		return pollerResult{}, err
	}
	r, err := pollRounds(ctx, p, base, "http://"+admin+"/metrics", n, measure)
	p.stop()
	if err != nil {
		logTail(log, logPath)
		return r, fmt.Errorf("poller with %d targets: %w", n, err)
	}
	r.CursorBytes = latestValueBytes(ctx, o.brokers, prefix+".checkpoints")
	log.Info("poller memory", "targets", n, "codec", codec, "rss_mib", r.RSS>>20, "hwm_mib", r.HWM>>20, "cursor_bytes", r.CursorBytes,
		"requests", r.Requests, "new_events", r.NewEvents)
	return r, nil
}

// pollRounds waits for the first full round (every target polled once), then measures at
// least three more rounds and minMeasure (so every size gets as many samples), sampling
// VmRSS, and reads VmHWM.
func pollRounds(ctx context.Context, p *proc, base, metricsURL string, n int, minMeasure time.Duration) (pollerResult, error) {
	out := pollerResult{Targets: n, Rounds: 3}
	var samples, heap []float64
	waitReq := func(want int, sample bool) (ionossim.Stats, error) {
		start := time.Now()
		deadline := start.Add(5 * time.Minute)
		for {
			if rss, _, err := procMem(p.pid()); err == nil && sample {
				samples = append(samples, float64(rss))
				if h, err := heapInuse(ctx, metricsURL); err == nil {
					heap = append(heap, h)
				}
			}
			st, err := simStats(ctx, base)
			if err == nil && st.Requests["entries"] >= want && (!sample || time.Since(start) >= minMeasure) {
				return st, nil
			}
			if p.exited() {
				return st, fmt.Errorf("poll process exited")
			}
			if time.Now().After(deadline) {
				return st, fmt.Errorf("%d of %d requests after 5 minutes", st.Requests["entries"], want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	st0, err := waitReq(n, false)
	if err != nil {
		return out, err
	}
	st1, err := waitReq(st0.Requests["entries"]+out.Rounds*n, true)
	if err != nil {
		return out, err
	}
	out.Requests = st1.Requests["entries"] - st0.Requests["entries"]
	out.Rounds = out.Requests / n
	out.NewEvents = st1.Generated - st0.Generated
	_, out.HWM, err = procMem(p.pid())
	out.RSS, out.Heap = int64(median(samples)), int64(median(heap))
	for _, v := range samples {
		out.RSSMax = max(out.RSSMax, int64(v))
	}
	return out, err
}

// latestValueBytes sums the value sizes of the latest message of every key of a
// (compacted) topic: the cursors a poller keeps.
func latestValueBytes(ctx context.Context, brokers []string, topic string) int64 {
	last := map[string]int{}
	readPartition(ctx, brokers, topic, 0, 3*time.Second, func(m kafka.Message) { last[string(m.Key)] = len(m.Key) + len(m.Value) })
	var total int64
	for _, v := range last {
		total += int64(v)
	}
	return total
}

// heapInuse reads go_memstats_heap_inuse_bytes from a process's /metrics.
func heapInuse(ctx context.Context, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "go_memstats_heap_inuse_bytes "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no go_memstats_heap_inuse_bytes at %s", url)
}
