#!/usr/bin/env bash
# A throwaway single-binary Grafana Loki for the loki sink's integration tests: minimal
# config, HTTP and gRPC on 127.0.0.1, in-memory ring, filesystem storage in a temp dir.
# Writes are ordered per stream (unordered_writes: false), the strictest behaviour a Loki
# can have, so the tests show that the sink sorts each stream.
#
# usage: scripts/services/loki.sh start|stop|env
#   start  prints AUDITSTREAM_LOKI_URL (eval "$(scripts/services/loki.sh start)")
#   stop   stops it and removes the dir
# needs: loki (Debian package; bookworm ships 2.4.x)
# environment: AUDITSTREAM_LOKI_DIR (default /tmp/auditstream-loki), LOKI_PORT (13100),
#              LOKI_GRPC_PORT (19096)
set -euo pipefail

DIR=${AUDITSTREAM_LOKI_DIR:-/tmp/auditstream-loki}
PORT=${LOKI_PORT:-13100}
GRPC_PORT=${LOKI_GRPC_PORT:-19096}
HOST=127.0.0.1

log() { printf 'loki.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

print_env() { echo "export AUDITSTREAM_LOKI_URL=http://$HOST:$PORT"; }

stop() {
	if [[ -f $DIR/loki.pid ]]; then
		local pid
		pid=$(cat "$DIR/loki.pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$DIR"
}

start() {
	command -v loki >/dev/null || die "loki not found (apt-get install loki)"
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
    instance_addr: $HOST
    kvstore:
      store: inmemory
ingester:
  lifecycler:
    address: $HOST
    final_sleep: 0s
memberlist:
  bind_addr: [$HOST]
schema_config:
  configs:
    - from: 2020-10-24
      store: boltdb-shipper
      object_store: filesystem
      schema: v11
      index:
        prefix: index_
        period: 24h
limits_config:
  reject_old_samples: false
  unordered_writes: false
  ingestion_rate_mb: 64
  ingestion_burst_size_mb: 128
analytics:
  reporting_enabled: false
EOC
	(cd "$DIR" && exec loki -config.file="$DIR/loki.yaml" >"$DIR/loki.log" 2>&1) &
	echo $! >"$DIR/loki.pid"
	for _ in $(seq 600); do
		if curl -fsS "http://$HOST:$PORT/ready" >/dev/null 2>&1; then
			log "loki up on $HOST:$PORT (data in $DIR)"
			print_env
			return 0
		fi
		kill -0 "$(cat "$DIR/loki.pid")" 2>/dev/null || { tail -n 30 "$DIR/loki.log" >&2; die "loki exited"; }
		sleep 0.1
	done
	tail -n 30 "$DIR/loki.log" >&2
	die "loki not ready after 60s"
}

case ${1:-} in
start) start ;;
stop) stop ;;
env) print_env ;;
*) die "usage: $0 start|stop|env" ;;
esac
