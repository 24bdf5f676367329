#!/usr/bin/env bash
# A real single-node OpenSearch for the elasticsearch sink's integration tests, assembled
# from Maven Central (no tarball, no docker): org.opensearch:opensearch plus the
# transport-netty4-client module (the HTTP layer), resolved by `mvn
# dependency:copy-dependencies` (scripts/services/opensearch/pom.xml) and started in-JVM by
# a small launcher (OpenSearchNode.java) with single-node discovery on 127.0.0.1, no
# security plugin (plain HTTP).
#
# usage: scripts/services/opensearch.sh fetch|start|stop|status|env
#   fetch  resolve the jars and compile the launcher (idempotent)
#   start  fetch if needed, start the node, wait until it answers, print
#          AUDITSTREAM_OPENSEARCH_URL (eval "$(scripts/services/opensearch.sh start)")
#   stop   stop the node and remove its data dir
#   status exit 0 and print the variable when the node answers, 1 when not
# needs: java 17+, mvn
# environment: OPENSEARCH_VERSION (default below; 2.x runs on Java 11+, 3.x needs 21),
#   AUDITSTREAM_OPENSEARCH_DIR (data, default /tmp/auditstream-opensearch),
#   OPENSEARCH_PORT (19200), OPENSEARCH_TRANSPORT_PORT (19300),
#   OPENSEARCH_HEAP (default 512m), OPENSEARCH_START_TIMEOUT (seconds, default 180)
set -euo pipefail

VERSION=${OPENSEARCH_VERSION:-2.19.2}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ASSETS=$SCRIPT_DIR/opensearch
HOME_DIR=$HOME/.cache/auditstream/opensearch-$VERSION
DIR=${AUDITSTREAM_OPENSEARCH_DIR:-/tmp/auditstream-opensearch}
PORT=${OPENSEARCH_PORT:-19200}
TPORT=${OPENSEARCH_TRANSPORT_PORT:-19300}
HEAP=${OPENSEARCH_HEAP:-512m}
TIMEOUT=${OPENSEARCH_START_TIMEOUT:-180}
HOST=127.0.0.1

NAME=opensearch.sh
# shellcheck source=scripts/services/lib.sh
source "$SCRIPT_DIR/lib.sh"

print_env() { echo "export AUDITSTREAM_OPENSEARCH_URL=http://$HOST:$PORT"; }

fetch() {
	if [[ -f $HOME_DIR/.complete ]]; then return 0; fi
	command -v mvn >/dev/null || die "mvn not found"
	command -v javac >/dev/null || die "javac not found (a JDK is needed)"
	mkdir -p "$HOME_DIR"
	local stage
	stage=$(mktemp -d "$HOME_DIR/.fetch.XXXXXX")
	log "fetching org.opensearch:opensearch:$VERSION and transport-netty4-client from Maven Central"
	if ! mvn -B -q -f "$ASSETS/pom.xml" -Dopensearch.version="$VERSION" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$stage/libs" >"$stage/mvn.log" 2>&1; then
		tail -n 30 "$stage/mvn.log" >&2
		rm -rf "$stage"
		die "mvn could not resolve OpenSearch $VERSION"
	fi
	mkdir -p "$stage/classes"
	javac -d "$stage/classes" -cp "$stage/libs/*" "$ASSETS/OpenSearchNode.java" || die "launcher did not compile"
	rm -rf "$HOME_DIR/libs" "$HOME_DIR/classes"
	mv "$stage/libs" "$stage/classes" "$HOME_DIR/"
	rm -rf "$stage"
	touch "$HOME_DIR/.complete"
}

up() { curl -fsS "http://$HOST:$PORT/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; }

stop() {
	stop_pidfile "$DIR/node.pid" 300 force
	rm -rf "$DIR"
}

start() {
	if [[ -f $DIR/node.pid ]] && kill -0 "$(cat "$DIR/node.pid")" 2>/dev/null && up; then
		print_env
		return 0
	fi
	fetch
	rm -rf "$DIR"
	mkdir -p "$DIR"
	nohup java -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseSerialGC -Djava.awt.headless=true \
		-Dopensearch.set.netty.runtime.available.processors=false \
		-cp "$HOME_DIR/classes:$HOME_DIR/libs/*" OpenSearchNode "$DIR/home" "$PORT" "$TPORT" \
		>"$DIR/node.log" 2>&1 </dev/null &
	echo $! >"$DIR/node.pid"
	local start=$SECONDS
	wait_ready "$DIR/node.pid" "$DIR/node.log" "$TIMEOUT" 0.5 "the node exited" "OpenSearch not up after ${TIMEOUT}s" up
	log "OpenSearch $VERSION up on $HOST:$PORT after $((SECONDS - start))s (data in $DIR)"
	print_env
}

case ${1:-} in
fetch) fetch ;;
start) start ;;
stop) stop ;;
status) [[ -f $DIR/node.pid ]] && kill -0 "$(cat "$DIR/node.pid")" 2>/dev/null && up && print_env ;;
env) print_env ;;
*) die "usage: $0 fetch|start|stop|status|env" ;;
esac
