package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/twmb/franz-go/pkg/kgo"
)

// shape renders the table of a change: "items v2 [id:int32 qty:int32 note:string]".
func shape(c *decoder.Change) string {
	var cols []string
	for _, col := range c.Table.Columns {
		cols = append(cols, fmt.Sprintf("%s:%d", col.Name, col.Type))
	}
	return fmt.Sprintf("%s v%d [%s]", c.Table.Name, c.Table.Version, strings.Join(cols, " "))
}

// changesOf returns the changes among evs, each as "id=<first value> <shape>", and the
// commit positions.
func changesOf(evs []connectors.Event) (rows []string, commits []offsets.Position) {
	for _, e := range evs {
		switch e.Kind {
		case connectors.EventChange:
			rows = append(rows, fmt.Sprintf("id=%d %s", e.Change.After[0].Int, shape(e.Change)))
		case connectors.EventCommit:
			commits = append(commits, e.Position)
		}
	}
	return rows, commits
}

func TestMySQLSourceTracksDDL(t *testing.T) {
	m := NewMariaDB(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	exec := func(q string) {
		t.Helper()
		if _, err := m.DB.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE items (id INT PRIMARY KEY, qty INT NOT NULL)")
	cfg := mysqlSourceConfig(t, m)
	cfg.Databases = []string{m.Name}
	src, err := mysql.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	w := newHistoryWriter(t)
	start := firstStart(t, ctx, src, w)

	for _, q := range []string{
		"INSERT INTO items VALUES (1, 1)",
		"ALTER TABLE items ADD COLUMN note VARCHAR(10) AFTER id",
		"INSERT INTO items VALUES (2, 'two', 2)",
		"ALTER TABLE items DROP COLUMN qty",
		"INSERT INTO items VALUES (3, 'three')",
		"ALTER TABLE items MODIFY id BIGINT",
		"INSERT INTO items VALUES (4, 'four')",
		"RENAME TABLE items TO items2",
		"INSERT INTO items2 VALUES (5, 'five')",
	} {
		exec(q)
	}
	const i32, i64, str = decoder.TypeInt32, decoder.TypeInt64, decoder.TypeString
	want := []string{
		fmt.Sprintf("id=1 items v1 [id:%d qty:%d]", i32, i32),
		fmt.Sprintf("id=2 items v2 [id:%d note:%d qty:%d]", i32, str, i32),
		fmt.Sprintf("id=3 items v3 [id:%d note:%d]", i32, str),
		fmt.Sprintf("id=4 items v4 [id:%d note:%d]", i64, str),
		fmt.Sprintf("id=5 items2 v5 [id:%d note:%d]", i64, str),
	}
	evs, err := streamUntil(t, src, start, 9)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	rows, commits := changesOf(evs)
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	// Each DDL is a transaction of its own whose one event is its history record.
	var records int
	for _, e := range evs {
		if e.Kind == connectors.EventRecord {
			records++
			if e.Record.Topic != cfg.HistoryTopic || string(e.Record.Key) != cfg.Name || !strings.Contains(string(e.Record.Value), `"kind":"ddl"`) {
				t.Errorf("history record %s: %s", e.Record.Topic, e.Record.Value)
			}
		}
	}
	if records != 4 {
		t.Errorf("%d history records, want 4", records)
	}

	// Stop between two DDLs: what the pipeline committed is the history up to the commit of
	// the row after the first DDL (commits[2]). A later record written in an aborted
	// transaction is never read.
	upTo := 0
	for i, e := range evs {
		if e.Kind == connectors.EventCommit && string(e.Position.Source) == string(commits[2].Source) {
			upTo = i + 1
		}
	}
	w.write(ctx, evs[:upTo], kgo.TryCommit)
	w.write(ctx, evs[upTo:], kgo.TryAbort)

	src2, err := mysql.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	evs, err = streamUntil(t, src2, commits[2], 6)
	if err != nil {
		t.Fatalf("Stream after the restart: %v", err)
	}
	if rows, _ := changesOf(evs); strings.Join(rows, "\n") != strings.Join(want[2:], "\n") {
		t.Errorf("rows after the restart:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want[2:], "\n"))
	}

	// A DDL the parser cannot read stops the stream with the statement.
	exec("CREATE OR REPLACE TABLE t3 (id INT PRIMARY KEY)")
	_, err = streamUntil(t, src2, commits[len(commits)-1], 1)
	var de *mysql.DDLError
	if !errors.Is(err, mysql.ErrDDLUnparseable) || !errors.As(err, &de) || !strings.Contains(de.Statement, "CREATE OR REPLACE TABLE t3") ||
		de.Table != m.Name+".t3" {
		t.Fatalf("unparseable DDL: %v", err)
	}
	// With the skip option it is skipped (t3's rows then have no schema: not inserted here).
	cfg.UnparseableDDL = mysql.UnparseableDDLSkip
	src3, err := mysql.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	w.write(ctx, evs, kgo.TryCommit) // the history up to the end of the rows above
	exec("INSERT INTO items2 VALUES (6, 'six')")
	evs, err = streamUntil(t, src3, commits[len(commits)-1], 1)
	if err != nil {
		t.Fatalf("Stream skipping the DDL: %v", err)
	}
	if rows, _ := changesOf(evs); len(rows) != 1 || !strings.HasPrefix(rows[0], "id=6 items2 v5 ") {
		t.Errorf("after the skipped DDL: %v", rows)
	}
}
