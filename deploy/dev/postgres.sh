#!/usr/bin/env bash
# PostgreSQL 15 for cdcd's tests and demo: Debian's packages, a throwaway cluster under
# $STACK_DIR/postgres, listening on 127.0.0.1:$PG_PORT with wal_level=logical.
#
# usage: postgres.sh up|down|status
COMPONENT=postgres
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_DIR=$STACK_DIR/postgres
PG_DATA=$PG_DIR/data
PG_LOG=$PG_DIR/postgres.log

# pg_bin prints the server binaries' folder of the newest installed PostgreSQL. It looks for
# initdb: the client package alone also creates /usr/lib/postgresql/N/bin.
pg_bin() {
	local initdb
	initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
	[ -n "$initdb" ] || return 1
	dirname "$initdb"
}

# as_postgres runs a server command as the postgres user when we are root (initdb refuses root),
# and as ourselves otherwise.
as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

ready() { pg_isready -q -h "$STACK_HOST" -p "$PG_PORT" -U postgres -d postgres; }

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$STACK_HOST" -p "$PG_PORT" -U postgres -d postgres "$@"; }

up() {
	pg_bin >/dev/null || apt_install postgresql
	local bin
	bin=$(pg_bin) || fail "no PostgreSQL binaries under /usr/lib/postgresql after installing"
	if [ -f "$PG_DATA/postmaster.pid" ] && ready; then
		say "already running on $STACK_HOST:$PG_PORT"
	else
		mkdir -p "$PG_DIR"
		[ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
		chmod 700 "$PG_DIR"
		if [ ! -f "$PG_DATA/PG_VERSION" ]; then
			say "creating a cluster in $PG_DATA"
			as_postgres "$bin/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 \
				--locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
				fail "initdb failed; see $PG_DIR/initdb.log"
		fi
		say "starting on $STACK_HOST:$PG_PORT (log: $PG_LOG)"
		# pg_ctl -w returns once the server accepts connections, or fails.
		as_postgres "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" start -o \
			"-c listen_addresses=$STACK_HOST -c port=$PG_PORT -c unix_socket_directories=$PG_DIR \
			-c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20" >/dev/null ||
			fail "PostgreSQL did not start; see $PG_LOG"
	fi
	wait_until "accepting connections" "$READY_TIMEOUT" ready ||
		fail "PostgreSQL does not answer on $STACK_HOST:$PG_PORT; see $PG_LOG"
	local level
	level=$(psql_admin -At -c 'SHOW wal_level') || fail "cannot query PostgreSQL; see $PG_LOG"
	[ "$level" = logical ] || fail "wal_level is '$level', expected 'logical'; see $PG_LOG"
	say "ready: postgres://postgres@$STACK_HOST:$PG_PORT/postgres (wal_level=logical)"
}

down() {
	local bin
	if ! bin=$(pg_bin) || [ ! -f "$PG_DATA/PG_VERSION" ] ||
		! as_postgres "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null; then
		say "not running"
		return 0
	fi
	say "stopping"
	as_postgres "$bin/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null ||
		fail "pg_ctl stop failed; see $PG_LOG"
	say "stopped"
}

status() {
	if ready; then
		say "running on $STACK_HOST:$PG_PORT, data $PG_DATA, log $PG_LOG"
	else
		say "not running (data $PG_DATA, log $PG_LOG)"
		return 3
	fi
}

case "${1:-}" in
up | down | status) "$1" ;;
*)
	echo "usage: $0 up|down|status" >&2
	exit 2
	;;
esac
