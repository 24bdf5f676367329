#!/usr/bin/env bash
# A throwaway single-binary Grafana Loki for the loki sink's integration tests: minimal
# config, HTTP and gRPC on 127.0.0.1, in-memory ring, filesystem storage (TSDB, schema v13)
# in a temp dir. Loki's default unordered writes accept an entry only if it is at most
# max_chunk_age/2 (1h) older than its stream's newest entry, so the tests can show that the
# sink sorts each stream (a newest-first push would lose the older entries).
#
# Grafana Loki is in no Debian release (Debian's package named "loki" is an unrelated
# genetics program), so the binary is built once from Loki's Go module
# (github.com/grafana/loki/v3 at LOKI_VERSION, fetched through the Go module proxy) and
# cached in ~/.cache/auditstream/loki-$LOKI_VERSION/loki. Building takes several minutes
# on two cores the first time.
#
# usage: scripts/services/loki.sh build|start|stop|status|env
#   build  build (or find) the binary and print its path
#   start  prints AUDITSTREAM_LOKI_URL (eval "$(scripts/services/loki.sh start)")
#   stop   stops it and removes the dir
#   status exit 0 and print the variable when it is ready, 1 when not
# environment: LOKI_VERSION (default below), AUDITSTREAM_LOKI_BIN (use this binary instead),
#   AUDITSTREAM_LOKI_DIR (default /tmp/auditstream-loki), LOKI_PORT (13100),
#   LOKI_GRPC_PORT (19096)
set -euo pipefail

DIR=${AUDITSTREAM_LOKI_DIR:-/tmp/auditstream-loki}
PORT=${LOKI_PORT:-13100}
GRPC_PORT=${LOKI_GRPC_PORT:-19096}
HOST=127.0.0.1
LOKI_VERSION=${LOKI_VERSION:-v3.7.8}
CACHE=$HOME/.cache/auditstream/loki-$LOKI_VERSION

NAME=loki.sh
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# build prints the path of a Grafana Loki binary, building it when needed.
build() {
	if [[ -n ${AUDITSTREAM_LOKI_BIN:-} ]]; then
		echo "$AUDITSTREAM_LOKI_BIN"
		return 0
	fi
	if [[ -x $CACHE/loki ]]; then
		echo "$CACHE/loki"
		return 0
	fi
	command -v go >/dev/null || die "go not found (needed to build Grafana Loki)"
	local dir src start=$SECONDS
	log "building Grafana Loki $LOKI_VERSION from its Go module (first time only; takes minutes)"
	dir=$(go mod download -json "github.com/grafana/loki/v3@$LOKI_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -n $dir && -d $dir ]] || die "go mod download github.com/grafana/loki/v3@$LOKI_VERSION failed"
	mkdir -p "$CACHE"
	src=$(mktemp -d "$CACHE/.src.XXXXXX")
	cp -r "$dir/." "$src/"
	chmod -R u+w "$src"
	# The module's go.mod replaces its push package with a directory that module zips do
	# not carry; the pinned version of that module is used instead.
	(cd "$src" && go mod edit -dropreplace=github.com/grafana/loki/pkg/push &&
		GOFLAGS=-mod=mod go build -trimpath -ldflags "-X github.com/grafana/loki/v3/pkg/util/build.Version=${LOKI_VERSION#v}" -o "$CACHE/loki.tmp" ./cmd/loki) >"$CACHE/build.log" 2>&1 ||
		{ tail -n 30 "$CACHE/build.log" >&2; rm -rf "$src"; die "building Loki failed"; }
	rm -rf "$src"
	mv "$CACHE/loki.tmp" "$CACHE/loki"
	log "built $CACHE/loki in $((SECONDS - start))s"
	echo "$CACHE/loki"
}

print_env() { echo "export AUDITSTREAM_LOKI_URL=http://$HOST:$PORT"; }

ready() { curl -fsS "http://$HOST:$PORT/ready" >/dev/null 2>&1; }

stop() {
	stop_pidfile "$DIR/loki.pid" 100 force
	rm -rf "$DIR"
}

start() {
	local bin
	bin=$(build)
	if [[ -f $DIR/loki.pid ]] && kill -0 "$(cat "$DIR/loki.pid")" 2>/dev/null; then
		print_env
		return 0
	fi
	rm -rf "$DIR"
	mkdir -p "$DIR"
	cat >"$DIR/loki.yaml" <<EOC
auth_enabled: false
server:
  http_listen_address: $HOST
  http_listen_port: $PORT
  grpc_listen_address: $HOST
  grpc_listen_port: $GRPC_PORT
  log_level: warn
common:
  path_prefix: $DIR
  storage:
    filesystem:
      chunks_directory: $DIR/chunks
      rules_directory: $DIR/rules
  replication_factor: 1
  ring:
    kvstore:
      store: inmemory
  instance_addr: $HOST
schema_config:
  configs:
    - from: 2020-10-24
      store: tsdb
      object_store: filesystem
      schema: v13
      index:
        prefix: index_
        period: 24h
limits_config:
  reject_old_samples: false
  allow_structured_metadata: true
  ingestion_rate_mb: 64
  ingestion_burst_size_mb: 128
analytics:
  reporting_enabled: false
EOC
	(cd "$DIR" && exec "$bin" -config.file="$DIR/loki.yaml" >"$DIR/loki.log" 2>&1) &
	echo $! >"$DIR/loki.pid"
	wait_ready "$DIR/loki.pid" "$DIR/loki.log" 60 0.1 "loki exited" "loki not ready after 60s" ready
	log "loki up on $HOST:$PORT (data in $DIR)"
	print_env
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) [[ -f $DIR/loki.pid ]] && kill -0 "$(cat "$DIR/loki.pid")" 2>/dev/null && ready && print_env ;;
build) build ;;
env) print_env ;;
*) die "usage: $0 build|start|stop|status|env" ;;
esac
