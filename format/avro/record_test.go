package avro

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/transform"
)

// usersTable has a key, a required column and an optional one, so that a before row with the
// key alone shows the zero value of the required column and null in the optional one.
func usersTable() *decoder.Table {
	return &decoder.Table{Namespace: "public", Name: "users", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, SourceType: "int8", Key: true},
		{Name: "name", Type: decoder.TypeString, SourceType: "text"},
		{Name: "email", Type: decoder.TypeString, SourceType: "text", Optional: true},
	}}
}

func usersRow(id int64, name, email string) []decoder.Value {
	return []decoder.Value{set(decoder.Value{Int: id}), set(decoder.Value{Bytes: []byte(name)}), set(decoder.Value{Bytes: []byte(email)})}
}

func record(c *decoder.Change) *transform.Record {
	r := &transform.Record{}
	r.Reset(c, "cdc")
	return r
}

func TestEncodeRecordRoutedTopicAndSubjects(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	tab := usersTable()
	c := &decoder.Change{Op: decoder.OpCreate, Table: tab, After: usersRow(7, "ann", "a@x")}

	rec := record(c)
	rec.Topic = "people"
	topic, key, value, err := e.EncodeRecord(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if topic != "people" {
		t.Fatalf("topic %q, want the routed people", topic)
	}
	if k := decodeWire(t, reg, "people-key", key); !reflect.DeepEqual(k, map[string]any{"id": int64(7)}) {
		t.Errorf("key %v", k)
	}
	v := decodeWire(t, reg, "people-value", value)
	if v["op"] != "c" {
		t.Errorf("value %v: want the envelope", v)
	}
	if _, ok := reg.subjects["cdc.public.users-value"]; ok {
		t.Errorf("the default topic's subject was registered for a routed record: %v", reg.calls)
	}

	// Without a route the same table goes to its default topic and subjects.
	topic, _, value, err = e.EncodeRecord(ctx, record(c))
	if err != nil {
		t.Fatal(err)
	}
	if topic != "cdc.public.users" {
		t.Fatalf("topic %q, want the default", topic)
	}
	decodeWire(t, reg, "cdc.public.users-value", value)
}

func TestEncodeRecordTombstoneOnly(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	del := &decoder.Change{Op: decoder.OpDelete, Table: usersTable(), Before: usersRow(3, "bo", "")}
	for _, tc := range []struct {
		tomb      transform.Tombstone
		wantValue bool
	}{
		{transform.TombstoneDefault, true},
		{transform.TombstoneOnly, false},
		{transform.TombstoneNever, true},
		{transform.TombstoneAlways, true},
	} {
		rec := record(del)
		rec.Tombstone = tc.tomb
		_, key, value, err := e.EncodeRecord(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if key == nil || (value != nil) != tc.wantValue {
			t.Errorf("tombstone %d: key %x value %x, want a key and a value %v", tc.tomb, key, value, tc.wantValue)
		}
	}
}

func TestEncodeRecordFlat(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	tab := usersTable()
	flat := func(c *decoder.Change, fields transform.FlatFields) map[string]any {
		t.Helper()
		rec := record(c)
		rec.Shape, rec.Fields = transform.ShapeFlat, fields
		topic, key, value, err := e.EncodeRecord(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if topic != "cdc.public.users" || key == nil {
			t.Fatalf("topic %q key %x", topic, key)
		}
		return decodeWire(t, reg, "cdc.public.users-value", value)
	}

	t.Run("row alone", func(t *testing.T) {
		got := flat(&decoder.Change{Op: decoder.OpCreate, Table: tab, After: usersRow(1, "ann", "a@x")}, 0)
		want := map[string]any{"id": int64(1), "name": "ann", "email": "a@x"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("flat create = %v, want %v", got, want)
		}
	})
	t.Run("with fields", func(t *testing.T) {
		both := transform.FieldOp | transform.FieldDeleted
		got := flat(&decoder.Change{Op: decoder.OpUpdate, Table: tab, Before: usersRow(1, "ann", "a@x"), After: usersRow(1, "ann", "b@x")}, both)
		want := map[string]any{"id": int64(1), "name": "ann", "email": "b@x", "__op": "u", "__deleted": "false"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("flat update = %v, want %v", got, want)
		}
		// A rewritten delete: the before row the source sent (the key alone), zero for the
		// required column, null for the optional one.
		keyOnly := []decoder.Value{set(decoder.Value{Int: 1})}
		got = flat(&decoder.Change{Op: decoder.OpDelete, Table: tab, Before: keyOnly}, both)
		want = map[string]any{"id": int64(1), "name": "", "email": nil, "__op": "d", "__deleted": "true"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("flat delete = %v, want %v", got, want)
		}
	})
	// The registered schema is the row record plus the optional string fields, in order.
	versions := reg.subjects["cdc.public.users-value"]
	if len(versions) != 2 {
		t.Fatalf("%d versions of the value subject, want 2 (the row, then with the fields)", len(versions))
	}
	const wantLast = `{"type":"record","name":"Value","namespace":"cdc.public.users","fields":[` +
		`{"name":"id","type":"long"},{"name":"name","type":"string"},` +
		`{"name":"email","type":["null","string"],"default":null},` +
		`{"name":"__op","type":["null","string"],"default":null},` +
		`{"name":"__deleted","type":["null","string"],"default":null}],` +
		`"connect.name":"cdc.public.users.Value"}`
	if versions[1].Schema != wantLast {
		t.Errorf("flat value schema\n%s\nwant\n%s", versions[1].Schema, wantLast)
	}
}

func TestEncodeRecordFlatIncompatible(t *testing.T) {
	// The envelope and the flat row in one subject (unwrap added to a running connector)
	// break BACKWARD: the encoder refuses before registering.
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	c := &decoder.Change{Op: decoder.OpCreate, Table: usersTable(), After: usersRow(1, "ann", "")}
	if _, _, _, err := e.EncodeRecord(ctx, record(c)); err != nil {
		t.Fatal(err)
	}
	rec := record(c)
	rec.Shape = transform.ShapeFlat
	_, _, _, err := e.EncodeRecord(ctx, rec)
	if !errors.Is(err, ErrIncompatible) {
		t.Fatalf("flat after envelope: %v, want ErrIncompatible", err)
	}
	if n := len(reg.subjects["cdc.public.users-value"]); n != 1 {
		t.Fatalf("%d versions registered, want the first alone", n)
	}
}

func TestEncodeRecordErrors(t *testing.T) {
	ctx := context.Background()
	e := newTestEncoder(t, newFakeRegistry())
	clash := usersTable()
	clash.Columns = append(clash.Columns, decoder.Column{Name: "__deleted", Type: decoder.TypeString, Optional: true})
	rec := record(&decoder.Change{Op: decoder.OpCreate, Table: clash, After: usersRow(1, "a", "")})
	rec.Shape, rec.Fields = transform.ShapeFlat, transform.FieldDeleted
	if _, _, _, err := e.EncodeRecord(ctx, rec); !errors.Is(err, ErrSchema) {
		t.Errorf("column __deleted with the __deleted field: %v, want ErrSchema", err)
	}

	// A column the encoder cannot plan fails every change of the table: a schema error, not
	// a bad value of one row.
	odd := &decoder.Table{Namespace: "public", Name: "odd", Columns: []decoder.Column{{Name: "x", Type: decoder.TypeInvalid}}}
	if _, _, _, err := e.EncodeRecord(ctx, record(&decoder.Change{Op: decoder.OpCreate, Table: odd})); !errors.Is(err, ErrSchema) {
		t.Errorf("unplannable column: %v, want ErrSchema", err)
	}

	// A NULL in a required column is a bad value of that row: an *EncodeError, not ErrSchema.
	row := usersRow(1, "a", "")
	row[1] = decoder.Value{}
	_, _, _, err := e.EncodeRecord(ctx, record(&decoder.Change{Op: decoder.OpCreate, Table: usersTable(), After: row}))
	var ee *EncodeError
	if !errors.As(err, &ee) || !errors.Is(err, ErrNullValue) || errors.Is(err, ErrSchema) {
		t.Errorf("NULL in name: %v, want an *EncodeError with ErrNullValue", err)
	}

	if _, _, _, err := e.EncodeRecord(ctx, &transform.Record{}); !errors.Is(err, ErrBadValue) {
		t.Errorf("empty record: %v, want ErrBadValue", err)
	}
	rec = record(&decoder.Change{Op: decoder.OpCreate, Table: usersTable(), After: usersRow(1, "a", "")})
	rec.Shape = 9
	if _, _, _, err := e.EncodeRecord(ctx, rec); !errors.Is(err, ErrSchema) {
		t.Errorf("unknown shape: %v, want ErrSchema", err)
	}
}
