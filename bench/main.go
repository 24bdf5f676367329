// Command benchrun is the harness behind `make bench`: it measures the normalizer through
// a real Kafka broker against a plain consume + produce ceiling, the codecs and batching of
// the bus, the pipeline end to end from the IONOS simulator, and a poller's memory with
// 1,000 and 10,000 targets, then writes docs/benchmarks.md from what it measured (and
// from the Go benchmark output and profiles scripts/bench.sh hands it: the normalizer's
// and the sinks').
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/bus"
)

type options struct {
	brokers   []string
	pidFile   string
	bin       string
	out       string
	goBench   string
	sinkBench string
	cpuTop    string
	memTop    string
	runs      int
	n         int
	sections  string
	e2eSecs   int
	e2eRate   int
	targetsLo int
	targetsHi int
}

func main() {
	var o options
	var brokers string
	flag.StringVar(&brokers, "brokers", "127.0.0.1:19092", "Kafka bootstrap brokers")
	flag.StringVar(&o.pidFile, "broker-pid-file", "/tmp/auditstream-kafka/kafka.pid", "pid file of the broker JVM (its CPU is measured)")
	flag.StringVar(&o.bin, "bin", "bin/auditstream", "the auditstream binary")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "where to write the report")
	flag.StringVar(&o.goBench, "gobench", "", "output of the normalizer Go benchmarks")
	flag.StringVar(&o.sinkBench, "sinkbench", "", "output of the sinks' Go benchmarks (go test -v -bench), rendered as \"## Sinks\"")
	flag.StringVar(&o.cpuTop, "cpu-top", "", "pprof -top of the normalizer CPU profile")
	flag.StringVar(&o.memTop, "mem-top", "", "pprof -top of the normalizer allocation profile")
	flag.IntVar(&o.runs, "runs", 3, "runs of each measurement")
	flag.IntVar(&o.n, "n", 50000, "records per Kafka measurement")
	flag.StringVar(&o.sections, "sections", "kafka,codecs,e2e,pollers", "sections to measure")
	flag.IntVar(&o.e2eSecs, "e2e-seconds", 30, "measured seconds of the end-to-end run")
	flag.IntVar(&o.e2eRate, "e2e-rate", 2000, "events/s of the IONOS simulator in the end-to-end run")
	flag.IntVar(&o.targetsLo, "targets-lo", 1000, "targets of the small poller")
	flag.IntVar(&o.targetsHi, "targets-hi", 10000, "targets of the large poller")
	flag.Parse()
	o.brokers = strings.Split(brokers, ",")
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, log); err != nil {
		log.Error("bench failed", "err", err)
		os.Exit(1)
	}
}

func has(sections, s string) bool {
	for _, x := range strings.Split(sections, ",") {
		if x == s {
			return true
		}
	}
	return false
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	br, err := findBroker(o.pidFile)
	if err != nil {
		log.Warn("broker process not found: its CPU is not measured", "err", err)
		br = nil
	}
	res := &results{Machine: describeMachine(br), Started: time.Now().UTC(), Runs: o.runs, N: o.n, LoadStart: loadAvg()}
	b, err := bus.New(bus.Config{Brokers: o.brokers, ClientID: "auditstream-bench"}, log)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Ping(ctx); err != nil {
		return err
	}
	id := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e9)
	if has(o.sections, "kafka") || has(o.sections, "codecs") {
		if err := kafkaSection(ctx, o, b, br, id, res, log); err != nil {
			return fmt.Errorf("kafka section: %w", err)
		}
	}
	if has(o.sections, "e2e") {
		if err := e2eSection(ctx, o, b, br, id, res, log); err != nil {
			return fmt.Errorf("end-to-end section: %w", err)
		}
	}
	if has(o.sections, "pollers") {
		lb, err := lookbackSection(ctx, log)
		if err != nil {
			return fmt.Errorf("lookback: %w", err)
		}
		res.Lookback = &lb
		if err := pollerSection(ctx, o, id, res, log); err != nil {
			return fmt.Errorf("poller section: %w", err)
		}
	}
	res.Finished, res.LoadEnd = time.Now().UTC(), loadAvg()
	return writeReport(o, res)
}
