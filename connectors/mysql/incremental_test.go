package mysql

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/rs/zerolog"
)

func TestIncrementalProgressRoundTrip(t *testing.T) {
	set := mustSet(t, FlavorMariaDB, "0-1-100")
	for _, inc := range []*IncrementalProgress{
		{ID: "s1", Tables: []string{"shop.orders", "shop.pairs"}},
		{ID: "s1", Tables: []string{"shop.pairs"}, After: []string{"3", "b7"}, Max: []string{"29", "b9"}},
		{ID: "s1", Tables: []string{"shop.orders"}, Max: []string{"6000"}},
	} {
		for _, p := range []Position{
			{GTIDs: set, File: "mysql-bin.000004", Pos: 900, Incremental: inc},
			{GTIDs: set, File: "mysql-bin.000004", Pos: 800, Tx: "0-1-101", Incremental: inc},
		} {
			s := p.String()
			back, err := ParsePosition(s)
			if err != nil {
				t.Fatalf("ParsePosition(%s): %v", s, err)
			}
			if back.String() != s || !reflect.DeepEqual(back.Incremental, inc) {
				t.Errorf("round trip of %s gives %s", s, back)
			}
		}
	}
	// A chunk's Begin stored with a Skip (the pipeline cut it): read again whole.
	chunkBegin := Position{GTIDs: set, File: "f.000001", Pos: 4, Incremental: &IncrementalProgress{ID: "s", Tables: []string{"a.b"}}}
	if _, skip, err := decodePosition(chunkBegin.encode(5)); err != nil || skip != 0 {
		t.Errorf("chunk Begin with skip: skip %d, %v", skip, err)
	}
	base := `{"flavor":"mariadb","gtids":"0-1-1","file":"f.000001","pos":4,`
	for _, bad := range []string{
		`"incremental":{"id":"","tables":["a.b"]}}`,
		`"incremental":{"id":"` + strings.Repeat("x", snapshot.MaxSignalID+1) + `","tables":["a.b"]}}`,
		`"incremental":{"id":"s","tables":[]}}`,
		`"incremental":{"id":"s","tables":["ab"]}}`,
		`"incremental":{"id":"s","tables":["a.b","a.b"]}}`,
		`"incremental":{"id":"s","tables":["a.b"],"after":["1"]}}`,
		`"incremental":{"id":"s","tables":["a.b"],"after":["1"],"max":["1","2"]}}`,
		`"incremental":{"id":"s","tables":["a.b"],"max":[]}}`,
		`"incremental":{"id":"s","tables":["a.b"],"x":1}}`,
		`"snapshot":{"table":"a.b"},"incremental":{"id":"s","tables":["a.b"]}}`,
	} {
		if _, err := ParsePosition(base + bad); !errors.Is(err, ErrBadPosition) {
			t.Errorf("ParsePosition(%s): %v, want ErrBadPosition", bad, err)
		}
	}
}

func TestBinlogPointReached(t *testing.T) {
	p := func(f string, pos uint64) binlogPoint { return binlogPoint{file: f, pos: pos} }
	for _, tc := range []struct {
		at, s binlogPoint
		want  bool
	}{
		{p("mysql-bin.000004", 900), p("mysql-bin.000004", 900), true},  // equal counts as reached
		{p("mysql-bin.000004", 901), p("mysql-bin.000004", 900), true},  // past it
		{p("mysql-bin.000004", 899), p("mysql-bin.000004", 900), false}, // before it
		{p("mysql-bin.000004", 99999), p("mysql-bin.000005", 385), false},
		{p("mysql-bin.000005", 4), p("mysql-bin.000004", 99999), true}, // rotated past it
		{p("mysql-bin.000009", 4), p("mysql-bin.000010", 4), false},    // numeric, not textual order
		{p("mysql-bin.000010", 4), p("mysql-bin.000009", 500), true},
		{p("other.000009", 500), p("mysql-bin.000009", 500), false}, // another binlog: never
		{p("", 0), p("mysql-bin.000001", 4), false},
	} {
		if got := tc.at.reached(tc.s); got != tc.want {
			t.Errorf("%s reached %s = %v, want %v", tc.at, tc.s, got, tc.want)
		}
	}
	at := p("mysql-bin.000004", 900)
	at.advance(p("mysql-bin.000004", 4)) // a fake rotate at a resume: never backwards
	if at != p("mysql-bin.000004", 900) {
		t.Errorf("advance moved back to %s", at)
	}
	at.advance(p("mysql-bin.000005", 4))
	if at != p("mysql-bin.000005", 4) {
		t.Errorf("advance over a rotate gives %s", at)
	}
}

// signalTable is a signal table's description, its columns in an unusual order.
func signalTable(t *testing.T) *decoder.Table {
	def := &tableDef{Database: "shop", Name: "cdcd_signal", Charset: "utf8mb4", Version: 1, Columns: []columnDef{
		{Name: "type", Type: "varchar(32)", Charset: "utf8mb4"}, {Name: "id", Type: "varchar(42)", Charset: "utf8mb4", Key: true},
		{Name: "data", Type: "varchar(2048)", Charset: "utf8mb4", Nullable: true}}}
	ct, err := def.decoderTable()
	if err != nil {
		t.Fatal(err)
	}
	return ct.table
}

func text(s string) decoder.Value { return decoder.Value{State: decoder.ValueSet, Bytes: []byte(s)} }

func TestParseSignal(t *testing.T) {
	table := signalTable(t)
	for _, tc := range []struct {
		name           string
		kind, id, data string
		want           []string
		bad            bool
	}{
		{"execute", "execute-snapshot", "s1", `{"data-collections": ["shop.orders", "shop.pairs"], "type": "incremental"}`, []string{"shop.orders", "shop.pairs"}, false},
		{"type omitted", "execute-snapshot", "s1", `{"data-collections": ["shop.orders"]}`, []string{"shop.orders"}, false},
		{"type case", "execute-snapshot", "s1", `{"data-collections": ["shop.orders"], "type": "INCREMENTAL"}`, []string{"shop.orders"}, false},
		{"stop all", "stop-snapshot", "s2", `{"type": "incremental"}`, nil, false},
		{"stop without data", "stop-snapshot", "s2", ``, nil, false},
		{"blocking", "execute-snapshot", "s1", `{"data-collections": ["shop.orders"], "type": "blocking"}`, nil, true},
		{"no tables", "execute-snapshot", "s1", `{"type": "incremental"}`, nil, true},
		{"not json", "execute-snapshot", "s1", `shop.orders`, nil, true},
		{"unknown type", "pause-snapshot", "s1", `{}`, nil, true},
		{"no id", "execute-snapshot", "", `{"data-collections": ["shop.orders"]}`, nil, true},
		{"long id", "execute-snapshot", strings.Repeat("i", snapshot.MaxSignalID+1), `{"data-collections": ["shop.orders"]}`, nil, true},
	} {
		sig, err := snapshot.ParseSignal(table, []decoder.Value{text(tc.kind), text(tc.id), text(tc.data)})
		switch {
		case tc.bad && !errors.Is(err, snapshot.ErrSignal):
			t.Errorf("%s: accepted: %+v", tc.name, sig)
		case !tc.bad && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.bad && (sig.ID != tc.id || sig.Kind != tc.kind || !reflect.DeepEqual(sig.Tables, tc.want)):
			t.Errorf("%s: %+v", tc.name, sig)
		}
	}
}

// incrementalConfig is testConfig with a signal table and a second captured table.
func incrementalConfig() Config {
	c := testConfig()
	c.Tables = append(c.Tables, "shop.lines")
	c.SignalTable = "shop.cdcd_signal"
	return c
}

func TestIncrementalSignals(t *testing.T) {
	var logs bytes.Buffer
	inc := newIncremental(FlavorMariaDB, newScope(incrementalConfig()), zerolog.New(&logs), nil)
	sig := func(id, kind, data string) {
		inc.signalled(signalTable(t), []decoder.Value{text(kind), text(id), text(data)})
	}

	sig("s1", snapshot.SignalExecute, `{"data-collections": ["shop.orders", "shop.nope", "shop.cdcd_signal", "orders"]}`)
	if inc.prog != nil {
		t.Fatalf("a signal applied before its commit: %+v", inc.prog)
	}
	inc.committed()
	if inc.prog == nil || inc.prog.ID != "s1" || !reflect.DeepEqual(inc.prog.Tables, []string{"shop.orders"}) {
		t.Fatalf("after execute: %+v", inc.prog)
	}
	for _, want := range []string{"not captured by this connector", "the signal table is not captured", "not database.table"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	inc.prog.After, inc.prog.Max = []string{"5"}, []string{"9"}

	sig("s2", snapshot.SignalExecute, `{"data-collections": ["shop.lines", "shop.orders"]}`)
	inc.committed()
	if want := (&IncrementalProgress{ID: "s1", Tables: []string{"shop.orders", "shop.lines"}, After: []string{"5"}, Max: []string{"9"}}); !reflect.DeepEqual(inc.prog, want) {
		t.Fatalf("after adding: %+v", inc.prog)
	}

	sig("s3", snapshot.SignalStop, `{"data-collections": ["shop.orders"]}`)
	inc.aborted() // its transaction is not delivered
	inc.committed()
	if len(inc.prog.Tables) != 2 {
		t.Fatalf("an aborted stop applied: %+v", inc.prog)
	}
	sig("s4", snapshot.SignalStop, `{"data-collections": ["shop.orders"]}`)
	inc.committed()
	if want := (&IncrementalProgress{ID: "s1", Tables: []string{"shop.lines"}}); !reflect.DeepEqual(inc.prog, want) {
		t.Fatalf("after stopping the current table: %+v", inc.prog)
	}
	sig("s5", snapshot.SignalStop, ``)
	inc.committed()
	if inc.prog != nil {
		t.Fatalf("after stopping all: %+v", inc.prog)
	}
}

func TestIncrementalRefusedOnMySQL(t *testing.T) {
	var logs bytes.Buffer
	inc := newIncremental(FlavorMySQL, newScope(incrementalConfig()), zerolog.New(&logs), nil)
	inc.signalled(signalTable(t), []decoder.Value{text(snapshot.SignalExecute), text("s1"), text(`{"data-collections": ["shop.orders"]}`)})
	inc.committed()
	if inc.prog != nil || inc.needsChunk() {
		t.Fatalf("MySQL started an incremental snapshot: %+v", inc.prog)
	}
	if !strings.Contains(logs.String(), "need MariaDB") || !strings.Contains(logs.String(), `"level":"error"`) {
		t.Errorf("log: %s", logs.String())
	}
}

// incrementalAssembler is an assembler of incrementalConfig over testModel with the signal
// table, starting at mysql-bin.000007:1000.
func incrementalAssembler(t *testing.T, resume *IncrementalProgress) *assembler {
	t.Helper()
	cfg := incrementalConfig()
	m := testModel()
	m.Tables["shop.cdcd_signal"] = &tableDef{Database: "shop", Name: "cdcd_signal", Charset: "utf8mb4", Version: 1, Columns: []columnDef{
		{Name: "id", Type: "varchar(42)", Charset: "utf8mb4", Key: true}, {Name: "type", Type: "varchar(32)", Charset: "utf8mb4"},
		{Name: "data", Type: "varchar(2048)", Charset: "utf8mb4", Nullable: true}}}
	from := Position{GTIDs: mustSet(t, FlavorMariaDB, "0-1-10"), File: "mysql-bin.000007", Pos: 1000}
	a, err := newAssembler(newScope(cfg), newSchemaTracker(cfg, m), from, 0)
	if err != nil {
		t.Fatal(err)
	}
	a.inc = newIncremental(FlavorMariaDB, a.scope, zerolog.Nop(), resume)
	return a
}

func feed(t *testing.T, a *assembler, out *[]connectors.Event, events ...*replication.BinlogEvent) {
	t.Helper()
	for _, ev := range events {
		if err := a.handle(ev, func(e connectors.Event) error { *out = append(*out, e); return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

func incOf(t *testing.T, e connectors.Event) *IncrementalProgress {
	t.Helper()
	p, _, err := decodePosition(e.Position)
	if err != nil {
		t.Fatal(err)
	}
	return p.Incremental
}

// Signal rows are neither emitted nor counted by Skip; the signal applies at its commit,
// whose position carries the new progress, as every later position does.
func TestAssemblerSignalRows(t *testing.T) {
	a := incrementalAssembler(t, nil)
	b := &binlog{pos: 1000}
	sigRow := []any{"s1", "execute-snapshot", `{"data-collections": ["shop.orders"]}`}
	var out []connectors.Event
	feed(t, a, &out, b.gtid(11), b.query("shop", "BEGIN"),
		b.rows(replication.WRITE_ROWS_EVENTv1, "shop.cdcd_signal", sigRow),
		b.rows(replication.WRITE_ROWS_EVENTv1, "shop.orders", row(1, 5)),
		b.xid())
	if len(out) != 3 || out[1].Kind != connectors.EventChange || out[1].Change.Table.Name != "orders" {
		t.Fatalf("events: %v", describe(t, out))
	}
	if incOf(t, out[0]) != nil {
		t.Errorf("the Begin carries progress before the signal's commit")
	}
	if p := incOf(t, out[2]); p == nil || p.ID != "s1" {
		t.Errorf("the Commit carries %+v, want the new snapshot", p)
	}
	// Resuming inside that transaction with Skip=1 skips the orders row, not the signal.
	a = incrementalAssembler(t, nil)
	a.resumeTx, a.resumeSkip = "0-1-11", 1
	b = &binlog{pos: 1000}
	out = nil
	feed(t, a, &out, b.gtid(11), b.query("shop", "BEGIN"),
		b.rows(replication.WRITE_ROWS_EVENTv1, "shop.cdcd_signal", sigRow),
		b.rows(replication.WRITE_ROWS_EVENTv1, "shop.orders", row(1, 5), row(2, 6)),
		b.xid())
	if got := describe(t, out); len(got) != 3 || !strings.Contains(got[1], "after=2,6") {
		t.Fatalf("resumed with skip 1: %v", got)
	}
}

// A held chunk goes out when the stream reaches its point, between two transactions, as its
// own transaction at the stream's position.
func TestAssemblerEmitsHeldChunkAtItsPoint(t *testing.T) {
	prog := &IncrementalProgress{ID: "s1", Tables: []string{"shop.orders"}}
	a := incrementalAssembler(t, prog)
	b := &binlog{pos: 1000}
	g11, begin, rows, xid := b.gtid(11), b.query("shop", "BEGIN"), b.rows(replication.WRITE_ROWS_EVENTv1, "shop.orders", row(1, 5)), b.xid()
	s := binlogPoint{file: "mysql-bin.000007", pos: uint64(xid.Header.LogPos)}
	ct := a.tables["shop.orders"]
	next := &IncrementalProgress{ID: "s1", Tables: []string{"shop.orders"}, After: []string{"1"}, Max: []string{"1"}}
	a.inc.held = &chunk{at: s, name: "shop.orders", ct: ct, next: next,
		rows: [][]decoder.Value{{{State: decoder.ValueSet, Int: 1}, {State: decoder.ValueSet, Int: 7}}}}
	var out []connectors.Event
	feed(t, a, &out, g11, begin, rows)
	if len(out) != 2 {
		t.Fatalf("chunk emitted before its point: %v", describe(t, out))
	}
	feed(t, a, &out, xid)
	got := describe(t, out)
	want := []string{
		"B 0-1-10 mysql-bin.000007:1000 tx=0-1-11 skip=0", "c row=0 gtid=0-1-11 pos=1100 after=1,5", "C 0-1-11 mysql-bin.000007:1231 tx= skip=0",
		"B 0-1-11 mysql-bin.000007:1231 tx= skip=0", "r row=0 gtid= pos=1231 after=1,7", "C 0-1-11 mysql-bin.000007:1231 tx= skip=0",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if out[4].Change.Source.Snapshot != decoder.SnapshotIncremental {
		t.Errorf("chunk row marked %v", out[4].Change.Source.Snapshot)
	}
	if p := incOf(t, out[3]); !reflect.DeepEqual(p, prog) {
		t.Errorf("chunk Begin carries %+v", p)
	}
	if p := incOf(t, out[5]); !reflect.DeepEqual(p, next) {
		t.Errorf("chunk Commit carries %+v", p)
	}
	if a.inc.held != nil || !a.inc.needsChunk() {
		t.Errorf("no next chunk due")
	}

	// A chunk whose table changed shape while it was held is dropped, to be read again.
	a.inc.held = &chunk{at: s, name: "shop.orders", ct: ct, next: nil, rows: [][]decoder.Value{{}}}
	a.tables["shop.orders"] = &capturedTable{table: ct.table}
	out = nil
	if err := a.emitHeld(func(e connectors.Event) error { out = append(out, e); return nil }); err != nil || len(out) != 0 {
		t.Fatalf("stale-shaped chunk: %v, %v", describe(t, out), err)
	}
	if !reflect.DeepEqual(a.inc.prog, next) || !a.inc.needsChunk() {
		t.Errorf("after dropping the chunk: %+v", a.inc.prog)
	}
}

// The stream's point follows rotates: a chunk at the start of the next file goes out once
// the stream reads there, before the next transaction.
func TestAssemblerStreamPointFollowsRotate(t *testing.T) {
	a := incrementalAssembler(t, &IncrementalProgress{ID: "s1", Tables: []string{"shop.orders"}})
	a.inc.held = &chunk{at: binlogPoint{file: "mysql-bin.000008", pos: 256}, name: "shop.orders", ct: a.tables["shop.orders"],
		rows: [][]decoder.Value{{{State: decoder.ValueSet, Int: 1}, {State: decoder.ValueSet, Int: 7}}}}
	var out []connectors.Event
	rot := &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.ROTATE_EVENT, LogPos: 1100, EventSize: 100},
		Event: &replication.RotateEvent{NextLogName: []byte("mysql-bin.000008"), Position: 4}}
	feed(t, a, &out, rot)
	if len(out) != 0 {
		t.Fatalf("emitted at the rotate: %v", describe(t, out))
	}
	b := &binlog{pos: 4}
	fd := b.ev(replication.FORMAT_DESCRIPTION_EVENT, 252, &replication.FormatDescriptionEvent{})
	feed(t, a, &out, fd)
	if len(out) != 3 || out[1].Change.Op != decoder.OpRead {
		t.Fatalf("after the format description at 256: %v", describe(t, out))
	}
}

func TestIncrementalChunkQueries(t *testing.T) {
	pairs := &tableDef{Database: "shop", Name: "pairs", Columns: []columnDef{
		{Name: "a", Type: "int(11)", Key: true}, {Name: "b", Type: "varchar(10)", Key: true}, {Name: "v", Type: "int(11)"}}}
	for _, tc := range []struct {
		after, upTo bool
		want        string
	}{
		{false, true, "SELECT `a`, `b`, `v` FROM `shop`.`pairs` WHERE (`a`, `b`) <= (?, ?) ORDER BY `a`, `b` LIMIT 301"},
		{true, true, "SELECT `a`, `b`, `v` FROM `shop`.`pairs` WHERE (`a`, `b`) > (?, ?) AND (`a`, `b`) <= (?, ?) ORDER BY `a`, `b` LIMIT 301"},
	} {
		if got := keysetQuery(pairs, tc.after, tc.upTo, 300); got != tc.want {
			t.Errorf("keysetQuery = %s\nwant         %s", got, tc.want)
		}
	}
	if got, want := maxKeyQuery(pairs), "SELECT `a`, `b` FROM `shop`.`pairs` ORDER BY `a` DESC, `b` DESC LIMIT 1"; got != want {
		t.Errorf("maxKeyQuery = %s", got)
	}
}

func TestCheckSignalTable(t *testing.T) {
	cfg := incrementalConfig()
	m := testModel()
	var ce *ConfigError
	if err := checkSignalTable(cfg, m); !errors.As(err, &ce) || !strings.Contains(ce.Fix, "CREATE TABLE `shop`.`cdcd_signal`") {
		t.Errorf("missing signal table: %v", err)
	}
	m.Tables["shop.cdcd_signal"] = &tableDef{Database: "shop", Name: "cdcd_signal", Columns: []columnDef{
		{Name: "id", Type: "varchar(42)", Key: true}, {Name: "type", Type: "varchar(32)"}}}
	if err := checkSignalTable(cfg, m); !errors.As(err, &ce) || !strings.Contains(ce.Problem, "no column data") {
		t.Errorf("signal table without data: %v", err)
	}
	m.Tables["shop.cdcd_signal"].Columns = append(m.Tables["shop.cdcd_signal"].Columns, columnDef{Name: "data", Type: "text"})
	if err := checkSignalTable(cfg, m); err != nil {
		t.Errorf("good signal table: %v", err)
	}
}

func TestInitialSnapshotSkipsSignalTable(t *testing.T) {
	m := testModel()
	m.Tables["shop.cdcd_signal"] = &tableDef{Database: "shop", Name: "cdcd_signal"}
	s := &snapshotter{model: m, signal: "shop.cdcd_signal"}
	if got := s.order(); !reflect.DeepEqual(got, []string{"shop.orders"}) {
		t.Errorf("order = %v", got)
	}
}
