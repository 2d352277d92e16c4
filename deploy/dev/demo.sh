#!/usr/bin/env bash
# make demo: the stack is up (make stack-up ran first); print how to reach each server.
# It grows into the whole pipeline demo (writes in, decoded change events out) as cdcd does.
COMPONENT=demo
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

cat <<TXT

The local stack is up. Data and logs are under $STACK_DIR.

PostgreSQL  127.0.0.1:$PG_PORT, user postgres (trust), wal_level=logical
    psql -h 127.0.0.1 -p $PG_PORT -U postgres
MariaDB     127.0.0.1:$MARIADB_PORT, user root (no password); capture user cdcd/cdcd
    mariadb --protocol=tcp -h 127.0.0.1 -P $MARIADB_PORT -u root
Kafka       127.0.0.1:$KAFKA_PORT (single KRaft node, transactions enabled)
    kcat -b 127.0.0.1:$KAFKA_PORT -L

Stop everything with: make stack-down
TXT
