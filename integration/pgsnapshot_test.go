package integration

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/jackc/pgx/v5"
)

// snapTables creates the three tables of the snapshot tests: big (int key, n rows), comp (a
// composite key of int and text, with quotes and tabs in the text), nokey (no key).
func snapTables(t *testing.T, conn *pgx.Conn, n int) {
	t.Helper()
	mustExec(t, conn, `CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL);
		CREATE TABLE comp (a int, b text, v int NOT NULL, PRIMARY KEY (a, b));
		CREATE TABLE nokey (id int NOT NULL, v int NOT NULL);
		ALTER TABLE nokey REPLICA IDENTITY FULL`)
	mustExec(t, conn, fmt.Sprintf(`INSERT INTO big SELECT g, g FROM generate_series(1, %d) g;
		INSERT INTO comp SELECT g %% 50, 'k''' || E'\t' || (g / 50)::text, g FROM generate_series(1, 3000) g;
		INSERT INTO nokey SELECT g, g FROM generate_series(1, 3000) g;
		ANALYZE big, comp, nokey`, n))
}

// pgState rebuilds each table's rows (key text -> value) from events.
type pgState struct {
	rows map[string]map[string]int64
}

func newPGState() *pgState { return &pgState{rows: map[string]map[string]int64{}} }

func rowKey(tbl *decoder.Table, row []decoder.Value) string {
	switch tbl.Name {
	case "comp":
		return fmt.Sprintf("%d|%s", row[0].Int, row[1].Bytes)
	default:
		return fmt.Sprint(row[0].Int)
	}
}

func (s *pgState) apply(ch *decoder.Change) {
	m := s.rows[ch.Table.Name]
	if m == nil {
		m = map[string]int64{}
		s.rows[ch.Table.Name] = m
	}
	vcol := len(ch.Table.Columns) - 1
	switch ch.Op {
	case decoder.OpDelete:
		delete(m, rowKey(ch.Table, ch.Before))
	default:
		if ch.Before != nil {
			delete(m, rowKey(ch.Table, ch.Before))
		}
		m[rowKey(ch.Table, ch.After)] = ch.After[vcol].Int
	}
}

// tableState reads a table's rows as pgState keeps them.
func tableState(t *testing.T, conn *pgx.Conn, table string) map[string]int64 {
	t.Helper()
	q := map[string]string{
		"big":   "SELECT id::text, v FROM big",
		"comp":  "SELECT a::text || '|' || b, v FROM comp",
		"nokey": "SELECT id::text, v FROM nokey",
	}[table]
	rows, err := conn.Query(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	return out
}

func snapConfig(t *testing.T, db *PostgresDB, chunk int) postgres.Config {
	cfg := pgSourceConfig(t, db, "public.big", "public.comp", "public.nokey")
	cfg.SnapshotMode = postgres.SnapshotInitial
	cfg.SnapshotChunkRows = chunk
	return cfg
}

func TestPGSnapshotThenStreamWithConcurrentWriter(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	snapTables(t, conn, 25000)
	src := openPGSource(t, snapConfig(t, db, 2000))

	// The writer updates big and comp and inserts into nokey until told to stop.
	writerConn := db.Conn(t)
	stopWriter := make(chan struct{})
	var wg sync.WaitGroup
	var writes atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stopWriter:
				return
			default:
			}
			b := &pgx.Batch{}
			b.Queue("UPDATE big SET v = v + 1 WHERE id = $1", 1+(i*7919)%25000)
			b.Queue("UPDATE comp SET v = v + 1 WHERE a = $1", i%50)
			b.Queue("INSERT INTO nokey VALUES ($1, $1)", 100000+i)
			if err := writerConn.SendBatch(context.Background(), b).Close(); err != nil {
				t.Errorf("writer: %v", err)
				return
			}
			writes.Add(1)
		}
	}()

	s := startPGStream(t, src, offsets.Position{})
	st := newPGState()
	var markers []string
	sawLast, streamed := false, 0
	sentinel := false
	// nokey only gets inserts: a row read by the snapshot and streamed too would count twice.
	nokeyRows := 0
	deadline := time.After(3 * time.Minute)
	for !sentinel {
		select {
		case <-deadline:
			t.Fatalf("no sentinel within 3 minutes; last marker seen: %t, %d streamed changes", sawLast, streamed)
		default:
		}
		ev := s.next(t)
		switch ev.Kind {
		case connectors.EventCommit:
			if err := src.Ack(ev.Position); err != nil {
				t.Fatalf("Ack(%s): %v", ev.Position, err)
			}
			continue
		case connectors.EventBegin:
			continue
		}
		ch := ev.Change
		if ch.Op == decoder.OpRead {
			if sawLast {
				t.Fatalf("a snapshot read after the last one: %+v", ch.Source)
			}
			markers = append(markers, ch.Source.Snapshot.String())
			if ch.Source.Snapshot == decoder.SnapshotLast {
				sawLast = true
				// Let the writer run a little into streaming, then stop it and write the
				// sentinel, which is the last change to wait for.
				w := writes.Load()
				WaitFor(t, 30*time.Second, "the writer to write into streaming", func() error {
					if writes.Load() < w+20 {
						return fmt.Errorf("%d writes", writes.Load()-w)
					}
					return nil
				})
				close(stopWriter)
				wg.Wait()
				mustExec(t, conn, "UPDATE big SET v = -1 WHERE id = 1")
			}
		} else {
			streamed++
			if ch.Source.Snapshot != decoder.SnapshotFalse || !sawLast {
				t.Fatalf("streamed %s with marker %s before the snapshot's end (%t)", ch.Op, ch.Source.Snapshot, sawLast)
			}
		}
		if ch.Table.Name == "nokey" {
			nokeyRows++
		}
		st.apply(ch)
		sentinel = sawLast && st.rows["big"]["1"] == -1
	}
	if writes.Load() == 0 || streamed == 0 {
		t.Fatalf("the writer wrote %d times, %d changes streamed: the test proves nothing", writes.Load(), streamed)
	}
	if want := len(tableState(t, conn, "nokey")); nokeyRows != want {
		t.Errorf("%d nokey rows read or streamed, the table holds %d: overlap or gap", nokeyRows, want)
	}
	if markers[0] != "first" || markers[len(markers)-1] != "last" {
		t.Errorf("markers start %s and end %s", markers[0], markers[len(markers)-1])
	}
	for i, m := range markers[1 : len(markers)-1] {
		if m != "true" {
			t.Fatalf("marker %d is %s", i+1, m)
		}
	}
	if n := len(markers); n < 25000+3000+3000 {
		t.Errorf("%d snapshot rows, want at least 31000", n)
	}
	for _, table := range []string{"big", "comp", "nokey"} {
		want := tableState(t, conn, table)
		if !maps.Equal(st.rows[table], want) {
			t.Errorf("table %s: rebuilt %d rows, table holds %d; first difference: %s", table, len(st.rows[table]), len(want),
				firstDiff(st.rows[table], want))
		}
	}
}

func firstDiff(got, want map[string]int64) string {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return fmt.Sprintf("key %q: got %d (present %t), want %d", k, g, ok, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("key %q should not be there", k)
		}
	}
	return "none"
}

// TestPGSnapshotResume stops the snapshot after a few chunks and resumes it from the last
// Commit position with a new Source: every row once, no chunk twice, then streaming.
func TestPGSnapshotResume(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	snapTables(t, conn, 5000)
	cfg := snapConfig(t, db, 500)
	src := openPGSource(t, cfg)

	seen := map[string]int{}
	record := func(ch *decoder.Change) {
		seen[ch.Table.Name+":"+rowKey(ch.Table, ch.After)]++
	}
	s := startPGStream(t, src, offsets.Position{})
	var last offsets.Position
	var firstRun []string
	for commits := 0; commits < 5; {
		ev := s.next(t)
		switch ev.Kind {
		case connectors.EventChange:
			record(ev.Change)
			firstRun = append(firstRun, ev.Change.Source.Snapshot.String())
		case connectors.EventCommit:
			last = ev.Position
			commits++
		}
	}
	if err := s.stop(t); err != context.Canceled {
		t.Fatalf("Stream returned %v", err)
	}
	if !strings.Contains(string(last.Source), `"snapshot"`) || firstRun[0] != "first" {
		t.Fatalf("after 5 chunks: position %s, first marker %s", last, firstRun[0])
	}
	// A row changed before the resume is read in its new state, and streamed too.
	mustExec(t, conn, "UPDATE big SET v = -7 WHERE id = 4999")
	waitSlotInactive(t, conn, cfg.Slot)

	src2 := openPGSource(t, cfg)
	s2 := startPGStream(t, src2, last)
	var begin offsets.Position
	var markers []string
	for done := false; !done; {
		ev := s2.next(t)
		switch ev.Kind {
		case connectors.EventBegin:
			if begin.IsZero() {
				begin = ev.Position
			}
		case connectors.EventChange:
			if ev.Change.Op != decoder.OpRead {
				t.Fatalf("a streamed %s before the snapshot's end", ev.Change.Op)
			}
			record(ev.Change)
			markers = append(markers, ev.Change.Source.Snapshot.String())
			if ev.Change.Table.Name == "big" && ev.Change.After[0].Int == 4999 && ev.Change.After[1].Int != -7 {
				t.Errorf("row 4999 read as %d after its update to -7", ev.Change.After[1].Int)
			}
		case connectors.EventCommit:
			done = string(ev.Position.Source) == `{"lsn":"`+lsnOf(t, last)+`"}`
		}
	}
	if string(begin.Source) != string(last.Source) {
		t.Errorf("the resumed stream begins at %s, want the stored %s", begin, last)
	}
	if markers[0] == "first" || markers[len(markers)-1] != "last" {
		t.Errorf("resumed markers start %s, end %s", markers[0], markers[len(markers)-1])
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("row %s read %d times", k, n)
		}
	}
	if len(seen) != 5000+3000+3000 {
		t.Errorf("%d distinct rows read, want 11000", len(seen))
	}
	// Streaming goes on from the consistent point: the update made before the resume comes,
	// then a new insert.
	mustExec(t, conn, "INSERT INTO big VALUES (90001, 1)")
	var got []string
	for len(got) < 2 {
		ev := s2.next(t)
		if ev.Kind == connectors.EventChange {
			got = append(got, describe(t, ev))
		}
	}
	if fmt.Sprint(got) != "[u big 4999 c big 90001]" {
		t.Errorf("streamed after the snapshot: %v", got)
	}
}
