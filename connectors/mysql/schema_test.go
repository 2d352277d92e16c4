package mysql

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/go-mysql-org/go-mysql/replication"
)

// render describes a table compactly: "v2 charset [id bigint(20) key, note varchar(10) utf8mb4 null]".
func render(t *tableDef) string {
	if t == nil {
		return "<none>"
	}
	var cols []string
	for _, c := range t.Columns {
		s := c.Name + " " + c.Type
		if c.Charset != "" {
			s += " " + c.Charset
		}
		if c.Key {
			s += " key"
		}
		if c.Nullable {
			s += " null"
		}
		if c.HasDefault {
			s += fmt.Sprintf(" default %q", c.Default)
		}
		cols = append(cols, s)
	}
	return fmt.Sprintf("v%d %s [%s]", t.Version, t.Charset, strings.Join(cols, ", "))
}

func TestSchemaApply(t *testing.T) {
	sc := newScope(Config{Databases: []string{"shop"}, Tables: []string{"crm.users"}})
	for _, tc := range []struct {
		name, ddl string
		table     string // the table to render after
		want      string
		dropped   string
		touched   bool
	}{
		{"add column", "ALTER TABLE orders ADD COLUMN note varchar(20) NOT NULL AFTER id", "shop.orders",
			"v2 utf8mb4 [id bigint(20) key, note varchar(20) utf8mb4, qty bigint(20) null]", "", true},
		{"add columns first", "ALTER TABLE orders ADD COLUMN a int FIRST, ADD b text charset latin1 AFTER a", "shop.orders",
			"v2 utf8mb4 [a int(11) null, b text latin1 null, id bigint(20) key, qty bigint(20) null]", "", true},
		{"add columns with defaults", "ALTER TABLE orders ADD a int NOT NULL DEFAULT 5, ADD b varchar(10) DEFAULT 'it''s', " +
			"ADD c timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, ADD d decimal(10,2) NOT NULL DEFAULT -1.5, " +
			"ADD e date NOT NULL DEFAULT '2020-01-01', ADD f tinyint(1) NOT NULL DEFAULT TRUE, ADD g int DEFAULT NULL, " +
			"ADD h datetime(3) NOT NULL DEFAULT '2020-01-01 10:00:00.5', ADD i double NOT NULL DEFAULT 1.5e3", "shop.orders",
			`v2 utf8mb4 [id bigint(20) key, qty bigint(20) null, a int(11) default "5", b varchar(10) utf8mb4 null default "it's", ` +
				`c timestamp, d decimal(10,2) default "-1.5", e date default "2020-01-01", f tinyint(1) default "1", g int(11) null, ` +
				`h datetime(3) default "2020-01-01 10:00:00.5", i double default "1500"]`, "", true},
		{"set and drop default", "ALTER TABLE orders ALTER qty SET DEFAULT 7, ALTER COLUMN id DROP DEFAULT", "shop.orders",
			`v2 utf8mb4 [id bigint(20) key, qty bigint(20) null default "7"]`, "", true},
		{"drop column", "ALTER TABLE shop.orders DROP COLUMN qty", "shop.orders", "v2 utf8mb4 [id bigint(20) key]", "", true},
		{"drop missing column if exists", "ALTER TABLE orders DROP COLUMN IF EXISTS nope", "shop.orders",
			"v1 utf8mb4 [id bigint(20) key, qty bigint(20) null]", "", true},
		{"modify", "ALTER TABLE orders MODIFY qty decimal(10,2) unsigned zerofill FIRST", "shop.orders",
			"v2 utf8mb4 [qty decimal(10,2) unsigned zerofill null, id bigint(20) key]", "", true},
		{"modify key column keeps the key", "ALTER TABLE orders MODIFY id int", "shop.orders",
			"v2 utf8mb4 [id int(11) key, qty bigint(20) null]", "", true},
		{"change", "ALTER TABLE orders CHANGE qty amount enum('a','b''c','d\\\\e') COLLATE latin1_bin", "shop.orders",
			`v2 utf8mb4 [id bigint(20) key, amount enum('a','b''c','d\\e') latin1 null]`, "", true},
		{"rename column", "ALTER TABLE orders RENAME COLUMN qty TO n", "shop.orders",
			"v2 utf8mb4 [id bigint(20) key, n bigint(20) null]", "", true},
		{"convert charset", "ALTER TABLE orders ADD s char(3), CONVERT TO CHARACTER SET latin1", "shop.orders",
			"v2 latin1 [id bigint(20) key, qty bigint(20) null, s char(3) latin1 null]", "", true},
		{"new primary key", "ALTER TABLE orders DROP PRIMARY KEY, ADD PRIMARY KEY (qty)", "shop.orders",
			"v2 utf8mb4 [id bigint(20), qty bigint(20) key]", "", true},
		{"engine only", "ALTER TABLE orders ENGINE=InnoDB", "shop.orders",
			"v1 utf8mb4 [id bigint(20) key, qty bigint(20) null]", "", true},
		{"alter table rename", "ALTER TABLE orders RENAME TO orders2", "shop.orders2",
			"v2 utf8mb4 [id bigint(20) key, qty bigint(20) null]", "shop.orders", true},
		{"rename table", "RENAME TABLE shop.orders TO shop.o2", "shop.o2",
			"v2 utf8mb4 [id bigint(20) key, qty bigint(20) null]", "shop.orders", true},
		{"rename out of the capture", "RENAME TABLE orders TO other.orders", "other.orders", "<none>", "shop.orders", true},
		{"create table", "CREATE TABLE t2 (id int unsigned PRIMARY KEY, y year, b bool, v varbinary(4), d datetime(3), j json, s set('x','y'))",
			"shop.t2", "v1 utf8mb4 [id int(11) unsigned key, y year(4) null, b tinyint(1) null, v varbinary(4) null, d datetime(3) null, j json null, s set('x','y') utf8mb4 null]", "", true},
		{"create table with charset and key", "CREATE TABLE t3 (a varchar(5), b int NOT NULL, PRIMARY KEY (a, b)) DEFAULT CHARSET=latin1",
			"shop.t3", "v1 latin1 [a varchar(5) latin1 key, b int(11) key]", "", true},
		{"create table like", "CREATE TABLE t4 LIKE orders", "shop.t4", "v1 utf8mb4 [id bigint(20) key, qty bigint(20) null]", "", true},
		{"create existing if not exists", "CREATE TABLE IF NOT EXISTS orders (x int)", "shop.orders",
			"v1 utf8mb4 [id bigint(20) key, qty bigint(20) null]", "", true},
		{"create uncaptured", "CREATE TABLE crm.other (x int)", "crm.other", "<none>", "", false},
		{"drop table", "DROP TABLE IF EXISTS orders, nope /* generated by server */", "shop.orders", "<none>", "shop.orders", true},
		{"drop database", "DROP DATABASE shop", "shop.orders", "<none>", "shop.orders", true},
		{"truncate", "TRUNCATE orders", "shop.orders", "v1 utf8mb4 [id bigint(20) key, qty bigint(20) null]", "", true},
		{"uncaptured alter", "ALTER TABLE crm.other ADD x int", "shop.orders", "v1 utf8mb4 [id bigint(20) key, qty bigint(20) null]", "", false},
		{"database charset", "ALTER DATABASE shop CHARACTER SET latin1", "shop.orders", "v1 utf8mb4 [id bigint(20) key, qty bigint(20) null]", "", true},
	} {
		st := newSchemaTracker(testConfig(), testModel())
		after := startPos(t)
		rec, err := st.apply(sc, "shop", tc.ddl, "0-1-11", after)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := render(st.model.Tables[tc.table]); got != tc.want {
			t.Errorf("%s: %s\n got %s\nwant %s", tc.name, tc.table, got, tc.want)
		}
		if (rec != nil) != tc.touched {
			t.Errorf("%s: record %+v, want one: %t", tc.name, rec, tc.touched)
			continue
		}
		if rec != nil && strings.Join(rec.Dropped, ",") != tc.dropped {
			t.Errorf("%s: dropped %v, want %s", tc.name, rec.Dropped, tc.dropped)
		}
		// Every definition the model holds must be one the decoder accepts.
		if _, err := st.capturedTables(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestSchemaApplyDatabaseCharset(t *testing.T) {
	sc := newScope(Config{Databases: []string{"shop"}})
	st := newSchemaTracker(testConfig(), testModel())
	for _, q := range []string{"ALTER DATABASE shop CHARACTER SET latin1", "CREATE TABLE t (s text)"} {
		if _, err := st.apply(sc, "shop", q, "0-1-11", startPos(t)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if got := render(st.model.Tables["shop.t"]); got != "v1 latin1 [s text latin1 null]" {
		t.Errorf("a table created after the database's charset changed: %s", got)
	}
}

func TestSchemaApplyErrors(t *testing.T) {
	sc := newScope(Config{Databases: []string{"shop"}})
	for _, tc := range []struct {
		ddl  string
		want error
	}{
		{"ALTER TABLE orders DROP COLUMN nope", ErrDDLUnsupported},
		{"ALTER TABLE orders ADD COLUMN qty int", ErrDDLUnsupported},
		{"ALTER TABLE orders ADD COLUMN x int AFTER nope", ErrDDLUnsupported},
		{"ALTER TABLE missing ADD x int", ErrDDLUnsupported},
		{"CREATE TABLE t LIKE crm.uncaptured", ErrDDLUnsupported},
		{"RENAME TABLE crm.x TO shop.x", ErrDDLUnsupported},
		{"CREATE OR REPLACE TABLE t (id int)", ErrDDLUnparseable},
		{"ALTER TABLE orders ADD COLUMN ???", ErrDDLUnparseable},
	} {
		m := testModel()
		st := newSchemaTracker(testConfig(), m)
		_, err := st.apply(sc, "shop", tc.ddl, "0-1-11", startPos(t))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.ddl, err, tc.want)
		}
		if got := render(st.model.Tables["shop.orders"]); got != "v1 utf8mb4 [id bigint(20) key, qty bigint(20) null]" {
			t.Errorf("%s: the model changed on error: %s", tc.ddl, got)
		}
	}
	// Skipping unparseable DDL: no record, no error, the schema as it was.
	cfg := testConfig()
	cfg.UnparseableDDL = UnparseableDDLSkip
	st := newSchemaTracker(cfg, testModel())
	rec, err := st.apply(sc, "shop", "ALTER TABLE orders ADD COLUMN ???", "0-1-11", startPos(t))
	if err != nil || rec != nil || len(st.model.Tables["shop.orders"].Columns) != 2 {
		t.Errorf("skipped unparseable DDL: %v, %v", rec, err)
	}
}

func TestAssemblerUnparseableDDL(t *testing.T) {
	b := &binlog{pos: 1000}
	evs, err := run(t, startPos(t), 0, []*replication.BinlogEvent{
		b.gtid(11), b.query("shop", "ALTER TABLE orders ADD COLUMN x int"),
		b.gtid(12), b.query("shop", "ALTER TABLE orders ADD ??? garbage"),
	})
	var de *DDLError
	if !errors.Is(err, ErrDDLUnparseable) || !errors.As(err, &de) || de.Table != "shop.orders" || de.GTID != "0-1-12" ||
		!strings.Contains(err.Error(), "ADD ??? garbage") || !strings.Contains(err.Error(), "UnparseableDDLSkip") {
		t.Fatalf("unparseable DDL: %v", err)
	}
	if len(evs) != 3 {
		t.Errorf("the DDL before it is delivered: %d events", len(evs))
	}
	// An unsupported column type in a DDL stops the stream too.
	b = &binlog{pos: 1000}
	_, err = run(t, startPos(t), 0, []*replication.BinlogEvent{b.gtid(11), b.query("shop", "ALTER TABLE orders ADD g vector(3)")})
	if !errors.Is(err, ErrDDLUnsupported) || !errors.Is(err, decoder.ErrMySQLUnsupportedType) {
		t.Errorf("unsupported type: %v", err)
	}
}

func TestHistoryRecordRoundTrip(t *testing.T) {
	m := testModel()
	snap := snapshotRecord(m, startPos(t), time.UnixMilli(1700000000000))
	r, err := encodeHistory("h", "conn", snap)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeHistory(r.Value)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != historySnapshot || got.pos.String() != startPos(t).String() || len(got.Tables) != 1 ||
		render(got.Tables[0]) != render(m.Tables["shop.orders"]) || got.Databases["shop"] != "utf8mb4" || got.ServerCharset != "latin1" {
		t.Errorf("round trip: %s", r.Value)
	}
	for _, bad := range []string{
		`{}`, `{"kind":"snapshot","position":{}}`, `nonsense`,
		`{"kind":"what","position":{"flavor":"mariadb","gtids":"0-1-1"},"tables":[]}`,
		`{"kind":"ddl","position":{"flavor":"mariadb","gtids":"0-1-1"},"tables":[{"database":"a","name":"b","version":0,"columns":[]}]}`,
		`{"kind":"ddl","position":{"flavor":"mariadb","gtids":"0-1-1"},"tables":[],"extra":1}`,
	} {
		if _, err := decodeHistory([]byte(bad)); !errors.Is(err, ErrHistoryCorrupt) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestRebuildSchema(t *testing.T) {
	sc := newScope(Config{Databases: []string{"shop"}})
	at := func(seq int) Position {
		return Position{GTIDs: mustSet(t, FlavorMariaDB, fmt.Sprintf("0-1-%d", seq)), File: "mysql-bin.000007", Pos: uint64(1000 + seq)}
	}
	st := newSchemaTracker(testConfig(), testModel())
	recs := []*historyRecord{snapshotRecord(st.model, at(10), time.Now())}
	for i, q := range []string{"ALTER TABLE orders ADD a int", "ALTER TABLE orders ADD b int", "RENAME TABLE orders TO o2"} {
		rec, err := st.apply(sc, "shop", q, fmt.Sprintf("0-1-%d", 11+i), at(11+i))
		if err != nil {
			t.Fatal(err)
		}
		// Through the wire form, as Stream reads them.
		r, _ := encodeHistory("h", "conn", rec)
		if recs = append(recs, nil); true {
			if recs[len(recs)-1], err = decodeHistory(r.Value); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		resume Position
		want   string
	}{
		{at(10), "v1 utf8mb4 [id bigint(20) key, qty bigint(20) null]"},
		{at(11), "v2 utf8mb4 [id bigint(20) key, qty bigint(20) null, a int(11) null]"},
		// Inside transaction 0-1-12 (its record committed with Skip=1): the record is after.
		{Position{GTIDs: at(11).GTIDs, File: "mysql-bin.000007", Pos: 1011, Tx: "0-1-12"}, "v2 utf8mb4 [id bigint(20) key, qty bigint(20) null, a int(11) null]"},
		{at(12), "v3 utf8mb4 [id bigint(20) key, qty bigint(20) null, a int(11) null, b int(11) null]"},
		{at(20), "<none>"},
	} {
		m, err := rebuildSchema(recs, tc.resume)
		if err != nil {
			t.Fatalf("%s: %v", tc.resume, err)
		}
		if got := render(m.Tables["shop.orders"]); got != tc.want {
			t.Errorf("as of %s: %s, want %s", tc.resume, got, tc.want)
		}
	}
	if m, _ := rebuildSchema(recs, at(13)); render(m.Tables["shop.o2"]) != "v4 utf8mb4 [id bigint(20) key, qty bigint(20) null, a int(11) null, b int(11) null]" {
		t.Errorf("after the rename: %v", m.Tables)
	}
	if _, err := rebuildSchema(recs, at(9)); !errors.Is(err, ErrHistoryMissing) {
		t.Errorf("before the snapshot: %v", err)
	}
	if _, err := rebuildSchema(recs[1:], at(13)); !errors.Is(err, ErrHistoryCorrupt) {
		t.Errorf("DDL without a snapshot: %v", err)
	}
	if _, err := rebuildSchema(nil, at(13)); !errors.Is(err, ErrHistoryMissing) {
		t.Errorf("empty history: %v", err)
	}
}

func FuzzDecodeHistory(f *testing.F) {
	f.Add([]byte(`{"kind":"snapshot","position":{"flavor":"mariadb","gtids":"0-1-10"},"tables":[{"database":"shop","name":"orders","version":1,"columns":[{"name":"id","type":"int(11)","key":true}]}],"ts_ms":1}`))
	f.Add([]byte(`{"kind":"ddl","position":{"flavor":"mysql","gtids":"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"},"ddl":"ALTER TABLE t ADD x int","tables":[],"dropped":["a.b"],"ts_ms":1}`))
	f.Add([]byte(`{"kind":"ddl","position":null,"tables":[null]}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		r, err := decodeHistory(value)
		if err != nil {
			return
		}
		// A record that decodes rebuilds without panicking.
		if _, err := rebuildSchema([]*historyRecord{r}, r.pos); err != nil && !errors.Is(err, ErrHistoryCorrupt) && !errors.Is(err, ErrHistoryMissing) {
			t.Fatalf("rebuild: %v", err)
		}
	})
}

func TestInfoSchemaDefault(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		def       *string
		generated bool
		want      string
		ok        bool
	}{
		{nil, false, "", false},
		{str("5"), false, "5", true},
		{str("'it''s'"), false, "it's", true},
		{str(`'a\\b'`), false, `a\b`, true},
		{str("''"), false, "", true},
		{str("NULL"), false, "", false},
		{str("'NULL'"), false, "NULL", true},
		{str("current_timestamp()"), false, "", false},
		{str("CURRENT_TIMESTAMP"), false, "", false},
		{str("abc"), false, "abc", true},         // MySQL: unquoted literal
		{str("(rand() * 10)"), false, "", false}, // MariaDB expression
		{str("rand() * 10"), true, "", false},    // MySQL expression: EXTRA says DEFAULT_GENERATED
		{str("-1.50"), false, "-1.50", true},
	} {
		got, ok := infoSchemaDefault(tc.def, tc.generated)
		if got != tc.want || ok != tc.ok {
			d := "<nil>"
			if tc.def != nil {
				d = *tc.def
			}
			t.Errorf("infoSchemaDefault(%s, %v) = %q, %v; want %q, %v", d, tc.generated, got, ok, tc.want, tc.ok)
		}
	}
}
