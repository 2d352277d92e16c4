#!/usr/bin/env bash
# PostgreSQL for cdcd's tests and demo: a throwaway cluster under $STACK_DIR/postgres, listening
# on 127.0.0.1:$PG_PORT with wal_level=logical.
#
# CDCD_PG_VERSION picks the major version: 18 (the default, the newest supported: make test
# runs the whole suite on it) and 16, 17 are the pinned builds pgversions.sh fetches and caches,
# data in $STACK_DIR/postgres/data-<major>; 15 is Debian's packages, data in
# $STACK_DIR/postgres/data (CDCD_PG_VERSION=15 make stack-up). One server runs per stack folder:
# to switch, stop it (postgres.sh down stops whichever runs) and start again with the other
# version. Debian's client (psql, pg_isready, pg_recvlogical) serves every version, so Debian's
# postgresql package is installed whatever the version.
#
# With CDCD_PG_TLS_DIR set to a folder holding ca.pem, server.pem and server-key.pem (PEM), the
# server also runs with ssl=on, and a capture role cdcd_tls (password cdcd_tls, REPLICATION) may
# connect only over TLS: pg_hba.conf gets "hostssl all cdcd_tls ... scram-sha-256" and
# "hostnossl all cdcd_tls ... reject" ahead of its trust rules. Tests set it on a private stack;
# without it the server is set up exactly as before.
#
# usage: postgres.sh up|down|status
COMPONENT=postgres
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_DIR=$STACK_DIR/postgres
# The default must match PostgresVersionWanted in integration/privatepostgres.go.
PG_VERSION=${CDCD_PG_VERSION:-18}
if [ "$PG_VERSION" = 15 ]; then
	PG_DATA=$PG_DIR/data
else
	PG_DATA=$PG_DIR/data-$PG_VERSION
fi
PG_LOG=$PG_DIR/postgres.log
PG_TLS_DIR=${CDCD_PG_TLS_DIR:-}

# debian_bin prints the server binaries' folder of the newest installed Debian PostgreSQL. It
# looks for initdb: the client package alone also creates /usr/lib/postgresql/N/bin.
debian_bin() {
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

# pg_bin prints the server binaries' folder of CDCD_PG_VERSION, fetching them when needed.
pg_bin() {
	if [ "$PG_VERSION" = 15 ]; then
		debian_bin
	else
		"$REPO_ROOT/deploy/dev/pgversions.sh" bin "$PG_VERSION"
	fi
}

# running_data prints the data folders of this stack whose server runs, whatever its version;
# each data folder's binaries are recorded beside it (<data>.bin) by up.
running_data() {
	local data bin
	for data in "$PG_DIR"/data "$PG_DIR"/data-*; do
		[ -f "$data/PG_VERSION" ] && [ -f "$data/postmaster.pid" ] || continue
		bin=$(data_bin "$data") || continue
		as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1 && echo "$data"
	done
	return 0
}

# data_bin DATA prints the binaries' folder a data folder was started with.
data_bin() {
	if [ -s "$1.bin" ]; then
		cat "$1.bin"
	else
		debian_bin
	fi
}

up() {
	# Debian's client serves every version; its server is the default one.
	debian_bin >/dev/null || apt_install postgresql
	# PostGIS for Debian's server (bookworm: 3.3): the types tests load it on a private 15.
	apt_install postgresql-15-postgis-3
	local bin other
	bin=$(pg_bin) || fail "no PostgreSQL $PG_VERSION binaries"
	for other in $(running_data); do
		[ "$other" = "$PG_DATA" ] ||
			fail "another PostgreSQL ($(cat "$other/PG_VERSION")) runs in $other; stop it first (make stack-down) to start $PG_VERSION, or set CDCD_PG_VERSION=$(cat "$other/PG_VERSION") to keep it (the default is 18)"
	done
	if [ -f "$PG_DATA/postmaster.pid" ] && ready; then
		say "already running on $STACK_HOST:$PG_PORT"
	else
		mkdir -p "$PG_DIR"
		[ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
		chmod 700 "$PG_DIR"
		echo "$bin" >"$PG_DATA.bin"
		if [ ! -f "$PG_DATA/PG_VERSION" ]; then
			say "creating a cluster in $PG_DATA"
			as_postgres "$bin/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 \
				--locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
				fail "initdb failed; see $PG_DIR/initdb.log"
		fi
		local tls_opts=""
		[ -n "$PG_TLS_DIR" ] && tls_opts=$(tls_setup)
		say "starting on $STACK_HOST:$PG_PORT (log: $PG_LOG)"
		# pg_ctl -w returns once the server accepts connections, or fails.
		as_postgres "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" start -o \
			"-c listen_addresses=$STACK_HOST -c port=$PG_PORT -c unix_socket_directories=$PG_DIR \
			-c wal_level=logical -c max_replication_slots=64 -c max_wal_senders=64$tls_opts" >/dev/null || {
			# The PyPI build of 18 has no OpenSSL: TLS needs another version (15, 16, 17).
			[ -n "$PG_TLS_DIR" ] && tail -n 20 "$PG_LOG" | grep -q 'SSL is not supported by this build' &&
				fail "PostgreSQL $PG_VERSION here was built without TLS; CDCD_PG_TLS_DIR needs CDCD_PG_VERSION=15, 16 or 17"
			fail "PostgreSQL did not start; see $PG_LOG"
		}
	fi
	wait_until "accepting connections" "$READY_TIMEOUT" ready ||
		fail "PostgreSQL does not answer on $STACK_HOST:$PG_PORT; see $PG_LOG"
	local level
	level=$(psql_admin -At -c 'SHOW wal_level') || fail "cannot query PostgreSQL; see $PG_LOG"
	[ "$level" = logical ] || fail "wal_level is '$level', expected 'logical'; see $PG_LOG"
	if [ -n "$PG_TLS_DIR" ]; then
		psql_admin -c "DO \$\$ BEGIN
			IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cdcd_tls') THEN
				SET password_encryption = 'scram-sha-256';
				CREATE ROLE cdcd_tls LOGIN REPLICATION PASSWORD 'cdcd_tls';
			END IF; END \$\$" || fail "cannot create the TLS capture role; see $PG_LOG"
		say "TLS on; role cdcd_tls/cdcd_tls connects only over TLS (CA $PG_TLS_DIR/ca.pem)"
	fi
	local version
	version=$(psql_admin -At -c 'SHOW server_version') || fail "cannot query PostgreSQL; see $PG_LOG"
	case "${CDCD_PG_VERSION:-any}.$version" in
	any.* | "$PG_VERSION.$PG_VERSION".*) ;;
	*) fail "the server on $STACK_HOST:$PG_PORT is $version, CDCD_PG_VERSION=$PG_VERSION" ;;
	esac
	say "ready: PostgreSQL $version, postgres://postgres@$STACK_HOST:$PG_PORT/postgres (wal_level=logical)"
}

# tls_setup copies the TLS files of $PG_TLS_DIR where the server's user may read them (the key
# private to it, as PostgreSQL requires), puts the TLS-only rules of the role cdcd_tls ahead of
# pg_hba.conf's once, and prints the server options that turn TLS on.
tls_setup() {
	local dir=$PG_DIR/tls f
	for f in ca.pem server.pem server-key.pem; do
		[ -r "$PG_TLS_DIR/$f" ] || fail "CDCD_PG_TLS_DIR=$PG_TLS_DIR has no readable $f"
	done
	mkdir -p "$dir"
	cp "$PG_TLS_DIR/ca.pem" "$PG_TLS_DIR/server.pem" "$PG_TLS_DIR/server-key.pem" "$dir/"
	chmod 600 "$dir/server-key.pem"
	[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
	local hba=$PG_DATA/pg_hba.conf
	if ! grep -q '^hostssl all cdcd_tls' "$hba"; then
		{
			printf 'hostssl all cdcd_tls 127.0.0.1/32 scram-sha-256\n'
			printf 'hostnossl all cdcd_tls 127.0.0.1/32 reject\n'
			cat "$hba"
		} >"$hba.new"
		mv "$hba.new" "$hba"
		[ "$(id -u)" = 0 ] && chown postgres:postgres "$hba"
	fi
	printf ' -c ssl=on -c ssl_cert_file=%s -c ssl_key_file=%s -c ssl_ca_file=%s' \
		"$dir/server.pem" "$dir/server-key.pem" "$dir/ca.pem"
}

down() {
	local data bin stopped=no
	for data in $(running_data); do
		bin=$(data_bin "$data")
		say "stopping PostgreSQL in $data"
		as_postgres "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null ||
			fail "pg_ctl stop failed; see $PG_LOG"
		say "stopped"
		stopped=yes
	done
	[ $stopped = yes ] || say "not running"
	return 0
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
