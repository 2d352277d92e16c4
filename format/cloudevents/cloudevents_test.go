package cloudevents

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	jsonformat "github.com/cdcd-dev/cdcd/format/json"
	"github.com/cdcd-dev/cdcd/transform"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	commit   = time.Date(2020, 1, 13, 13, 55, 39, 738123456, time.UTC)
)

func set(v decoder.Value) decoder.Value { v.State = decoder.ValueSet; return v }

func table(ns string) *decoder.Table {
	return &decoder.Table{Namespace: ns, Name: "customers", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "first_name", Type: decoder.TypeString, Optional: true},
		{Name: "balance", Type: decoder.TypeDecimal, Precision: 10, Scale: 2, Optional: true},
	}}
}

func newEncoder(t *testing.T, b *decoder.SourceBlock, settings map[string]string) *Encoder {
	t.Helper()
	o, err := ParseSettings(settings)
	if err != nil {
		t.Fatal(err)
	}
	o.JSON.Now = func() time.Time { return fixedNow }
	e, err := NewEncoder(format.Config{TopicPrefix: "test_server", Source: b, Database: "postgres", Version: "test-1"}, o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// golden compares got, indented, with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("%s: not JSON: %v: %s", name, err, got)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from the golden file:\n%s", name, buf.Bytes())
	}
}

func TestGolden(t *testing.T) {
	ctx := context.Background()
	row := []decoder.Value{set(decoder.Value{Int: 1004}), set(decoder.Value{Bytes: []byte("Anne")}),
		set(decoder.Value{Bytes: []byte{0x30, 0x39}})} // 123.45
	for _, tc := range []struct {
		name     string
		block    *decoder.SourceBlock
		source   decoder.SourceInfo
		ns       string
		settings map[string]string
	}{
		{"postgres.json", postgres.SourceBlock, postgres.NewSourceInfo(commit, decoder.SnapshotFalse, 565, 29274832), "public", nil},
		{"mysql.json", mysql.SourceBlock, mysql.NewSourceInfo(commit, decoder.SnapshotTrue, "mysql-bin.000003", 154, "", 223344, 0), "inventory",
			map[string]string{format.SettingDecimalMode: "string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEncoder(t, tc.block, tc.settings)
			tab := table(tc.ns)
			rec := &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: tab, After: row, Source: tc.source}}
			topic, key, value, err := e.EncodeRecord(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			if want := "test_server." + tc.ns + ".customers"; topic != want {
				t.Errorf("topic %s, want %s", topic, want)
			}
			golden(t, tc.name, value)
			// The key is the json format's.
			j, err := jsonformat.NewEncoder(format.Config{TopicPrefix: "test_server", Source: tc.block, Database: "postgres"},
				jsonformat.Options{KeySchemas: true, ValueSchemas: true})
			if err != nil {
				t.Fatal(err)
			}
			_, jkey, _, err := j.EncodeRecord(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(key, jkey) {
				t.Errorf("key %s, want the json format's %s", key, jkey)
			}
		})
	}
}

func TestTombstoneFlatAndTransactions(t *testing.T) {
	ctx := context.Background()
	e := newEncoder(t, postgres.SourceBlock, nil)
	tab := table("public")
	before := []decoder.Value{set(decoder.Value{Int: 7})}
	del := &transform.Record{Change: &decoder.Change{Op: decoder.OpDelete, Table: tab, Before: before,
		Source: postgres.NewSourceInfo(commit, decoder.SnapshotFalse, 1, 2)}, Tombstone: transform.TombstoneOnly}
	_, key, value, err := e.EncodeRecord(ctx, del)
	if err != nil || value != nil || key == nil {
		t.Errorf("tombstone: key %s value %s err %v, want a key and no value", key, value, err)
	}
	del.Tombstone = transform.TombstoneDefault
	_, _, value, err = e.EncodeRecord(ctx, del)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(value, &ev); err != nil {
		t.Fatal(err)
	}
	if ev["iodebeziumop"] != "d" || ev["id"] != "name:test_server;lsn:2;txId:1" {
		t.Errorf("delete: op %v id %v", ev["iodebeziumop"], ev["id"])
	}
	if d := ev["data"].(map[string]any); d["after"] != nil || d["before"].(map[string]any)["id"] != 7.0 {
		t.Errorf("delete data %v", d)
	}
	flat := &transform.Record{Change: del.Change, Shape: transform.ShapeFlat}
	if _, _, _, err := e.EncodeRecord(ctx, flat); err == nil {
		t.Error("a flat value was written as a CloudEvent")
	}
	_, _, txValue, err := e.EncodeTransactionEvent(ctx, &format.TransactionEvent{Status: format.TransactionBegin, ID: "1:2"})
	if err != nil || !bytes.Contains(txValue, []byte(`"status":"BEGIN"`)) {
		t.Errorf("transaction event: %s %v", txValue, err)
	}
}

func TestSettings(t *testing.T) {
	if _, err := ParseSettings(map[string]string{"data.serializer.type": "avro"}); err == nil {
		t.Error("an unknown setting was taken")
	}
	o, err := ParseSettings(map[string]string{format.SettingBinaryMode: "hex"})
	if err != nil || o.JSON.Modes.Binary != format.BinaryHex {
		t.Errorf("binary mode: %+v %v", o, err)
	}
}

// TestIDsUniqueWherePositionsRepeat: CloudEvents lets a consumer drop a second event with the
// source and id of one it has seen, so the events that share a source position (the rows of a
// snapshot, the halves of a key change, the tables of one truncate) get distinct ids, and the
// same event gets the same id when encoded again (after a restart).
func TestIDsUniqueWherePositionsRepeat(t *testing.T) {
	ctx := context.Background()
	e := newEncoder(t, postgres.SourceBlock, nil)
	tab, other := table("public"), table("sales")
	snap := postgres.NewSourceInfo(commit, decoder.SnapshotTrue, 565, 29274832)
	pos := postgres.NewSourceInfo(commit, decoder.SnapshotFalse, 566, 29274900)
	row := func(id int64) []decoder.Value {
		return []decoder.Value{set(decoder.Value{Int: id}), set(decoder.Value{Bytes: []byte("x")}), set(decoder.Value{Bytes: []byte{1}})}
	}
	update := &decoder.Change{Op: decoder.OpUpdate, Table: tab, Before: row(1), After: row(2), Source: pos}
	del, create, split := decoder.SplitKeyChange(update)
	if !split {
		t.Fatal("the key change was not split")
	}
	changes := []*decoder.Change{
		{Op: decoder.OpRead, Table: tab, After: row(1), Source: snap},
		{Op: decoder.OpRead, Table: tab, After: row(2), Source: snap},
		{Op: decoder.OpRead, Table: other, After: row(1), Source: snap},
		del, create,
		{Op: decoder.OpTruncate, Table: tab, Source: pos},
		{Op: decoder.OpTruncate, Table: other, Source: pos},
	}
	id := func(c *decoder.Change) string {
		_, _, value, err := e.EncodeRecord(ctx, &transform.Record{Change: c})
		if err != nil {
			t.Fatal(err)
		}
		var ev struct{ ID string }
		if err := json.Unmarshal(value, &ev); err != nil {
			t.Fatalf("%s: %v", value, err)
		}
		return ev.ID
	}
	seen := map[string]int{}
	for i, c := range changes {
		got := id(c)
		if j, dup := seen[got]; dup {
			t.Errorf("events %d and %d share id %s", j, i, got)
		}
		seen[got] = i
		if again := id(c); again != got {
			t.Errorf("event %d: id %s, then %s", i, got, again)
		}
	}
	if got, want := id(del), "name:test_server;lsn:29274900;txId:566"; got != want {
		t.Errorf("a streamed change's id %s, want Debezium's %s", got, want)
	}
}
