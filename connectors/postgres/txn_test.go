package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/jackc/pglogrepl"
)

var (
	tableA = &decoder.Table{ID: 1, Namespace: "public", Name: "a"}
	tableB = &decoder.Table{ID: 2, Namespace: "public", Name: "b"}
)

// wal is one fake XLogData: where it starts and what it decodes to.
type wal struct {
	at  pglogrepl.LSN
	msg decoder.PGMessage
}

// fakeTx returns the messages of a transaction with xid, committed at commit and ending at end,
// with n inserts into table A whose first column counts from first.
func fakeTx(xid uint32, commit, end pglogrepl.LSN, n int) []wal {
	ts := time.Unix(1700000000, 0).Add(time.Duration(xid) * time.Second)
	out := []wal{{at: commit - 0x100, msg: decoder.PGMessage{Kind: decoder.PGBegin, XID: xid, FinalLSN: uint64(commit), CommitTime: ts}}}
	out = append(out, wal{at: commit - 0x100, msg: decoder.PGMessage{Kind: decoder.PGRelation}})
	for i := range n {
		out = append(out, wal{at: commit - 0x80 + pglogrepl.LSN(i), msg: decoder.PGMessage{Kind: decoder.PGChange, Change: decoder.Change{
			Op: decoder.OpCreate, Table: tableA, After: []decoder.Value{{State: decoder.ValueSet, Int: int64(i)}}}}})
	}
	return append(out, wal{at: commit, msg: decoder.PGMessage{Kind: decoder.PGCommit,
		CommitLSN: uint64(commit), EndLSN: uint64(end), CommitTime: ts}})
}

func concat(txs ...[]wal) []wal {
	var out []wal
	for _, tx := range txs {
		out = append(out, tx...)
	}
	return out
}

// run feeds msgs to an assembler resuming at resume, and describes the events in one line each.
func run(t *testing.T, resume position, msgs []wal) ([]string, []connectors.Event, error) {
	t.Helper()
	return runAssembler(t, newAssembler(resume), msgs)
}

// runAssembler is run with an assembler of the caller's.
func runAssembler(t *testing.T, a *assembler, msgs []wal) ([]string, []connectors.Event, error) {
	t.Helper()
	var lines []string
	var events []connectors.Event
	emit := func(ev connectors.Event) error {
		events = append(events, ev)
		switch ev.Kind {
		case connectors.EventBegin, connectors.EventCommit:
			kind := map[connectors.EventKind]string{connectors.EventBegin: "begin", connectors.EventCommit: "commit"}[ev.Kind]
			lines = append(lines, kind+" "+ev.Position.String())
		case connectors.EventChange:
			c := ev.Change
			lines = append(lines, fmt.Sprintf("%s %s xid=%d", c.Op, c.Table.Name, SourceTxID(&c.Source)))
		case connectors.EventRecord:
			r := ev.Record
			lines = append(lines, fmt.Sprintf("record %s %s %s", r.Topic, r.Key, r.Value))
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

func TestAssemblerDeliversWholeTransactions(t *testing.T) {
	msgs := concat(fakeTx(7, 0x1000, 0x1010, 2), fakeTx(8, 0x2000, 0x2010, 1))
	lines, events, err := run(t, position{lsn: 0x800}, msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`begin {"lsn":"0/800","tx":"0/1000"}`, "c a xid=7", "c a xid=7", `commit {"lsn":"0/1010"}`,
		`begin {"lsn":"0/1010","tx":"0/2000"}`, "c a xid=8", `commit {"lsn":"0/2010"}`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	c := events[2].Change
	if SourceLSN(&c.Source) != 0x1000-0x80+1 || !c.Source.CommitTime.Equal(time.Unix(1700000007, 0)) || c.After[0].Int != 1 {
		t.Errorf("second change source = %+v, after %+v", c.Source, c.After)
	}
}

func TestAssemblerTruncateIsOneChangePerTable(t *testing.T) {
	msgs := []wal{
		{0x10, decoder.PGMessage{Kind: decoder.PGBegin, XID: 3, FinalLSN: 0x30}},
		{0x20, decoder.PGMessage{Kind: decoder.PGTruncate, Tables: []*decoder.Table{tableA, tableB}}},
		{0x30, decoder.PGMessage{Kind: decoder.PGCommit, CommitLSN: 0x30, EndLSN: 0x38}},
	}
	lines, events, err := run(t, position{lsn: 0x10}, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines[1:3], ","); got != "t a xid=3,t b xid=3" {
		t.Errorf("truncate events: %s", got)
	}
	if events[1].Change.After != nil || SourceLSN(&events[1].Change.Source) != 0x20 {
		t.Errorf("truncate change = %+v", events[1].Change)
	}
	// The truncate of two tables counts two changes for Skip.
	lines, _, err = run(t, position{lsn: 0x10, tx: 0x30, skip: 1}, msgs)
	if err != nil || strings.Join(lines, ",") != `begin {"lsn":"0/10","tx":"0/30"}+1,t b xid=3,commit {"lsn":"0/38"}` {
		t.Errorf("truncate with skip 1: %v, %v", lines, err)
	}
}

func TestAssemblerResumeFromCommitDropsEarlierTransactions(t *testing.T) {
	msgs := concat(fakeTx(7, 0x1000, 0x1010, 2), fakeTx(8, 0x1010, 0x1020, 1), fakeTx(9, 0x2000, 0x2010, 1))
	// Resuming after transaction 7: its commit record starts before 0/1010 and is dropped;
	// transaction 8's starts exactly there and is delivered.
	lines, _, err := run(t, position{lsn: 0x1010}, msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := `begin {"lsn":"0/1010","tx":"0/1010"}|c a xid=8|commit {"lsn":"0/1020"}|` +
		`begin {"lsn":"0/1020","tx":"0/2000"}|c a xid=9|commit {"lsn":"0/2010"}`
	if got := strings.Join(lines, "|"); got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
}

func TestAssemblerResumeInsideTransactionSkipsExactly(t *testing.T) {
	msgs := concat(fakeTx(7, 0x1000, 0x1010, 1), fakeTx(8, 0x2000, 0x2010, 4), fakeTx(9, 0x3000, 0x3010, 1))
	for skip := int64(0); skip <= 4; skip++ {
		_, events, err := run(t, position{lsn: 0x1010, tx: 0x2000, skip: skip}, msgs)
		if err != nil {
			t.Fatalf("skip %d: %v", skip, err)
		}
		var tx8 []int64
		for _, ev := range events {
			if ev.Kind == connectors.EventChange && SourceTxID(&ev.Change.Source) == 8 {
				tx8 = append(tx8, ev.Change.After[0].Int)
			}
		}
		if int64(len(tx8)) != 4-skip || (len(tx8) > 0 && tx8[0] != skip) {
			t.Errorf("skip %d delivered changes %v of transaction 8", skip, tx8)
		}
		begin := events[0]
		if begin.Kind != connectors.EventBegin || begin.Position.Skip != skip ||
			string(begin.Position.Source) != `{"lsn":"0/1010","tx":"0/2000"}` {
			t.Errorf("skip %d: first event %+v, want the resumed transaction's Begin with its Skip", skip, begin)
		}
		if last := events[len(events)-1]; string(last.Position.Source) != `{"lsn":"0/3010"}` {
			t.Errorf("skip %d: last event %+v, want transaction 9's commit", skip, last)
		}
	}
}

func TestAssemblerResumeErrors(t *testing.T) {
	msgs := concat(fakeTx(8, 0x2000, 0x2010, 2), fakeTx(9, 0x3000, 0x3010, 1))
	if _, _, err := run(t, position{lsn: 0x1010, tx: 0x2000, skip: 3}, msgs); !errors.Is(err, ErrBadPosition) {
		t.Errorf("skip beyond the transaction: %v, want ErrBadPosition", err)
	}
	if _, _, err := run(t, position{lsn: 0x1010, tx: 0x2800, skip: 1}, msgs); !errors.Is(err, ErrResumeTxMissing) {
		t.Errorf("transaction to resume missing: %v, want ErrResumeTxMissing", err)
	}
}

func TestAssemblerProtocolErrors(t *testing.T) {
	begin := wal{0x10, decoder.PGMessage{Kind: decoder.PGBegin, XID: 1, FinalLSN: 0x30}}
	change := wal{0x20, decoder.PGMessage{Kind: decoder.PGChange, Change: decoder.Change{Op: decoder.OpCreate, Table: tableA}}}
	for name, msgs := range map[string][]wal{
		"change outside":   {change},
		"truncate outside": {{0x20, decoder.PGMessage{Kind: decoder.PGTruncate, Tables: []*decoder.Table{tableA}}}},
		"commit outside":   {{0x30, decoder.PGMessage{Kind: decoder.PGCommit, CommitLSN: 0x30}}},
		"nested begin":     {begin, begin},
		"wrong commit":     {begin, {0x40, decoder.PGMessage{Kind: decoder.PGCommit, CommitLSN: 0x40, EndLSN: 0x48}}},
		"stream start":     {{0x10, decoder.PGMessage{Kind: decoder.PGStreamStart, XID: 4}}},
		"unknown kind":     {{0x10, decoder.PGMessage{Kind: 200}}},
	} {
		if _, _, err := run(t, position{}, msgs); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", name, err)
		}
	}
}

func TestAssemblerStopsOnEmitError(t *testing.T) {
	a := newAssembler(position{})
	stop := errors.New("full")
	msg := fakeTx(1, 0x100, 0x110, 1)[0].msg
	if err := a.handle(&msg, 0x10, func(connectors.Event) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("handle = %v, want the emit error", err)
	}
}
