#!/usr/bin/env bash
# Run a real single-node Apache Kafka 4.x broker (KRaft, combined
# broker+controller) on 127.0.0.1 for integration tests.
#
# The broker is assembled from Maven Central with `mvn` (scripts/kafka/pom.xml,
# dependency:copy-dependencies), so no Kafka tarball or docker is needed; only
# Java 17+ and Maven.
#
# usage: scripts/kafka.sh fetch|up|down|status|logs
#
#   fetch   resolve Kafka + runtime deps into $AUDITSTREAM_KAFKA_HOME/libs (idempotent)
#   up      fetch if needed, format storage, start the broker, wait until ready,
#           print KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
#   down    stop the broker (SIGTERM, SIGKILL after 30 s) and remove the data dir
#   status  exit 0 if the broker is running (and print KAFKA_BROKERS=...)
#   logs    print the last 200 lines of the broker log
#
# environment:
#   KAFKA_SECURITY           plaintext (default) or sasl_ssl: a second, secured broker for the
#                            TLS/SASL integration tests. Its client listener speaks SASL_SSL
#                            (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) with a certificate made by
#                            openssl at every `up` (a throwaway CA, SAN 127.0.0.1 and
#                            localhost); the SCRAM user is created when the storage is
#                            formatted. Its defaults: ports 19192/19193, data
#                            /tmp/auditstream-kafka-secure. `up` and `status` also print
#                            KAFKA_SECURE_CA_FILE, KAFKA_SECURE_USERNAME and
#                            KAFKA_SECURE_PASSWORD_FILE (all mechanisms take that user).
#   KAFKA_VERSION            Kafka version (default below). "latest" resolves the newest
#                            4.x release whose full dependency set is on Maven Central.
#   AUDITSTREAM_KAFKA_HOME   install dir (default ~/.cache/auditstream/kafka-$KAFKA_VERSION)
#   AUDITSTREAM_KAFKA_DATA   data/log dir (default /tmp/auditstream-kafka); wiped by up/down
#   KAFKA_PORT               client port (default 19092)
#   KAFKA_CONTROLLER_PORT    KRaft controller port (default 19093)
#   KAFKA_START_TIMEOUT      seconds to wait for readiness (default 90)
#   KAFKA_HEAP_OPTS          default "-Xms256m -Xmx512m"
#   KAFKA_JVM_OPTS           extra JVM flags (default: G1 tuned for small heaps)
#   KAFKA_MVN_ARGS           extra mvn args (e.g. "-s settings.xml -Dmaven.repo.local=...")
set -euo pipefail

# Newest 4.x that fully resolves from Maven Central at the time of writing
# (4.4.0 is listed in the metadata but kafka-tools-api:4.4.0 is missing there).
DEFAULT_KAFKA_VERSION=4.3.1
LATEST_RANGE='[4.0.0,4.999999]'

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ASSETS="$SCRIPT_DIR/kafka"
CACHE_ROOT="$HOME/.cache/auditstream"

KAFKA_VERSION=${KAFKA_VERSION:-$DEFAULT_KAFKA_VERSION}
HOST=127.0.0.1
SECURITY=${KAFKA_SECURITY:-plaintext}
case $SECURITY in
plaintext)
	KAFKA_PORT=${KAFKA_PORT:-19092}
	KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
	DATA=${AUDITSTREAM_KAFKA_DATA:-/tmp/auditstream-kafka}
	;;
sasl_ssl)
	KAFKA_PORT=${KAFKA_PORT:-19192}
	KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19193}
	DATA=${AUDITSTREAM_KAFKA_DATA:-/tmp/auditstream-kafka-secure}
	;;
*)
	printf 'kafka.sh: error: KAFKA_SECURITY=%s: want plaintext or sasl_ssl\n' "$SECURITY" >&2
	exit 2
	;;
esac
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
JVM_OPTS=${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxMetaspaceSize=256m -Djava.awt.headless=true}

PID_FILE="$DATA/kafka.pid"
LOG_DIR="$DATA/logs"
SERVER_LOG="$LOG_DIR/server.log"
STDOUT_LOG="$LOG_DIR/kafka.out"
MARKER="$DATA/.auditstream-kafka"
# sasl_ssl: the CA, keystore and the client's files (CA, password, client.properties).
TLS_DIR="$DATA/tls"
SECURE_USER=auditstream

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found in PATH"; }

kafka_home() { # version
	if [[ -n ${AUDITSTREAM_KAFKA_HOME:-} ]]; then
		printf '%s\n' "$AUDITSTREAM_KAFKA_HOME"
	else
		printf '%s\n' "$CACHE_ROOT/kafka-$1"
	fi
}

is_fetched() { # home version
	[[ -f $1/libs/.complete && "$(cat "$1/libs/.complete")" == "$2" ]]
}

# mvn_copy VERSION_OR_RANGE OUTDIR LOGFILE: copy kafka_2.13 and its runtime deps.
mvn_copy() {
	local args=()
	# shellcheck disable=SC2206 # intentional word splitting of user-provided args
	[[ -n ${KAFKA_MVN_ARGS:-} ]] && args=($KAFKA_MVN_ARGS)
	mvn -B -q ${args[@]+"${args[@]}"} -f "$ASSETS/pom.xml" \
		-Dkafka.version="$1" \
		dependency:copy-dependencies \
		-DincludeScope=runtime \
		-DoutputDirectory="$2" >"$3" 2>&1
}

jar_version() { # libs dir -> version of kafka_2.13 jar in it
	local j
	for j in "$1"/kafka_2.13-*.jar; do
		[[ -e $j ]] || return 1
		j=${j##*/kafka_2.13-}
		printf '%s\n' "${j%.jar}"
		return 0
	done
}

# Installs staged libs into the home for their version (unless someone else won the race).
install_libs() { # staging_libs version
	local home
	home=$(kafka_home "$2")
	if is_fetched "$home" "$2"; then
		rm -rf "$1"
		return 0
	fi
	mkdir -p "$home"
	rm -rf "$home/libs"
	printf '%s\n' "$2" >"$1/.complete"
	mv "$1" "$home/libs"
}

# Resolve the newest 4.x with a Maven version range; if that release is incomplete on
# Central, walk down the versions listed in the maven-metadata that Maven cached.
fetch_latest() {
	local stage v tried=0 meta mvnlog
	mkdir -p "$CACHE_ROOT"
	stage=$(mktemp -d "$CACHE_ROOT/.fetch.XXXXXX")
	mvnlog="$stage/mvn.log"
	log "resolving newest Kafka $LATEST_RANGE from Maven Central"
	if mvn_copy "$LATEST_RANGE" "$stage/libs" "$mvnlog"; then
		v=$(jar_version "$stage/libs") || die "kafka_2.13 jar missing after resolution"
	else
		log "newest release did not resolve completely: $(grep -m1 -o 'Could not [^>]*' "$mvnlog" || tail -n1 "$mvnlog")"
		v=
		local repo="$HOME/.m2/repository"
		if [[ ${KAFKA_MVN_ARGS:-} =~ -Dmaven\.repo\.local=([^[:space:]]+) ]]; then
			repo=${BASH_REMATCH[1]}
		fi
		meta=$(find "$repo/org/apache/kafka/kafka_2.13" -maxdepth 1 -name 'maven-metadata-*.xml' 2>/dev/null | head -n1 || true)
		local candidates=()
		if [[ -n $meta ]]; then
			mapfile -t candidates < <(grep -o '<version>4\.[0-9]*\.[0-9]*</version>' "$meta" |
				sed 's/<[^>]*>//g' | sort -V -r -u)
		fi
		# The range already selected (and failed on) the highest listed version.
		((${#candidates[@]} > 1)) && candidates=("${candidates[@]:1}")
		candidates+=("$DEFAULT_KAFKA_VERSION")
		local c
		for c in "${candidates[@]}"; do
			((tried < 5)) || break
			tried=$((tried + 1))
			rm -rf "$stage/libs"
			log "trying Kafka $c"
			if mvn_copy "$c" "$stage/libs" "$mvnlog"; then
				v=$c
				break
			fi
		done
		if [[ -z $v ]]; then
			tail -n 30 "$mvnlog" >&2
			rm -rf "$stage"
			die "could not resolve any Kafka 4.x release (set KAFKA_VERSION explicitly?)"
		fi
	fi
	install_libs "$stage/libs" "$v"
	rm -rf "$stage"
	printf '%s\n' "$v" >"$CACHE_ROOT/latest-version"
	RESOLVED_VERSION=$v
}

# Sets RESOLVED_VERSION and KAFKA_HOME_DIR, fetching when needed.
ensure_fetched() {
	need java
	local v=$KAFKA_VERSION
	if [[ $v == latest ]]; then
		# Reuse the last resolution so `up` works offline; `fetch` re-resolves.
		if [[ ${1:-} != refresh && -f $CACHE_ROOT/latest-version ]]; then
			v=$(cat "$CACHE_ROOT/latest-version")
		else
			v=
		fi
	fi
	if [[ -n $v ]] && is_fetched "$(kafka_home "$v")" "$v"; then
		RESOLVED_VERSION=$v
		KAFKA_HOME_DIR=$(kafka_home "$v")
		return 0
	fi
	need mvn
	local start=$SECONDS
	if [[ -z $v ]]; then
		fetch_latest
	else
		mkdir -p "$CACHE_ROOT"
		local stage
		stage=$(mktemp -d "$CACHE_ROOT/.fetch.XXXXXX")
		log "fetching org.apache.kafka:kafka_2.13:$v and runtime dependencies from Maven Central"
		if ! mvn_copy "$v" "$stage/libs" "$stage/mvn.log"; then
			tail -n 30 "$stage/mvn.log" >&2
			rm -rf "$stage"
			die "mvn failed to resolve Kafka $v"
		fi
		install_libs "$stage/libs" "$v"
		rm -rf "$stage"
		RESOLVED_VERSION=$v
	fi
	KAFKA_HOME_DIR=$(kafka_home "$RESOLVED_VERSION")
	log "fetched Kafka $RESOLVED_VERSION into $KAFKA_HOME_DIR/libs in $((SECONDS - start))s"
}

port_open() { # port
	timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# Prints the broker pid if our broker process is alive.
broker_pid() {
	[[ -f $PID_FILE ]] || return 1
	local pid
	pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# Guard against pid reuse: must be a JVM running kafka.Kafka.
	if [[ -r /proc/$pid/cmdline ]]; then
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
	fi
	printf '%s\n' "$pid"
}

is_running() {
	broker_pid >/dev/null && port_open "$KAFKA_PORT"
}

# Remove the data dir, but only if it is ours (or empty) - never an arbitrary path.
wipe_data() {
	[[ -e $DATA ]] || return 0
	case $DATA in
	/ | "$HOME" | "$HOME/" | /tmp | /tmp/) die "refusing to remove data dir '$DATA'" ;;
	esac
	if [[ -f $MARKER ]] || [[ -z "$(ls -A "$DATA" 2>/dev/null)" ]]; then
		rm -rf "$DATA"
	else
		die "data dir '$DATA' exists and was not created by kafka.sh; remove it or set AUDITSTREAM_KAFKA_DATA"
	fi
}

print_log_tail() {
	local f
	for f in "$STDOUT_LOG" "$SERVER_LOG"; do
		if [[ -s $f ]]; then
			log "---- last 50 lines of $f ----"
			tail -n 50 "$f" >&2
		fi
	done
}

random_cluster_id() { # 16 random bytes, base64url without padding (Kafka Uuid format)
	head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

java_cmd() { # common java invocation prefix for tools, log file name
	local logfile=$1
	shift
	# shellcheck disable=SC2086 # word splitting of option strings is intended
	java $JVM_OPTS -Xmx256m \
		-Dlog4j2.configurationFile="$ASSETS/log4j2.yaml" \
		-Dkafka.logs.dir="$LOG_DIR" -Dkafka.log.file="$logfile" \
		-cp "$KAFKA_HOME_DIR/libs/*" "$@"
}

# Readiness after the port accepts connections: an Admin client probe (DescribeCluster +
# Metadata + FindCoordinator, run as a Java source file). A JRE without jdk.compiler
# cannot run source files; then fall back to the broker's "Kafka Server started" log line.
wait_ready() { # pid remaining_seconds deadline
	if java --list-modules 2>/dev/null | grep -q '^jdk\.compiler'; then
		local props=()
		[[ $SECURITY == sasl_ssl ]] && props=("$TLS_DIR/client.properties")
		java_cmd tools.log "$ASSETS/KafkaReady.java" "$HOST:$KAFKA_PORT" "$2" ${props[@]+"${props[@]}"} >&2
		return
	fi
	log "no jdk.compiler module (JRE only); using log-based readiness check"
	until grep -q 'Kafka Server started' "$SERVER_LOG" 2>/dev/null; do
		kill -0 "$1" 2>/dev/null || return 1
		((SECONDS < $3)) || return 1
		sleep 0.3
	done
}

# What a client needs: the bootstrap address and, for sasl_ssl, the CA and credentials.
print_env() {
	printf 'KAFKA_BROKERS=%s:%s\n' "$HOST" "$KAFKA_PORT"
	if [[ $SECURITY == sasl_ssl ]]; then
		printf 'KAFKA_SECURE_CA_FILE=%s\nKAFKA_SECURE_USERNAME=%s\nKAFKA_SECURE_PASSWORD_FILE=%s\n' \
			"$TLS_DIR/ca.pem" "$SECURE_USER" "$TLS_DIR/password"
	fi
}

random_secret() { head -c 18 /dev/urandom | base64 | tr '+/' 'xy' | tr -d '=\n'; }

# sasl_ssl: a throwaway CA and server certificate (PKCS12 keystore for the broker), random
# passwords, the client's files, and the listener settings appended to $1 (server.properties).
secure_material() { # props
	need openssl
	mkdir -p "$TLS_DIR"
	chmod 700 "$TLS_DIR"
	local ks admin pw
	ks=$(random_secret) admin=$(random_secret) pw=$(random_secret)
	(
		cd "$TLS_DIR"
		openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=auditstream test CA" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-keyout ca.key -out ca.pem
		openssl req -newkey rsa:2048 -nodes -subj "/CN=$HOST" -keyout server.key -out server.csr
		printf 'subjectAltName=IP:%s,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$HOST" >server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 7 \
			-extfile server.ext -out server.pem
		openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem -name kafka \
			-out server.p12 -passout "pass:$ks"
	) >"$LOG_DIR/openssl.out" 2>&1 || { cat "$LOG_DIR/openssl.out" >&2; die "openssl could not make the test certificate"; }
	printf '%s' "$pw" >"$TLS_DIR/password"
	chmod 600 "$TLS_DIR/password"
	cat >"$TLS_DIR/client.properties" <<-EOF
		security.protocol=SASL_SSL
		sasl.mechanism=SCRAM-SHA-512
		sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$SECURE_USER" password="$pw";
		ssl.truststore.type=PEM
		ssl.truststore.location=$TLS_DIR/ca.pem
	EOF
	sed -e "s|@HOST@|$HOST|g" \
		-e "s|@PORT@|$KAFKA_PORT|g" \
		-e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
		-e "s|@TLS_DIR@|$TLS_DIR|g" \
		-e "s|@KEYSTORE_PASSWORD@|$ks|g" \
		-e "s|@ADMIN_PASSWORD@|$admin|g" \
		-e "s|@USER@|$SECURE_USER|g" \
		-e "s|@PASSWORD@|$pw|g" \
		"$ASSETS/server-sasl_ssl.properties.tmpl" >>"$1"
	SCRAM_ARGS=(--add-scram "SCRAM-SHA-256=[name=$SECURE_USER,password=$pw]"
		--add-scram "SCRAM-SHA-512=[name=$SECURE_USER,password=$pw]")
}

cmd_fetch() {
	ensure_fetched refresh
	printf 'KAFKA_VERSION=%s\nKAFKA_HOME=%s\n' "$RESOLVED_VERSION" "$KAFKA_HOME_DIR"
}

cmd_status() {
	local pid
	if pid=$(broker_pid) && port_open "$KAFKA_PORT"; then
		log "running (pid $pid, data $DATA)"
		print_env
		return 0
	fi
	log "not running"
	return 1
}

cmd_up() {
	if is_running; then
		log "already running (pid $(broker_pid)) on $HOST:$KAFKA_PORT"
		print_env
		return 0
	fi
	local stale
	if stale=$(broker_pid); then
		# Process alive but port closed: half-started or wedged broker from an earlier run.
		log "stopping unresponsive broker pid $stale"
		stop_pid "$stale"
	fi
	local p
	for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
		if port_open "$p"; then
			die "port $HOST:$p is already in use by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
		fi
	done

	ensure_fetched
	local t0=$SECONDS

	wipe_data
	mkdir -p "$DATA/kraft-logs" "$LOG_DIR"
	: >"$MARKER"

	local props="$DATA/server.properties"
	sed -e "s|@HOST@|$HOST|g" \
		-e "s|@PORT@|$KAFKA_PORT|g" \
		-e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
		-e "s|@LOG_DIRS@|$DATA/kraft-logs|g" \
		"$ASSETS/server.properties.tmpl" >"$props"
	SCRAM_ARGS=()
	[[ $SECURITY == sasl_ssl ]] && secure_material "$props"

	local cluster_id=${KAFKA_CLUSTER_ID:-$(random_cluster_id)}
	log "formatting KRaft storage (cluster.id=$cluster_id)"
	if ! java_cmd tools.log kafka.tools.StorageTool format -t "$cluster_id" -c "$props" \
		${SCRAM_ARGS[@]+"${SCRAM_ARGS[@]}"} >"$LOG_DIR/format.out" 2>&1; then
		cat "$LOG_DIR/format.out" >&2
		die "storage format failed"
	fi

	log "starting Kafka $RESOLVED_VERSION ($SECURITY) on $HOST:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT, data $DATA)"
	local detach=()
	command -v setsid >/dev/null 2>&1 && detach=(setsid)
	# shellcheck disable=SC2086 # word splitting of option strings is intended
	${detach[@]+"${detach[@]}"} nohup java $HEAP_OPTS $JVM_OPTS \
		-Dlog4j2.configurationFile="$ASSETS/log4j2.yaml" \
		-Dkafka.logs.dir="$LOG_DIR" \
		-cp "$KAFKA_HOME_DIR/libs/*" \
		kafka.Kafka "$props" </dev/null >"$STDOUT_LOG" 2>&1 &
	local pid=$!
	printf '%s\n' "$pid" >"$PID_FILE"

	# Wait: process alive, client port accepting, then Admin describeCluster + Metadata succeed.
	local deadline=$((SECONDS + START_TIMEOUT))
	while ! port_open "$KAFKA_PORT"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			print_log_tail
			rm -f "$PID_FILE"
			die "broker exited during startup"
		fi
		if ((SECONDS >= deadline)); then
			print_log_tail
			abort_start "$pid"
			die "timed out after ${START_TIMEOUT}s waiting for port $KAFKA_PORT (logs kept in $LOG_DIR)"
		fi
		sleep 0.3
	done
	local remaining=$((deadline - SECONDS))
	((remaining > 5)) || remaining=5
	if ! wait_ready "$pid" "$remaining" "$deadline"; then
		print_log_tail
		abort_start "$pid"
		die "broker did not become ready within ${START_TIMEOUT}s (logs kept in $LOG_DIR)"
	fi
	kill -0 "$pid" 2>/dev/null || { print_log_tail; die "broker exited during startup"; }
	log "ready in $((SECONDS - t0))s (pid $pid)"
	print_env
}

stop_pid() { # pid
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "broker pid $pid did not stop within 30s; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
}

# Failed start: don't leave a half-started broker behind (data dir is kept for debugging).
abort_start() { # pid
	log "stopping half-started broker pid $1"
	stop_pid "$1"
	rm -f "$PID_FILE"
}

cmd_down() {
	local pid
	if pid=$(broker_pid); then
		log "stopping broker pid $pid"
		stop_pid "$pid"
	else
		log "broker not running"
	fi
	wipe_data
	log "removed $DATA"
}

cmd_logs() {
	[[ -f $SERVER_LOG ]] || die "no log at $SERVER_LOG"
	tail -n 200 "$SERVER_LOG"
}

main() {
	case ${1:-} in
	fetch) cmd_fetch ;;
	up | start) cmd_up ;;
	down | stop) cmd_down ;;
	status) cmd_status ;;
	logs) cmd_logs ;;
	*)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
		exit 2
		;;
	esac
}

main "$@"
