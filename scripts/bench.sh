#!/usr/bin/env bash
# make bench: measure and write docs/benchmarks.md from what was measured.
#   (a) the normalizer's Go benchmarks (events per CPU-second per provider) with CPU and
#       allocation profiles;
#   (b)-(e) internal/benchrun against a real Kafka broker: `auditstream normalize` and the
#       raw consume+produce ceiling, codecs and batching, the pipeline end to end, and the
#       poller's memory at 1,000 and 10,000 targets.
# Environment: AUDITSTREAM_KAFKA_BROKERS (default 127.0.0.1:19092; a broker is started with
# scripts/kafka.sh when none answers there), BENCH_RUNS (default 3), BENCH_N (records per
# Kafka measurement, default 50000), BENCH_OUT (default docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
BROKERS=${AUDITSTREAM_KAFKA_BROKERS:-127.0.0.1:19092}
RUNS=${BENCH_RUNS:-3}
N=${BENCH_N:-50000}
OUT=${BENCH_OUT:-docs/benchmarks.md}
PID_FILE=${AUDITSTREAM_KAFKA_DATA:-/tmp/auditstream-kafka}/kafka.pid

first=${BROKERS%%,*}
host=${first%:*}
port=${first##*:}
if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
	echo "bench: no broker on $first; starting one with scripts/kafka.sh" >&2
	bash scripts/kafka.sh up
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

$GO build -o bin/auditstream ./cmd/auditstream

echo "bench: normalizer benchmarks ($RUNS runs)" >&2
$GO test -run '^$' -bench '^BenchmarkNormalize' -benchmem -count "$RUNS" \
	-cpuprofile "$work/cpu.prof" -memprofile "$work/mem.prof" -o "$work/normalizer.test" ./normalizer/ | tee "$work/gobench.txt" >&2
$GO tool pprof -top -nodecount=25 "$work/normalizer.test" "$work/cpu.prof" >"$work/cpu.txt" 2>/dev/null
$GO tool pprof -top -nodecount=25 -sample_index=alloc_space "$work/normalizer.test" "$work/mem.prof" >"$work/mem.txt" 2>/dev/null

echo "bench: Kafka, end to end and poller measurements" >&2
$GO run ./internal/benchrun -brokers "$BROKERS" -broker-pid-file "$PID_FILE" -bin bin/auditstream -runs "$RUNS" -n "$N" \
	-gobench "$work/gobench.txt" -cpu-top "$work/cpu.txt" -mem-top "$work/mem.txt" -out "$OUT"
echo "bench: wrote $OUT" >&2
