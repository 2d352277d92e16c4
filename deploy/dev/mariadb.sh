#!/usr/bin/env bash
# MariaDB 10.11 for cdcd's tests and demo: Debian's packages, a throwaway datadir under
# $STACK_DIR/mariadb, listening on 127.0.0.1:$MARIADB_PORT with a row-based binlog (full row
# images, GTIDs in strict mode), and a capture user cdcd/cdcd with the grants a connector needs.
#
# With CDCD_MARIADB_TLS_DIR set to a folder holding ca.pem, server.pem and server-key.pem (PEM),
# the server also runs with ssl_ca, ssl_cert and ssl_key, and a capture user cdcd_tls/cdcd_tls,
# with the same grants as cdcd, must connect over TLS (REQUIRE SSL). Tests set it on a private
# stack; without it the server is set up exactly as before.
#
# usage: mariadb.sh up|down|status
COMPONENT=mariadb
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

MARIADB_DIR=$STACK_DIR/mariadb
MARIADB_DATA=$MARIADB_DIR/data
MARIADB_LOG=$MARIADB_DIR/mariadb.log
MARIADB_PID=$MARIADB_DIR/mariadb.pid
MARIADB_TLS_DIR=${CDCD_MARIADB_TLS_DIR:-}

client() { mariadb --no-defaults --protocol=tcp -h "$STACK_HOST" -P "$MARIADB_PORT" -u root "$@"; }

ready() { mariadb-admin --no-defaults --protocol=tcp -h "$STACK_HOST" -P "$MARIADB_PORT" -u root ping; }

up() {
	command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server mariadb-client
	local server
	server=$(command -v mariadbd || echo /usr/sbin/mariadbd)
	if pid_alive "$MARIADB_PID" && ready >/dev/null 2>&1; then
		say "already running on $STACK_HOST:$MARIADB_PORT"
	else
		mkdir -p "$MARIADB_DIR"
		if [ ! -d "$MARIADB_DATA/mysql" ]; then
			say "creating a datadir in $MARIADB_DATA"
			mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$MARIADB_DATA" \
				--auth-root-authentication-method=normal --skip-test-db \
				>"$MARIADB_DIR/install-db.log" 2>&1 ||
				fail "mariadb-install-db failed; see $MARIADB_DIR/install-db.log"
		fi
		local tls_opts=()
		if [ -n "$MARIADB_TLS_DIR" ]; then
			local f
			for f in ca.pem server.pem server-key.pem; do
				[ -r "$MARIADB_TLS_DIR/$f" ] || fail "CDCD_MARIADB_TLS_DIR=$MARIADB_TLS_DIR has no readable $f"
			done
			tls_opts=(--ssl-ca="$MARIADB_TLS_DIR/ca.pem" --ssl-cert="$MARIADB_TLS_DIR/server.pem"
				--ssl-key="$MARIADB_TLS_DIR/server-key.pem")
		fi
		say "starting on $STACK_HOST:$MARIADB_PORT (log: $MARIADB_LOG)"
		setsid "$server" --no-defaults ${tls_opts[@]+"${tls_opts[@]}"} --user="$(id -un)" --datadir="$MARIADB_DATA" \
			--socket="$MARIADB_DIR/mysqld.sock" --pid-file="$MARIADB_PID" --log-error="$MARIADB_LOG" \
			--bind-address="$STACK_HOST" --port="$MARIADB_PORT" --skip-name-resolve \
			--server-id=1 --log-bin="$MARIADB_DATA/mysql-bin" --binlog-format=ROW \
			--binlog-row-image=FULL --binlog-annotate-row-events=ON --gtid-strict-mode=ON \
			--log-bin-compress=OFF </dev/null >/dev/null 2>&1 &
		wait_until "accepting connections" "$READY_TIMEOUT" ready ||
			fail "MariaDB does not answer on $STACK_HOST:$MARIADB_PORT; see $MARIADB_LOG"
	fi
	# The capture user has exactly the grants docs/mysql.md asks of a production user.
	client -e "CREATE USER IF NOT EXISTS 'cdcd'@'%' IDENTIFIED BY 'cdcd';
		GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cdcd'@'%';" ||
		fail "cannot create the capture user; see $MARIADB_LOG"
	if [ -n "$MARIADB_TLS_DIR" ]; then
		client -e "CREATE USER IF NOT EXISTS 'cdcd_tls'@'%' IDENTIFIED BY 'cdcd_tls' REQUIRE SSL;
			GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cdcd_tls'@'%';" ||
			fail "cannot create the TLS capture user; see $MARIADB_LOG"
		say "TLS on; user cdcd_tls/cdcd_tls must connect over TLS (CA $MARIADB_TLS_DIR/ca.pem)"
	fi
	local settings
	settings=$(client -N -e "SELECT CONCAT_WS(' ', @@log_bin, @@binlog_format, @@binlog_row_image)") ||
		fail "cannot query MariaDB; see $MARIADB_LOG"
	[ "$settings" = "ON ROW FULL" ] ||
		fail "binlog settings are '$settings', expected ON ROW FULL; see $MARIADB_LOG"
	say "ready: mysql://root@$STACK_HOST:$MARIADB_PORT (capture user cdcd/cdcd; binlog ROW, FULL, GTID)"
}

down() { stop_pid "$MARIADB_PID" MariaDB; }

status() {
	if pid_alive "$MARIADB_PID" && ready >/dev/null 2>&1; then
		say "running on $STACK_HOST:$MARIADB_PORT, data $MARIADB_DATA, log $MARIADB_LOG"
	else
		say "not running (data $MARIADB_DATA, log $MARIADB_LOG)"
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
