package mysql

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/go-mysql-org/go-mysql/replication"
)

const (
	uuidA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uuidB = "4e11fa47-71ca-11e1-9e33-c80aa9429562"
)

func mustSet(t *testing.T, f Flavor, s string) GTIDSet {
	t.Helper()
	g, err := ParseGTIDSet(f, s)
	if err != nil {
		t.Fatalf("ParseGTIDSet(%s, %q): %v", f, s, err)
	}
	return g
}

func TestGTIDSetParseString(t *testing.T) {
	for _, tc := range []struct {
		flavor    Flavor
		in, canon string
	}{
		{FlavorMySQL, uuidA + ":1-5:7-9", uuidA + ":1-5:7-9"},
		{FlavorMySQL, uuidA + ":7-9:1-5", uuidA + ":1-5:7-9"},
		{FlavorMySQL, uuidA + ":1-5:6-9", uuidA + ":1-9"},
		{FlavorMySQL, uuidB + ":1-3," + uuidA + ":1-5", uuidA + ":1-5," + uuidB + ":1-3"},
		{FlavorMySQL, "", ""},
		{FlavorMariaDB, "0-1-100", "0-1-100"},
		{FlavorMariaDB, "1-2-7,0-1-100", "0-1-100,1-2-7"},
		{FlavorMariaDB, "", ""},
	} {
		g := mustSet(t, tc.flavor, tc.in)
		if got := g.String(); got != tc.canon {
			t.Errorf("%s %q: String = %q, want %q", tc.flavor, tc.in, got, tc.canon)
		}
		back := mustSet(t, tc.flavor, g.String())
		if !back.Equal(g) {
			t.Errorf("%s %q: round trip gives %q", tc.flavor, tc.in, back)
		}
	}
	for _, bad := range []struct {
		f Flavor
		s string
	}{
		{FlavorMySQL, "nouuid:1-5"}, {FlavorMySQL, uuidA}, {FlavorMySQL, uuidA + ":x"},
		{FlavorMariaDB, "0-1"}, {FlavorMariaDB, "0-1-x"}, {FlavorMariaDB, "0-1-5,0-2-6"}, {FlavorMariaDB, ","},
		{FlavorUnknown, "0-1-1"},
	} {
		if _, err := ParseGTIDSet(bad.f, bad.s); err == nil {
			t.Errorf("ParseGTIDSet(%s, %q) succeeded", bad.f, bad.s)
		}
	}
}

func TestGTIDSetWithAndContains(t *testing.T) {
	my := mustSet(t, FlavorMySQL, uuidA+":1-5:7-9")
	merged, err := my.With(uuidA + ":6")
	if err != nil {
		t.Fatal(err)
	}
	if merged.String() != uuidA+":1-9" {
		t.Errorf("merging 6 into 1-5:7-9 gives %s", merged)
	}
	if my.String() != uuidA+":1-5:7-9" {
		t.Errorf("With changed its receiver: %s", my)
	}
	two, err := merged.With(uuidB + ":1")
	if err != nil {
		t.Fatal(err)
	}
	if !two.Contains(merged) || merged.Contains(two) || !two.Contains(my) {
		t.Errorf("containment wrong: %s vs %s", two, merged)
	}
	if _, err := my.With("0-1-2"); err == nil {
		t.Error("a MariaDB GTID was added to a MySQL set")
	}

	ma := mustSet(t, FlavorMariaDB, "0-1-100,1-2-7")
	next, err := ma.With("1-2-8")
	if err != nil {
		t.Fatal(err)
	}
	if next.String() != "0-1-100,1-2-8" || !next.Contains(ma) || ma.Contains(next) {
		t.Errorf("MariaDB With: %s", next)
	}
	third, _ := next.With("2-1-1")
	if third.String() != "0-1-100,1-2-8,2-1-1" {
		t.Errorf("a new domain: %s", third)
	}
	if ma.Contains(my) || my.Contains(ma) {
		t.Error("sets of different flavors contain each other")
	}
}

// TestGTIDFromEventBytes decodes GTID events from their binlog bytes, as go-mysql does for
// the stream, and checks the GTIDs this package derives and adds.
func TestGTIDFromEventBytes(t *testing.T) {
	// MySQL GTID_EVENT body: commit flag, 16-byte sid, 8-byte gno.
	sid := []byte{0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62}
	body := append([]byte{1}, sid...)
	body = binary.LittleEndian.AppendUint64(body, 6)
	var ge replication.GTIDEvent
	if err := ge.Decode(body); err != nil {
		t.Fatal(err)
	}
	gtid, err := mysqlGTIDString(ge.SID, ge.Tag, ge.GNO)
	if err != nil || gtid != uuidA+":6" {
		t.Fatalf("MySQL GTID = %q, %v", gtid, err)
	}
	set, err := mustSet(t, FlavorMySQL, uuidA+":1-5:7-9").With(gtid)
	if err != nil || set.String() != uuidA+":1-9" {
		t.Fatalf("with the event's GTID: %s, %v", set, err)
	}
	if _, err := mysqlGTIDString(sid[:5], ge.Tag, 1); !errors.Is(err, ErrProtocol) {
		t.Errorf("a short sid: %v", err)
	}

	// MariaDB GTID_EVENT body: 8-byte seq, 4-byte domain, flags; the server id is the header's.
	mb := binary.LittleEndian.AppendUint64(nil, 42)
	mb = binary.LittleEndian.AppendUint32(mb, 3)
	mb = append(mb, replication.BINLOG_MARIADB_FL_STANDALONE, 0, 0, 0, 0, 0, 0)
	var me replication.MariadbGTIDEvent
	me.GTID.ServerID = 7
	if err := me.Decode(mb); err != nil {
		t.Fatal(err)
	}
	mg := mariaDBGTIDString(me.GTID)
	if mg != "3-7-42" {
		t.Fatalf("MariaDB GTID = %q", mg)
	}
	ms, err := mustSet(t, FlavorMariaDB, "0-1-10,3-7-41").With(mg)
	if err != nil || ms.String() != "0-1-10,3-7-42" {
		t.Fatalf("with the event's GTID: %s, %v", ms, err)
	}
}

func TestPositionRoundTrip(t *testing.T) {
	for _, p := range []Position{
		{GTIDs: mustSet(t, FlavorMySQL, uuidA+":1-5:7-9,"+uuidB+":1"), File: "binlog.000003", Pos: 1234},
		{GTIDs: mustSet(t, FlavorMariaDB, "0-1-100,1-2-7"), File: "mysql-bin.000004", Pos: 4, Tx: "0-1-101"},
		{GTIDs: mustSet(t, FlavorMariaDB, ""), File: "mysql-bin.000001", Pos: 4},
		{GTIDs: mustSet(t, FlavorMySQL, uuidA+":1-5"), Tx: uuidA + ":6"},
	} {
		s := p.String()
		back, err := ParsePosition(s)
		if err != nil {
			t.Fatalf("ParsePosition(%s): %v", s, err)
		}
		if back.String() != s || !back.GTIDs.Equal(p.GTIDs) || back.File != p.File || back.Pos != p.Pos || back.Tx != p.Tx {
			t.Errorf("round trip of %s gives %s", s, back)
		}
		op := p.encode(3)
		if p.Tx == "" {
			// A heartbeat's Begin cut by the pipeline: nothing of it to deliver again.
			if got, skip, err := decodePosition(op); err != nil || skip != 0 || got.String() != s {
				t.Errorf("decodePosition(%s) = %s, %d, %v; want the position without its skip", op, got, skip, err)
			}
			continue
		}
		got, skip, err := decodePosition(op)
		if err != nil || skip != 3 || got.String() != s {
			t.Errorf("decodePosition(%s) = %s, %d, %v", op, got, skip, err)
		}
	}
	for _, bad := range []string{
		`{}`, `{"flavor":"oracle","gtids":""}`, `{"flavor":"mysql","gtids":""}`,
		`{"flavor":"mariadb","gtids":"0-1"}`, `{"flavor":"mariadb","gtids":"0-1-1","file":"f"}`,
		`{"flavor":"mariadb","gtids":"0-1-1","tx":"zz"}`, `{"flavor":"mariadb","gtids":"0-1-1","x":1}`,
		`{"flavor":"mariadb","gtids":"0-1-1"} {}`, `[`,
	} {
		if _, err := ParsePosition(bad); !errors.Is(err, ErrBadPosition) {
			t.Errorf("ParsePosition(%s): %v, want ErrBadPosition", bad, err)
		}
	}
	if _, _, err := decodePosition(offsets.Position{Source: []byte(`{"flavor":"mariadb","gtids":"0-1-1","tx":"0-1-2"}`), Skip: -1}); !errors.Is(err, ErrBadPosition) {
		t.Errorf("negative skip: %v", err)
	}
}

func TestFrontierRefusesBackwards(t *testing.T) {
	at := func(gtids, file string, pos uint64, tx string) Position {
		return Position{GTIDs: mustSet(t, FlavorMariaDB, gtids), File: file, Pos: pos, Tx: tx}
	}
	var f frontier
	steps := []struct {
		p    Position
		skip int64
		ok   bool
	}{
		{at("0-1-10", "b.000001", 500, ""), 0, true},
		{at("0-1-10", "b.000001", 500, ""), 0, true},         // the same again
		{at("0-1-10", "b.000001", 500, "0-1-11"), 1, true},   // the next transaction starts where the last ended
		{at("0-1-10", "b.000001", 520, "0-1-11"), 2, true},   // inside the next transaction
		{at("0-1-10", "b.000001", 520, "0-1-11"), 1, false},  // fewer delivered
		{at("0-1-10", "b.000001", 520, "0-1-11"), 5, true},   // more delivered
		{at("0-1-11", "b.000001", 900, ""), 0, true},         // its commit
		{at("0-1-10", "b.000001", 500, ""), 0, false},        // an older commit
		{at("0-1-11,1-1-1", "b.000002", 4, ""), 0, true},     // another domain, next file
		{at("0-1-11,1-1-1", "b.000001", 9999, ""), 0, false}, // earlier file
		{at("0-1-12", "b.000002", 100, ""), 0, false},        // lost a domain: not comparable
		{at("0-1-12,1-1-1", "b.000010", 100, ""), 0, true},   // numeric file order
	}
	for i, s := range steps {
		err := f.advance(s.p, s.skip)
		if s.ok != (err == nil) || err != nil && !errors.Is(err, ErrPositionBackwards) {
			t.Errorf("step %d: advance(%s+%d) = %v, want ok=%t", i, s.p, s.skip, err, s.ok)
		}
	}
	if f.pos.File != "b.000010" {
		t.Errorf("frontier ended at %s", f.pos)
	}
}

func FuzzParsePosition(f *testing.F) {
	f.Add(`{"flavor":"mariadb","gtids":"0-1-100,1-2-7","file":"mysql-bin.000004","pos":4,"tx":"0-1-101"}`)
	f.Add(`{"flavor":"mysql","gtids":"` + uuidA + `:1-5:7-9","file":"binlog.000001","pos":157}`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePosition(s)
		if err != nil {
			if !errors.Is(err, ErrBadPosition) {
				t.Fatalf("error %v is not ErrBadPosition", err)
			}
			return
		}
		back, err := ParsePosition(p.String())
		if err != nil || back.String() != p.String() {
			t.Fatalf("%s: re-parse of %s gives %s, %v", s, p, back, err)
		}
	})
}
