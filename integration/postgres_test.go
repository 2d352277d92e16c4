package integration

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestPostgresLogicalReplicationDeliversAnInsert proves the stack's PostgreSQL serves what the
// PostgreSQL connector stands on: a publication, a pgoutput slot, and an inserted row read back
// over a replication connection with its relation and commit.
func TestPostgresLogicalReplicationDeliversAnInsert(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	var walLevel string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		t.Fatalf("SHOW wal_level: %v", err)
	}
	if walLevel != "logical" {
		t.Fatalf("wal_level = %q, want logical", walLevel)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
		CREATE PUBLICATION items_pub FOR TABLE items`); err != nil {
		t.Fatalf("creating table and publication: %v", err)
	}

	repl := db.ReplicationConn(t)
	slot := Name(t, "slot")
	created, err := pglogrepl.CreateReplicationSlot(ctx, repl, slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication})
	if err != nil {
		t.Fatalf("creating slot %s: %v", slot, err)
	}
	start, err := pglogrepl.ParseLSN(created.ConsistentPoint)
	if err != nil {
		t.Fatalf("parsing the slot's consistent point %q: %v", created.ConsistentPoint, err)
	}

	if _, err := conn.Exec(ctx, "INSERT INTO items VALUES (42, 'hello')"); err != nil {
		t.Fatalf("inserting: %v", err)
	}

	err = pglogrepl.StartReplication(ctx, repl, slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '2'", "publication_names 'items_pub'"},
	})
	if err != nil {
		t.Fatalf("starting replication on slot %s: %v", slot, err)
	}

	var relation *pglogrepl.RelationMessageV2
	var insert *pglogrepl.InsertMessageV2
	var commit *pglogrepl.CommitMessage
	for commit == nil {
		msg := receiveLogical(ctx, t, repl)
		switch m := msg.(type) {
		case *pglogrepl.RelationMessageV2:
			relation = m
		case *pglogrepl.InsertMessageV2:
			insert = m
		case *pglogrepl.CommitMessage:
			if insert != nil {
				commit = m
			}
		}
	}

	if relation == nil || relation.Namespace != "public" || relation.RelationName != "items" {
		t.Fatalf("relation message = %+v, want public.items", relation)
	}
	if insert.RelationID != relation.RelationID {
		t.Errorf("insert names relation %d, want %d", insert.RelationID, relation.RelationID)
	}
	got := map[string]string{}
	for i, col := range insert.Tuple.Columns {
		got[relation.Columns[i].Name] = string(col.Data)
	}
	if got["id"] != "42" || got["name"] != "hello" {
		t.Errorf("inserted row decoded as %v, want id=42 name=hello", got)
	}
	if commit.CommitLSN <= start {
		t.Errorf("commit LSN %s is not after the slot's consistent point %s", commit.CommitLSN, start)
	}
}

// receiveLogical returns the next pgoutput message on a replication connection, answering the
// server's keepalives on the way (see receiveWALData).
func receiveLogical(ctx context.Context, t *testing.T, repl *pgconn.PgConn) pglogrepl.Message {
	t.Helper()
	msg, err := pglogrepl.ParseV2(receiveWALData(ctx, t, repl), false)
	if err != nil {
		t.Fatalf("parsing pgoutput message: %v", err)
	}
	return msg
}
