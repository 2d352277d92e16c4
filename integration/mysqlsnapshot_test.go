package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/twmb/franz-go/pkg/kgo"
)

// snapRowOf renders a row's key (its first keyCols columns) and the whole row.
func snapRowOf(vals []decoder.Value, keyCols int) (key, row string) {
	parts := make([]string, len(vals))
	for i, v := range vals {
		if v.State == decoder.ValueNull {
			parts[i] = "null"
		} else if v.Bytes != nil {
			parts[i] = string(v.Bytes)
		} else {
			parts[i] = fmt.Sprint(v.Int)
		}
	}
	return strings.Join(parts[:keyCols], "|"), strings.Join(parts, "|")
}

// snapState is the per-table, per-key state rebuilt from change events.
type snapState map[string]map[string]string

func (s snapState) apply(t *testing.T, c *decoder.Change) {
	t.Helper()
	keyCols := map[string]int{"big": 1, "comp": 2}[c.Table.Name]
	if s[c.Table.Name] == nil {
		s[c.Table.Name] = map[string]string{}
	}
	switch c.Op {
	case decoder.OpRead, decoder.OpCreate, decoder.OpUpdate:
		k, row := snapRowOf(c.After, keyCols)
		s[c.Table.Name][k] = row
	case decoder.OpDelete:
		k, _ := snapRowOf(c.Before, keyCols)
		delete(s[c.Table.Name], k)
	default:
		t.Errorf("unexpected op %s", c.Op)
	}
}

// streamUntilSentinel streams from from until the change inserting comp row (a = -1, b =
// sentinel) arrives, calling onEvent for each event, and returns the events.
func streamUntilSentinel(t *testing.T, ctx context.Context, src *mysql.Source, from offsets.Position, sentinel string,
	onEvent func(connectors.Event)) []connectors.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out, q := EventChan(ctx, 64)
	done := make(chan error, 1)
	go func() { done <- src.Stream(ctx, from, q) }()
	var evs []connectors.Event
	seen := false
	for {
		select {
		case e := <-out:
			evs = append(evs, e)
			if onEvent != nil {
				onEvent(e)
			}
			if c := e.Change; c != nil && c.Op == decoder.OpCreate && c.Table.Name == "comp" && c.After[0].Int == -1 &&
				string(c.After[1].Bytes) == sentinel {
				seen = true
			}
			if seen && e.Kind == connectors.EventCommit {
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("stream stopped with %v, want context.Canceled", err)
				}
				return evs
			}
		case err := <-done:
			t.Fatalf("stream stopped early: %v", err)
		}
	}
}

func TestMySQLSnapshotThenStreamsAndResumes(t *testing.T) {
	m := NewMariaDB(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := m.DB.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE big (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(20))")
	exec("CREATE TABLE comp (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b))")
	const rows = 20000
	for i := 0; i < rows; i += 1000 {
		var sb strings.Builder
		for j := i + 1; j <= i+1000; j++ {
			if j > i+1 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, "(%d, %d, 'n%d')", j, j, j)
		}
		exec("INSERT INTO big VALUES " + sb.String())
	}
	// 1 200 rows: two chunks, the second after a composite key.
	var sb strings.Builder
	for a := 1; a <= 400; a++ {
		for _, b := range []string{"x", "y", "zz"} {
			if sb.Len() > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, "(%d, '%s', %d)", a, b, a)
		}
	}
	exec("INSERT INTO comp VALUES " + sb.String())

	cfg := mysqlSourceConfig(t, m, m.Name+".big", m.Name+".comp")
	cfg.SnapshotChunkRows = 700
	src, err := mysql.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}

	// A writer changes rows while the snapshot reads, until the snapshot's last row is seen.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes int
	wg.Go(func() {
		r := rand.New(rand.NewPCG(1, 2))
		next := rows + 1
		for {
			select {
			case <-stop:
				return
			default:
			}
			var err error
			switch r.IntN(5) {
			case 0, 1:
				_, err = m.DB.ExecContext(ctx, "UPDATE big SET v = v + 1, note = NULL WHERE id = ?", 1+r.IntN(rows))
			case 2:
				_, err = m.DB.ExecContext(ctx, "INSERT INTO big VALUES (?, 0, 'new')", next)
				next++
			case 3:
				_, err = m.DB.ExecContext(ctx, "DELETE FROM big WHERE id = ?", 1+r.IntN(rows))
			case 4:
				_, err = m.DB.ExecContext(ctx, "UPDATE comp SET v = v + 1 WHERE a = ? AND b = 'y'", 1+r.IntN(400))
			}
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("writer: %v", err)
				}
				return
			}
			writes++
		}
	})
	stopOnce := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopOnce()

	want := func() snapState {
		s := snapState{"big": {}, "comp": {}}
		for _, q := range []string{"SELECT id, v, note FROM big", "SELECT a, b, v FROM comp"} {
			rs, err := m.DB.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for rs.Next() {
				var a string
				var b, c *string
				if err := rs.Scan(&a, &b, &c); err != nil {
					t.Fatal(err)
				}
				name, keyCols := "big", 1
				if strings.Contains(q, "comp") {
					name, keyCols = "comp", 2
				}
				parts := []string{a}
				for _, p := range []*string{b, c} {
					if p == nil {
						parts = append(parts, "null")
					} else {
						parts = append(parts, *p)
					}
				}
				s[name][strings.Join(parts[:keyCols], "|")] = strings.Join(parts, "|")
			}
			if err := rs.Err(); err != nil {
				t.Fatal(err)
			}
			_ = rs.Close()
		}
		return s
	}

	sentinel := func(name string) {
		t.Helper()
		exec("INSERT INTO comp VALUES (-1, ?, 0)", name)
	}
	// The sentinel goes in once the writer has stopped, which the last snapshot row triggers.
	lastSeen := make(chan struct{})
	go func() {
		select {
		case <-lastSeen:
		case <-ctx.Done():
			return
		}
		stopOnce()
		if ctx.Err() == nil {
			sentinel("s1")
		}
	}()
	var markLast sync.Once
	evs := streamUntilSentinel(t, ctx, src, offsets.Position{}, "s1", func(e connectors.Event) {
		if e.Change != nil && e.Change.Source.Snapshot == decoder.SnapshotLast {
			markLast.Do(func() { close(lastSeen) })
		}
	})

	// Markers, ops and the rebuilt state.
	state := snapState{}
	var marks []decoder.Snapshot
	streamed := 0
	for _, e := range evs {
		if c := e.Change; c != nil {
			if c.Op == decoder.OpRead {
				if streamed > 0 {
					t.Fatalf("a snapshot row after streamed changes")
				}
				marks = append(marks, c.Source.Snapshot)
			} else {
				streamed++
				if c.Source.Snapshot != decoder.SnapshotFalse || mysql.SourceGTID(&c.Source) == "" {
					t.Errorf("streamed change with source %+v", c.Source)
				}
			}
			state.apply(t, c)
		}
	}
	if len(marks) < rows || marks[0] != decoder.SnapshotFirst || marks[len(marks)-1] != decoder.SnapshotLast ||
		slices.ContainsFunc(marks[1:len(marks)-1], func(s decoder.Snapshot) bool { return s != decoder.SnapshotTrue }) {
		t.Errorf("%d snapshot rows; markers first %v, last %v", len(marks), marks[0], marks[len(marks)-1])
	}
	stopOnce()
	t.Logf("%d snapshot rows, %d streamed changes, %d writes", len(marks), streamed, writes)
	if streamed == 0 || writes == 0 {
		t.Errorf("no concurrent changes were streamed (%d writes)", writes)
	}
	final := want()
	for _, tbl := range []string{"big", "comp"} {
		if !maps.Equal(state[tbl], final[tbl]) {
			t.Errorf("table %s: rebuilt %d keys, table has %d; they differ", tbl, len(state[tbl]), len(final[tbl]))
		}
	}

	compositeCut := false
	for _, e := range evs {
		if e.Kind == connectors.EventCommit {
			p, err := mysql.ParsePosition(string(e.Position.Source))
			if err != nil {
				t.Fatalf("commit position %s: %v", e.Position.Source, err)
			}
			compositeCut = compositeCut || p.Snapshot != nil && p.Snapshot.Table == m.Name+".comp" && len(p.Snapshot.After) == 2
		}
	}
	if !compositeCut {
		t.Errorf("no chunk ended inside the composite-key table")
	}

	// Resume from the Commit of the 5th chunk, as after a crash: the history record committed
	// with it (the first transaction), a new snapshot for the rest, streaming from the first
	// snapshot's point.
	var cut int
	commits := 0
	for i, e := range evs {
		if e.Kind == connectors.EventCommit {
			if commits++; commits == 6 { // the schema record's transaction, then 5 chunks
				cut = i
				break
			}
		}
	}
	cutPos, err := mysql.ParsePosition(string(evs[cut].Position.Source))
	if err != nil || cutPos.Snapshot == nil || cutPos.Snapshot.Table != m.Name+".big" || len(cutPos.Snapshot.After) != 1 {
		t.Fatalf("5th chunk's commit %s: %+v, %v", evs[cut].Position.Source, cutPos.Snapshot, err)
	}
	newHistoryWriter(t).write(ctx, evs[:cut+1], kgo.TryCommit)
	exec("UPDATE big SET v = -7 WHERE id = 19999")
	exec("DELETE FROM big WHERE id = 19998")
	sentinel("s2")

	resumed := snapState{}
	readKeys := map[string]int{}
	for _, e := range evs[:cut+1] {
		if c := e.Change; c != nil {
			resumed.apply(t, c)
			k, _ := snapRowOf(c.After, map[string]int{"big": 1, "comp": 2}[c.Table.Name])
			readKeys[c.Table.Name+":"+k]++
		}
	}
	evs2 := streamUntilSentinel(t, ctx, src, evs[cut].Position, "s2", nil)
	var marks2 []decoder.Snapshot
	for _, e := range evs2 {
		if e.Kind == connectors.EventRecord {
			t.Errorf("the resumed stream wrote a history record again")
		}
		if c := e.Change; c != nil {
			resumed.apply(t, c)
			if c.Op == decoder.OpRead {
				marks2 = append(marks2, c.Source.Snapshot)
				keyCols := map[string]int{"big": 1, "comp": 2}[c.Table.Name]
				k, _ := snapRowOf(c.After, keyCols)
				readKeys[c.Table.Name+":"+k]++
			}
		}
	}
	for k, n := range readKeys {
		if n != 1 {
			t.Errorf("snapshot row %s read %d times", k, n)
		}
	}
	final = want()
	// No row missing: the writer only inserts keys above the cut, so every key in the tables
	// now was read before the cut or by the resumed snapshot.
	for tbl, keys := range final {
		for k := range keys {
			if readKeys[tbl+":"+k] == 0 {
				t.Errorf("row %s:%s was not read by the snapshot", tbl, k)
			}
		}
	}
	if len(marks2) == 0 || marks2[0] == decoder.SnapshotFirst || marks2[len(marks2)-1] != decoder.SnapshotLast {
		t.Errorf("resumed snapshot markers: %d rows", len(marks2))
	}
	for _, tbl := range []string{"big", "comp"} {
		if !maps.Equal(resumed[tbl], final[tbl]) {
			t.Errorf("after resume, table %s: rebuilt %d keys, table has %d; they differ", tbl, len(resumed[tbl]), len(final[tbl]))
		}
	}
}
