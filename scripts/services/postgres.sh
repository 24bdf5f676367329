#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the integration tests: installs nothing, uses the
# server binaries already on the machine (Debian's `postgresql` package), listens on
# loopback only, and prints the DSN of its superuser.
#
#   scripts/services/postgres.sh start   # prints AUDITSTREAM_POSTGRES_DSN=postgres://...
#   scripts/services/postgres.sh stop    # stops it and removes its data
#   scripts/services/postgres.sh status  # exit 0 and print the DSN when it runs, 1 when not
#   scripts/services/postgres.sh pause   # stops the server, keeps its data (outage tests)
#   scripts/services/postgres.sh resume  # starts it again
#
# Environment: AUDITSTREAM_PG_DIR (default /tmp/auditstream-postgres), AUDITSTREAM_PG_PORT
# (default 15432: below Linux's ephemeral range 32768-60999, so that no client connection
# of a busy machine holds it by chance). PostgreSQL refuses to run as root: as root, the cluster runs as the
# `postgres` user the Debian package creates.
set -euo pipefail

dir=${AUDITSTREAM_PG_DIR:-/tmp/auditstream-postgres}
port=${AUDITSTREAM_PG_PORT:-15432}
user=auditstream
pass=auditstream-test-only
dsn="postgres://$user:$pass@127.0.0.1:$port/auditstream?sslmode=disable"

bindir() {
	if command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/initdb" ]]; then
		pg_config --bindir
		return
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[[ -n "$d" && -x "$d/initdb" ]] || { echo "postgres.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
	echo "$d"
}

as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local bin
	bin=$(bindir)
	if [[ -f "$dir/data/postmaster.pid" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		echo "AUDITSTREAM_POSTGRES_DSN=$dsn"
		return
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	[[ $(id -u) -eq 0 ]] && chown postgres "$dir"
	printf '%s\n' "$pass" >"$dir/pw"
	[[ $(id -u) -eq 0 ]] && chown postgres "$dir/pw"
	as_owner "$bin/initdb" -D "$dir/data" -U "$user" --pwfile="$dir/pw" --auth-local=trust --auth-host=scram-sha-256 \
		-E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
	cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || { tail -n 30 "$dir/server.log" >&2; exit 1; }
	as_owner "$bin/psql" -h "$dir" -p "$port" -U "$user" -d postgres -qAt -c "CREATE DATABASE auditstream" >/dev/null
	echo "AUDITSTREAM_POSTGRES_DSN=$dsn"
}

stop() {
	local bin
	bin=$(bindir)
	if [[ -d "$dir/data" ]]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) [[ -f "$dir/data/postmaster.pid" ]] && as_owner "$(bindir)/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 && echo "AUDITSTREAM_POSTGRES_DSN=$dsn" ;;
pause) as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null ;;
resume) as_owner "$(bindir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ;;
*) echo "usage: $0 start|stop|status|pause|resume" >&2; exit 2 ;;
esac
