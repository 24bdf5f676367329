#!/usr/bin/env bash
# A throwaway rsyslogd for the syslog sink's integration tests: its own config in a temp
# dir, RFC 5424 over TCP (octet counting or LF framing) and over TLS (gtls driver, a
# self-signed CA and server certificate made here with openssl) and UDP, all on
# 127.0.0.1; every message received is appended raw (%rawmsg%) to one file.
#
# usage: scripts/services/rsyslog.sh start|stop|status|env
#   start  prints the variables the tests read (eval "$(scripts/services/rsyslog.sh start)"):
#          AUDITSTREAM_RSYSLOG_TCP, AUDITSTREAM_RSYSLOG_TLS, AUDITSTREAM_RSYSLOG_UDP,
#          AUDITSTREAM_RSYSLOG_OUT (the file), AUDITSTREAM_RSYSLOG_CA (the CA to trust)
#   stop   stops it and removes the dir
#   status exit 0 and print the variables when it runs, 1 when it does not
# needs: rsyslog, rsyslog-gnutls, openssl (Debian packages)
# environment: AUDITSTREAM_RSYSLOG_DIR (default /tmp/auditstream-rsyslog),
#              RSYSLOG_TCP_PORT (15514, also UDP), RSYSLOG_TLS_PORT (16514)
set -euo pipefail

DIR=${AUDITSTREAM_RSYSLOG_DIR:-/tmp/auditstream-rsyslog}
TCP_PORT=${RSYSLOG_TCP_PORT:-15514}
TLS_PORT=${RSYSLOG_TLS_PORT:-16514}
HOST=127.0.0.1

NAME=rsyslog.sh
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

print_env() {
	cat <<EOV
export AUDITSTREAM_RSYSLOG_TCP=$HOST:$TCP_PORT
export AUDITSTREAM_RSYSLOG_TLS=$HOST:$TLS_PORT
export AUDITSTREAM_RSYSLOG_UDP=$HOST:$TCP_PORT
export AUDITSTREAM_RSYSLOG_OUT=$DIR/messages.log
export AUDITSTREAM_RSYSLOG_CA=$DIR/ca.pem
EOV
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

stop() {
	stop_pidfile "$DIR/rsyslogd.pid" 50
	rm -rf "$DIR"
}

start() {
	command -v rsyslogd >/dev/null || die "rsyslogd not found (apt-get install rsyslog rsyslog-gnutls)"
	command -v openssl >/dev/null || die "openssl not found"
	if [[ -f $DIR/rsyslogd.pid ]] && kill -0 "$(cat "$DIR/rsyslogd.pid")" 2>/dev/null; then
		print_env
		return 0
	fi
	rm -rf "$DIR"
	mkdir -p "$DIR/work"
	# A CA and a server certificate for 127.0.0.1 (the sink verifies it against the CA).
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=auditstream test CA" \
		-keyout "$DIR/ca.key" -out "$DIR/ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$DIR/server.key" -out "$DIR/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$DIR/ext.cnf"
	openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial \
		-days 2 -extfile "$DIR/ext.cnf" -out "$DIR/server.pem" 2>/dev/null
	cat >"$DIR/rsyslog.conf" <<EOC
global(workDirectory="$DIR/work" maxMessageSize="256k"
       defaultNetstreamDriverCAFile="$DIR/ca.pem"
       defaultNetstreamDriverCertFile="$DIR/server.pem"
       defaultNetstreamDriverKeyFile="$DIR/server.key")
module(load="imtcp" maxSessions="200")
module(load="imudp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="keep") {
  action(type="omfile" file="$DIR/messages.log" template="raw" flushOnTXEnd="on" asyncWriting="off")
}
input(type="imtcp" address="$HOST" port="$TCP_PORT" ruleset="keep")
input(type="imtcp" address="$HOST" port="$TLS_PORT" ruleset="keep"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imudp" address="$HOST" port="$TCP_PORT" ruleset="keep")
EOC
	rsyslogd -N1 -f "$DIR/rsyslog.conf" >"$DIR/check.log" 2>&1 || { cat "$DIR/check.log" >&2; die "config check failed"; }
	rsyslogd -f "$DIR/rsyslog.conf" -i "$DIR/rsyslogd.pid" >"$DIR/rsyslogd.log" 2>&1 ||
		{ cat "$DIR/rsyslogd.log" >&2; die "rsyslogd did not start"; }
	for _ in $(seq 100); do
		if port_open "$TCP_PORT" && port_open "$TLS_PORT"; then
			touch "$DIR/messages.log"
			log "rsyslogd up (tcp $TCP_PORT, tls $TLS_PORT, udp $TCP_PORT), output $DIR/messages.log"
			print_env
			return 0
		fi
		sleep 0.1
	done
	cat "$DIR/rsyslogd.log" >&2
	die "rsyslogd did not listen on $TCP_PORT/$TLS_PORT"
}

running() { [[ -f $DIR/rsyslogd.pid ]] && kill -0 "$(cat "$DIR/rsyslogd.pid")" 2>/dev/null && port_open "$TCP_PORT"; }

case ${1:-} in
start) start ;;
stop) stop ;;
status) running && print_env ;;
env) print_env ;;
*) die "usage: $0 start|stop|status|env" ;;
esac
