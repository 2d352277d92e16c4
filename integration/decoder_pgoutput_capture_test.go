package integration

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// decoderFixtureEnv, when set to 1, makes TestDecoderPGOutputCapture (re)write the pgoutput
// fixtures that decoder's unit tests replay: decoder/testdata/pgoutput_all_types.{bin,json}.
const decoderFixtureEnv = "CDCD_WRITE_PGOUTPUT_FIXTURES"

// decoderSessionParams are the session settings the PGDecoder expects of the replication
// connection; logical_decoding_work_mem is lowered so that the big transaction is streamed.
const decoderSessionParams = "&DateStyle=ISO&IntervalStyle=iso_8601&TimeZone=UTC" +
	"&extra_float_digits=3&bytea_output=hex&logical_decoding_work_mem=64kB"

const decoderFixtureSchema = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE all_types (
	id int PRIMARY KEY,
	c_bool bool NOT NULL,
	c_int2 int2, c_int4 int4, c_int8 int8,
	c_float4 float4, c_float8 float8, c_float8_nan float8, c_float4_inf float4,
	c_numeric numeric(10,2), c_numeric_neg numeric(10,2), c_numeric_free numeric,
	c_text text, c_varchar varchar(20), c_bpchar char(5), c_name name,
	c_bytea bytea,
	c_date date, c_date_bc date,
	c_time time, c_time3 time(3), c_timetz timetz,
	c_ts timestamp, c_ts3 timestamp(3), c_tstz timestamptz, c_tstz3 timestamptz(3),
	c_interval interval,
	c_uuid uuid, c_json json, c_jsonb jsonb,
	c_enum mood,
	c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
	c_domain posint,
	c_int4_arr int4[], c_text_arr text[], c_numeric_arr numeric(6,3)[], c_enum_arr mood[],
	c_bytea_arr bytea[], c_tstz_arr timestamptz[],
	c_big text
);
CREATE TABLE specials (id int PRIMARY KEY, n numeric, d date);
CREATE TABLE bulk (id int PRIMARY KEY, payload text NOT NULL);
CREATE PUBLICATION fixture_pub FOR TABLE all_types, specials, bulk;
`

// decoderFixtureWorkload is one statement per transaction, in the order the fixture holds them.
var decoderFixtureWorkload = []string{
	`INSERT INTO all_types VALUES (1, true, -32768, 2147483647, -9223372036854775808,
		3.14, -2.718281828459045, 'NaN', '-Infinity',
		12345678.90, -0.05, 1.500,
		'héllo "w" \ ,{}', 'var', 'ab', 'nm',
		'\x00ff10'::bytea,
		'2024-02-29', '0044-03-15 BC',
		'13:14:15.123456', '13:14:15.123', '10:00:00.5-02:30',
		'2024-02-29 13:14:15.123456', '1969-12-31 23:59:59.999', '2024-02-29 13:14:15.1+02', '2024-02-29 13:14:15.123+00',
		'1 year 2 mons 3 days 04:05:06.789',
		'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '{"b": [1, 2]}',
		'happy',
		'192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
		7,
		'{1,NULL,-3}', '{"a b","c\"d",NULL,"NULL",""}', '{1.5,-2.25}', '{sad,happy}',
		'{"\\x01","\\x"}', '{"2024-01-01 00:00:00+00"}',
		(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i))`,
	`INSERT INTO all_types (id, c_bool) VALUES (2, false)`,
	`UPDATE all_types SET c_int4 = 5 WHERE id = 1`,
	`UPDATE all_types SET id = 3 WHERE id = 2`,
	`DELETE FROM all_types WHERE id = 3`,
	`ALTER TABLE all_types REPLICA IDENTITY FULL`,
	`UPDATE all_types SET c_text = 'full' WHERE id = 1`,
	`SELECT pg_logical_emit_message(true, 'cdcd', 'hello')`,
	`TRUNCATE specials, bulk`,
	`INSERT INTO specials VALUES (1, 'NaN', NULL)`,
	`INSERT INTO specials VALUES (2, NULL, 'infinity')`,
	`ALTER TABLE specials ADD COLUMN extra text`,
	`INSERT INTO specials VALUES (3, 1, '2000-01-01', 'x')`,
	`INSERT INTO bulk SELECT i, repeat('x', 200) FROM generate_series(1, 1000) i`,
	`SELECT pg_logical_emit_message(true, 'cdcd-end', 'done')`,
}

// TestDecoderPGOutputCapture runs a workload covering every type the PGDecoder maps through a
// real pgoutput slot, decodes each message with a catalog backed by real queries, and checks
// what must hold live: every message decodes except the specials' NaN and infinity, which fail
// with ErrPGSpecialValue. With CDCD_WRITE_PGOUTPUT_FIXTURES=1 it writes the raw messages and
// the catalog's answers for the decoder's replay test.
func TestDecoderPGOutputCapture(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if _, err := conn.Exec(ctx, decoderFixtureSchema); err != nil {
		t.Fatalf("creating the fixture schema: %v", err)
	}

	repl, err := pgconn.Connect(ctx, db.ReplicationDSN()+decoderSessionParams)
	if err != nil {
		t.Fatalf("opening the replication connection: %v", err)
	}
	t.Cleanup(func() { _ = repl.Close(context.Background()) })
	slot := Name(t, "slot")
	created, err := pglogrepl.CreateReplicationSlot(ctx, repl, slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication})
	if err != nil {
		t.Fatalf("creating slot %s: %v", slot, err)
	}
	start, err := pglogrepl.ParseLSN(created.ConsistentPoint)
	if err != nil {
		t.Fatalf("parsing the consistent point %q: %v", created.ConsistentPoint, err)
	}
	for _, stmt := range decoderFixtureWorkload {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("workload %q: %v", stmt, err)
		}
	}
	err = pglogrepl.StartReplication(ctx, repl, slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '2'", "publication_names 'fixture_pub'",
			"messages 'true'", "streaming 'on'"},
	})
	if err != nil {
		t.Fatalf("starting replication: %v", err)
	}

	catalog := &recordingCatalog{conn: conn, Relations: map[uint32]decoder.PGRelationInfo{},
		Types: map[uint32]decoder.PGTypeInfo{}}
	dec := decoder.NewPGDecoder(catalog)
	var raw [][]byte
	counts := map[decoder.PGMessageKind]int{}
	specialErrors := 0
	for done := false; !done; {
		data := receiveWALData(ctx, t, repl)
		raw = append(raw, append([]byte(nil), data...))
		m, err := dec.Decode(ctx, data)
		if err != nil {
			if errors.Is(err, decoder.ErrPGSpecialValue) {
				specialErrors++
				continue
			}
			t.Fatalf("decoding message %d (%q): %v", len(raw), data[0], err)
		}
		counts[m.Kind]++
		if m.Kind == decoder.PGLogicalMessage && m.Prefix == "cdcd-end" {
			// The transaction's commit follows; take it too so the fixture ends on a boundary.
			data := receiveWALData(ctx, t, repl)
			raw = append(raw, append([]byte(nil), data...))
			done = true
		}
	}
	if specialErrors != 2 {
		t.Errorf("%d values failed with ErrPGSpecialValue, want 2 (numeric NaN, date infinity)", specialErrors)
	}
	for _, k := range []decoder.PGMessageKind{decoder.PGBegin, decoder.PGCommit, decoder.PGRelation,
		decoder.PGChange, decoder.PGTruncate, decoder.PGLogicalMessage, decoder.PGStreamStart,
		decoder.PGStreamStop, decoder.PGStreamCommit} {
		if counts[k] == 0 {
			t.Errorf("no %s message decoded; counts %v", k, counts)
		}
	}

	if os.Getenv(decoderFixtureEnv) == "1" {
		writeDecoderFixture(t, raw, catalog)
	}
}

func writeDecoderFixture(t *testing.T, raw [][]byte, catalog *recordingCatalog) {
	t.Helper()
	dir := filepath.Join("..", "decoder", "testdata")
	var framed []byte
	for _, m := range raw {
		framed = binary.BigEndian.AppendUint32(framed, uint32(len(m)))
		framed = append(framed, m...)
	}
	if err := os.WriteFile(filepath.Join(dir, "pgoutput_all_types.bin"), framed, 0o644); err != nil {
		t.Fatalf("writing the fixture: %v", err)
	}
	js, err := json.MarshalIndent(catalog, "", "  ")
	if err != nil {
		t.Fatalf("encoding the catalog: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pgoutput_all_types.json"), js, 0o644); err != nil {
		t.Fatalf("writing the catalog fixture: %v", err)
	}
	t.Logf("wrote %d messages to %s", len(raw), dir)
}

// recordingCatalog answers the decoder with catalog queries and keeps the answers.
type recordingCatalog struct {
	mu        sync.Mutex
	conn      *pgx.Conn
	Relations map[uint32]decoder.PGRelationInfo
	Types     map[uint32]decoder.PGTypeInfo
}

var _ decoder.PGCatalog = (*recordingCatalog)(nil)

func (c *recordingCatalog) Relation(ctx context.Context, relID uint32) (decoder.PGRelationInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var info decoder.PGRelationInfo
	err := c.conn.QueryRow(ctx, `
		SELECT coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord)
			FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, ord), pg_attribute a
			WHERE i.indrelid = $1 AND i.indisprimary AND a.attrelid = $1 AND a.attnum = k.attnum), '{}'),
		       coalesce((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
			WHERE attrelid = $1 AND attnum > 0 AND attnotnull AND NOT attisdropped), '{}')`,
		relID).Scan(&info.PrimaryKey, &info.NotNull)
	if err != nil {
		return info, err
	}
	c.Relations[relID] = info
	return info, nil
}

func (c *recordingCatalog) Type(ctx context.Context, oid uint32) (decoder.PGTypeInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ti := decoder.PGTypeInfo{OID: oid}
	var typtype string
	var labels []string
	err := c.conn.QueryRow(ctx, `
		SELECT n.nspname, t.typname, t.typtype::text, t.typelem, t.typbasetype,
		       coalesce((SELECT array_agg(enumlabel::text ORDER BY enumsortorder) FROM pg_enum
		                 WHERE enumtypid = t.oid), '{}')
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1`,
		oid).Scan(&ti.Namespace, &ti.Name, &typtype, &ti.ElemOID, &ti.BaseOID, &labels)
	if err != nil {
		return ti, err
	}
	switch {
	case typtype == "e":
		ti.Kind, ti.EnumLabels = decoder.PGTypeEnum, labels
	case typtype == "d":
		ti.Kind = decoder.PGTypeDomain
	case ti.ElemOID != 0:
		ti.Kind = decoder.PGTypeArray
	default:
		ti.Kind = decoder.PGTypeBase
	}
	c.Types[oid] = ti
	return ti, nil
}

// receiveWALData returns the WALData of the next XLogData, answering keepalives on the way.
// The returned slice is the connection's buffer: valid until the next receive.
func receiveWALData(ctx context.Context, t *testing.T, repl *pgconn.PgConn) []byte {
	t.Helper()
	for {
		msg, err := repl.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("receiving from the replication stream: %v", err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 {
			t.Fatalf("unexpected message on the replication stream: %T %+v", msg, msg)
		}
		switch cd.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:])
			if err != nil {
				t.Fatalf("parsing keepalive: %v", err)
			}
			if ka.ReplyRequested {
				// Acknowledges nothing: every LSN field says "nothing flushed yet".
				err := pglogrepl.SendStandbyStatusUpdate(ctx, repl, pglogrepl.StandbyStatusUpdate{
					WALWritePosition: 0, WALFlushPosition: 0, WALApplyPosition: 0,
				})
				if err != nil {
					t.Fatalf("answering keepalive: %v", err)
				}
			}
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
			if err != nil {
				t.Fatalf("parsing XLogData: %v", err)
			}
			return xld.WALData
		}
	}
}
