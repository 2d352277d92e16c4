#!/usr/bin/env bash
# make demo: the whole path on the local stack (make stack-up ran first). cdcd captures a
# PostgreSQL table into Kafka; a few writes are made; their change events are printed as a
# read_committed consumer decodes them through cdcd's embedded schema registry.
#
# Each run uses a fresh database and a connector of its own (demo_<time>), so runs never mix.
COMPONENT=demo
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DEMO_DIR=$STACK_DIR/demo
BIN=$STACK_DIR/bin/cdcd
REGISTRY=$STACK_HOST:${CDCD_REGISTRY_PORT:-18081}
NAME=demo_$(date +%s)
DB=cdcd_demo
mkdir -p "$DEMO_DIR"

psql_db() { psql -X -q -v ON_ERROR_STOP=1 -h "$STACK_HOST" -p "$PG_PORT" -U postgres -d "$1" "${@:2}"; }

say "building cdcd into $BIN"
(cd "$REPO_ROOT" && go build -o "$BIN" ./cmd/cdcd) || fail "go build ./cmd/cdcd failed"

say "creating database $DB with table public.customers"
psql_db postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
	WHERE database = '$DB' AND NOT active" >/dev/null
psql_db postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
psql_db "$DB" -c "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL,
	email text, balance numeric(10,2), updated_at timestamptz NOT NULL DEFAULT now())"

cat >"$DEMO_DIR/cdcd.yaml" <<EOF
kafka:
  brokers: [$STACK_HOST:$KAFKA_PORT]
registry:
  listen: $REGISTRY
log:
  format: console
api:
  listen: "off"
connectors:
  - name: $NAME
    type: postgres
    topic_prefix: $NAME
    postgres:
      host: $STACK_HOST
      port: $PG_PORT
      user: postgres
      database: $DB
      tables: [public.customers]
EOF

say "starting cdcd (config $DEMO_DIR/cdcd.yaml, log $DEMO_DIR/cdcd.log)"
"$BIN" run --config "$DEMO_DIR/cdcd.yaml" >"$DEMO_DIR/cdcd.log" 2>&1 &
CDCD_PID=$!
trap 'kill -TERM $CDCD_PID 2>/dev/null; wait $CDCD_PID 2>/dev/null' EXIT

slot_active() {
	[ "$(psql_db "$DB" -At -c "SELECT active FROM pg_replication_slots WHERE slot_name = 'cdcd_$NAME'")" = t ]
}
wait_until "cdcd is streaming from slot cdcd_$NAME" 60 slot_active ||
	fail "cdcd did not start streaming; see $DEMO_DIR/cdcd.log"

say "writing: 3 inserts, 1 update, 1 delete"
psql_db "$DB" -c "INSERT INTO customers (name, email, balance) VALUES
	('Ada', 'ada@example.com', 120.50), ('Grace', 'grace@example.com', 99.99), ('Linus', NULL, 0)" \
	-c "UPDATE customers SET balance = balance + 10, updated_at = now() WHERE name = 'Ada'" \
	-c "DELETE FROM customers WHERE name = 'Linus'"

TOPIC=$NAME.public.customers
say "the change events of $TOPIC, as a read_committed consumer decodes them (3 c, 1 u, 1 d and its tombstone):"
"$BIN" tail "$TOPIC" --brokers "$STACK_HOST:$KAFKA_PORT" --registry "http://$REGISTRY" \
	--from-beginning --max 6 --timeout 60s ||
	fail "cdcd tail failed; see $DEMO_DIR/cdcd.log"

kill -TERM $CDCD_PID
wait $CDCD_PID || fail "cdcd did not stop cleanly; see $DEMO_DIR/cdcd.log"
trap - EXIT
say "cdcd stopped cleanly"

cat <<TXT

The local stack is up. Data and logs are under $STACK_DIR.

PostgreSQL  127.0.0.1:$PG_PORT, user postgres (trust), wal_level=logical; the demo table is in $DB
    psql -h 127.0.0.1 -p $PG_PORT -U postgres $DB
MariaDB     127.0.0.1:$MARIADB_PORT, user root (no password); capture user cdcd/cdcd
    mariadb --protocol=tcp -h 127.0.0.1 -P $MARIADB_PORT -u root
Kafka       127.0.0.1:$KAFKA_PORT (single KRaft node, transactions enabled)
    kcat -b 127.0.0.1:$KAFKA_PORT -L

Run cdcd yourself:  $BIN run --config $DEMO_DIR/cdcd.yaml
Stop everything:    make stack-down
TXT
