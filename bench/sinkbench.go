package main

import (
	"bufio"
	"fmt"
	"strings"
)

// sinkBenchmarks are the sinks' Go benchmarks scripts/bench.sh runs, in the order of the
// "## Sinks" table, with what one of them measures. Every one reports an events/s metric.
var sinkBenchmarks = []struct{ name, what string }{
	{"BenchmarkProjectionECS", "ECS projection: encode a batch of 500 events (no I/O)"},
	{"BenchmarkProjectionCEF", "CEF projection: encode a batch of 500 events (no I/O)"},
	{"BenchmarkProjectionHEC", "Splunk HEC projection: encode a batch of 500 events (no I/O)"},
	{"BenchmarkProjectionCloudEvents", "CloudEvents projection: encode a batch of 500 events (no I/O)"},
	{"BenchmarkSinkWebhookEncode500", "webhook: encode the request body of 500 events (no I/O)"},
	{"BenchmarkSinkWebhookPost500", "webhook: one signed POST of 500 events to a loopback receiver"},
	{"BenchmarkWriteBatch500Fsync", "file: append 500 events (~1 KiB each), fsync"},
	{"BenchmarkWriteBatch500NoFsync", "file: append 500 events (~1 KiB each), no fsync"},
	{"BenchmarkSinkKafkaWrite500", "Kafka: publish 500 events (acks=all) to the shared broker"},
	{"BenchmarkSinkPostgresWrite500", "PostgreSQL: write 500 new events (COPY, INSERT … ON CONFLICT, commit)"},
	{"BenchmarkSinkPostgresRedeliver500", "PostgreSQL: write the same 500 events again (all duplicates)"},
	{"BenchmarkElasticsearchWrite", "OpenSearch: `_bulk` of 500 new events, every item checked"},
}

// sinkNotePrefix starts the lines scripts/bench.sh adds to the benchmark output to say
// how the servers ran (or why they did not start).
const sinkNotePrefix = "# sinkbench: "

// sinkResult is one sink benchmark: its metrics, or why it did not run.
type sinkResult struct {
	Metrics map[string]float64
	NotRun  string
}

// parseSinkBench reads `go test -v -bench` output of the sink packages: result lines,
// "--- SKIP/FAIL: BenchmarkX" with the log line before it (the reason), and the notes
// scripts/bench.sh appended.
func parseSinkBench(text string) (map[string]sinkResult, []string) {
	res := map[string]sinkResult{}
	var notes []string
	lastLog := map[string]string{}
	current := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, sinkNotePrefix); ok {
			notes = append(notes, strings.TrimSpace(n))
			continue
		}
		t := strings.TrimSpace(line)
		if name, why, ok := cutOutcome(t); ok {
			if _, done := res[name]; !done {
				reason := lastLog[name]
				if reason == "" {
					reason = why
				}
				res[name] = sinkResult{NotRun: reason}
			}
			continue
		}
		if bs := parseGoBench(t); len(bs) == 1 {
			res[bs[0].Name] = sinkResult{Metrics: bs[0].Metrics}
			continue
		}
		if strings.HasPrefix(t, "Benchmark") && !strings.ContainsAny(t, " \t") {
			current = t // -v prints the name alone before running it
			continue
		}
		if current != "" && line != t && strings.Contains(t, ".go:") {
			// "    file_test.go:22: message": the benchmark's last log line.
			_, msg, _ := strings.Cut(t, ": ")
			lastLog[current] = msg
		}
	}
	return res, notes
}

// cutOutcome recognizes "--- SKIP: BenchmarkX" and "--- FAIL: BenchmarkX (0.00s)".
func cutOutcome(t string) (name, why string, ok bool) {
	for _, o := range []struct{ prefix, why string }{{"--- SKIP: ", "skipped"}, {"--- FAIL: ", "failed"}} {
		if rest, found := strings.CutPrefix(t, o.prefix); found && strings.HasPrefix(rest, "Benchmark") {
			name, _, _ = strings.Cut(rest, " ")
			return name, o.why, true
		}
	}
	return "", "", false
}

// sinkSection renders "## Sinks" from the sink benchmark output ("" when none was given).
func sinkSection(text string, cores int) string {
	if strings.TrimSpace(text) == "" {
		return ""
	}
	res, notes := parseSinkBench(text)
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	p("## Sinks\n\n")
	p("`go test -v -run '^$' -bench '<the benchmarks below>' -benchmem -count 1 ./sinks/...`, once. One op is one\n")
	p("batch of 500 canonical events; events/s is the benchmark's own metric (500 × ops / wall-clock seconds of\n")
	p("the loop). The encoders measure CPU alone; the writes measure a real server on this machine, whose CPU\n")
	p("shares the same cores with the benchmark, so the figures are a floor for a dedicated server. The\n")
	p("PostgreSQL cluster is a throwaway one (scripts/services/postgres.sh, unless AUDITSTREAM_POSTGRES_DSN\n")
	p("named another)")
	for _, n := range notes {
		if strings.HasPrefix(n, "PostgreSQL") && strings.Contains(n, "fsync=off") {
			p(" and runs with **fsync off**: a commit does not wait for the disk, so its rates are above\nwhat a durable server reaches")
			break
		}
	}
	p(".\nOpenSearch is a single node inside one JVM (scripts/services/opensearch.sh) on the same %d cores as the\nbenchmark and the Kafka broker.\n\n", cores)
	p("| benchmark | what it measures | events/s | ns/op | B/op | allocs/op |\n|---|---|---|---|---|---|\n")
	for _, sb := range sinkBenchmarks {
		r, ok := res[sb.name]
		switch {
		case !ok:
			p("| `%s` | %s | not run: no result in the benchmark output | | | |\n", sb.name, sb.what)
		case r.NotRun != "":
			p("| `%s` | %s | not run: %s | | | |\n", sb.name, sb.what, strings.ReplaceAll(r.NotRun, "|", "\\|"))
		default:
			cell := func(k string) string {
				if v, ok := r.Metrics[k]; ok {
					return num(v)
				}
				return "n/a"
			}
			p("| `%s` | %s | **%s** | %s | %s | %s |\n", sb.name, sb.what, cell("events/s"), cell("ns/op"), cell("B/op"), cell("allocs/op"))
		}
	}
	p("\n")
	for _, n := range notes {
		p("- %s\n", n)
	}
	if len(notes) > 0 {
		p("\n")
	}
	return w.String()
}
