#!/usr/bin/env bash
# make demo: the whole path on the local stack (make stack-up ran first). cdcd captures the
# PostgreSQL table public.items into the topic demo.public.items (as the README's example);
# a few writes are made; their change events are printed as a read_committed consumer decodes
# them through cdcd's embedded schema registry, each with a line that explains it.
#
# Each run uses a fresh database and a connector of its own (demo_<time>: its own offsets and
# replication slot, dropped at the end); the topic is shared by the runs, so the events shown
# are those written since this run's writes began (cdcd tail --since).
COMPONENT=demo
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DEMO_DIR=$STACK_DIR/demo
BIN=$STACK_DIR/bin/cdcd
REGISTRY=$STACK_HOST:${CDCD_REGISTRY_PORT:-18081}
NAME=demo_$(date +%s)
SLOT=cdcd_$NAME
PREFIX=demo
DB=cdcd_demo
mkdir -p "$DEMO_DIR"

psql_db() { psql -X -q -v ON_ERROR_STOP=1 -h "$STACK_HOST" -p "$PG_PORT" -U postgres -d "$1" "${@:2}"; }

# build_progress reads `go build -v` (one package path a line, as each is compiled; compiler
# errors are other lines, printed as they come) and says how far the build is, every 25
# packages and whenever 10 s pass without one (a large package compiling).
build_progress() {
	local total=$1 count=0 line last="" status
	while true; do
		IFS= read -r -t 10 line && status=0 || status=$?
		if ((status == 0)); then
			if [[ $line =~ ^[A-Za-z0-9._~/-]+$ ]]; then
				count=$((count + 1)) last=$line
				((count % 25 != 0)) || say "  compiled $count of at most $total packages"
			else
				printf '%s\n' "$line"
			fi
		elif ((status > 128)); then
			say "  still compiling (${SECONDS}s; $count packages done${last:+, last $last})"
		else
			break
		fi
	done
	((count == 0)) || say "  compiled $count packages (the others were cached)"
}

say "fetching the Go modules cdcd needs, if missing (a minute or two on a fresh machine)"
(cd "$REPO_ROOT" && go mod download) || fail "go mod download failed"
TOTAL=$(cd "$REPO_ROOT" && go list -deps ./cmd/cdcd | wc -l)
say "building cdcd into $BIN: up to $TOTAL packages; the first build takes a few minutes, later ones are cached"
SECONDS=0
(cd "$REPO_ROOT" && go build -v -o "$BIN" ./cmd/cdcd 2>&1) | build_progress "$TOTAL" ||
	fail "go build ./cmd/cdcd failed"
say "built in ${SECONDS}s"

say "creating database $DB with table public.items"
psql_db postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
	WHERE database = '$DB' AND NOT active" >/dev/null
psql_db postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
psql_db "$DB" -c "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL,
	price numeric(10,2), updated_at timestamptz NOT NULL DEFAULT now())"

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
    topic_prefix: $PREFIX
    postgres:
      host: $STACK_HOST
      port: $PG_PORT
      user: postgres
      database: $DB
      tables: [public.items]
      # The demo drops its slot at the end: run again, cdcd reads the table anew.
      snapshot_mode: when_needed
EOF

say "starting cdcd (config $DEMO_DIR/cdcd.yaml, log $DEMO_DIR/cdcd.log)"
"$BIN" run --config "$DEMO_DIR/cdcd.yaml" >"$DEMO_DIR/cdcd.log" 2>&1 &
CDCD_PID=$!

# drop_slot drops the run's replication slot (inactive once cdcd has stopped): a slot left
# behind keeps WAL on the server for ever.
drop_slot() {
	psql_db "$DB" -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
		WHERE slot_name = '$SLOT' AND NOT active" >/dev/null
}
trap 'kill -TERM $CDCD_PID 2>/dev/null; wait $CDCD_PID 2>/dev/null; drop_slot' EXIT

# slot_active: cdcd holds the slot and the slot is past its consistent point (confirmed_flush_lsn,
# null while CREATE_REPLICATION_SLOT waits for the server's running transactions, the slot
# already active): the writes below are then streamed, not read by the snapshot.
slot_active() {
	[ "$(psql_db "$DB" -At -c "SELECT active AND confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots
		WHERE slot_name = '$SLOT'")" = t ]
}
wait_until "cdcd is streaming from slot $SLOT" 120 slot_active ||
	fail "cdcd did not start streaming; see $DEMO_DIR/cdcd.log"

TOPIC=$PREFIX.public.items
TAIL=("$BIN" tail "$TOPIC" --brokers "$STACK_HOST:$KAFKA_PORT" --registry "http://$REGISTRY")
SINCE=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
say "writing: 3 inserts (one transaction), 1 update, 1 delete"
psql_db "$DB" -c "INSERT INTO items (name, price) VALUES ('hammer', 12.50), ('saw', 24.00), ('glue', 3.20)" \
	-c "UPDATE items SET price = 13.00, updated_at = now() WHERE name = 'hammer'" \
	-c "DELETE FROM items WHERE name = 'glue'"

# cdcd creates a table's topic with its first event; tail fails on a topic that does not exist.
topic_exists() { "${TAIL[@]}" --timeout 1s; }
wait_until "topic $TOPIC exists" 60 topic_exists || fail "no topic $TOPIC; see $DEMO_DIR/cdcd.log"

EXPLAIN=(
	"c (create): the INSERT of hammer: before is null, after the new row; the key is the primary key, {id}; source.txId the PostgreSQL transaction"
	"c: saw, of the same INSERT statement, so of the same transaction (the same txId)"
	"c: glue, the same"
	"u (update): hammer's new price: after is the new row; before is null, as PostgreSQL logs the old row only under REPLICA IDENTITY FULL"
	"d (delete): glue: after is null; before holds the key, its other columns null or, when NOT NULL, empty (\"\"): PostgreSQL logs only the key of a deleted row unless REPLICA IDENTITY FULL"
	"the tombstone: glue's key with a null value, so that log compaction can drop the key (tombstones_on_delete: false turns it off)"
)
say "the change events of $TOPIC since $SINCE, as a read_committed consumer decodes them, each followed by what it says:"
i=0 prev=""
while IFS= read -r line; do
	[[ $line =~ \"offset\":([0-9]+) ]] && offset=${BASH_REMATCH[1]}
	if [ -n "$prev" ] && ((offset > prev + 1)); then
		printf '    (offset %d is not shown: the commit marker of the Kafka transaction that ended at %d, which a read_committed consumer never sees; one Kafka transaction may carry several database transactions)\n' \
			$((prev + 1)) "$prev"
	fi
	printf '%s\n    ^ %s\n' "$line" "${EXPLAIN[i]:-}"
	i=$((i + 1)) prev=$offset
done < <("${TAIL[@]}" --since "$SINCE" --max ${#EXPLAIN[@]} --timeout 60s)
((i == ${#EXPLAIN[@]})) || fail "$i of ${#EXPLAIN[@]} events came; see $DEMO_DIR/cdcd.log"
echo "    (offset $((prev + 1)), next, is the commit marker of the last Kafka transaction: Kafka counts it, a read_committed consumer never sees it)"

kill -TERM $CDCD_PID
wait $CDCD_PID || fail "cdcd did not stop cleanly; see $DEMO_DIR/cdcd.log"
trap - EXIT
say "cdcd stopped cleanly"
drop_slot || fail "could not drop replication slot $SLOT"
say "replication slot $SLOT dropped (a slot left behind keeps WAL on the server)"

cat <<TXT

The local stack is up. Data and logs are under $STACK_DIR.

PostgreSQL  127.0.0.1:$PG_PORT, user postgres (trust), wal_level=logical; the demo table is in $DB
    psql -h 127.0.0.1 -p $PG_PORT -U postgres $DB
MariaDB     127.0.0.1:$MARIADB_PORT, user root (no password); capture user cdcd/cdcd
    mariadb --protocol=tcp -h 127.0.0.1 -P $MARIADB_PORT -u root
Kafka       127.0.0.1:$KAFKA_PORT (single KRaft node, transactions enabled)
    kcat -b 127.0.0.1:$KAFKA_PORT -L

Run cdcd yourself:  $BIN run --config $DEMO_DIR/cdcd.yaml
Its events:         $BIN tail $TOPIC --from-beginning
Stop everything:    make stack-down
TXT
