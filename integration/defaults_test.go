package integration

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file tests the most common migration there is: adding a NOT NULL column with a default
// while rows are written. The connector must go on (the new schema is BACKWARD compatible, as
// the column's default is the Avro field's default), the rows written after have the default,
// and a consumer reading the old records with the new schema gets the defaults too.

// defaultsWriter inserts rows (id, qty) one by one until stop says how many to write.
type defaultsWriter struct {
	written atomic.Int64
	limit   atomic.Int64 // 0: no limit yet
	done    chan error
}

func startDefaultsWriter(ctx context.Context, insert func(ctx context.Context, id int64) error) *defaultsWriter {
	w := &defaultsWriter{done: make(chan error, 1)}
	go func() {
		for id := int64(1); ; id++ {
			if l := w.limit.Load(); l != 0 && id > l {
				w.done <- nil
				return
			}
			if err := insert(ctx, id); err != nil {
				w.done <- fmt.Errorf("inserting row %d: %w", id, err)
				return
			}
			w.written.Store(id)
		}
	}()
	return w
}

// stopAfter lets the writer write more rows, then waits for it; it returns the rows written.
func (w *defaultsWriter) stopAfter(t *testing.T, more int64) int64 {
	t.Helper()
	w.limit.Store(w.written.Load() + more)
	select {
	case err := <-w.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the writer did not finish")
	}
	return w.limit.Load()
}

// latestValueSchema reads the latest registered value schema of topic.
func latestValueSchema(t *testing.T, registryURL, topic string) (avro.Schema, string) {
	t.Helper()
	body, err := httpGetBody(t.Context(), registryURL+"/subjects/"+url.PathEscape(topic+"-value")+"/versions/latest")
	if err != nil {
		t.Fatalf("reading the latest schema of %s: %v", topic, err)
	}
	var resp struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	s, err := avro.ParseWithCache(resp.Schema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("parsing the latest schema of %s: %v", topic, err)
	}
	return s, resp.Schema
}

// readAllWithReader reads n records of topic (tombstones skipped) and decodes each with reader,
// resolved against the schema it was written with, as a consumer holding the latest schema
// reads older records.
func readAllWithReader(t *testing.T, registryURL, topic string, reader avro.Schema, n int) []map[string]any {
	t.Helper()
	cl := NewKafkaClient(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	writers := map[uint32]avro.Schema{}
	var out []map[string]any
	for len(out) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d of %d records before the deadline", topic, len(out), n)
		}
		for _, r := range fetches.Records() {
			if r.Value == nil || len(out) == n {
				continue
			}
			id := binary.BigEndian.Uint32(r.Value[1:5])
			w, ok := writers[id]
			if !ok {
				body, err := httpGetBody(ctx, fmt.Sprintf("%s/schemas/ids/%d", registryURL, id))
				if err != nil {
					t.Fatal(err)
				}
				var resp struct {
					Schema string `json:"schema"`
				}
				if err := json.Unmarshal(body, &resp); err != nil {
					t.Fatal(err)
				}
				if w, err = avro.ParseWithCache(resp.Schema, "", &avro.SchemaCache{}); err != nil {
					t.Fatal(err)
				}
				writers[id] = w
			}
			resolved, err := avro.NewSchemaCompatibility().Resolve(reader, w)
			if err != nil {
				t.Fatalf("the latest schema cannot read schema %d: %v", id, err)
			}
			var v map[string]any
			if err := avro.Unmarshal(resolved, r.Value[5:], &v); err != nil {
				t.Fatalf("decoding %s@%d with the latest schema: %v", topic, r.Offset, err)
			}
			out = append(out, v)
		}
	}
	return out
}

// checkDefaultsTopic checks the records of a table that had columns added with defaults:
// rows 1..written inserted (id, qty=id), then an explicit row, an update of row 1 and a
// delete of row 2. defaults are the added columns' values when not written; explicit those
// of the explicit row; deleteBefore the delete's before image.
func checkDefaultsTopic(t *testing.T, consumer *AvroConsumer, registryURL, topic string, written int64,
	explicitID int, defaults, explicit map[string]any, deleteBefore map[string]any) {
	t.Helper()
	withDefaults := func(id int, qty int) map[string]any {
		m := map[string]any{"id": id, "qty": qty}
		for k, v := range defaults {
			m[k] = v
		}
		return m
	}
	// written inserts, the explicit insert, the update, the delete and its tombstone.
	got := consumer.Collect(t, int(written)+4, 3*time.Minute)
	seenNew := false
	for i, r := range got[:written] {
		if r.Op() != "c" {
			t.Fatalf("record %d: op %s, want c", i, r.Op())
		}
		after := r.After()
		id, _ := Unwrap(after["id"]).(int)
		if id != i+1 {
			t.Fatalf("record %d is row %v, want %d", i, after["id"], i+1)
		}
		if _, added := after["n"]; !added {
			if seenNew {
				t.Errorf("row %d has the old schema after a row with the new one", id)
			}
			expectRow(t, fmt.Sprintf("row %d (before the ALTER)", id), after, map[string]any{"id": id, "qty": id})
			continue
		}
		seenNew = true
		expectRow(t, fmt.Sprintf("row %d (after the ALTER)", id), after, withDefaults(id, id))
	}
	if !seenNew {
		t.Errorf("no row was written after the ALTER: the test did not test it")
	}
	rest := got[written:]
	want := map[string]any{"id": explicitID, "qty": 0}
	for k, v := range explicit {
		want[k] = v
	}
	expectRow(t, "explicit row", rest[0].After(), want)
	if rest[1].Op() != "u" {
		t.Fatalf("op %s, want u", rest[1].Op())
	}
	expectRow(t, "row 1 updated (an old row gets the defaults)", rest[1].After(), withDefaults(1, -1))
	if rest[2].Op() != "d" {
		t.Fatalf("op %s, want d", rest[2].Op())
	}
	expectRow(t, "delete's before", rest[2].Before(), deleteBefore)

	// Every insert, old or new, read with the latest schema has the defaults.
	latest, text := latestValueSchema(t, registryURL, topic)
	t.Logf("latest value schema: %s", text)
	all := readAllWithReader(t, registryURL, topic, latest, int(written))
	for i, v := range all {
		after := Unwrap(v["after"]).(map[string]any)
		expectRow(t, fmt.Sprintf("row %d read with the latest schema", i+1), after, withDefaults(i+1, i+1))
	}
}

// TestPostgresAddColumnWithDefaultUnderWrites adds NOT NULL columns with defaults of several
// types (and a nullable one with a default) while rows are inserted.
func TestPostgresAddColumnWithDefaultUnderWrites(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.items")
	cdcd := c.StartStreaming(t, conn)

	wconn := db.Conn(t)
	w := startDefaultsWriter(t.Context(), func(ctx context.Context, id int64) error {
		_, err := wconn.Exec(ctx, `INSERT INTO items (id, qty) VALUES ($1, $1)`, id)
		return err
	})
	WaitFor(t, time.Minute, "rows written", func() error {
		if w.written.Load() < 20 {
			return fmt.Errorf("%d rows written", w.written.Load())
		}
		return nil
	})
	mustExec(t, conn, `ALTER TABLE items
		ADD COLUMN n int NOT NULL DEFAULT 5,
		ADD COLUMN big bigint NOT NULL DEFAULT -3,
		ADD COLUMN label text NOT NULL DEFAULT 'it''s',
		ADD COLUMN vc varchar(10) NOT NULL DEFAULT 'v',
		ADD COLUMN ok boolean NOT NULL DEFAULT true,
		ADD COLUMN price numeric(10,2) NOT NULL DEFAULT 12.5,
		ADD COLUMN day date NOT NULL DEFAULT '2020-01-01',
		ADD COLUMN at timestamp NOT NULL DEFAULT '2020-01-01 10:00:00',
		ADD COLUMN atz timestamptz NOT NULL DEFAULT '2020-01-01 10:00:00+00',
		ADD COLUMN note text DEFAULT 'none'`)
	written := w.stopAfter(t, 20)
	mustExec(t, conn, `INSERT INTO items VALUES (1000000, 0, 6, 7, 'x', 'y', false, 1.25, '2021-01-01',
		'2021-01-01 00:00:00', '2021-01-01 00:00:00+00', NULL)`)
	mustExec(t, conn, `UPDATE items SET qty = -1 WHERE id = 1`)
	mustExec(t, conn, `DELETE FROM items WHERE id = 2`)

	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"))
	checkDefaultsTopic(t, consumer, c.RegistryURL(), c.Topic("items"), written, 1000000,
		map[string]any{"n": 5, "big": int64(-3), "label": "it's", "vc": "v", "ok": true, "price": big.NewRat(25, 2),
			"day": 18262, "at": int64(1577872800000000), "atz": "2020-01-01T10:00:00.000000Z", "note": "none"},
		map[string]any{"n": 6, "big": int64(7), "label": "x", "vc": "y", "ok": false, "price": big.NewRat(5, 4),
			"day": 18628, "at": int64(1609459200000000), "atz": "2021-01-01T00:00:00.000000Z", "note": nil},
		// REPLICA IDENTITY DEFAULT: the key only; the NOT NULL columns are filled with their
		// defaults, as Debezium fills them, the optional one is null.
		map[string]any{"id": 2, "qty": 0, "n": 5, "big": int64(-3), "label": "it's", "vc": "v", "ok": true,
			"price": big.NewRat(25, 2), "day": 18262, "at": int64(1577872800000000), "atz": "2020-01-01T10:00:00.000000Z", "note": nil})
	if cdcd.Exited() {
		t.Fatalf("cdcd exited; log:\n%s", cdcd.Logs())
	}
}

// TestMySQLAddColumnWithDefaultUnderWrites is TestPostgresAddColumnWithDefaultUnderWrites on
// MariaDB: the default comes from the DDL the schema tracker parses.
func TestMySQLAddColumnWithDefaultUnderWrites(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
	c := NewMySQLConnector(t, m, "items")
	cdcd := c.StartStreaming(t)

	w := startDefaultsWriter(t.Context(), func(ctx context.Context, id int64) error {
		_, err := m.DB.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES (?, ?)`, id, id)
		return err
	})
	WaitFor(t, time.Minute, "rows written", func() error {
		if w.written.Load() < 20 {
			return fmt.Errorf("%d rows written", w.written.Load())
		}
		return nil
	})
	mustExecMySQL(t, m.DB, `ALTER TABLE items
		ADD COLUMN n int NOT NULL DEFAULT 5,
		ADD COLUMN big bigint NOT NULL DEFAULT -3,
		ADD COLUMN label varchar(20) NOT NULL DEFAULT 'it''s',
		ADD COLUMN vc varchar(10) CHARACTER SET latin1 NOT NULL DEFAULT 'vé',
		ADD COLUMN ok boolean NOT NULL DEFAULT TRUE,
		ADD COLUMN price decimal(10,2) NOT NULL DEFAULT 12.5,
		ADD COLUMN day date NOT NULL DEFAULT '2020-01-01',
		ADD COLUMN at datetime(6) NOT NULL DEFAULT '2020-01-01 10:00:00',
		ADD COLUMN note varchar(10) DEFAULT 'none'`)
	written := w.stopAfter(t, 20)
	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (1000000, 0, 6, 7, 'x', 'y', FALSE, 1.25, '2021-01-01',
		'2021-01-01 00:00:00', NULL)`)
	mustExecMySQL(t, m.DB, `UPDATE items SET qty = -1 WHERE id = 1`)
	mustExecMySQL(t, m.DB, `DELETE FROM items WHERE id = 2`)

	// BOOLEAN is tinyint(1): an int16, as Debezium maps it.
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"))
	checkDefaultsTopic(t, consumer, c.RegistryURL(), c.Topic("items"), written, 1000000,
		map[string]any{"n": 5, "big": int64(-3), "label": "it's", "vc": "vé", "ok": 1, "price": big.NewRat(25, 2),
			"day": 18262, "at": int64(1577872800000000), "note": "none"},
		map[string]any{"n": 6, "big": int64(7), "label": "x", "vc": "y", "ok": 0, "price": big.NewRat(5, 4),
			"day": 18628, "at": int64(1609459200000000), "note": nil},
		// A full row image: row 2, written before the ALTER, holds the defaults.
		map[string]any{"id": 2, "qty": 2, "n": 5, "big": int64(-3), "label": "it's", "vc": "vé", "ok": 1,
			"price": big.NewRat(25, 2), "day": 18262, "at": int64(1577872800000000), "note": "none"})
	if cdcd.Exited() {
		t.Fatalf("cdcd exited; log:\n%s", cdcd.Logs())
	}
}
