package mysql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
)

func TestSnapshotPositionRoundTrip(t *testing.T) {
	set, err := ParseGTIDSet(FlavorMariaDB, "0-1-100")
	if err != nil {
		t.Fatal(err)
	}
	p := Position{GTIDs: set, File: "mysql-bin.000004", Pos: 42,
		Snapshot: &SnapshotProgress{Table: "shop.orders", After: []string{"7", "a b"}}}
	want := `{"flavor":"mariadb","gtids":"0-1-100","file":"mysql-bin.000004","pos":42,"snapshot":{"table":"shop.orders","after":["7","a b"]}}`
	if p.String() != want {
		t.Fatalf("String = %s\nwant     %s", p, want)
	}
	back, err := ParsePosition(p.String())
	if err != nil || back.String() != want || !slices.Equal(back.Snapshot.After, p.Snapshot.After) {
		t.Fatalf("ParsePosition = %v, %v", back, err)
	}
	if back.streaming().Snapshot != nil || back.Snapshot == nil {
		t.Errorf("streaming() must drop the progress and only in its copy")
	}
	if c, ok := back.compare(back.streaming()); !ok || c != 0 {
		t.Errorf("compare with the plain position = %d, %v; want 0", c, ok)
	}
	// A chunk's Begin stored with a Skip is read again whole.
	_, skip, err := decodePosition(offsets.Position{Source: []byte(want), Skip: 3})
	if err != nil || skip != 0 {
		t.Errorf("decodePosition with skip = %d, %v; want 0, nil", skip, err)
	}
	for _, bad := range []string{
		`{"flavor":"mariadb","gtids":"0-1-100","snapshot":{"table":"orders"}}`,
		`{"flavor":"mariadb","gtids":"0-1-100","tx":"0-1-101","snapshot":{"table":"a.b"}}`,
	} {
		if _, err := ParsePosition(bad); !errors.Is(err, ErrBadPosition) {
			t.Errorf("ParsePosition(%s) = %v, want ErrBadPosition", bad, err)
		}
	}
}

func TestChunkQuery(t *testing.T) {
	comp := &tableDef{Database: "shop", Name: "lines", Columns: []columnDef{
		{Name: "order", Type: "int(11)", Key: true}, {Name: "qty", Type: "int(11)"}, {Name: "sku", Type: "varchar(20)", Key: true}}}
	keyless := &tableDef{Database: "shop", Name: "log", Columns: []columnDef{{Name: "msg", Type: "text"}}}
	for _, tc := range []struct {
		t     *tableDef
		after bool
		want  string
	}{
		{comp, false, "SELECT `order`, `qty`, `sku` FROM `shop`.`lines` ORDER BY `order`, `sku` LIMIT 11"},
		{comp, true, "SELECT `order`, `qty`, `sku` FROM `shop`.`lines` WHERE (`order`, `sku`) > (?, ?) ORDER BY `order`, `sku` LIMIT 11"},
		{keyless, true, "SELECT `msg` FROM `shop`.`log`"},
	} {
		if got := chunkQuery(tc.t, tc.after, 10); got != tc.want {
			t.Errorf("chunkQuery = %s\nwant         %s", got, tc.want)
		}
	}
}

// TestChunkQueryReadsStoredText: text in a charset other than UTF-8 is read as its stored
// bytes, which the row decoder converts as it converts the binlog's; the key conditions and
// order stay on the column itself.
func TestChunkQueryReadsStoredText(t *testing.T) {
	tbl := &tableDef{Database: "d", Name: "t", Columns: []columnDef{
		{Name: "k", Type: "varchar(9)", Charset: "latin1", Key: true}, {Name: "u", Type: "text", Charset: "utf8mb4"},
		{Name: "w", Type: "char(3) character set utf16"}, {Name: "e", Type: "enum('é')", Charset: "latin1"},
		{Name: "b", Type: "varbinary(4)"}}}
	want := "SELECT CAST(`k` AS BINARY), `u`, CAST(`w` AS BINARY), (`e`+0), `b` FROM `d`.`t` WHERE (`k`) > (?) ORDER BY `k` LIMIT 3"
	if got := chunkQuery(tbl, true, 2); got != want {
		t.Errorf("chunkQuery = %s\nwant         %s", got, want)
	}
	if got, want := maxKeyQuery(tbl), "SELECT CAST(`k` AS BINARY) FROM `d`.`t` ORDER BY `k` DESC LIMIT 1"; got != want {
		t.Errorf("maxKeyQuery = %s\nwant          %s", got, want)
	}
	after, err := lastKey(tbl, snapRow{[]byte("caf\xe9 \x80"), nil, nil, nil, nil})
	if err != nil || !slices.Equal(after, []string{"café €"}) {
		t.Errorf("lastKey of latin1 bytes = %q, %v; want [café €]", after, err)
	}
}

func TestKeyArgsAndLastKey(t *testing.T) {
	tbl := &tableDef{Database: "d", Name: "t", Columns: []columnDef{
		{Name: "a", Type: "bigint(20) unsigned", Key: true}, {Name: "b", Type: "varbinary(8)", Key: true},
		{Name: "c", Type: "int(11)", Key: true}, {Name: "d", Type: "varchar(9)", Key: true}, {Name: "v", Type: "int(11)"}}}
	row := snapRow{[]byte("18446744073709551615"), []byte{0, 0xff, '"'}, []byte("-5"), []byte("é x"), nil}
	after, err := lastKey(tbl, row)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"18446744073709551615", "00ff22", "-5", "é x"}; !slices.Equal(after, want) {
		t.Fatalf("lastKey = %q, want %q", after, want)
	}
	args, err := keyArgs(tbl, after)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%#v", args); got != `[]interface {}{0xffffffffffffffff, []uint8{0x0, 0xff, 0x22}, -5, "é x"}` {
		t.Errorf("keyArgs = %s", got)
	}
	for _, bad := range [][]string{{"1", "00", "2"}, {"x", "00", "1", "a"}, {"1", "zz", "1", "a"}, {"1", "00", "1.5", "a"}} {
		if _, err := keyArgs(tbl, bad); !errors.Is(err, ErrBadPosition) {
			t.Errorf("keyArgs(%q) = %v, want ErrBadPosition", bad, err)
		}
	}
	if _, err := lastKey(tbl, snapRow{nil, nil, nil, nil, nil}); err == nil {
		t.Errorf("lastKey of a NULL key did not fail")
	}
}

func TestSnapshotStatements(t *testing.T) {
	my := snapshotStatements(FlavorMySQL, true)
	if !slices.Contains(my, "FLUSH TABLES WITH READ LOCK") || my[len(my)-1] != "START TRANSACTION WITH CONSISTENT SNAPSHOT" {
		t.Errorf("MySQL with position: %q", my)
	}
	for _, s := range [][]string{snapshotStatements(FlavorMySQL, false), snapshotStatements(FlavorMariaDB, true)} {
		if slices.Contains(s, "FLUSH TABLES WITH READ LOCK") || s[len(s)-1] != "START TRANSACTION WITH CONSISTENT SNAPSHOT" {
			t.Errorf("no lock expected: %q", s)
		}
	}
}

// fakeReader serves tables of rows (id int key, or keyless) from memory, as the SQL reader does.
type fakeReader struct {
	rows map[string][]snapRow
	// sample is what rowBytes answers, by table (none: 0, unknown).
	sample map[string]float64
}

func (f *fakeReader) rowBytes(_ context.Context, t *tableDef) (float64, error) {
	return f.sample[t.key()], nil
}

func (f *fakeReader) chunk(_ context.Context, t *tableDef, after []string, limit int) ([]snapRow, bool, error) {
	all := f.rows[t.key()]
	if len(keyColumns(t)) == 0 {
		return all, false, nil
	}
	i := 0
	if after != nil {
		n, _ := strconv.Atoi(after[0])
		for i < len(all) {
			id, _ := strconv.Atoi(string(all[i][0].([]byte)))
			if id > n {
				break
			}
			i++
		}
	}
	end := min(i+limit, len(all))
	return all[i:end], end < len(all), nil
}

func (f *fakeReader) estimate(context.Context, *tableDef) float64 { return -1 }

func (f *fakeReader) hasRows(_ context.Context, t *tableDef) (bool, error) {
	return len(f.rows[t.key()]) > 0, nil
}

func testSnapshotter(t *testing.T, counts map[string]int, keyless string) *snapshotter {
	t.Helper()
	m := newSchemaModel()
	rd := &fakeReader{rows: map[string][]snapRow{}}
	for name, n := range counts {
		db, tn, _ := splitTable(name)
		td := &tableDef{Database: db, Name: tn, Version: 1, Columns: []columnDef{{Name: "id", Type: "int(11)", Key: name != keyless}}}
		m.Tables[name] = td
		for i := 1; i <= n; i++ {
			rd.rows[name] = append(rd.rows[name], snapRow{[]byte(strconv.Itoa(i))})
		}
	}
	tables, err := newSchemaTracker(Config{}, m).capturedTables()
	if err != nil {
		t.Fatal(err)
	}
	set, _ := ParseGTIDSet(FlavorMariaDB, "0-1-9")
	return &snapshotter{rd: rd, model: m, tables: tables, limit: 3, at: Position{GTIDs: set, File: "b.000001", Pos: 4},
		now: func() time.Time { return time.Unix(1, 0) }}
}

// collect runs the snapshot from start and returns the rows as "table:id", the markers, and
// the Begin and Commit positions.
func collect(t *testing.T, s *snapshotter, start *SnapshotProgress, first bool) (rows []string, marks []decoder.Snapshot, begins, commits []string) {
	t.Helper()
	err := s.run(context.Background(), start, first, func(e connectors.Event) error {
		switch e.Kind {
		case connectors.EventBegin:
			begins = append(begins, string(e.Position.Source))
		case connectors.EventChange:
			c := e.Change
			if c.Op != decoder.OpRead || c.Before != nil || SourceFile(&c.Source) != "b.000001" || SourcePos(&c.Source) != 4 {
				t.Errorf("change %+v", c)
			}
			rows = append(rows, fmt.Sprintf("%s:%d", c.Table.Name, c.After[0].Int))
			marks = append(marks, c.Source.Snapshot)
		case connectors.EventCommit:
			commits = append(commits, string(e.Position.Source))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rows, marks, begins, commits
}

func TestSnapshotterChunksAndResumes(t *testing.T) {
	s := testSnapshotter(t, map[string]int{"d.a": 7, "d.b": 0, "d.c": 2, "d.z": 0}, "d.c")
	start, err := s.firstProgress(context.Background())
	if err != nil || start == nil || start.Table != "d.a" {
		t.Fatalf("firstProgress = %+v, %v", start, err)
	}
	rows, marks, begins, commits := collect(t, s, start, true)
	want := []string{"a:1", "a:2", "a:3", "a:4", "a:5", "a:6", "a:7", "c:1", "c:2"}
	if !slices.Equal(rows, want) {
		t.Fatalf("rows %q, want %q", rows, want)
	}
	if marks[0] != decoder.SnapshotFirst || marks[len(marks)-1] != decoder.SnapshotLast ||
		slices.ContainsFunc(marks[1:len(marks)-1], func(m decoder.Snapshot) bool { return m != decoder.SnapshotTrue }) {
		t.Errorf("markers %v", marks)
	}
	const base = `{"flavor":"mariadb","gtids":"0-1-9","file":"b.000001","pos":4`
	wantCommits := []string{
		base + `,"snapshot":{"table":"d.a","after":["3"]}}`,
		base + `,"snapshot":{"table":"d.a","after":["6"]}}`,
		base + `,"snapshot":{"table":"d.b"}}`,
		base + `}`,
	}
	if !slices.Equal(commits, wantCommits) {
		t.Fatalf("commits\n%q\nwant\n%q", commits, wantCommits)
	}
	if begins[0] != base+`,"snapshot":{"table":"d.a"}}` || !slices.Equal(begins[1:], commits[:len(commits)-1]) {
		t.Errorf("begins %q", begins)
	}
	// Resuming from each Commit reads exactly the rows after it.
	for i, c := range commits[:len(commits)-1] {
		p, err := ParsePosition(c)
		if err != nil {
			t.Fatal(err)
		}
		got, marks, _, _ := collect(t, s, p.Snapshot, false)
		n := map[int]int{0: 3, 1: 6, 2: 7}[i]
		if !slices.Equal(got, want[n:]) || marks[0] == decoder.SnapshotFirst || marks[len(marks)-1] != decoder.SnapshotLast {
			t.Errorf("resume from %s: %q %v, want %q", c, got, marks, want[n:])
		}
	}
	// A progress naming a table no longer captured, or a key of another width, is refused.
	for _, bad := range []*SnapshotProgress{{Table: "d.gone"}, {Table: "d.a", After: []string{"1", "2"}}} {
		if err := s.run(context.Background(), bad, false, func(connectors.Event) error { return nil }); !errors.Is(err, ErrBadPosition) {
			t.Errorf("run(%+v) = %v, want ErrBadPosition", bad, err)
		}
	}
}

func TestSnapshotterEmpty(t *testing.T) {
	s := testSnapshotter(t, map[string]int{"d.a": 0}, "")
	if p, err := s.firstProgress(context.Background()); p != nil || err != nil {
		t.Errorf("firstProgress of empty tables = %+v, %v; want nil", p, err)
	}
	// One row: "last" wins over "first".
	s = testSnapshotter(t, map[string]int{"d.a": 1}, "")
	_, marks, _, commits := collect(t, s, &SnapshotProgress{Table: "d.a"}, true)
	if !slices.Equal(marks, []decoder.Snapshot{decoder.SnapshotLast}) || len(commits) != 1 {
		t.Errorf("one row: %v, %q", marks, commits)
	}
}

// A row the snapshot cannot decode fails naming the source once, not "mysql source: snapshot
// of a: mysql source: unexpected ...".
func TestSnapshotterDecodeErrorNamesSourceOnce(t *testing.T) {
	s := testSnapshotter(t, map[string]int{"d.a": 1}, "")
	s.rd.(*fakeReader).rows["d.a"] = []snapRow{{[]byte("1"), []byte("2")}}
	err := s.run(context.Background(), &SnapshotProgress{Table: "d.a"}, true, func(connectors.Event) error { return nil })
	if !errors.Is(err, ErrProtocol) || strings.Count(err.Error(), "mysql source: ") != 1 {
		t.Errorf("run = %v, want ErrProtocol naming the source once", err)
	}
}
