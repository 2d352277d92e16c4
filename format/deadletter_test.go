package format

import (
	"encoding/json"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

func TestDeadLetterRendering(t *testing.T) {
	set := func(v decoder.Value) decoder.Value { v.State = decoder.ValueSet; return v }
	tab := &decoder.Table{Namespace: "shop", Name: "orders", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, Key: true},
		{Name: "paid", Type: decoder.TypeBool},
		{Name: "price", Type: decoder.TypeDecimal, Scale: 2},
		{Name: "rate", Type: decoder.TypeVariableDecimal},
		{Name: "note", Type: decoder.TypeString, Optional: true},
		{Name: "blob", Type: decoder.TypeBytes},
		{Name: "day", Type: decoder.TypeDate},
		{Name: "at", Type: decoder.TypeTimestampMicros},
		{Name: "t", Type: decoder.TypeTimeMicros},
		{Name: "span", Type: decoder.TypeIntervalMicros},
		{Name: "tags", Type: decoder.TypeArray, Elem: &decoder.Column{Type: decoder.TypeString, Optional: true}},
		{Name: "big", Type: decoder.TypeString},
		{Name: "ratio", Type: decoder.TypeFloat64},
	}}
	row := []decoder.Value{
		set(decoder.Value{Int: 7}),
		set(decoder.Value{Int: 3}),                    // not a boolean: what may have failed, written as it is
		set(decoder.Value{Bytes: []byte{0xff, 0x85}}), // -123 at scale 2
		set(decoder.Value{Bytes: []byte{0x05}, Scale: 3}),
		{},
		set(decoder.Value{Bytes: []byte{0xca, 0xfe}}),
		set(decoder.Value{Int: 19000}),
		set(decoder.Value{Int: 1_700_000_000_123_456}),
		set(decoder.Value{Int: 3_600_000_001}),
		set(decoder.Value{Int: 5_400_000_000}),
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Bytes: []byte(`a"b`)}), {}}}),
		{State: decoder.ValueUnchanged},
		set(decoder.Value{Float: 0.5}),
		set(decoder.Value{Int: 99}), // beyond the table's columns
	}
	c := &decoder.Change{Op: decoder.OpCreate, Table: tab, After: row}
	const want = `{"table":"shop.orders","op":"c","before":null,"after":{"id":"7","paid":"3","price":"-1.23",` +
		`"rate":"0.005","note":null,"blob":"cafe","day":"2022-01-08","at":"2023-11-14T22:13:20.123456",` +
		`"t":"01:00:00.000001","span":"1h30m0s","tags":["a\"b",null],"ratio":"0.5","#13":"99"}}`
	got := DeadLetterValue(c, 0)
	if string(got) != want {
		t.Errorf("dead-letter value\n%s\nwant\n%s", got, want)
	}
	var dl DeadLetter
	if err := json.Unmarshal(got, &dl); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if k := DeadLetterKey(c); string(k) != `{"id":"7"}` {
		t.Errorf("key %s", k)
	}
	// A delete's key comes from its before row; a keyless table has a null key.
	del := &decoder.Change{Op: decoder.OpDelete, Table: tab, Before: row[:1]}
	if k := DeadLetterKey(del); string(k) != `{"id":"7"}` {
		t.Errorf("delete key %s", k)
	}
	keyless := &decoder.Table{Namespace: "s", Name: "log", Columns: []decoder.Column{{Name: "x", Type: decoder.TypeInt32}}}
	if k := DeadLetterKey(&decoder.Change{Op: decoder.OpCreate, Table: keyless, After: row[:1]}); k != nil {
		t.Errorf("keyless key %s, want nil", k)
	}
	// Without a table, the value is still JSON.
	if err := json.Unmarshal(DeadLetterValue(&decoder.Change{Op: decoder.OpCreate, After: row[:1]}, 0), &dl); err != nil {
		t.Errorf("change without table: %v", err)
	}
}

func TestDecimalText(t *testing.T) {
	for _, tt := range []struct {
		b     []byte
		scale int
		want  string
	}{
		{nil, 0, "0"}, {nil, 2, "0.00"}, {[]byte{0x30, 0x39}, 2, "123.45"}, {[]byte{0xff}, 0, "-1"},
		{[]byte{0xff}, 3, "-0.001"}, {[]byte{0x01}, -2, "100"},
	} {
		if got := decimalText(tt.b, tt.scale); got != tt.want {
			t.Errorf("decimalText(%x, %d) = %s, want %s", tt.b, tt.scale, got, tt.want)
		}
	}
}

// TestDeadLetterLeavesOutLargeValues checks that a dead letter written with a text limit
// leaves out the larger values, names them, and keeps the rest and the key.
func TestDeadLetterLeavesOutLargeValues(t *testing.T) {
	tab := &decoder.Table{Namespace: "public", Name: "files", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, Key: true},
		{Name: "data", Type: decoder.TypeBytes},
		{Name: "name", Type: decoder.TypeString},
	}}
	set := func(v decoder.Value) decoder.Value { v.State = decoder.ValueSet; return v }
	big := make([]byte, 1<<20)
	c := &decoder.Change{Op: decoder.OpUpdate, Table: tab,
		Before: []decoder.Value{set(decoder.Value{Int: 7}), set(decoder.Value{Bytes: big}), set(decoder.Value{Bytes: []byte("a")})},
		After:  []decoder.Value{set(decoder.Value{Int: 7}), set(decoder.Value{Bytes: big}), set(decoder.Value{Bytes: []byte("b")})}}
	const want = `{"table":"public.files","op":"u","before":{"id":"7","name":"a"},"after":{"id":"7","name":"b"},"omitted":["data"]}`
	if got := DeadLetterValue(c, 1024); string(got) != want {
		t.Errorf("dead letter %s, want %s", got, want)
	}
	if got := DeadLetterValue(c, 0); len(got) < 2*len(big) {
		t.Errorf("dead letter without a limit is %d bytes, want the values in full", len(got))
	}
	if k := DeadLetterKey(c); string(k) != `{"id":"7"}` {
		t.Errorf("key %s", k)
	}
}
