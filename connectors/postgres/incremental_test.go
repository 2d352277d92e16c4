package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/jackc/pglogrepl"
	"github.com/rs/zerolog"
)

var (
	// sigTable is the signal table of these tests, public.sig.
	sigTable = &decoder.Table{ID: 50, Namespace: "public", Name: "sig", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeString, Key: true},
		{Name: "type", Type: decoder.TypeString},
		{Name: "data", Type: decoder.TypeString, Optional: true},
	}}
	// tableT is the table snapshot incrementally, public.t: key id, then v.
	tableT = &decoder.Table{ID: 51, Namespace: "public", Name: "t", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, SourceTypeID: 20, Key: true},
		{Name: "v", Type: decoder.TypeString, SourceTypeID: 25, Optional: true},
	}}
)

// incAssembler returns an assembler resuming at resume with an incremental snapshot's state for
// slot s1, signal table public.sig and the tables captured, and the buffer its log goes to.
func incAssembler(resume position, captured ...string) (*assembler, *bytes.Buffer) {
	var logs bytes.Buffer
	a := newAssembler(resume)
	a.inc = newIncremental(Config{Slot: "s1", SignalTable: "public.sig", Tables: captured,
		Logger: zerolog.New(&logs), SnapshotProgressEvery: time.Hour}, resume.incr)
	return a, &logs
}

// feed hands msgs to a, and describes the events in one line each as run does, a change by
// its first column's Int (-1 without a row) and its snapshot marker.
func feed(a *assembler, msgs []wal) ([]string, []connectors.Event, error) {
	var lines []string
	var events []connectors.Event
	emit := func(ev connectors.Event) error {
		events = append(events, ev)
		switch ev.Kind {
		case connectors.EventBegin:
			lines = append(lines, "begin "+ev.Position.String())
		case connectors.EventCommit:
			lines = append(lines, "commit "+ev.Position.String())
		case connectors.EventChange:
			c := ev.Change
			row := c.After
			if row == nil {
				row = c.Before
			}
			key := int64(-1)
			if len(row) > 0 {
				key = row[0].Int
			}
			lines = append(lines, fmt.Sprintf("%s %s %d snapshot=%s", c.Op, c.Table.Name, key, c.Source.Snapshot))
		}
		return nil
	}
	for _, m := range msgs {
		msg := m.msg
		if err := a.handle(&msg, m.at, emit); err != nil {
			return lines, events, err
		}
	}
	return lines, events, nil
}

func text(s string) decoder.Value { return decoder.Value{State: decoder.ValueSet, Bytes: []byte(s)} }

// signalRow returns the insert of a signal into public.sig.
func signalRow(id, kind, data string) decoder.Change {
	return decoder.Change{Op: decoder.OpCreate, Table: sigTable, After: []decoder.Value{text(id), text(kind), text(data)}}
}

// rowT returns a row of public.t.
func rowT(id int64, v string) []decoder.Value {
	return []decoder.Value{{State: decoder.ValueSet, Int: id}, text(v)}
}

// tx returns a transaction xid committed at commit and ending at end, with the changes given.
func tx(xid uint32, commit, end pglogrepl.LSN, changes ...decoder.Change) []wal {
	out := []wal{{at: commit - 0x100, msg: decoder.PGMessage{Kind: decoder.PGBegin, XID: xid, FinalLSN: uint64(commit)}}}
	for i, c := range changes {
		out = append(out, wal{at: commit - 0x80 + pglogrepl.LSN(i), msg: decoder.PGMessage{Kind: decoder.PGChange, Change: c}})
	}
	return append(out, wal{at: commit, msg: decoder.PGMessage{Kind: decoder.PGCommit, CommitLSN: uint64(commit), EndLSN: uint64(end)}})
}

// watermarkAt returns the watermark message with content at.
func watermarkAt(at pglogrepl.LSN, content string) wal {
	return wal{at: at, msg: decoder.PGMessage{Kind: decoder.PGLogicalMessage, CommitLSN: uint64(at),
		Transactional: decoder.PGMessageNonTransactional, Prefix: watermarkPrefix, Content: []byte(content)}}
}

func joined(lines []string) string { return strings.Join(lines, "\n") }

func TestIncrementalSignalStartsSnapshot(t *testing.T) {
	a, _ := incAssembler(position{lsn: 0x800}, "public.a", "public.t")
	insertA := decoder.Change{Op: decoder.OpCreate, Table: tableA, After: []decoder.Value{{State: decoder.ValueSet, Int: 1}}}
	msgs := concat(
		tx(7, 0x1000, 0x1010, insertA, signalRow("sig-1", "execute-snapshot", `{"data-collections":["public.t"],"type":"incremental"}`), insertA),
		tx(8, 0x2000, 0x2010, insertA),
	)
	lines, events, err := feed(a, msgs)
	if err != nil {
		t.Fatal(err)
	}
	const prog = `"incremental":{"id":"sig-1","tables":["public.t"]}`
	want := []string{
		// The signal's transaction begins before the signal applies; its commit carries it.
		`begin {"lsn":"0/800","tx":"0/1000"}`, "c a 1 snapshot=false", "c a 1 snapshot=false", `commit {"lsn":"0/1010",` + prog + `}`,
		`begin {"lsn":"0/1010","tx":"0/2000",` + prog + `}`, "c a 1 snapshot=false", `commit {"lsn":"0/2010",` + prog + `}`,
	}
	if joined(lines) != joined(want) {
		t.Fatalf("events:\n%s\nwant:\n%s", joined(lines), joined(want))
	}
	p, err := parsePosition(events[3].Position)
	if err != nil {
		t.Fatal(err)
	}
	if p.lsn != 0x1010 || p.incr == nil || p.incr.ID != "sig-1" || !slices.Equal(p.incr.Tables, []string{"public.t"}) ||
		p.incr.After != nil || p.incr.Max != nil {
		t.Errorf("commit position = %+v, progress %+v", p, p.incr)
	}
	if !a.inc.needsChunk() {
		t.Error("no chunk due after the snapshot started")
	}
}

func TestIncrementalResumeCarriesProgress(t *testing.T) {
	prog := &incrementalProgress{ID: "x", Tables: []string{"public.t", "public.a"}, After: []string{"4"}, Max: []string{"9"}}
	a, _ := incAssembler(position{lsn: 0x800, incr: prog})
	lines, _, err := feed(a, fakeTx(7, 0x1000, 0x1010, 1))
	if err != nil {
		t.Fatal(err)
	}
	const enc = `"incremental":{"id":"x","tables":["public.t","public.a"],"after":["4"],"max":["9"]}`
	want := []string{`begin {"lsn":"0/800","tx":"0/1000",` + enc + `}`, "c a 0 snapshot=false", `commit {"lsn":"0/1010",` + enc + `}`}
	if joined(lines) != joined(want) {
		t.Fatalf("events:\n%s\nwant:\n%s", joined(lines), joined(want))
	}
}

func TestIncrementalSignalsIgnored(t *testing.T) {
	for _, tt := range []struct {
		name string
		sig  decoder.Change
	}{
		{"bad JSON", signalRow("s", "execute-snapshot", `{"data-collections":["public.t"]`)},
		{"JSON of another shape", signalRow("s", "execute-snapshot", `{"data-collections":"public.t"}`)},
		{"unknown signal type", signalRow("s", "log", `{"data-collections":["public.t"]}`)},
		{"blocking snapshot", signalRow("s", "execute-snapshot", `{"data-collections":["public.t"],"type":"blocking"}`)},
		{"no data-collections", signalRow("s", "execute-snapshot", `{"type":"incremental"}`)},
		{"no data", signalRow("s", "execute-snapshot", "")},
		{"no id", signalRow("", "execute-snapshot", `{"data-collections":["public.t"]}`)},
		{"id too long", signalRow(strings.Repeat("i", snapshot.MaxSignalID+1), "execute-snapshot", `{"data-collections":["public.t"]}`)},
		{"uncaptured table", signalRow("s", "execute-snapshot", `{"data-collections":["public.zz"]}`)},
		{"the signal table itself", signalRow("s", "execute-snapshot", `{"data-collections":["public.sig"]}`)},
		{"table without schema", signalRow("s", "execute-snapshot", `{"data-collections":["t"]}`)},
		{"NULL columns", decoder.Change{Op: decoder.OpCreate, Table: sigTable, After: []decoder.Value{{}, {}, {}}}},
		{"short row", decoder.Change{Op: decoder.OpCreate, Table: sigTable, After: []decoder.Value{text("s")}}},
		{"update of the signal table", decoder.Change{Op: decoder.OpUpdate, Table: sigTable,
			After: signalRow("s", "execute-snapshot", `{"data-collections":["public.t"]}`).After}},
		{"delete from the signal table", decoder.Change{Op: decoder.OpDelete, Table: sigTable, Before: []decoder.Value{text("s"), {}, {}}}},
		{"truncate of the signal table", decoder.Change{Op: decoder.OpTruncate, Table: sigTable}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, logs := incAssembler(position{lsn: 0x800}, "public.a", "public.t")
			insertA := decoder.Change{Op: decoder.OpCreate, Table: tableA, After: []decoder.Value{{State: decoder.ValueSet, Int: 2}}}
			lines, _, err := feed(a, tx(7, 0x1000, 0x1010, tt.sig, insertA))
			if err != nil {
				t.Fatalf("a bad signal failed the stream: %v", err)
			}
			want := []string{`begin {"lsn":"0/800","tx":"0/1000"}`, "c a 2 snapshot=false", `commit {"lsn":"0/1010"}`}
			if joined(lines) != joined(want) {
				t.Errorf("events:\n%s\nwant:\n%s", joined(lines), joined(want))
			}
			if a.inc.prog != nil || a.inc.needsChunk() {
				t.Errorf("progress %+v after an ignored signal", a.inc.prog)
			}
			if tt.sig.Op == decoder.OpCreate && !strings.Contains(logs.String(), `"level":"error"`) {
				t.Errorf("ignored signal not logged as an error: %s", logs.String())
			}
		})
	}
}

func TestIncrementalSignalsOfDroppedTransactionsForgotten(t *testing.T) {
	// Transaction 7 ends before the resume LSN: its signal was applied before the position
	// was stored, which carries its effect.
	a, _ := incAssembler(position{lsn: 0x1010}, "public.t")
	msgs := concat(tx(7, 0x1000, 0x1010, signalRow("s", "execute-snapshot", `{"data-collections":["public.t"]}`)),
		fakeTx(8, 0x2000, 0x2010, 1))
	lines, _, err := feed(a, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if a.inc.prog != nil || lines[len(lines)-1] != `commit {"lsn":"0/2010"}` {
		t.Errorf("signal of a dropped transaction applied: progress %+v, events %v", a.inc.prog, lines)
	}
}

func TestIncrementalSignalsAddAndStopTables(t *testing.T) {
	exec := func(id string, tables ...string) decoder.Change {
		b, _ := json.Marshal(snapshot.SignalData{DataCollections: tables})
		return signalRow(id, "execute-snapshot", string(b))
	}
	stop := func(tables ...string) decoder.Change {
		if tables == nil {
			return signalRow("stop", "stop-snapshot", "")
		}
		b, _ := json.Marshal(snapshot.SignalData{DataCollections: tables})
		return signalRow("stop", "stop-snapshot", string(b))
	}
	running := &incrementalProgress{ID: "x", Tables: []string{"public.a", "public.b"}, After: []string{"3"}, Max: []string{"8"}}
	for _, tt := range []struct {
		name    string
		signals []decoder.Change
		want    *incrementalProgress
	}{
		{"add tables, each once", []decoder.Change{exec("y", "public.c", "public.a", "public.c", "public.d")},
			&incrementalProgress{ID: "x", Tables: []string{"public.a", "public.b", "public.c", "public.d"}, After: []string{"3"}, Max: []string{"8"}}},
		{"stop a table not being read", []decoder.Change{stop("public.b")},
			&incrementalProgress{ID: "x", Tables: []string{"public.a"}, After: []string{"3"}, Max: []string{"8"}}},
		{"stop the table being read", []decoder.Change{stop("public.a")},
			&incrementalProgress{ID: "x", Tables: []string{"public.b"}}},
		{"stop a table not in the snapshot", []decoder.Change{stop("public.zz")}, running},
		{"stop every table", []decoder.Change{stop("public.b", "public.a")}, nil},
		{"stop the snapshot", []decoder.Change{stop()}, nil},
		{"stop then start again", []decoder.Change{stop(), exec("z", "public.d")},
			&incrementalProgress{ID: "z", Tables: []string{"public.d"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := incAssembler(position{lsn: 0x800, incr: running})
			_, events, err := feed(a, tx(7, 0x1000, 0x1010, tt.signals...))
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 2 {
				t.Fatalf("%d events, want begin and commit only", len(events))
			}
			p, err := parsePosition(events[1].Position)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.incr, tt.want) {
				t.Errorf("progress %+v, want %+v", p.incr, tt.want)
			}
			if !reflect.DeepEqual(running, &incrementalProgress{ID: "x", Tables: []string{"public.a", "public.b"}, After: []string{"3"}, Max: []string{"8"}}) {
				t.Errorf("the resume progress was changed in place: %+v", running)
			}
		})
	}
}

// openWindow returns an assembler whose incremental snapshot of public.t, with progress prog,
// has the window w1 open over the rows of ids 1 to 4, to move to next at its watermark.
func openWindow(prog, next *incrementalProgress) *assembler {
	a, _ := incAssembler(position{lsn: 0x800, incr: prog}, "public.a", "public.b", "public.t")
	rows := [][]decoder.Value{rowT(1, "a"), rowT(2, "b"), rowT(3, "c"), rowT(4, "d")}
	a.inc.opened(snapshot.NewWindow("w1", tableT, []int{0}, rows), next, 4)
	return a
}

func TestIncrementalWatermarkEmitsChunk(t *testing.T) {
	prog := &incrementalProgress{ID: "x", Tables: []string{"public.t"}}
	next := &incrementalProgress{ID: "x", Tables: []string{"public.t"}, After: []string{"4"}, Max: []string{"9"}}
	a := openWindow(prog, next)
	if a.inc.needsChunk() {
		t.Error("a chunk is due while a window is open")
	}
	update := decoder.Change{Op: decoder.OpUpdate, Table: tableT, After: rowT(2, "new")}
	del := decoder.Change{Op: decoder.OpDelete, Table: tableT, Before: []decoder.Value{{State: decoder.ValueSet, Int: 4}, {}}}
	msgs := concat(tx(7, 0x1000, 0x1010, update),
		[]wal{
			watermarkAt(0x1020, "s2:w1"),   // another slot's
			watermarkAt(0x1028, "s1:old"),  // a window of an earlier run
			watermarkAt(0x1030, "s1:w1:x"), // not this id
			{at: 0x1034, msg: decoder.PGMessage{Kind: decoder.PGLogicalMessage, Prefix: "other", Content: []byte("s1:w1")}},
		},
		tx(8, 0x2000, 0x2010, decoder.Change{Op: decoder.OpCreate, Table: tableA, After: []decoder.Value{{State: decoder.ValueSet, Int: 5}}}),
		// A transactional message with the prefix is not a watermark (nor an error inside
		// its transaction).
		[]wal{
			{at: 0x2100, msg: decoder.PGMessage{Kind: decoder.PGBegin, XID: 9, FinalLSN: 0x2200}},
			{at: 0x2110, msg: decoder.PGMessage{Kind: decoder.PGLogicalMessage, Transactional: decoder.PGMessageTransactional,
				Prefix: watermarkPrefix, Content: []byte("s1:w1")}},
			{at: 0x2120, msg: decoder.PGMessage{Kind: decoder.PGChange, Change: del}},
			{at: 0x2200, msg: decoder.PGMessage{Kind: decoder.PGCommit, CommitLSN: 0x2200, EndLSN: 0x2210}},
		},
		[]wal{watermarkAt(0x2300, "s1:w1"), watermarkAt(0x2400, "s1:w1")},
	)
	lines, events, err := feed(a, msgs)
	if err != nil {
		t.Fatal(err)
	}
	const before = `"incremental":{"id":"x","tables":["public.t"]}`
	const after = `"incremental":{"id":"x","tables":["public.t"],"after":["4"],"max":["9"]}`
	want := []string{
		`begin {"lsn":"0/800","tx":"0/1000",` + before + `}`, "u t 2 snapshot=false", `commit {"lsn":"0/1010",` + before + `}`,
		`begin {"lsn":"0/1010","tx":"0/2000",` + before + `}`, "c a 5 snapshot=false", `commit {"lsn":"0/2010",` + before + `}`,
		`begin {"lsn":"0/2010","tx":"0/2200",` + before + `}`, "d t 4 snapshot=false", `commit {"lsn":"0/2210",` + before + `}`,
		// The chunk: its own transaction after the last one delivered, the rows the stream
		// did not replace, and the progress past them.
		`begin {"lsn":"0/2210",` + before + `}`, "r t 1 snapshot=incremental", "r t 3 snapshot=incremental",
		`commit {"lsn":"0/2210",` + after + `}`,
		// The second watermark with the same id finds no window.
	}
	if joined(lines) != joined(want) {
		t.Fatalf("events:\n%s\nwant:\n%s", joined(lines), joined(want))
	}
	for _, ev := range events[10:12] {
		c := ev.Change
		if c.Op != decoder.OpRead || c.Table != tableT || SourceLSN(&c.Source) != 0x2300 || SourceTxID(&c.Source) != 0 ||
			c.Source.CommitTime.IsZero() || len(c.After) != 2 || c.Before != nil {
			t.Errorf("chunk row %+v", c)
		}
	}
	p, err := parsePosition(events[len(events)-1].Position)
	if err != nil || !reflect.DeepEqual(p.incr, next) || p.lsn != 0x2210 || p.tx != 0 {
		t.Errorf("chunk commit position %+v (%+v), %v; want progress %+v", p, p.incr, err, next)
	}
	if a.inc.window != nil || !a.inc.needsChunk() {
		t.Error("the next chunk is not due after the watermark")
	}
	// The delivered transactions, newest first, are what the next chunk's snapshot must see.
	if got := a.inc.delivered(); !slices.Equal(got, []uint32{9, 8, 7}) {
		t.Errorf("delivered() = %v", got)
	}
}

func TestIncrementalWatermarkOfLastChunkEndsSnapshot(t *testing.T) {
	a := openWindow(&incrementalProgress{ID: "x", Tables: []string{"public.t"}, After: []string{"0"}, Max: []string{"4"}}, nil)
	lines, _, err := feed(a, []wal{watermarkAt(0x900, "s1:w1")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`begin {"lsn":"0/800","incremental":{"id":"x","tables":["public.t"],"after":["0"],"max":["4"]}}`,
		"r t 1 snapshot=incremental", "r t 2 snapshot=incremental", "r t 3 snapshot=incremental", "r t 4 snapshot=incremental",
		`commit {"lsn":"0/800"}`}
	if joined(lines) != joined(want) {
		t.Fatalf("events:\n%s\nwant:\n%s", joined(lines), joined(want))
	}
	if a.inc.prog != nil || a.inc.needsChunk() {
		t.Errorf("progress %+v after the last chunk", a.inc.prog)
	}
}

func TestIncrementalEmptyWindowMovesOn(t *testing.T) {
	// A table that cannot be read gives a window without a table or rows.
	a, _ := incAssembler(position{lsn: 0x800, incr: &incrementalProgress{ID: "x", Tables: []string{"public.gone", "public.t"}}})
	next := &incrementalProgress{ID: "x", Tables: []string{"public.t"}}
	a.inc.opened(snapshot.NewWindow("e", nil, nil, nil), next, 0)
	lines, _, err := feed(a, concat(fakeTx(7, 0x1000, 0x1010, 1), []wal{watermarkAt(0x1100, "s1:e")}))
	if err != nil {
		t.Fatal(err)
	}
	if got := lines[len(lines)-2:]; got[0] != `begin {"lsn":"0/1010","incremental":{"id":"x","tables":["public.gone","public.t"]}}` ||
		got[1] != `commit {"lsn":"0/1010","incremental":{"id":"x","tables":["public.t"]}}` {
		t.Errorf("empty chunk: %v", got)
	}
}

func TestIncrementalWindowOfChangedTableIsReadAgain(t *testing.T) {
	prog := &incrementalProgress{ID: "x", Tables: []string{"public.t"}}
	a := openWindow(prog, &incrementalProgress{ID: "x", Tables: []string{"public.t"}, After: []string{"4"}, Max: []string{"9"}})
	wider := &decoder.Table{ID: tableT.ID, Namespace: "public", Name: "t", Version: 2,
		Columns: append(slices.Clone(tableT.Columns), decoder.Column{Name: "w", Type: decoder.TypeString})}
	ins := decoder.Change{Op: decoder.OpCreate, Table: wider, After: []decoder.Value{{State: decoder.ValueSet, Int: 70}, {}, {}}}
	lines, _, err := feed(a, concat(tx(7, 0x1000, 0x1010, ins), []wal{watermarkAt(0x1100, "s1:w1")}))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 {
		t.Errorf("events %v: the invalid chunk was emitted", lines)
	}
	if !a.inc.needsChunk() || a.inc.prog != prog {
		t.Errorf("chunk due %t, progress %+v: want public.t read again from the same point",
			a.inc.needsChunk(), a.inc.prog)
	}
}

func TestIncrementalWatermarkInsideTransactionIsProtocolError(t *testing.T) {
	a := openWindow(&incrementalProgress{ID: "x", Tables: []string{"public.t"}}, nil)
	msgs := []wal{{at: 0x900, msg: decoder.PGMessage{Kind: decoder.PGBegin, XID: 3, FinalLSN: 0xA00}}, watermarkAt(0x950, "s1:w1")}
	if _, _, err := feed(a, msgs); !errors.Is(err, ErrProtocol) {
		t.Errorf("watermark inside a transaction: %v, want ErrProtocol", err)
	}
	// Without an incremental snapshot, logical messages are nobody's business.
	plain := newAssembler(position{lsn: 0x800})
	if _, _, err := feed(plain, msgs); err != nil {
		t.Errorf("watermark without incremental state: %v", err)
	}
}

func TestIncrementalSignalsDuringWindowReachItsProgress(t *testing.T) {
	exec := signalRow("y", "execute-snapshot", `{"data-collections":["public.b"]}`)
	stopB := signalRow("z", "stop-snapshot", `{"data-collections":["public.b"]}`)
	stopT := signalRow("z", "stop-snapshot", `{"data-collections":["public.t"]}`)
	for _, tt := range []struct {
		name       string
		prog, next *incrementalProgress
		signal     decoder.Change
		rows       bool // whether the chunk's rows come out
		want       *incrementalProgress
	}{
		{"table added during the last chunk",
			&incrementalProgress{ID: "x", Tables: []string{"public.t"}}, nil, exec, true,
			&incrementalProgress{ID: "x", Tables: []string{"public.b"}}},
		{"table added during a chunk",
			&incrementalProgress{ID: "x", Tables: []string{"public.t"}},
			&incrementalProgress{ID: "x", Tables: []string{"public.t"}, After: []string{"4"}, Max: []string{"9"}}, exec, true,
			&incrementalProgress{ID: "x", Tables: []string{"public.t", "public.b"}, After: []string{"4"}, Max: []string{"9"}}},
		{"next table stopped during the last chunk of a table",
			&incrementalProgress{ID: "x", Tables: []string{"public.t", "public.b", "public.a"}},
			&incrementalProgress{ID: "x", Tables: []string{"public.b", "public.a"}}, stopB, true,
			&incrementalProgress{ID: "x", Tables: []string{"public.a"}}},
		{"only other table stopped during a chunk",
			&incrementalProgress{ID: "x", Tables: []string{"public.t", "public.b"}},
			&incrementalProgress{ID: "x", Tables: []string{"public.t", "public.b"}, After: []string{"4"}, Max: []string{"9"}}, stopB, true,
			&incrementalProgress{ID: "x", Tables: []string{"public.t"}, After: []string{"4"}, Max: []string{"9"}}},
		{"table being read stopped",
			&incrementalProgress{ID: "x", Tables: []string{"public.t", "public.b"}},
			&incrementalProgress{ID: "x", Tables: []string{"public.t", "public.b"}, After: []string{"4"}, Max: []string{"9"}}, stopT, false,
			&incrementalProgress{ID: "x", Tables: []string{"public.b"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := openWindow(tt.prog, tt.next)
			_, events, err := feed(a, concat(tx(7, 0x1000, 0x1010, tt.signal), []wal{watermarkAt(0x1100, "s1:w1")}))
			if err != nil {
				t.Fatal(err)
			}
			rows := 0
			for _, ev := range events {
				if ev.Kind == connectors.EventChange {
					rows++
				}
			}
			if got := rows > 0; got != tt.rows {
				t.Errorf("%d chunk rows emitted, want rows: %t", rows, tt.rows)
			}
			p, err := parsePosition(events[len(events)-1].Position)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.incr, tt.want) || !reflect.DeepEqual(a.inc.prog, tt.want) {
				t.Errorf("progress %+v (in memory %+v), want %+v", p.incr, a.inc.prog, tt.want)
			}
		})
	}
}

func TestDeliveredRing(t *testing.T) {
	inc := newIncremental(Config{}, nil)
	if got := inc.delivered(); len(got) != 0 {
		t.Errorf("delivered() = %v before any commit", got)
	}
	for xid := uint32(1); xid <= recentXIDs+5; xid++ {
		inc.committed(xid)
	}
	got := inc.delivered()
	if len(got) != recentXIDs || got[0] != recentXIDs+5 || got[len(got)-1] != 6 {
		t.Errorf("delivered() = %d xids from %d to %d, want %d from %d to 6", len(got), got[0], got[len(got)-1], recentXIDs, recentXIDs+5)
	}
}

func TestPositionRoundTripIncremental(t *testing.T) {
	prog := &incrementalProgress{ID: "sig-1", Tables: []string{"public.t", "s.u"}, After: []string{"1", "x"}, Max: []string{"9", "z"}}
	start := &incrementalProgress{ID: "sig-1", Tables: []string{"public.t"}, Max: []string{"9"}}
	for _, p := range []position{
		{lsn: 0x100, incr: prog},
		{lsn: 0x100, incr: start},
		{lsn: 0x100, tx: 0x200, incr: prog},
		{lsn: 0x100, tx: 0x200, skip: 3, incr: prog},
		// A chunk's Begin stored with a Skip: no tx, the chunk is read again whole.
		{lsn: 0x100, skip: 2, incr: prog},
	} {
		enc := p.encode()
		got, err := parsePosition(enc)
		if err != nil {
			t.Errorf("parsePosition(%s) = %v", enc, err)
			continue
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("round trip of %+v gave %+v via %s", p, got, enc)
		}
		if again := got.encode(); !bytes.Equal(again.Source, enc.Source) || again.Skip != enc.Skip {
			t.Errorf("encoded again as %s, first as %s", again, enc)
		}
	}
	// Without progress the wire form is the one of before.
	if got := (position{lsn: 0x100}).encode(); string(got.Source) != `{"lsn":"0/100"}` {
		t.Errorf("position without progress = %s", got)
	}
}

func TestParsePositionRejectsBadIncremental(t *testing.T) {
	long := strings.Repeat("i", snapshot.MaxSignalID+1)
	for _, tt := range []struct {
		name, src string
	}{
		{"empty id", `{"lsn":"0/10","incremental":{"id":"","tables":["public.t"]}}`},
		{"id too long", `{"lsn":"0/10","incremental":{"id":"` + long + `","tables":["public.t"]}}`},
		{"no tables", `{"lsn":"0/10","incremental":{"id":"x","tables":[]}}`},
		{"tables missing", `{"lsn":"0/10","incremental":{"id":"x"}}`},
		{"after without max", `{"lsn":"0/10","incremental":{"id":"x","tables":["public.t"],"after":["1"]}}`},
		{"empty greatest key", `{"lsn":"0/10","incremental":{"id":"x","tables":["public.t"],"max":[]}}`},
		{"empty keys", `{"lsn":"0/10","incremental":{"id":"x","tables":["public.t"],"after":[],"max":[]}}`},
		{"length mismatch", `{"lsn":"0/10","incremental":{"id":"x","tables":["public.t"],"after":["1"],"max":["1","2"]}}`},
		{"table without schema", `{"lsn":"0/10","incremental":{"id":"x","tables":["t"]}}`},
		{"bad second table", `{"lsn":"0/10","incremental":{"id":"x","tables":["public.t","a.b.c"]}}`},
		{"unknown field", `{"lsn":"0/10","incremental":{"id":"x","tables":["public.t"],"chunk":3}}`},
		{"with initial snapshot progress", `{"lsn":"0/10","snapshot":{"table":"public.a","done":[]},"incremental":{"id":"x","tables":["public.t"]}}`},
		{"tx before lsn", `{"lsn":"0/10","tx":"0/F","incremental":{"id":"x","tables":["public.t"]}}`},
	} {
		if _, err := parsePosition(offsets.Position{Source: json.RawMessage(tt.src)}); !errors.Is(err, ErrBadPosition) {
			t.Errorf("%s: parsePosition = %v, want ErrBadPosition", tt.name, err)
		}
	}
	if _, err := parsePosition(offsets.Position{Source: json.RawMessage(`{"lsn":"0/10","incremental":{"id":"x","tables":["public.t"]}}`), Skip: -1}); !errors.Is(err, ErrBadPosition) {
		t.Errorf("negative skip: %v", err)
	}
}

// With inserts and updates skipped (skipped_operations), a row such a change touched while its
// chunk was read stays in the chunk: no record of the change stands for it. A delete still
// removes its row, and a key change is a delete of the old key.
func TestIncrementalWindowKeepsRowsOfSkippedChanges(t *testing.T) {
	prog := &incrementalProgress{ID: "x", Tables: []string{"public.t"}}
	next := &incrementalProgress{ID: "x", Tables: []string{"public.t"}, After: []string{"4"}, Max: []string{"9"}}
	a, _ := incAssembler(position{lsn: 0x800, incr: prog}, "public.t")
	a.inc = newIncremental(Config{Slot: "s1", SignalTable: "public.sig", Tables: []string{"public.t"},
		Logger: zerolog.Nop(), SnapshotProgressEvery: time.Hour,
		SkippedOperations: []decoder.Op{decoder.OpCreate, decoder.OpUpdate}}, prog)
	rows := [][]decoder.Value{rowT(1, "a"), rowT(2, "b"), rowT(3, "c"), rowT(4, "d")}
	a.inc.opened(snapshot.NewWindow("w1", tableT, []int{0}, rows), next, 4)
	update := decoder.Change{Op: decoder.OpUpdate, Table: tableT, After: rowT(2, "new")}
	insert := decoder.Change{Op: decoder.OpCreate, Table: tableT, After: rowT(3, "again")}
	keyChange := decoder.Change{Op: decoder.OpUpdate, Table: tableT, Before: rowT(4, "d"), After: rowT(40, "d")}
	del := decoder.Change{Op: decoder.OpDelete, Table: tableT, Before: rowT(1, "a")}
	lines, _, err := feed(a, concat(tx(7, 0x1000, 0x1010, update, insert, keyChange, del), []wal{watermarkAt(0x1100, "s1:w1")}))
	if err != nil {
		t.Fatal(err)
	}
	var chunk []string
	for _, l := range lines {
		if strings.HasSuffix(l, "snapshot=incremental") {
			chunk = append(chunk, l)
		}
	}
	if want := []string{"r t 2 snapshot=incremental", "r t 3 snapshot=incremental"}; !slices.Equal(chunk, want) {
		t.Errorf("chunk %q, want %q (all events:\n%s)", chunk, want, joined(lines))
	}
}
