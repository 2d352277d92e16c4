package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/jackc/pglogrepl"
)

// testCatalog says every relation's key is id.
type testCatalog struct{}

func (testCatalog) Relation(context.Context, uint32) (decoder.PGRelationInfo, error) {
	return decoder.PGRelationInfo{PrimaryKey: []string{"id"}, NotNull: []string{"id"}}, nil
}

func (testCatalog) Type(_ context.Context, oid uint32) (decoder.PGTypeInfo, error) {
	return decoder.PGTypeInfo{}, fmt.Errorf("type %d: %w", oid, ErrTypeNotFound)
}

// pgMsg builds raw pgoutput messages, big-endian as the protocol.
type pgMsg []byte

func (m pgMsg) u8(v byte) pgMsg    { return append(m, v) }
func (m pgMsg) u16(v uint16) pgMsg { return binary.BigEndian.AppendUint16(m, v) }
func (m pgMsg) u32(v uint32) pgMsg { return binary.BigEndian.AppendUint32(m, v) }
func (m pgMsg) u64(v uint64) pgMsg { return binary.BigEndian.AppendUint64(m, v) }
func (m pgMsg) str(s string) pgMsg { return append(append(m, s...), 0) }

// withXID starts a message with tag, and the xid when it is sent inside a stream block
// (xid != 0).
func withXID(tag byte, xid uint32) pgMsg {
	m := pgMsg{tag}
	if xid != 0 {
		m = m.u32(xid)
	}
	return m
}

const (
	oidInt4 = 23
	oidText = 25
	relT    = 16500
)

// relMsg describes public.t as id int4 (key) and extra-1 text columns c1, c2...
func relMsg(xid uint32, cols int) []byte {
	m := withXID('R', xid).u32(relT).str("public").str("t").u8('d').u16(uint16(cols))
	m = m.u8(1).str("id").u32(oidInt4).u32(0xFFFFFFFF)
	for i := 1; i < cols; i++ {
		m = m.u8(0).str(fmt.Sprintf("c%d", i)).u32(oidText).u32(0xFFFFFFFF)
	}
	return m
}

// insMsg inserts id into public.t described with cols columns, each text column holding pad.
func insMsg(xid uint32, id, cols int, pad string) []byte {
	m := withXID('I', xid).u32(relT).u8('N').u16(uint16(cols))
	s := fmt.Sprint(id)
	m = append(m.u8('t').u32(uint32(len(s))), s...)
	for i := 1; i < cols; i++ {
		m = append(m.u8('t').u32(uint32(len(pad))), pad...)
	}
	return m
}

func beginMsg(xid uint32, final pglogrepl.LSN) []byte {
	return pgMsg{'B'}.u64(uint64(final)).u64(0).u32(xid)
}

func commitMsg(commit, end pglogrepl.LSN) []byte {
	return pgMsg{'C'}.u8(0).u64(uint64(commit)).u64(uint64(end)).u64(0)
}

func streamStart(xid uint32, first bool) []byte {
	f := byte(0)
	if first {
		f = 1
	}
	return pgMsg{'S'}.u32(xid).u8(f)
}

func streamStop() []byte { return []byte{'E'} }

func streamCommit(xid uint32, commit, end pglogrepl.LSN) []byte {
	return pgMsg{'c'}.u32(xid).u8(0).u64(uint64(commit)).u64(uint64(end)).u64(0)
}

func streamAbort(xid, sub uint32) []byte { return pgMsg{'A'}.u32(xid).u32(sub) }

// rig feeds raw messages to a router with a real decoder and a spool in a temporary directory.
type rig struct {
	t      *testing.T
	dir    string
	r      *router
	at     pglogrepl.LSN
	lines  []string
	events []connectors.Event
}

func newRig(t *testing.T, resume position, spillBuf int) *rig {
	t.Helper()
	g := &rig{t: t, dir: t.TempDir(), at: 0x100}
	sp, err := newSpool(g.dir, spillBuf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.close)
	g.r = &router{dec: decoder.NewPGDecoder(testCatalog{}), asm: newAssembler(resume), spool: sp}
	return g
}

func (g *rig) emit(ev connectors.Event) error {
	g.events = append(g.events, ev)
	switch ev.Kind {
	case connectors.EventBegin:
		g.lines = append(g.lines, "begin "+ev.Position.String())
	case connectors.EventCommit:
		g.lines = append(g.lines, "commit "+ev.Position.String())
	case connectors.EventChange:
		c := ev.Change
		g.lines = append(g.lines, fmt.Sprintf("%s %s id=%d xid=%d cols=%d", c.Op, c.Table.Name, c.After[0].Int,
			SourceTxID(&c.Source), len(c.Table.Columns)))
	}
	return nil
}

// feed routes each message, at increasing LSNs, and returns the first error.
func (g *rig) feed(msgs ...[]byte) error {
	for _, m := range msgs {
		g.at += 0x10
		if err := g.r.handle(context.Background(), m, g.at, g.emit); err != nil {
			return err
		}
	}
	return nil
}

func (g *rig) mustFeed(msgs ...[]byte) {
	g.t.Helper()
	if err := g.feed(msgs...); err != nil {
		g.t.Fatal(err)
	}
}

// spillFiles lists the spill files in the rig's directory.
func (g *rig) spillFiles() []string {
	g.t.Helper()
	names, err := filepath.Glob(filepath.Join(g.dir, "*"+spillSuffix))
	if err != nil {
		g.t.Fatal(err)
	}
	return names
}

func checkLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestStreamedTransactionsReplayInCommitOrder(t *testing.T) {
	g := newRig(t, position{lsn: 0x100}, spillBufferSize)
	g.mustFeed(
		streamStart(100, true), relMsg(100, 2), insMsg(100, 1, 2, "a"), insMsg(100, 2, 2, "a"), streamStop(),
		// A whole transaction between the chunks, committed first.
		beginMsg(102, 0x2000), relMsg(0, 2), insMsg(0, 50, 2, "n"), commitMsg(0x2000, 0x2010),
		streamStart(101, true), relMsg(101, 2), insMsg(101, 20, 2, "b"), streamStop(),
		streamStart(100, false), insMsg(100, 3, 2, "a"), streamStop(),
	)
	checkLines(t, g.lines, []string{
		`begin {"lsn":"0/100","tx":"0/2000"}`, "c t id=50 xid=102 cols=2", `commit {"lsn":"0/2010"}`,
	})
	if n := len(g.spillFiles()); n != 2 {
		t.Errorf("%d spill files while two transactions stream, want 2", n)
	}
	g.lines = nil
	g.mustFeed(streamCommit(101, 0x3000, 0x3010), streamCommit(100, 0x4000, 0x4010))
	checkLines(t, g.lines, []string{
		`begin {"lsn":"0/2010","tx":"0/3000"}`, "c t id=20 xid=101 cols=2", `commit {"lsn":"0/3010"}`,
		`begin {"lsn":"0/3010","tx":"0/4000"}`, "c t id=1 xid=100 cols=2", "c t id=2 xid=100 cols=2",
		"c t id=3 xid=100 cols=2", `commit {"lsn":"0/4010"}`,
	})
	// Each change carries the LSN it was received at, not the commit's.
	var lsns []uint64
	for _, ev := range g.events {
		if ev.Kind == connectors.EventChange && SourceTxID(&ev.Change.Source) == 100 {
			lsns = append(lsns, SourceLSN(&ev.Change.Source))
		}
	}
	if len(lsns) != 3 || !(lsns[0] < lsns[1] && lsns[1] < lsns[2]) || lsns[2] >= 0x4000 {
		t.Errorf("LSNs of xid 100's changes = %x, want increasing receive LSNs", lsns)
	}
	if files := g.spillFiles(); len(files) != 0 {
		t.Errorf("spill files left after the commits: %v", files)
	}
}

// A streamed transaction's Relation message reaches the decoder's cache only when it commits:
// pgoutput assumes so, and does not describe the relation again to the other transactions.
func TestStreamedRelationAppliesAtCommitOnly(t *testing.T) {
	g := newRig(t, position{lsn: 0x100}, spillBufferSize)
	g.mustFeed(
		beginMsg(90, 0x1000), relMsg(0, 2), insMsg(0, 1, 2, "x"), commitMsg(0x1000, 0x1010),
		// xid 100 adds a column, streams, and rolls back.
		streamStart(100, true), relMsg(100, 3), insMsg(100, 2, 3, "x"), streamStop(),
		// xid 101 streams a change of its own description, committed after xid 102.
		streamStart(101, true), relMsg(101, 3), insMsg(101, 3, 3, "y"), streamStop(),
		streamAbort(100, 100),
		beginMsg(102, 0x2000), insMsg(0, 4, 2, "z"), commitMsg(0x2000, 0x2010),
		streamCommit(101, 0x3000, 0x3010),
		// Described by xid 101's commit.
		beginMsg(103, 0x4000), insMsg(0, 5, 3, "w"), commitMsg(0x4000, 0x4010),
	)
	var changes []string
	for _, l := range g.lines {
		if strings.HasPrefix(l, "c ") {
			changes = append(changes, l)
		}
	}
	checkLines(t, changes, []string{"c t id=1 xid=90 cols=2", "c t id=4 xid=102 cols=2",
		"c t id=3 xid=101 cols=3", "c t id=5 xid=103 cols=3"})
}

func TestStreamedSubtransactionAbortDropsExactlyItsChanges(t *testing.T) {
	g := newRig(t, position{lsn: 0x100}, spillBufferSize)
	g.mustFeed(
		streamStart(100, true),
		relMsg(200, 2), insMsg(200, 2, 2, "s"), insMsg(100, 1, 2, "top"),
		insMsg(300, 3, 2, "s"), insMsg(301, 4, 2, "nested in 300"), streamStop(),
		// ROLLBACK TO the savepoint of 300 aborts 301 then 300; 999 has no change.
		streamAbort(100, 301), streamAbort(100, 300), streamAbort(100, 999),
		streamStart(100, false), insMsg(100, 5, 2, "top"), insMsg(400, 6, 2, "s"), insMsg(401, 7, 2, "s"), streamStop(),
		// Aborting 400 drops its nested 401 too.
		streamAbort(100, 400),
		streamStart(100, false), insMsg(100, 8, 2, "top"), streamStop(),
		streamCommit(100, 0x4000, 0x4010),
	)
	// Subtransaction 200 did not abort: its change stays, in its place.
	checkLines(t, g.lines, []string{`begin {"lsn":"0/100","tx":"0/4000"}`,
		"c t id=2 xid=100 cols=2", "c t id=1 xid=100 cols=2", "c t id=5 xid=100 cols=2",
		"c t id=8 xid=100 cols=2", `commit {"lsn":"0/4010"}`})
}

func TestStreamedSubtransactionAbortKeepsLaterDescriptions(t *testing.T) {
	// The description sent inside 200 is the only one xid 100 gets: it must outlive 200.
	g := newRig(t, position{lsn: 0x100}, spillBufferSize)
	g.mustFeed(
		streamStart(100, true), relMsg(200, 2), insMsg(200, 1, 2, "s"), streamStop(),
		streamAbort(100, 200),
		streamStart(100, false), insMsg(100, 2, 2, "top"), streamStop(),
		streamCommit(100, 0x4000, 0x4010),
	)
	checkLines(t, g.lines, []string{`begin {"lsn":"0/100","tx":"0/4000"}`,
		"c t id=2 xid=100 cols=2", `commit {"lsn":"0/4010"}`})
}

func TestStreamedWholeAbortDeliversNothing(t *testing.T) {
	g := newRig(t, position{lsn: 0x100}, spillBufferSize)
	g.mustFeed(
		streamStart(100, true), relMsg(100, 2), insMsg(100, 1, 2, "a"), insMsg(200, 2, 2, "a"), streamStop(),
		streamStart(100, false), insMsg(100, 3, 2, "a"), streamStop(),
		streamAbort(100, 100),
	)
	if len(g.events) != 0 || len(g.spillFiles()) != 0 {
		t.Errorf("after the abort: events %v, spill files %v", g.lines, g.spillFiles())
	}
	err := g.feed(streamCommit(100, 0x4000, 0x4010))
	if !errors.Is(err, ErrProtocol) {
		t.Errorf("Stream Commit of an aborted xid: %v, want ErrProtocol", err)
	}
}

func TestStreamedTransactionLargerThanBuffers(t *testing.T) {
	const rows = 3000
	pad := strings.Repeat("p", 100)
	g := newRig(t, position{lsn: 0x100}, 4096)
	g.mustFeed(streamStart(100, true), relMsg(100, 2))
	for i := range rows {
		if i > 0 && i%1000 == 0 {
			g.mustFeed(streamStop(), streamStart(100, false))
		}
		g.mustFeed(insMsg(100, i, 2, pad))
	}
	g.mustFeed(streamStop())
	files := g.spillFiles()
	if len(files) != 1 {
		t.Fatalf("spill files %v, want one", files)
	}
	fi, err := os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < rows*100 || fi.Size() <= spillBufferSize {
		t.Errorf("spill file has %d bytes, want all %d rows on disk", fi.Size(), rows)
	}
	g.mustFeed(streamCommit(100, 0x9000, 0x9010))
	if len(g.events) != rows+2 {
		t.Fatalf("%d events, want %d", len(g.events), rows+2)
	}
	for i, ev := range g.events[1 : rows+1] {
		c := ev.Change
		if c.After[0].Int != int64(i) || string(c.After[1].Bytes) != pad {
			t.Fatalf("change %d = id %d %q", i, c.After[0].Int, c.After[1].Bytes)
		}
	}
}

// Resuming inside a streamed transaction skips its first changes, as for a whole one.
func TestStreamedTransactionResumesWithSkip(t *testing.T) {
	g := newRig(t, position{lsn: 0x100, tx: 0x4000, skip: 2}, spillBufferSize)
	g.mustFeed(
		streamStart(100, true), relMsg(100, 2), insMsg(100, 1, 2, "a"), insMsg(100, 2, 2, "a"), insMsg(100, 3, 2, "a"),
		streamStop(), streamCommit(100, 0x4000, 0x4010),
	)
	checkLines(t, g.lines, []string{`begin {"lsn":"0/100","tx":"0/4000"}+2`,
		"c t id=3 xid=100 cols=2", `commit {"lsn":"0/4010"}`})
}

func TestStreamingProtocolViolations(t *testing.T) {
	tests := []struct {
		name string
		msgs [][]byte
	}{
		{"later segment never started", [][]byte{streamStart(100, false)}},
		{"first segment twice", [][]byte{streamStart(100, true), relMsg(100, 2), streamStop(), streamStart(100, true)}},
		{"begin inside a block", [][]byte{streamStart(100, true), beginMsg(5, 0x1000)}},
		{"abort inside a block", [][]byte{streamStart(100, true), streamAbort(100, 100)}},
		{"stream start inside a transaction", [][]byte{beginMsg(5, 0x1000), streamStart(100, true)}},
		{"commit of an unknown xid", [][]byte{streamCommit(7, 0x1000, 0x1010)}},
		{"streamed message without xid", [][]byte{streamStart(100, true), {'I', 0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRig(t, position{lsn: 0x100}, spillBufferSize)
			err := g.feed(tt.msgs...)
			var msgErr *decoder.PGMessageError
			if !errors.Is(err, ErrProtocol) && !errors.As(err, &msgErr) {
				t.Errorf("error %v, want ErrProtocol or a decoder error", err)
			}
		})
	}
	// With streaming off, the router has no spool and refuses streamed messages.
	r := &router{dec: decoder.NewPGDecoder(testCatalog{}), asm: newAssembler(position{lsn: 0x100})}
	err := r.handle(context.Background(), streamStart(1, true), 0x200, func(connectors.Event) error { return nil })
	if !errors.Is(err, ErrProtocol) {
		t.Errorf("Stream Start with streaming off: %v, want ErrProtocol", err)
	}
}

func TestNewSpoolClearsOnlySpillFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spill")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"old-100.spill", "other-7.spill", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("left by a crash"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sp, err := newSpool(dir, spillBufferSize)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 1 || filepath.Base(names[0]) != "keep.txt" {
		t.Errorf("after newSpool the directory holds %v, want only keep.txt", names)
	}
	// A missing directory is created.
	if _, err := newSpool(filepath.Join(dir, "a", "b"), spillBufferSize); err != nil {
		t.Errorf("newSpool in a new directory: %v", err)
	}
	// A path that cannot be a directory is a configuration error.
	var ce *ConfigError
	if _, err := newSpool(filepath.Join(dir, "keep.txt"), spillBufferSize); !errors.As(err, &ce) || ce.Field != "spill dir" {
		t.Errorf("newSpool on a file: %v, want a *ConfigError about the spill dir", err)
	}
}

// A damaged spill file fails the replay rather than delivering something else.
func TestSpillFileCorruptionIsDetected(t *testing.T) {
	g := newRig(t, position{lsn: 0x100}, spillBufferSize)
	g.mustFeed(streamStart(100, true), relMsg(100, 2), insMsg(100, 1, 2, "a"), streamStop())
	files := g.spillFiles()
	if len(files) != 1 {
		t.Fatalf("spill files %v", files)
	}
	if err := os.Truncate(files[0], 20); err != nil {
		t.Fatal(err)
	}
	err := g.feed(streamCommit(100, 0x4000, 0x4010))
	if !errors.Is(err, ErrSpillCorrupt) {
		t.Errorf("replaying a truncated spill file: %v, want ErrSpillCorrupt", err)
	}
}

// splitMessages cuts data into messages, each prefixed by its length in one byte.
func splitMessages(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := int(data[0])
		data = data[1:]
		n = min(n, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

// FuzzRouterStreaming feeds arbitrary message sequences to a streaming router: it may refuse
// them, never panic, and a transaction it delivers is whole.
func FuzzRouterStreaming(f *testing.F) {
	// The seed corpus is in testdata/fuzz/FuzzRouterStreaming.
	f.Fuzz(func(t *testing.T, data []byte) {
		g := newRig(t, position{lsn: 0x100}, 64)
		_ = g.feed(splitMessages(data)...)
		depth := 0
		for _, ev := range g.events {
			switch ev.Kind {
			case connectors.EventBegin:
				depth++
			case connectors.EventCommit:
				depth--
			}
			if depth < 0 || depth > 1 {
				t.Fatalf("unbalanced events: %v", g.lines)
			}
		}
	})
}
