#!/usr/bin/env bash
# `make test`: unit and integration tests. Starts a real Apache Kafka 4.x (scripts/kafka.sh)
# unless AUDITSTREAM_KAFKA_BROKERS already points at one, and stops it afterwards; the same
# for a second, secured broker (KAFKA_SECURITY=sasl_ssl: TLS + SASL, for the tests of
# kafka.tls / kafka.sasl) unless AUDITSTREAM_KAFKA_SECURE_BROKERS is set.
# Without java/mvn, integration tests skip locally with a clear message; with CI=true a
# missing server fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

started_kafka=""
started_secure=""
cleanup() {
	if [[ -n $started_kafka ]]; then bash scripts/kafka.sh down >/dev/null 2>&1 || true; fi
	if [[ -n $started_secure ]]; then KAFKA_SECURITY=sasl_ssl bash scripts/kafka.sh down >/dev/null 2>&1 || true; fi
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

# The secured broker: its address, CA and credentials as AUDITSTREAM_KAFKA_SECURE_*.
export_secure() { # output of kafka.sh up/status
	local line
	while IFS= read -r line; do
		case $line in
		KAFKA_BROKERS=*) export AUDITSTREAM_KAFKA_SECURE_BROKERS=${line#KAFKA_BROKERS=} ;;
		KAFKA_SECURE_*=*) export "AUDITSTREAM_$line" ;;
		esac
	done <<<"$1"
}
if [[ -z ${AUDITSTREAM_KAFKA_SECURE_BROKERS:-} ]]; then
	if out=$(KAFKA_SECURITY=sasl_ssl bash scripts/kafka.sh status 2>/dev/null); then
		export_secure "$out"
		echo "test.sh: using the running secured Kafka at $AUDITSTREAM_KAFKA_SECURE_BROKERS"
	elif command -v java >/dev/null && command -v mvn >/dev/null && command -v openssl >/dev/null; then
		if out=$(KAFKA_SECURITY=sasl_ssl bash scripts/kafka.sh up 2>&1); then
			started_secure=1
			export_secure "$out"
			echo "test.sh: secured Kafka (SASL_SSL) at $AUDITSTREAM_KAFKA_SECURE_BROKERS"
		else
			printf '%s\n' "$out" | tail -n 30 >&2
			if [[ ${CI:-} == true ]]; then echo "test.sh: could not start the secured Kafka and CI=true" >&2; exit 1; fi
			echo "test.sh: WARNING: could not start the secured Kafka; its integration tests will be skipped" >&2
		fi
	else
		if [[ ${CI:-} == true ]]; then echo "test.sh: java, mvn and openssl are needed for the secured Kafka broker (CI=true)" >&2; exit 1; fi
		echo "test.sh: WARNING: java/mvn/openssl not found; the secured-Kafka integration tests will be skipped" >&2
	fi
fi

# Test logs are long; they are printed only for failing tests.
export AUDITSTREAM_TEST_QUIET=${AUDITSTREAM_TEST_QUIET:-}
# The race detector needs cgo; use it wherever a C compiler is there.
race=()
if [[ $(go env CGO_ENABLED) == 1 ]] && command -v "$(go env CC)" >/dev/null 2>&1; then race=(-race); fi
go test "${race[@]}" -count=1 -timeout 25m ./...
