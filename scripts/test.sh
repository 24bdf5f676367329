#!/usr/bin/env bash
# `make test`: unit and integration tests, with the servers the integration tests need
# started here (the same scripts .ci/run relies on, since it calls `make test`):
#
#   Kafka             scripts/kafka.sh up                     AUDITSTREAM_KAFKA_BROKERS
#   secured Kafka     KAFKA_SECURITY=sasl_ssl scripts/kafka.sh AUDITSTREAM_KAFKA_SECURE_*
#   PostgreSQL        scripts/services/postgres.sh            AUDITSTREAM_POSTGRES_DSN
#   rsyslog (TLS)     scripts/services/rsyslog.sh             AUDITSTREAM_RSYSLOG_*
#   OpenSearch        scripts/services/opensearch.sh          AUDITSTREAM_OPENSEARCH_URL
#   Grafana Loki      scripts/services/loki.sh                AUDITSTREAM_LOKI_URL
#   Prometheus        run by the deploy tests themselves (Debian prometheus, promtool)
#
# A server whose variable is already set is used as it is; one already running (started
# earlier by hand) is used and left running; any other is started and stopped at the end.
# The servers started are listed before the tests run. A server that cannot start (no
# Java, no network to Maven Central, no rsyslog...) is reported with the reason: locally
# the tests that need it skip, saying why; with CI=true the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

ci() { [[ ${CI:-} == true ]]; }
list() { local IFS=';'; printf '%s' "$*" | sed 's/;/, /g'; }
say() { printf 'test.sh: %s\n' "$*"; }

declare -A svc_pid=() # service -> pid of its start under way
started=()     # labels of the servers this run started (stopped at exit)
stoppers=()    # their stop commands, in start order
found=()       # servers used but not started here
unavailable=() # "label: reason"

cleanup() {
	local i p
	for p in "${svc_pid[@]}"; do # a start still under way (CI=true ended the run)
		{ kill "$p" && wait "$p"; } 2>/dev/null || true
	done
	for ((i = ${#stoppers[@]} - 1; i >= 0; i--)); do
		eval "${stoppers[i]}" >/dev/null 2>&1 || true
	done
	if ((${#started[@]})); then say "stopped: $(list "${started[@]}")"; fi
	rm -rf "${work:-}"
}
trap cleanup EXIT
work=$(mktemp -d)

# export_lines exports every AUDITSTREAM_* assignment of a service script's output
# ("NAME=value" or "export NAME=value").
export_lines() {
	local line
	while IFS= read -r line; do
		line=${line#export }
		[[ $line =~ ^AUDITSTREAM_[A-Z0-9_]+= ]] && export "${line?}"
	done <<<"$1"
	return 0
}

# cannot LABEL REASON: a server did not start.
cannot() {
	unavailable+=("$1: $2")
	if ci; then
		say "$1 could not start and CI=true: $2" >&2
		exit 1
	fi
	say "WARNING: $1 could not start; the tests that need it will be skipped ($2)" >&2
}

# The sink servers start in the background, side by side with Kafka (OpenSearch takes a
# minute on two cores); wait_services collects them.
svc_names=(postgres rsyslog opensearch loki)
declare -A svc_label=([postgres]=PostgreSQL [rsyslog]=rsyslog [opensearch]=OpenSearch [loki]="Grafana Loki")
declare -A svc_var=([postgres]=AUDITSTREAM_POSTGRES_DSN [rsyslog]=AUDITSTREAM_RSYSLOG_TCP
	[opensearch]=AUDITSTREAM_OPENSEARCH_URL [loki]=AUDITSTREAM_LOKI_URL)
for svc in "${svc_names[@]}"; do
	var=${svc_var[$svc]}
	if [[ -n ${!var:-} ]]; then
		found+=("${svc_label[$svc]} ($var)")
	elif out=$(bash "scripts/services/$svc.sh" status 2>/dev/null); then
		export_lines "$out"
		found+=("${svc_label[$svc]} (already running)")
	else
		# Whatever happens, what it started is stopped at exit.
		stoppers+=("bash scripts/services/$svc.sh stop")
		bash "scripts/services/$svc.sh" start >"$work/$svc.out" 2>"$work/$svc.err" &
		svc_pid[$svc]=$!
	fi
done
wait_services() {
	local svc reason
	for svc in "${svc_names[@]}"; do
		[[ -n ${svc_pid[$svc]:-} ]] || continue
		if wait "${svc_pid[$svc]}"; then
			export_lines "$(cat "$work/$svc.out")"
			started+=("${svc_label[$svc]}")
		else
			reason=$(grep -v '^[[:space:]]*$' "$work/$svc.err" | tail -n 1)
			grep -v '^[[:space:]]*$' "$work/$svc.err" | tail -n 20 >&2 || true
			cannot "${svc_label[$svc]}" "${reason:-scripts/services/$svc.sh start failed}"
		fi
	done
}

# Kafka: the plain broker, then the secured one (TLS + SASL, for kafka.tls / kafka.sasl).
if [[ -n ${AUDITSTREAM_KAFKA_BROKERS:-} ]]; then
	found+=("Kafka (AUDITSTREAM_KAFKA_BROKERS)")
elif out=$(bash scripts/kafka.sh status 2>/dev/null); then
	# A broker started earlier (make kafka-up): use it and leave it running.
	export AUDITSTREAM_KAFKA_BROKERS=$(printf '%s\n' "$out" | sed -n 's/^KAFKA_BROKERS=//p' | tail -n1)
	found+=("Kafka (already running)")
elif ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
	cannot Kafka "java and mvn are needed for the real Kafka broker"
else
	stoppers+=("bash scripts/kafka.sh down")
	if out=$(bash scripts/kafka.sh up 2>&1); then
		export AUDITSTREAM_KAFKA_BROKERS=$(printf '%s\n' "$out" | sed -n 's/^KAFKA_BROKERS=//p' | tail -n1)
		started+=(Kafka)
	else
		printf '%s\n' "$out" | tail -n 30 >&2
		cannot Kafka "$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | tail -n 1)"
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
if [[ -n ${AUDITSTREAM_KAFKA_SECURE_BROKERS:-} ]]; then
	found+=("secured Kafka (AUDITSTREAM_KAFKA_SECURE_BROKERS)")
elif out=$(KAFKA_SECURITY=sasl_ssl bash scripts/kafka.sh status 2>/dev/null); then
	export_secure "$out"
	found+=("secured Kafka (already running)")
elif ! command -v java >/dev/null || ! command -v mvn >/dev/null || ! command -v openssl >/dev/null; then
	cannot "secured Kafka" "java, mvn and openssl are needed for the secured Kafka broker"
else
	stoppers+=("KAFKA_SECURITY=sasl_ssl bash scripts/kafka.sh down")
	if out=$(KAFKA_SECURITY=sasl_ssl bash scripts/kafka.sh up 2>&1); then
		export_secure "$out"
		started+=("secured Kafka")
	else
		printf '%s\n' "$out" | tail -n 30 >&2
		cannot "secured Kafka" "$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | tail -n 1)"
	fi
fi

wait_services

# Prometheus: the deploy tests run the prometheus and promtool binaries themselves.
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
	found+=("Prometheus (run by the deploy tests: $(command -v prometheus))")
else
	cannot Prometheus "prometheus and promtool not found (Debian package prometheus)"
fi

if ((${#started[@]})); then say "started: $(list "${started[@]}")"; else say "started: none"; fi
if ((${#found[@]})); then say "used as found: $(list "${found[@]}")"; fi
if ((${#unavailable[@]})); then say "unavailable, their tests skip: $(list "${unavailable[@]}")"; fi

# Test logs are long; they are printed only for failing tests.
export AUDITSTREAM_TEST_QUIET=${AUDITSTREAM_TEST_QUIET:-}
# The race detector needs cgo; use it wherever a C compiler is there.
race=()
if [[ $(go env CGO_ENABLED) == 1 ]] && command -v "$(go env CC)" >/dev/null 2>&1; then race=(-race); fi
# The output is go test's (a line per package, the output of failures) followed by the
# list of integration tests that ran and that skipped, with why (scripts/testreport).
# TEST_PACKAGES narrows the run (default ./...); TEST_FLAGS adds flags (e.g. -run).
go build -o "$work/testreport" ./scripts/testreport
# shellcheck disable=SC2086
go test -json "${race[@]}" -count=1 -timeout 25m ${TEST_FLAGS:-} ${TEST_PACKAGES:-./...} 2>&1 | "$work/testreport"
