package postgres

import (
	"context"
	"encoding/binary"
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
	tests := []struct {
		name string
		p    position
		want string
	}{
		{"key", position{lsn: 0x16B3748, snap: &snapshotProgress{Table: "public.t", After: []string{"7", "a'b"}, Done: []string{"s.t0"}}},
			`{"lsn":"0/16B3748","snapshot":{"table":"public.t","after":["7","a'b"],"done":["s.t0"]}}`},
		{"ctid", position{lsn: 1 << 32, snap: &snapshotProgress{Table: "public.k", CTID: "(12,0)"}},
			`{"lsn":"1/0","snapshot":{"table":"public.k","ctid":"(12,0)","done":[]}}`},
		{"table start", position{lsn: 5, snap: &snapshotProgress{Table: "public.k", Done: []string{}}},
			`{"lsn":"0/5","snapshot":{"table":"public.k","done":[]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := tt.p.encode()
			if string(enc.Source) != tt.want {
				t.Fatalf("encode = %s, want %s", enc.Source, tt.want)
			}
			got, err := parsePosition(enc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.encode().Source) != tt.want || got.lsn != tt.p.lsn || got.snap == nil {
				t.Errorf("round trip = %+v", got)
			}
		})
	}
	// A snapshot chunk's Begin stored with a Skip is accepted (the chunk is read again).
	if _, err := parsePosition(offsets.Position{Source: []byte(tests[0].want), Skip: 3}); err != nil {
		t.Errorf("skip on a snapshot position: %v", err)
	}
}

func TestSnapshotPositionRejects(t *testing.T) {
	for _, src := range []string{
		`{"lsn":"0/1","snapshot":{"table":"nodot","done":[]}}`,
		`{"lsn":"0/1","snapshot":{"table":"s.t","after":["1"],"ctid":"(1,0)","done":[]}}`,
		`{"lsn":"0/1","snapshot":{"table":"s.t","ctid":"(1,2)","done":[]}}`,
		`{"lsn":"0/1","snapshot":{"table":"s.t","ctid":"(x,0)","done":[]}}`,
		`{"lsn":"0/1","snapshot":{"table":"s.t","done":["s.t"]}}`,
		`{"lsn":"0/1","snapshot":{"table":"s.t","done":["bad"]}}`,
		`{"lsn":"0/1","tx":"0/2","snapshot":{"table":"s.t","done":[]}}`,
		`{"lsn":"0/1","snapshot":{"table":"s.t","done":[],"extra":1}}`,
	} {
		if _, err := parsePosition(offsets.Position{Source: []byte(src)}); !errors.Is(err, ErrBadPosition) {
			t.Errorf("parsePosition(%s) = %v, want ErrBadPosition", src, err)
		}
	}
}

func TestAckOfSnapshotPositionStaysAtConsistentPoint(t *testing.T) {
	s := &Source{wake: make(chan struct{}, 1)}
	pos := position{lsn: 0x500, snap: &snapshotProgress{Table: "s.t", After: []string{"9"}}}.encode()
	if err := s.Ack(pos); err != nil {
		t.Fatal(err)
	}
	if s.Acked() != 0x500 {
		t.Errorf("acked %s after a snapshot position at 0/500", s.Acked())
	}
}

func TestKeysetCopy(t *testing.T) {
	tab := &snapTable{name: "s.T", schema: "s", table: "T", columns: []string{"a", "B", "c"}, key: []string{"B", "a"}}
	got, err := keysetCopy(tab, nil, nil, 11)
	if err != nil {
		t.Fatal(err)
	}
	want := `COPY (SELECT "a", "B", "c", "B"::text, "a"::text FROM "s"."T" ORDER BY "s"."T"."B", "s"."T"."a" LIMIT 11) TO STDOUT (FORMAT binary)`
	if got != want {
		t.Errorf("first chunk:\n got %s\nwant %s", got, want)
	}
	got, err = keysetCopy(tab, []string{"x'y", `back\slash`}, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	want = `COPY (SELECT "a", "B", "c", "B"::text, "a"::text FROM "s"."T" WHERE ("B", "a") > ('x''y', 'back\slash') ORDER BY "s"."T"."B", "s"."T"."a" LIMIT 3) TO STDOUT (FORMAT binary)`
	if got != want {
		t.Errorf("next chunk:\n got %s\nwant %s", got, want)
	}
	if _, err := keysetCopy(tab, []string{"1"}, nil, 3); !errors.Is(err, ErrBadPosition) {
		t.Errorf("one value for a two-column key: %v", err)
	}
	got, err = keysetProbe(tab, []string{"x", "1"}, []string{"z", "9"})
	want = `COPY (SELECT "B", "a" FROM "s"."T" WHERE ("B", "a") > ('x', '1') AND ("B", "a") <= ('z', '9') ORDER BY "s"."T"."B", "s"."T"."a" LIMIT 1) TO STDOUT`
	if err != nil || got != want {
		t.Errorf("probe:\n got %s (%v)\nwant %s", got, err, want)
	}
	if got := ctidCopy(&snapTable{schema: "public", table: "k", columns: []string{"v"}}, 4, 8); got !=
		`COPY (SELECT "v" FROM "public"."k" WHERE ctid >= '(4,0)'::tid AND ctid < '(8,0)'::tid) TO STDOUT (FORMAT binary)` {
		t.Errorf("ctid chunk: %s", got)
	}
}

func TestParseCopyText(t *testing.T) {
	data := "1\ta\\tb\\nc\t\\N\n" +
		"2\t\\\\N\t\\\\\n" +
		"3\t\\101\\x41\\x4a\\q\t\n"
	var got [][]string
	err := parseCopyText([]byte(data), 3, func(fields [][]byte) error {
		row := make([]string, len(fields))
		for i, f := range fields {
			if f == nil {
				row[i] = "<NULL>"
			} else {
				row[i] = string(f)
			}
		}
		got = append(got, row)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"1", "a\tb\nc", "<NULL>"}, {"2", `\N`, `\`}, {"3", "AAJq", ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
	for _, bad := range []string{"1\t2\n", "1\t2\t3\t4\n", "1\t2\t3", "1\t2\tx\\\n"} {
		if err := parseCopyText([]byte(bad), 3, func([][]byte) error { return nil }); !errors.Is(err, ErrCopyFormat) {
			t.Errorf("parseCopyText(%q) = %v, want ErrCopyFormat", bad, err)
		}
	}
}

func FuzzParseCopyText(f *testing.F) {
	f.Add([]byte("1\ta\\tb\t\\N\n"), 3)
	f.Add([]byte("\\x4\\777\\\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 1 || n > 64 {
			return
		}
		_ = parseCopyText(data, n, func(fields [][]byte) error {
			if len(fields) != n {
				t.Fatalf("%d fields, want %d", len(fields), n)
			}
			return nil
		})
	})
}

// fakeReader holds tables as sorted integer keys (keyed) or pages of values (keyless).
type fakeReader struct {
	keyed map[string][]int
	pages map[string][][]int
	reads int
	// width, by table, gives each row a text value of that many bytes; sample is what
	// rowBytes answers (none: 0, unknown).
	width  map[string]int
	sample map[string]float64
}

// row returns the row of key or value k of table name.
func (f *fakeReader) row(name string, k int) []decoder.Value {
	row := []decoder.Value{{State: decoder.ValueSet, Int: int64(k)}}
	if w := f.width[name]; w > 0 {
		row = append(row, decoder.Value{State: decoder.ValueSet, Bytes: make([]byte, w)})
	}
	return row
}

func (f *fakeReader) rowBytes(_ context.Context, t *snapTable) (float64, error) {
	return f.sample[t.name], nil
}

func (f *fakeReader) describe(_ context.Context, name string) (*snapTable, *decoder.Table, error) {
	// One page per range in the parallel reader, as the serial fake reads.
	t := &snapTable{name: name, columns: []string{"id"}, pages: 1, estimate: 1e9}
	if _, ok := f.keyed[name]; ok {
		t.key, t.keyIdx = []string{"id"}, []int{0}
	}
	return t, &decoder.Table{Name: name, Columns: []decoder.Column{{Name: "id", Type: decoder.TypeInt64}}}, nil
}

func (f *fakeReader) chunk(_ context.Context, t *snapTable, cur snapCursor, limit int) ([][]decoder.Value, snapCursor, bool, error) {
	f.reads++
	var rows [][]decoder.Value
	if keys, ok := f.keyed[t.name]; ok {
		i := 0
		if cur.after != nil {
			after, _ := strconv.Atoi(cur.after[0])
			i, _ = slices.BinarySearch(keys, after+1)
		}
		end := min(i+limit, len(keys))
		for _, k := range keys[i:end] {
			rows = append(rows, f.row(t.name, k))
		}
		next := cur
		if end > i {
			next.after = []string{strconv.Itoa(keys[end-1])}
		}
		return rows, next, end < len(keys), nil
	}
	pages := f.pages[t.name]
	p := int(cur.page)
	for p < len(pages) && len(rows) == 0 {
		for _, v := range pages[p] {
			rows = append(rows, f.row(t.name, v))
		}
		p++
	}
	more := false
	for _, pg := range pages[p:] {
		more = more || len(pg) > 0
	}
	return rows, snapCursor{page: uint32(p)}, more, nil
}

func (f *fakeReader) hasRows(_ context.Context, name string) (bool, error) {
	if k, ok := f.keyed[name]; ok {
		return len(k) > 0, nil
	}
	for _, p := range f.pages[name] {
		if len(p) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// collected is what a snapshot run emitted: rows as "table:id:marker", and commit positions.
type collected struct {
	rows    []string
	commits []offsets.Position
	begins  []offsets.Position
}

func runFake(t *testing.T, rd snapReader, tables []string, limit int, from *snapshotProgress, stopAfter int) (collected, error) {
	t.Helper()
	var c collected
	sn := &snapshotter{rd: rd, tables: tables, limit: limit, cp: 0x100, now: time.Now, every: time.Hour}
	errStop := errors.New("stop")
	err := sn.run(t.Context(), from, func(ev connectors.Event) error {
		switch ev.Kind {
		case connectors.EventBegin:
			c.begins = append(c.begins, ev.Position)
		case connectors.EventChange:
			if ev.Change.Op != decoder.OpRead || ev.Change.Before != nil || SourceLSN(&ev.Change.Source) != 0x100 {
				t.Errorf("change %+v", ev.Change)
			}
			c.rows = append(c.rows, fmt.Sprintf("%s:%d:%s", ev.Change.Table.Name, ev.Change.After[0].Int, ev.Change.Source.Snapshot))
		case connectors.EventCommit:
			c.commits = append(c.commits, ev.Position)
			if len(c.commits) == stopAfter {
				return errStop
			}
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return c, err
}

func newFake() *fakeReader {
	return &fakeReader{
		keyed: map[string][]int{"s.a": {1, 2, 3, 4, 5}, "s.empty": nil, "s.c": {10, 20}, "s.tail": nil},
		pages: map[string][][]int{"s.k": {{100, 101}, {}, {}, {102}, {}}},
	}
}

var fakeTables = []string{"s.a", "s.empty", "s.k", "s.c", "s.tail"}

func TestSnapshotterChunksAndMarkers(t *testing.T) {
	c, err := runFake(t, newFake(), fakeTables, 2, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"s.a:1:first", "s.a:2:true", "s.a:3:true", "s.a:4:true", "s.a:5:true",
		"s.k:100:true", "s.k:101:true", "s.k:102:true", "s.c:10:true", "s.c:20:last"}
	if fmt.Sprint(c.rows) != fmt.Sprint(want) {
		t.Errorf("rows\n got %v\nwant %v", c.rows, want)
	}
	wantCommits := []string{
		`{"lsn":"0/100","snapshot":{"table":"s.a","after":["2"],"done":[]}}`,
		`{"lsn":"0/100","snapshot":{"table":"s.a","after":["4"],"done":[]}}`,
		`{"lsn":"0/100","snapshot":{"table":"s.empty","done":["s.a"]}}`,
		`{"lsn":"0/100","snapshot":{"table":"s.k","ctid":"(1,0)","done":["s.a","s.empty"]}}`,
		`{"lsn":"0/100","snapshot":{"table":"s.c","done":["s.a","s.empty","s.k"]}}`,
		`{"lsn":"0/100"}`,
	}
	var got []string
	for _, p := range c.commits {
		got = append(got, string(p.Source))
	}
	if fmt.Sprint(got) != fmt.Sprint(wantCommits) {
		t.Errorf("commits\n got %v\nwant %v", got, wantCommits)
	}
	// Each chunk's Begin is the previous chunk's Commit.
	if string(c.begins[0].Source) != `{"lsn":"0/100","snapshot":{"table":"s.a","done":[]}}` {
		t.Errorf("first begin %s", c.begins[0].Source)
	}
	for i := 1; i < len(c.begins); i++ {
		if string(c.begins[i].Source) != string(c.commits[i-1].Source) {
			t.Errorf("begin %d = %s, commit before = %s", i, c.begins[i].Source, c.commits[i-1].Source)
		}
	}
}

// TestSnapshotterResume stops after every possible chunk, resumes from the last commit, and
// checks that the rows put together are each table's rows once, in order.
func TestSnapshotterResume(t *testing.T) {
	full, err := runFake(t, newFake(), fakeTables, 2, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	strip := func(rows []string) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = r[:strings.LastIndexByte(r, ':')]
		}
		return out
	}
	for stop := 1; stop < len(full.commits); stop++ {
		t.Run(strconv.Itoa(stop), func(t *testing.T) {
			first, err := runFake(t, newFake(), fakeTables, 2, nil, stop)
			if err != nil {
				t.Fatal(err)
			}
			p, err := parsePosition(first.commits[len(first.commits)-1])
			if err != nil || p.snap == nil {
				t.Fatalf("stored position %s: %v", first.commits[len(first.commits)-1].Source, err)
			}
			rest, err := runFake(t, newFake(), fakeTables, 2, p.snap, 0)
			if err != nil {
				t.Fatal(err)
			}
			all := append(strip(first.rows), strip(rest.rows)...)
			if fmt.Sprint(all) != fmt.Sprint(strip(full.rows)) {
				t.Errorf("resumed rows\n got %v\nwant %v", all, strip(full.rows))
			}
			if strings.HasSuffix(rest.rows[0], ":first") || !strings.HasSuffix(rest.rows[len(rest.rows)-1], ":last") {
				t.Errorf("markers after a resume: %v", rest.rows)
			}
			if got := string(rest.commits[len(rest.commits)-1].Source); got != `{"lsn":"0/100"}` {
				t.Errorf("last commit %s", got)
			}
		})
	}
}

func TestSnapshotterNothingToRead(t *testing.T) {
	rd := &fakeReader{keyed: map[string][]int{"s.e": nil}}
	for _, tables := range [][]string{nil, {"s.e"}} {
		c, err := runFake(t, rd, tables, 5, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		// One transaction without changes records that the snapshot is done.
		if len(c.rows) != 0 || len(c.commits) != 1 || string(c.commits[0].Source) != `{"lsn":"0/100"}` {
			t.Errorf("tables %v: rows %v commits %d", tables, c.rows, len(c.commits))
		}
	}
	// A resume whose table left the configuration goes on with the others.
	c, err := runFake(t, newFake(), []string{"s.c"}, 5, &snapshotProgress{Table: "s.gone", After: []string{"1"}}, 0)
	if err != nil || fmt.Sprint(c.rows) != "[s.c:10:true s.c:20:last]" {
		t.Errorf("resume after a removed table: %v, %v", c.rows, err)
	}
}

func TestCursorOfRejectsAChangedKey(t *testing.T) {
	keyed := &snapTable{name: "s.t", key: []string{"a", "b"}}
	if _, err := cursorOf(keyed, &snapshotProgress{Table: "s.t", After: []string{"1"}}); !errors.Is(err, ErrBadPosition) {
		t.Errorf("after with too few values: %v", err)
	}
	if _, err := cursorOf(keyed, &snapshotProgress{Table: "s.t", CTID: "(1,0)"}); !errors.Is(err, ErrBadPosition) {
		t.Errorf("ctid on a keyed table: %v", err)
	}
	if cur, err := cursorOf(&snapTable{name: "s.t"}, &snapshotProgress{Table: "s.t", CTID: "(7,0)"}); err != nil || cur.page != 7 {
		t.Errorf("ctid cursor %+v, %v", cur, err)
	}
}

// copyBinary builds COPY's binary format: the header, rows of fields (nil for NULL), and the
// trailer.
func copyBinary(rows ...[][]byte) []byte {
	b := append([]byte(copyBinarySignature), 0, 0, 0, 0, 0, 0, 0, 0)
	for _, row := range rows {
		b = binary.BigEndian.AppendUint16(b, uint16(len(row)))
		for _, f := range row {
			if f == nil {
				b = binary.BigEndian.AppendUint32(b, 0xffffffff)
				continue
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
			b = append(b, f...)
		}
	}
	return binary.BigEndian.AppendUint16(b, 0xffff)
}

// TestCopyBinaryRows splits COPY's binary format written whole, and written byte by byte (a
// row split across writes), and refuses what is not it.
func TestCopyBinaryRows(t *testing.T) {
	data := copyBinary([][]byte{[]byte("a"), nil}, [][]byte{{}, []byte("bcd")})
	want := [][]string{{"a", "<nil>"}, {"", "bcd"}}
	for _, step := range []int{len(data), 1, 3} {
		var got [][]string
		w := &copyBinaryRows{ncols: 2, fn: func(fields [][]byte) error {
			row := make([]string, len(fields))
			for i, f := range fields {
				row[i] = string(f)
				if f == nil {
					row[i] = "<nil>"
				}
			}
			got = append(got, row)
			return nil
		}}
		for i := 0; i < len(data); i += step {
			chunk := append([]byte(nil), data[i:min(i+step, len(data))]...)
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
			clear(chunk) // pgconn reuses its buffer
		}
		if err := w.end(); err != nil {
			t.Errorf("step %d: %v", step, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("step %d: rows %q, want %q", step, got, want)
		}
	}
	for name, bad := range map[string][]byte{
		"no signature":  []byte("1\ta\n"),
		"no trailer":    data[:len(data)-2],
		"three fields":  copyBinary([][]byte{{1}, {2}, {3}}),
		"negative size": append(copyBinary()[:len(copyBinary())-2], 0, 2, 0xff, 0xff, 0xff, 0xfe),
		"after trailer": append(copyBinary(), 0, 0),
	} {
		w := &copyBinaryRows{ncols: 2, fn: func([][]byte) error { return nil }}
		if _, err := w.Write(bad); err != nil {
			t.Fatalf("%s: Write failed (%v): pgconn would close the connection", name, err)
		}
		if err := w.end(); !errors.Is(err, ErrCopyFormat) {
			t.Errorf("%s: %v, want ErrCopyFormat", name, err)
		}
	}
}
