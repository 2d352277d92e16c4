package mysql

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// binlog builds event sequences as a MariaDB server sends them.
type binlog struct {
	pos uint32
}

func (b *binlog) ev(t replication.EventType, size uint32, e replication.Event) *replication.BinlogEvent {
	b.pos += size
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: t, EventSize: size, LogPos: b.pos,
		ServerID: 1, Timestamp: 1700000000}, Event: e}
}

func (b *binlog) gtid(seq uint64) *replication.BinlogEvent {
	return b.ev(replication.MARIADB_GTID_EVENT, 40, &replication.MariadbGTIDEvent{
		GTID: mysql.MariadbGTID{DomainID: 0, ServerID: 1, SequenceNumber: seq}})
}

func (b *binlog) query(db, q string) *replication.BinlogEvent {
	return b.ev(replication.QUERY_EVENT, 60, &replication.QueryEvent{Schema: []byte(db), Query: []byte(q)})
}

func (b *binlog) rows(t replication.EventType, table string, rows ...[]any) *replication.BinlogEvent {
	db, name, _ := strings.Cut(table, ".")
	return b.ev(t, 100, &replication.RowsEvent{Table: &replication.TableMapEvent{Schema: []byte(db), Table: []byte(name)}, Rows: rows})
}

func (b *binlog) xid() *replication.BinlogEvent {
	return b.ev(replication.XID_EVENT, 31, &replication.XIDEvent{XID: 9})
}

// testModel is the schemas of the tests: shop.orders (id, qty), captured, version 1.
func testModel() *schemaModel {
	m := newSchemaModel()
	m.ServerCharset = "latin1"
	m.Databases["shop"] = "utf8mb4"
	m.Tables["shop.orders"] = &tableDef{Database: "shop", Name: "orders", Charset: "utf8mb4", Version: 1,
		Columns: []columnDef{{Name: "id", Type: "bigint(20)", Key: true}, {Name: "qty", Type: "bigint(20)", Nullable: true}}}
	return m
}

func testConfig() Config {
	return Config{Name: "conn", Tables: []string{"shop.orders"}, HistoryTopic: "conn.schema-history"}
}

func row(id, qty int64) []any { return []any{id, qty} }

// sample is two transactions with captured rows around one without: GTIDs 0-1-11 (an insert
// event of two rows and an update), 0-1-12 (another table only), 0-1-13 (a delete).
func sample() []*replication.BinlogEvent {
	b := &binlog{pos: 1000}
	rot := &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.ROTATE_EVENT},
		Event: &replication.RotateEvent{NextLogName: []byte("mysql-bin.000007"), Position: 4}}
	return []*replication.BinlogEvent{
		rot,
		b.gtid(11), b.query("shop", "BEGIN"),
		b.rows(replication.WRITE_ROWS_EVENTv1, "shop.orders", row(1, 5), row(2, 6)),
		b.rows(replication.WRITE_ROWS_EVENTv1, "shop.other", row(9, 9)),
		b.rows(replication.UPDATE_ROWS_EVENTv1, "shop.orders", row(1, 5), row(1, 7)),
		b.xid(),
		b.gtid(12), b.query("shop", "BEGIN"), b.rows(replication.WRITE_ROWS_EVENTv1, "shop.other", row(3, 3)), b.xid(),
		b.gtid(13), b.query("shop", "BEGIN"), b.rows(replication.DELETE_ROWS_EVENTv1, "shop.orders", row(2, 6)), b.xid(),
	}
}

func run(t *testing.T, from Position, skip int64, events []*replication.BinlogEvent) ([]connectors.Event, error) {
	t.Helper()
	cfg := testConfig()
	a, err := newAssembler(newScope(cfg), newSchemaTracker(cfg, testModel()), from, skip)
	if err != nil {
		t.Fatal(err)
	}
	var out []connectors.Event
	for _, ev := range events {
		if err := a.handle(ev, func(e connectors.Event) error { out = append(out, e); return nil }); err != nil {
			return out, err
		}
	}
	return out, nil
}

// describe renders events compactly: B(pos) c:1,5 ... C(pos).
func describe(t *testing.T, evs []connectors.Event) []string {
	var out []string
	for _, e := range evs {
		switch e.Kind {
		case connectors.EventBegin, connectors.EventCommit:
			p, skip, err := decodePosition(e.Position)
			if err != nil {
				t.Fatal(err)
			}
			k := "C"
			if e.Kind == connectors.EventBegin {
				k = "B"
			}
			out = append(out, fmt.Sprintf("%s %s %s:%d tx=%s skip=%d", k, p.GTIDs, p.File, p.Pos, p.Tx, skip))
		case connectors.EventChange:
			c := e.Change
			s := fmt.Sprintf("%s row=%d gtid=%s pos=%d", c.Op, SourceRow(&c.Source), SourceGTID(&c.Source), SourcePos(&c.Source))
			if len(c.Before) == 2 {
				s += fmt.Sprintf(" before=%d,%d", c.Before[0].Int, c.Before[1].Int)
			}
			if len(c.After) == 2 {
				s += fmt.Sprintf(" after=%d,%d", c.After[0].Int, c.After[1].Int)
			}
			out = append(out, s)
		}
	}
	return out
}

func startPos(t *testing.T) Position {
	return Position{GTIDs: mustSet(t, FlavorMariaDB, "0-1-10"), File: "mysql-bin.000007", Pos: 1000}
}

func TestAssemblerTransactions(t *testing.T) {
	evs, err := run(t, startPos(t), 0, sample())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"B 0-1-10 mysql-bin.000007:1000 tx=0-1-11 skip=0",
		"c row=0 gtid=0-1-11 pos=1100 after=1,5",
		"c row=1 gtid=0-1-11 pos=1100 after=2,6",
		"u row=0 gtid=0-1-11 pos=1300 before=1,5 after=1,7",
		"C 0-1-11 mysql-bin.000007:1431 tx= skip=0",
		// 0-1-12 has no captured row: nothing, but the next positions include it.
		"B 0-1-12 mysql-bin.000007:1662 tx=0-1-13 skip=0",
		"d row=0 gtid=0-1-13 pos=1762 before=2,6",
		"C 0-1-13 mysql-bin.000007:1893 tx= skip=0",
	}
	got := describe(t, evs)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c := evs[1].Change
	if SourceFile(&c.Source) != "mysql-bin.000007" || SourceServerID(&c.Source) != 1 || c.Source.CommitTime.Unix() != 1700000000 || c.Table.Name != "orders" {
		t.Errorf("source of the first change: %+v", c.Source)
	}
}

func TestAssemblerResumeInsideTransaction(t *testing.T) {
	for skip := int64(0); skip <= 3; skip++ {
		from := startPos(t)
		from.Tx = "0-1-11"
		evs, err := run(t, from, skip, sample())
		if err != nil {
			t.Fatalf("skip %d: %v", skip, err)
		}
		got := describe(t, evs)
		if got[0] != fmt.Sprintf("B 0-1-10 mysql-bin.000007:1000 tx=0-1-11 skip=%d", skip) {
			t.Errorf("skip %d: begin %s", skip, got[0])
		}
		// 3 captured changes, of which skip are dropped, then the commit and the next transaction.
		if changes := len(got) - 1 - 4; changes != int(3-skip) {
			t.Errorf("skip %d: %d changes delivered:\n%s", skip, changes, strings.Join(got, "\n"))
		}
		if skip == 2 && !strings.HasPrefix(got[1], "u row=0") {
			t.Errorf("skip 2 delivers %s first, want the update", got[1])
		}
	}
	from := startPos(t)
	from.Tx = "0-1-11"
	if _, err := run(t, from, 4, sample()); !errors.Is(err, ErrBadPosition) {
		t.Errorf("skip beyond the transaction: %v", err)
	}
	from.Tx = "0-1-99"
	if _, err := run(t, from, 1, sample()); !errors.Is(err, ErrResumeTxMissing) {
		t.Errorf("resume transaction missing: %v", err)
	}
}

func TestAssemblerDDL(t *testing.T) {
	// A DDL on a captured table: its own transaction, with the history record as its one
	// change; the rows after it decode with the new schema.
	b := &binlog{pos: 1000}
	evs, err := run(t, startPos(t), 0, []*replication.BinlogEvent{
		b.gtid(11), b.query("shop", "ALTER TABLE orders ADD COLUMN note varchar(10) AFTER id"),
		b.gtid(12), b.query("shop", "BEGIN"), b.rows(replication.WRITE_ROWS_EVENTv1, "shop.orders", []any{int64(1), "hi", int64(5)}), b.xid(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 6 || evs[0].Kind != connectors.EventBegin || evs[1].Kind != connectors.EventRecord || evs[2].Kind != connectors.EventCommit {
		t.Fatalf("events %v", evs)
	}
	rec, err := decodeHistory(evs[1].Record.Value)
	if err != nil {
		t.Fatal(err)
	}
	commit, _, _ := decodePosition(evs[2].Position)
	if evs[1].Record.Topic != "conn.schema-history" || string(evs[1].Record.Key) != "conn" || rec.Kind != historyDDL ||
		rec.GTID != "0-1-11" || rec.pos.String() != commit.String() || len(rec.Tables) != 1 || rec.Tables[0].Version != 2 {
		t.Errorf("history record %s at %s", evs[1].Record.Value, commit)
	}
	ch := evs[4].Change
	if ch.Table.Version != 2 || len(ch.After) != 3 || ch.Table.Columns[1].Name != "note" || string(ch.After[1].Bytes) != "hi" {
		t.Errorf("row after the DDL: table %+v values %+v", ch.Table, ch.After)
	}
	// Resuming inside the DDL's transaction with its record delivered: the schema changes,
	// the record is not sent again.
	b = &binlog{pos: 1000}
	from := startPos(t)
	from.Tx = "0-1-11"
	evs, err = run(t, from, 1, []*replication.BinlogEvent{
		b.gtid(11), b.query("shop", "ALTER TABLE orders DROP COLUMN qty"),
		b.gtid(12), b.query("shop", "BEGIN"), b.rows(replication.WRITE_ROWS_EVENTv1, "shop.orders", []any{int64(1)}), b.xid(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(t, evs); len(got) != 5 || got[0] != "B 0-1-10 mysql-bin.000007:1000 tx=0-1-11 skip=1" ||
		!strings.HasPrefix(got[1], "C 0-1-11") || evs[3].Change.Table.Version != 2 {
		t.Errorf("resuming inside the DDL:\n%s", strings.Join(got, "\n"))
	}
	// DDL on another table is its own transaction, with no events; the next commit includes it.
	b = &binlog{pos: 1000}
	evs, err = run(t, startPos(t), 0, []*replication.BinlogEvent{
		b.gtid(11), b.query("shop", "CREATE TABLE other2 (id int)"),
		b.gtid(12), b.query("shop", "BEGIN"), b.rows(replication.WRITE_ROWS_EVENTv1, "shop.orders", row(1, 1)), b.xid(),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := describe(t, evs)
	if len(got) != 3 || got[0] != "B 0-1-11 mysql-bin.000007:1100 tx=0-1-12 skip=0" || got[2] != "C 0-1-12 mysql-bin.000007:1331 tx= skip=0" {
		t.Errorf("after an uncaptured DDL:\n%s", strings.Join(got, "\n"))
	}
}

func TestAssemblerProtocolErrors(t *testing.T) {
	b := &binlog{pos: 1000}
	for name, evs := range map[string][]*replication.BinlogEvent{
		"rows outside a transaction": {b.rows(replication.WRITE_ROWS_EVENTv1, "shop.orders", row(1, 1))},
		"GTID inside a transaction":  {b.gtid(11), b.query("shop", "BEGIN"), b.gtid(12)},
		"commit outside":             {b.xid()},
		"wrong column count":         {b.gtid(11), b.query("shop", "BEGIN"), b.rows(replication.WRITE_ROWS_EVENTv1, "shop.orders", []any{int64(1)})},
		"odd update images":          {b.gtid(11), b.query("shop", "BEGIN"), b.rows(replication.UPDATE_ROWS_EVENTv1, "shop.orders", row(1, 1))},
	} {
		if _, err := run(t, startPos(t), 0, evs); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", name, err)
		}
	}
}

func TestAssemblerMySQLDropsKnownTransactions(t *testing.T) {
	sid := []byte{0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62}
	b := &binlog{pos: 1000}
	g := func(gno int64) *replication.BinlogEvent {
		return b.ev(replication.GTID_EVENT, 79, &replication.GTIDEvent{SID: sid, GNO: gno})
	}
	from := Position{GTIDs: mustSet(t, FlavorMySQL, uuidA+":1-5:7"), File: "binlog.000001", Pos: 1000}
	evs, err := run(t, from, 0, []*replication.BinlogEvent{
		g(7), b.query("shop", "BEGIN"), b.rows(replication.WRITE_ROWS_EVENTv2, "shop.orders", row(1, 1)), b.xid(),
		g(6), b.query("shop", "BEGIN"), b.rows(replication.WRITE_ROWS_EVENTv2, "shop.orders", row(2, 2)), b.xid(),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := describe(t, evs)
	if len(got) != 3 || !strings.Contains(got[1], "after=2,2") || !strings.HasPrefix(got[2], "C "+uuidA+":1-7 ") {
		t.Errorf("MySQL events:\n%s", strings.Join(got, "\n"))
	}
}
