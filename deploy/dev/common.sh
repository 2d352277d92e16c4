# Shared settings and helpers of the local stack scripts. Sourced by postgres.sh, mariadb.sh,
# kafka.sh and stack.sh; never run on its own.
#
# Every setting can be overridden from the environment, so that a test can bring up a second,
# private stack beside the developer's one (other ports, other folder).

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK_DIR=${CDCD_STACK_DIR:-$REPO_ROOT/.stack}
STACK_HOST=127.0.0.1
PG_PORT=${CDCD_PG_PORT:-55432}
MARIADB_PORT=${CDCD_MARIADB_PORT:-33306}
KAFKA_PORT=${CDCD_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${CDCD_KAFKA_CONTROLLER_PORT:-19093}
# Kafka's second listener, SASL_SSL (kafka.sh), for the security tests.
KAFKA_SASL_PORT=${CDCD_KAFKA_SASL_PORT:-19094}
# How long a server may take to answer after it was started, in seconds.
READY_TIMEOUT=${CDCD_READY_TIMEOUT:-120}

# COMPONENT names the server in every line a script prints; each script sets it.
COMPONENT=${COMPONENT:-stack}

say() { printf '[%s] %s\n' "$COMPONENT" "$*"; }

# fail prints what went wrong and where to look, then exits non-zero.
fail() {
	printf '[%s] FAILED: %s\n' "$COMPONENT" "$*" >&2
	exit 1
}

# wait_until DESCRIPTION TIMEOUT_SECONDS COMMAND...: runs COMMAND until it succeeds or the
# deadline passes. The pause between attempts only spaces the polls out; success is decided by
# asking the server, never by how long we waited.
wait_until() {
	local description=$1 timeout=$2
	shift 2
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			return 1
		fi
		sleep 0.2
	done
	say "$description"
}

# as_root runs a command as root, through sudo when the caller is not root.
as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

# apt_install PACKAGE... installs Debian packages that are missing. Package scripts are kept from
# starting the system's own services: the stack runs its servers itself, on its own ports.
apt_install() {
	local missing=()
	local pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing Debian packages: ${missing[*]}"
	local policy=/usr/sbin/policy-rc.d added_policy=no
	if [ ! -e "$policy" ]; then
		as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
		added_policy=yes
	fi
	local status=0
	{ as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$STACK_DIR/apt.log" 2>&1 || status=$?
	[ "$added_policy" = yes ] && as_root rm -f "$policy"
	[ $status -eq 0 ] || fail "apt-get install ${missing[*]} failed; see $STACK_DIR/apt.log"
}

# proc_running PID tells whether PID is a live process: a zombie (exited, not yet reaped by its
# parent) counts as gone.
proc_running() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# pid_alive PIDFILE tells whether the process named in PIDFILE runs and belongs to this stack
# (its command line names STACK_DIR), so that a recycled pid is never mistaken for our server.
pid_alive() {
	local pidfile=$1 pid
	[ -s "$pidfile" ] || return 1
	pid=$(head -n 1 "$pidfile")
	proc_running "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$STACK_DIR"
}

# stop_pid PIDFILE NAME: SIGTERM, then wait for the process to exit; SIGKILL only if it has not
# exited within the timeout, so that a stop never leaves a process behind.
stop_pid() {
	local pidfile=$1 name=$2 pid
	if ! pid_alive "$pidfile"; then
		rm -f "$pidfile"
		say "$name is not running"
		return 0
	fi
	pid=$(head -n 1 "$pidfile")
	say "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_until "$name stopped" 60 eval "! proc_running $pid"; then
		say "$name did not stop within 60s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		wait_until "$name killed" 10 eval "! proc_running $pid" || fail "$name (pid $pid) survived SIGKILL"
	fi
	rm -f "$pidfile"
}

mkdir -p "$STACK_DIR"
