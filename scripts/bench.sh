#!/usr/bin/env bash
# make bench: measure and write docs/benchmarks.md from what was measured.
#   (a) the normalizer's Go benchmarks (events per CPU-second per provider) with CPU and
#       allocation profiles;
#   (s) the sinks' Go benchmarks (batch encoding; file, webhook, Kafka, PostgreSQL and
#       OpenSearch writes, events/s): PostgreSQL and OpenSearch are started with
#       scripts/services/{postgres,opensearch}.sh on their own ports and data directories
#       when AUDITSTREAM_POSTGRES_DSN / AUDITSTREAM_OPENSEARCH_URL are not set, and only those
#       are stopped afterwards;
#   (b)-(e) bench against a real Kafka broker: `auditstream normalize` and the
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
started_pg= started_os=
# stop_started stops only the servers this script started (idempotent).
stop_started() {
	if [[ -n $started_pg ]]; then
		AUDITSTREAM_PG_DIR=$BENCH_PG_DIR AUDITSTREAM_PG_PORT=$BENCH_PG_PORT bash scripts/services/postgres.sh stop || true
		started_pg=
	fi
	if [[ -n $started_os ]]; then
		AUDITSTREAM_OPENSEARCH_DIR=$BENCH_OS_DIR OPENSEARCH_PORT=$BENCH_OS_PORT OPENSEARCH_TRANSPORT_PORT=$BENCH_OS_TPORT bash scripts/services/opensearch.sh stop || true
		started_os=
	fi
}
trap 'stop_started; rm -rf "$work"' EXIT
# The servers this script starts get their own ports and directories, so that the ones of
# the integration tests (same scripts, default ports) are neither reused nor stopped.
BENCH_PG_DIR=/tmp/auditstream-bench-postgres BENCH_PG_PORT=15442
BENCH_OS_DIR=/tmp/auditstream-bench-opensearch BENCH_OS_PORT=19210 BENCH_OS_TPORT=19310

$GO build -o bin/auditstream ./cmd/auditstream

echo "bench: normalizer benchmarks ($RUNS runs)" >&2
$GO test -run '^$' -bench '^BenchmarkNormalize' -benchmem -count "$RUNS" \
	-cpuprofile "$work/cpu.prof" -memprofile "$work/mem.prof" -o "$work/normalizer.test" ./normalizer/ | tee "$work/gobench.txt" >&2
$GO tool pprof -top -nodecount=25 "$work/normalizer.test" "$work/cpu.prof" >"$work/cpu.txt" 2>/dev/null
$GO tool pprof -top -nodecount=25 -sample_index=alloc_space "$work/normalizer.test" "$work/mem.prof" >"$work/mem.txt" 2>/dev/null

echo "bench: sink benchmarks" >&2
sinknotes=$work/sinknotes.txt
: >"$sinknotes"
note() { echo "# sinkbench: $*" >>"$sinknotes"; }
if [[ -z ${AUDITSTREAM_POSTGRES_DSN:-} ]]; then
	if pg_out=$(AUDITSTREAM_PG_DIR=$BENCH_PG_DIR AUDITSTREAM_PG_PORT=$BENCH_PG_PORT bash scripts/services/postgres.sh start 2>"$work/pg.err"); then
		started_pg=1
		export AUDITSTREAM_POSTGRES_DSN=$(printf '%s\n' "$pg_out" | sed -n 's/^AUDITSTREAM_POSTGRES_DSN=//p')
	else
		note "PostgreSQL did not start: $(tail -n 1 "$work/pg.err")"
	fi
fi
if [[ -n ${AUDITSTREAM_POSTGRES_DSN:-} ]]; then
	# What the cluster trades for speed, read from the server itself.
	if pg_set=$(psql "$AUDITSTREAM_POSTGRES_DSN" -XAt -F= -c "SELECT name, setting FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes') ORDER BY name" 2>&1); then
		note "PostgreSQL $(psql "$AUDITSTREAM_POSTGRES_DSN" -XAt -c 'SHOW server_version' 2>/dev/null)$([[ -n $started_pg ]] && echo ', started by scripts/bench.sh' || echo ', from AUDITSTREAM_POSTGRES_DSN'): $(echo $pg_set | sed 's/ /, /g')"
	else
		note "PostgreSQL settings not read: $pg_set"
	fi
fi
if [[ -z ${AUDITSTREAM_OPENSEARCH_URL:-} ]]; then
	if os_out=$(AUDITSTREAM_OPENSEARCH_DIR=$BENCH_OS_DIR OPENSEARCH_PORT=$BENCH_OS_PORT OPENSEARCH_TRANSPORT_PORT=$BENCH_OS_TPORT bash scripts/services/opensearch.sh start 2>"$work/os.err"); then
		started_os=1
		eval "$os_out"
		note "OpenSearch $(sed -n 's/.*OpenSearch \([^ ]*\) up.*/\1/p' "$work/os.err" | head -n 1): one node, JVM heap ${OPENSEARCH_HEAP:-512m}, started by scripts/bench.sh"
	else
		note "OpenSearch did not start: $(tail -n 1 "$work/os.err")"
	fi
else
	note "OpenSearch from AUDITSTREAM_OPENSEARCH_URL (not started by scripts/bench.sh)"
fi
# Not CI=true here: a missing server makes its benchmark skip (shown as not run), not fail.
# A failing benchmark is shown as not run with its error; the other packages still run.
env -u CI AUDITSTREAM_KAFKA_BROKERS="$BROKERS" $GO test -v -run '^$' \
	-bench '^(BenchmarkProjection|BenchmarkSinkWebhook|BenchmarkWriteBatch500|BenchmarkSinkKafka|BenchmarkSinkPostgres|BenchmarkElasticsearchWrite)' \
	-benchmem -count 1 ./sinks/... >"$work/sinkbench.txt" 2>&1 || echo "bench: some sink benchmarks failed (shown as not run)" >&2
cat "$sinknotes" >>"$work/sinkbench.txt"
stop_started # the Kafka measurements below run without them
grep -E '^(Benchmark.*ns/op|--- (SKIP|FAIL)|# sinkbench)' "$work/sinkbench.txt" >&2 || true

echo "bench: Kafka, end to end and poller measurements" >&2
$GO run ./bench -brokers "$BROKERS" -broker-pid-file "$PID_FILE" -bin bin/auditstream -runs "$RUNS" -n "$N" \
	-gobench "$work/gobench.txt" -sinkbench "$work/sinkbench.txt" -cpu-top "$work/cpu.txt" -mem-top "$work/mem.txt" -out "$OUT"
echo "bench: wrote $OUT" >&2
