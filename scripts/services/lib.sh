# shellcheck shell=bash
# Shared by the scripts under scripts/services (sourced, not run): their log lines and the
# stopping of and waiting for the service's process. The sourcing script sets NAME (its
# log prefix) first.

log() { printf '%s: %s\n' "$NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# stop_pidfile PIDFILE TENTHS [force]: stops the process PIDFILE names, waiting up to
# TENTHS tenths of a second for it to exit; with force, kills it (-9) if it is still there.
stop_pidfile() {
	[[ -f $1 ]] || return 0
	local pid
	pid=$(cat "$1")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq "$2"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if [[ ${3:-} == force ]]; then kill -9 "$pid" 2>/dev/null || true; fi
}

# wait_ready PIDFILE LOGFILE TIMEOUT INTERVAL EXITED TIMEDOUT CHECK...: runs CHECK every
# INTERVAL seconds until it succeeds. When the process PIDFILE names exits first, or
# TIMEOUT seconds pass, it prints the tail of LOGFILE and dies with EXITED or TIMEDOUT.
wait_ready() {
	local pidfile=$1 logfile=$2 timeout=$3 interval=$4 exited=$5 timedout=$6 start=$SECONDS
	shift 6
	while ((SECONDS - start < timeout)); do
		if "$@"; then
			return 0
		fi
		if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
			tail -n 40 "$logfile" >&2
			die "$exited"
		fi
		sleep "$interval"
	done
	tail -n 40 "$logfile" >&2
	die "$timedout"
}
