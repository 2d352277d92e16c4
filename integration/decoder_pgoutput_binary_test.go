package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
)

// binaryEdgesSchema holds the values whose binary form the decoder must spell as PostgreSQL's
// text output does (inet's IPv6 forms, "char" bytes, numeric scales, intervals with signs), and
// the bounds of the time types.
const binaryEdgesSchema = `
CREATE TABLE binary_edges (
	id int PRIMARY KEY,
	c_inet inet, c_cidr cidr, c_char "char", c_interval interval, c_timetz timetz,
	c_numeric numeric, c_num4 numeric(30,4), c_num0 numeric(5,0), c_time time, c_time0 time(0),
	c_oid oid, c_xml xml, c_uuid_arr uuid[], c_ts_arr timestamp(3)[], c_date date,
	c_tstz0 timestamptz(0), c_tstz timestamptz, c_ts timestamp, c_float4 float4, c_bytea bytea,
	c_empty_arr int[], c_inet_arr inet[], c_macaddr8 macaddr8, c_jsonb jsonb, c_name name
);
ALTER PUBLICATION fixture_pub ADD TABLE binary_edges;
`

var binaryEdgesWorkload = []string{
	`INSERT INTO binary_edges VALUES (1, '::1', '::/0', 'a', '-1 year -2 mons +3 days -04:05:06.789',
		'23:59:59.999999+14', '0.000123', '-12345678901234.5678', 99999, '24:00:00', '23:59:59',
		4294967295, '<a>b</a>', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}',
		'{"1999-12-31 23:59:59.9995",NULL,"1970-01-01 00:00:00"}', '0001-01-01 BC',
		'2024-02-29 13:14:15.5+00', '9999-12-31 23:59:59.999999+00', '4713-01-01 00:00:00 BC',
		'1.17549435e-38', '', '{}', '{::ffff:1.2.3.4,NULL}', '00:00:00:00:00:00:00:00',
		'{"a": [1, 2.50, null], "b": {"c": "é"}}', 'n')`,
	`INSERT INTO binary_edges VALUES (2, '::ffff:1.2.3.4', '2001:db8::/32', chr(233)::"char",
		'0', '00:00:00-05:30', '123456789012345678901234567890.123456789', '0', -5, '00:00:00',
		'12:00:00', 0, '<?xml version="1.0"?><r/>', '{}', '{}', '2000-01-01', '1969-12-31 23:59:59.5+00',
		'1900-01-01 00:00:00.000001+00', '1999-12-31 23:59:59.999999', '-3.4028235e38', '\x00', NULL,
		'{}', 'ff:ff:ff:ff:ff:ff:ff:ff', '[]', '')`,
	`INSERT INTO binary_edges VALUES (3, '::1.2.3.4', '1.2.3.4/32', '', '2 mons -1 days +100:00:00',
		'12:00:00+00', '-0.5', '0.0001', 0, '12:34:56.789', '00:00:01', 1, '', NULL, NULL, '1970-01-01',
		'0001-01-01 00:00:00+00', '2024-06-01 12:00:00-07', '2024-06-01 12:00:00.1', 'NaN', '\xdeadbeef',
		'{}', '{1:0:0:1:0:0:0:1,fe80::1:0:0:0/64}', NULL, '"x"', NULL)`,
	`INSERT INTO binary_edges VALUES (4, '0.0.0.0/0', '10.0.0.0/8', ' ', '-00:00:00.000001', NULL,
		'1e-20', '1e20', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '-Infinity',
		NULL, NULL, '{::ffff:0:0,::,1::,2001:db8:0:0:1:0:0:1,::a:0:0:0:0}', NULL, 'null', NULL)`,
	`INSERT INTO binary_edges VALUES (5, '::0.1.0.0', '::ffff:0.0.0.0/96', NULL,
		'-17800 years 1 mon 5 days 23:59:59.999999', NULL, '-1234.5000', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	`UPDATE binary_edges SET c_numeric = '42' WHERE id = 1`,
	`DELETE FROM binary_edges WHERE id = 2`,
}

// TestDecoderPGOutputBinaryMatchesText reads one slot's worth of changes twice through real
// pgoutput, once in text and once with the binary option, covering every type the PGDecoder
// maps and the values whose spelling is tricky, and checks that the two decode to the same
// messages, value by value: a connector may ask for either format and emit the same records.
func TestDecoderPGOutputBinaryMatchesText(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if _, err := conn.Exec(ctx, decoderFixtureSchema+xmlOrText(t, conn, binaryEdgesSchema, "c_xml xml")); err != nil {
		t.Fatalf("creating the schema: %v", err)
	}
	// Two slots at one point, so that each format reads the same changes.
	var starts [2]pglogrepl.LSN
	var slots [2]string
	var repls [2]*pgconn.PgConn
	for i := range slots {
		repl, err := pgconn.Connect(ctx, db.ReplicationDSN()+decoderSessionParams)
		if err != nil {
			t.Fatalf("opening a replication connection: %v", err)
		}
		t.Cleanup(func() { _ = repl.Close(context.Background()) })
		repls[i], slots[i] = repl, Name(t, "slot")
		created, err := pglogrepl.CreateReplicationSlot(ctx, repl, slots[i], "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication})
		if err != nil {
			t.Fatalf("creating slot %s: %v", slots[i], err)
		}
		if starts[i], err = pglogrepl.ParseLSN(created.ConsistentPoint); err != nil {
			t.Fatalf("parsing the consistent point %q: %v", created.ConsistentPoint, err)
		}
	}
	for _, stmt := range append(append([]string{}, binaryEdgesWorkload...), decoderFixtureWorkload...) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("workload %q: %v", stmt, err)
		}
	}
	var got [2][]decodedMessage
	binaryValues := 0
	for i, format := range []string{"text", "binary"} {
		args := []string{"proto_version '2'", "publication_names 'fixture_pub'", "messages 'true'", "streaming 'on'"}
		if format == "binary" {
			args = append(args, "binary 'true'")
		}
		if err := pglogrepl.StartReplication(ctx, repls[i], slots[i], starts[i], pglogrepl.StartReplicationOptions{PluginArgs: args}); err != nil {
			t.Fatalf("starting replication (%s): %v", format, err)
		}
		dec := decoder.NewPGDecoder(&recordingCatalog{conn: conn, Relations: map[uint32]decoder.PGRelationInfo{},
			Types: map[uint32]decoder.PGTypeInfo{}})
		for {
			data := receiveWALData(ctx, t, repls[i])
			if format == "binary" && (data[0] == 'I' || data[0] == 'U' || data[0] == 'D') {
				// A binary value's tag, then its length's high byte: a rough count, enough to
				// tell that the option took effect.
				binaryValues += bytes.Count(data, []byte{'b', 0})
			}
			m, err := dec.Decode(ctx, data)
			got[i] = append(got[i], decodedMessage{m: m, err: err})
			if err != nil && !errors.Is(err, decoder.ErrPGSpecialValue) {
				t.Fatalf("%s: decoding message %d (%q): %v", format, len(got[i]), data[0], err)
			}
			if m.Kind == decoder.PGLogicalMessage && m.Prefix == "cdcd-end" {
				break
			}
		}
	}
	if binaryValues == 0 {
		t.Fatal("the binary stream carried no binary value: was the option ignored?")
	}
	text, bin := got[0], got[1]
	if len(text) != len(bin) {
		t.Fatalf("text stream has %d messages, binary %d", len(text), len(bin))
	}
	changes := 0
	for i := range text {
		a, b := text[i], bin[i]
		if (a.err == nil) != (b.err == nil) || (a.err != nil && !errors.Is(b.err, decoder.ErrPGSpecialValue)) {
			t.Errorf("message %d: text error %v, binary error %v", i, a.err, b.err)
			continue
		}
		if a.m.Kind != b.m.Kind {
			t.Fatalf("message %d: text %s, binary %s", i, a.m.Kind, b.m.Kind)
		}
		if a.m.Kind != decoder.PGChange || a.err != nil {
			continue
		}
		changes++
		tbl := a.m.Change.Table
		for _, side := range []struct {
			name string
			x, y []decoder.Value
		}{{"before", a.m.Change.Before, b.m.Change.Before}, {"after", a.m.Change.After, b.m.Change.After}} {
			if len(side.x) != len(side.y) {
				t.Errorf("message %d (%s) %s: %d values in text, %d in binary", i, tbl.Name, side.name, len(side.x), len(side.y))
				continue
			}
			for c := range side.x {
				if diff := valueDiff(side.x[c], side.y[c]); diff != "" {
					t.Errorf("message %d: %s.%s (%s) %s: %s", i, tbl.Name, tbl.Columns[c].Name,
						tbl.Columns[c].SourceType, side.name, diff)
				}
			}
		}
	}
	t.Logf("%d messages, %d changes compared; about %d binary values", len(text), changes, binaryValues)
	if changes < 1000 {
		t.Errorf("compared %d changes, want the workload's (over 1000)", changes)
	}
}

type decodedMessage struct {
	m   decoder.PGMessage
	err error
}

// valueDiff says how two decoded values differ ("" when they do not); NaNs are equal.
func valueDiff(x, y decoder.Value) string {
	sameFloat := x.Float == y.Float || (math.IsNaN(x.Float) && math.IsNaN(y.Float))
	if x.State != y.State || x.Int != y.Int || !sameFloat || x.Scale != y.Scale ||
		!bytes.Equal(x.Bytes, y.Bytes) || (x.Bytes == nil) != (y.Bytes == nil) {
		return fmt.Sprintf("text {state %d int %d float %v bytes %q scale %d}, binary {state %d int %d float %v bytes %q scale %d}",
			x.State, x.Int, x.Float, x.Bytes, x.Scale, y.State, y.Int, y.Float, y.Bytes, y.Scale)
	}
	if len(x.Elems) != len(y.Elems) || (x.Elems == nil) != (y.Elems == nil) {
		return fmt.Sprintf("text has %d elements, binary %d", len(x.Elems), len(y.Elems))
	}
	for i := range x.Elems {
		if d := valueDiff(x.Elems[i], y.Elems[i]); d != "" {
			return fmt.Sprintf("element %d: %s", i+1, d)
		}
	}
	return ""
}

// TestDecoderSnapshotBinaryMatchesText is TestDecoderPGOutputBinaryMatchesText for the
// snapshot's decoding (DescribeTable, then DecodeText or DecodeBinary): every row of the
// workload's tables read as text and as binary (COPY's binary format is each type's send
// function's output, as a query's binary results are) decodes to the same values.
func TestDecoderSnapshotBinaryMatchesText(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// The snapshot connection's settings (connectors/postgres).
	if _, err := conn.Exec(ctx, `SET DateStyle = ISO; SET IntervalStyle = iso_8601; SET TimeZone = UTC;
		SET extra_float_digits = 3; SET bytea_output = hex`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, decoderFixtureSchema+xmlOrText(t, conn, binaryEdgesSchema, "c_xml xml")); err != nil {
		t.Fatalf("creating the schema: %v", err)
	}
	for _, stmt := range append(append([]string{}, binaryEdgesWorkload...), decoderFixtureWorkload...) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("workload %q: %v", stmt, err)
		}
	}
	dec := decoder.NewPGDecoder(&recordingCatalog{conn: conn, Relations: map[uint32]decoder.PGRelationInfo{},
		Types: map[uint32]decoder.PGTypeInfo{}})
	compared := 0
	for _, table := range []string{"all_types", "binary_edges", "specials"} {
		var relID uint32
		if err := conn.QueryRow(ctx, `SELECT $1::regclass::oid`, "public."+table).Scan(&relID); err != nil {
			t.Fatal(err)
		}
		var cols []decoder.PGColumnInfo
		rows, err := conn.Query(ctx, `SELECT attname::text, atttypid, atttypmod FROM pg_attribute
			WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, relID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c decoder.PGColumnInfo
			if err := rows.Scan(&c.Name, &c.TypeOID, &c.TypeMod); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, c)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		tbl, err := dec.DescribeTable(ctx, relID, "public", table, cols)
		if err != nil {
			t.Fatalf("describing %s: %v", table, err)
		}
		sql := "SELECT * FROM public." + table + " ORDER BY id"
		text := conn.PgConn().ExecParams(ctx, sql, nil, nil, nil, []int16{0}).Read()
		bin := conn.PgConn().ExecParams(ctx, sql, nil, nil, nil, []int16{1}).Read()
		if text.Err != nil || bin.Err != nil || len(text.Rows) != len(bin.Rows) || len(text.Rows) == 0 {
			t.Fatalf("%s: %d rows in text (%v), %d in binary (%v)", table, len(text.Rows), text.Err, len(bin.Rows), bin.Err)
		}
		var scratch []byte
		for r := range text.Rows {
			tv := make([]decoder.Value, len(cols))
			bv := make([]decoder.Value, len(cols))
			terr := dec.DecodeText(tbl, text.Rows[r], tv)
			berr := dec.DecodeBinary(tbl, bin.Rows[r], bv, &scratch)
			if terr != nil || berr != nil {
				if !errors.Is(terr, decoder.ErrPGSpecialValue) || !errors.Is(berr, decoder.ErrPGSpecialValue) {
					t.Errorf("%s row %d: text error %v, binary error %v", table, r, terr, berr)
				}
				continue
			}
			for c := range tv {
				if diff := valueDiff(tv[c], bv[c]); diff != "" {
					t.Errorf("%s row %d column %s (%s): %s", table, r, cols[c].Name, tbl.Columns[c].SourceType, diff)
				}
			}
			compared++
		}
	}
	t.Logf("%d rows compared", compared)
}
