#!/usr/bin/env bash
# `make test`: unit and integration tests. Starts a real Apache Kafka 4.x (scripts/kafka.sh)
# unless AUDITSTREAM_KAFKA_BROKERS already points at one, and stops it afterwards.
# Without java/mvn, integration tests skip locally with a clear message; with CI=true a
# missing server fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

started_kafka=""
cleanup() {
	if [[ -n $started_kafka ]]; then bash scripts/kafka.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if [[ -z ${AUDITSTREAM_KAFKA_BROKERS:-} ]]; then
	if bash scripts/kafka.sh status >/dev/null 2>&1; then
		# A broker started earlier (make kafka-up): use it and leave it running.
		export AUDITSTREAM_KAFKA_BROKERS=$(bash scripts/kafka.sh status 2>/dev/null | sed -n 's/^KAFKA_BROKERS=//p' | tail -n1)
		echo "test.sh: using the running Kafka at $AUDITSTREAM_KAFKA_BROKERS"
	elif command -v java >/dev/null && command -v mvn >/dev/null; then
		if out=$(bash scripts/kafka.sh up 2>&1); then
			started_kafka=1
			export AUDITSTREAM_KAFKA_BROKERS=$(printf '%s\n' "$out" | sed -n 's/^KAFKA_BROKERS=//p' | tail -n1)
			echo "test.sh: real Kafka at $AUDITSTREAM_KAFKA_BROKERS"
		else
			printf '%s\n' "$out" | tail -n 30 >&2
			if [[ ${CI:-} == true ]]; then echo "test.sh: could not start Kafka and CI=true" >&2; exit 1; fi
			echo "test.sh: WARNING: could not start Kafka; integration tests will be skipped" >&2
		fi
	else
		if [[ ${CI:-} == true ]]; then echo "test.sh: java and mvn are needed for the real Kafka broker (CI=true)" >&2; exit 1; fi
		echo "test.sh: WARNING: java/mvn not found; integration tests that need Kafka will be skipped" >&2
	fi
fi

# Test logs are long; they are printed only for failing tests.
export AUDITSTREAM_TEST_QUIET=${AUDITSTREAM_TEST_QUIET:-}
# The race detector needs cgo; use it wherever a C compiler is there.
race=()
if [[ $(go env CGO_ENABLED) == 1 ]] && command -v "$(go env CC)" >/dev/null 2>&1; then race=(-race); fi
go test "${race[@]}" -count=1 -timeout 25m ./...
