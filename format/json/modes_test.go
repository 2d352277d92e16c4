package json

import (
	"context"
	stdjson "encoding/json"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

// modesTable has a column of each type a handling mode changes, and a row for it.
func modesTable() (*decoder.Table, []decoder.Value) {
	by := &decoder.Column{Type: decoder.TypeBytes, Optional: true}
	t := &decoder.Table{Namespace: "public", Name: "modes", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "dec", Type: decoder.TypeDecimal, Precision: 10, Scale: 2},
		{Name: "vdec", Type: decoder.TypeVariableDecimal, Optional: true},
		{Name: "d", Type: decoder.TypeDate},
		{Name: "tms", Type: decoder.TypeTimeMillis},
		{Name: "tus", Type: decoder.TypeTimeMicros},
		{Name: "tsms", Type: decoder.TypeTimestampMillis},
		{Name: "tsus", Type: decoder.TypeTimestampMicros, Optional: true},
		{Name: "by", Type: decoder.TypeBytes},
		{Name: "bys", Type: decoder.TypeArray, Elem: by, Optional: true},
	}}
	row := []decoder.Value{
		set(decoder.Value{Int: 1}),
		set(decoder.Value{Bytes: []byte{0xfe, 0x1d, 0xc0}}),     // -1234.56
		set(decoder.Value{Bytes: []byte{0x30, 0x39}, Scale: 3}), // 12.345
		set(decoder.Value{Int: 19849}),                          // 2024-05-06
		set(decoder.Value{Int: 45296789}),                       // 12:34:56.789
		set(decoder.Value{Int: 45296789012}),                    // 12:34:56.789012
		set(decoder.Value{Int: 1715000000123}),
		set(decoder.Value{Int: -1}), // a microsecond before the epoch: -1 ms in connect
		set(decoder.Value{Bytes: []byte{0, 1, 0xfe, 0xff}}),
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Bytes: []byte("hi")}), {}}}),
	}
	return t, row
}

// TestModes shows the exact payload and field schemas each handling mode writes.
func TestModes(t *testing.T) {
	cases := []struct {
		name     string
		settings map[string]string
		after    string
		schemas  []string // a field's schema, as found in the value schema
	}{
		{"defaults", nil,
			`{"id":1,"dec":"/h3A","vdec":{"scale":3,"value":"MDk="},"d":19849,"tms":45296789,"tus":45296789012,` +
				`"tsms":1715000000123,"tsus":-1,"by":"AAH+/w==","bys":["aGk=",null]}`,
			[]string{`{"type":"int32","optional":false,"name":"io.debezium.time.Date","version":1,"field":"d"}`,
				`{"type":"int32","optional":false,"name":"io.debezium.time.Time","version":1,"field":"tms"}`,
				`{"type":"bytes","optional":false,"field":"by"}`}},
		{"decimal double", map[string]string{format.SettingDecimalMode: "double"},
			`{"id":1,"dec":-1234.56,"vdec":12.345,`, []string{
				`{"type":"double","optional":false,"field":"dec"}`,
				`{"type":"double","optional":true,"field":"vdec"}`}},
		{"decimal string", map[string]string{format.SettingDecimalMode: "STRING"},
			`{"id":1,"dec":"-1234.56","vdec":"12.345",`, []string{
				`{"type":"string","optional":false,"field":"dec"}`,
				`{"type":"string","optional":true,"field":"vdec"}`}},
		{"time connect", map[string]string{format.SettingTimeMode: "connect"},
			`{"id":1,"dec":"/h3A","vdec":{"scale":3,"value":"MDk="},"d":19849,"tms":45296789,"tus":45296789,` +
				`"tsms":1715000000123,"tsus":-1,`, []string{
				`{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"d"}`,
				`{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1,"field":"tms"}`,
				`{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1,"field":"tus"}`,
				`{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"tsms"}`,
				`{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"tsus"}`}},
		{"time adaptive_time_microseconds", map[string]string{format.SettingTimeMode: "adaptive_time_microseconds"},
			`"d":19849,"tms":45296789000,"tus":45296789012,"tsms":1715000000123,"tsus":-1,`, []string{
				`{"type":"int64","optional":false,"name":"io.debezium.time.MicroTime","version":1,"field":"tms"}`,
				`{"type":"int64","optional":false,"name":"io.debezium.time.MicroTime","version":1,"field":"tus"}`,
				`{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"tsus"}`}},
		{"binary base64", map[string]string{format.SettingBinaryMode: "base64"},
			`"by":"AAH+/w==","bys":["aGk=",null]}`, []string{
				`{"type":"string","optional":false,"field":"by"}`,
				`{"type":"array","items":{"type":"string","optional":true},"optional":true,"field":"bys"}`}},
		{"binary base64-url-safe", map[string]string{format.SettingBinaryMode: "base64-url-safe"},
			`"by":"AAH-_w==","bys":["aGk=",null]}`, []string{
				`{"type":"string","optional":false,"field":"by"}`}},
		{"binary hex", map[string]string{format.SettingBinaryMode: "hex"},
			`"by":"0001feff","bys":["6869",null]}`, []string{
				`{"type":"string","optional":false,"field":"by"}`,
				`{"type":"array","items":{"type":"string","optional":true},"optional":true,"field":"bys"}`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab, row := modesTable()
			e := newEncoder(t, tc.settings)
			rec := &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: tab, After: row}}
			_, _, value, err := e.EncodeRecord(context.Background(), rec)
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				Schema  stdjson.RawMessage `json:"schema"`
				Payload struct {
					After stdjson.RawMessage `json:"after"`
				} `json:"payload"`
			}
			if err := stdjson.Unmarshal(value, &v); err != nil {
				t.Fatalf("%v: %s", err, value)
			}
			if !strings.Contains(string(v.Payload.After), tc.after) {
				t.Errorf("after\n%s\nwant it to hold\n%s", v.Payload.After, tc.after)
			}
			for _, s := range tc.schemas {
				if !strings.Contains(string(v.Schema), s) {
					t.Errorf("schema\n%s\nhas no\n%s", v.Schema, s)
				}
			}
		})
	}
}

// TestModesDefaultsAndUnchanged: a column's default, its zero fallback and an unchanged
// value's placeholder follow the column's mode.
func TestModesDefaultsAndUnchanged(t *testing.T) {
	tab := &decoder.Table{Namespace: "public", Name: "m", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "dec", Type: decoder.TypeDecimal, Precision: 5, Scale: 1,
			Default: &decoder.Value{State: decoder.ValueSet, Bytes: []byte{0x7b}}}, // 12.3
		{Name: "dec2", Type: decoder.TypeDecimal, Precision: 5, Scale: 1},
		{Name: "by", Type: decoder.TypeBytes, Optional: true},
	}}
	e := newEncoder(t, map[string]string{format.SettingDecimalMode: "string", format.SettingBinaryMode: "hex",
		SettingValueSchemas: "false"})
	before := []decoder.Value{set(decoder.Value{Int: 1})} // the key alone
	after := []decoder.Value{set(decoder.Value{Int: 1}), set(decoder.Value{Bytes: []byte{0x7b}}),
		set(decoder.Value{Bytes: []byte{0x7b}}), {State: decoder.ValueUnchanged}}
	rec := &transform.Record{Change: &decoder.Change{Op: decoder.OpUpdate, Table: tab, Before: before, After: after}}
	_, _, value, err := e.EncodeRecord(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"before":{"id":1,"dec":"12.3","dec2":"0","by":null},"after":{"id":1,"dec":"12.3","dec2":"12.3","by":"__debezium_unavailable_value"}`
	if !strings.HasPrefix(string(value), want) {
		t.Errorf("value\n%s\nwant it to start\n%s", value, want)
	}
	e = newEncoder(t, map[string]string{format.SettingDecimalMode: "string"})
	_, _, value, err = e.EncodeRecord(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if s := `{"type":"string","optional":false,"default":"12.3","field":"dec"}`; !strings.Contains(string(value), s) {
		t.Errorf("schema has no %s:\n%s", s, value)
	}
}

func TestModeSettings(t *testing.T) {
	for _, s := range []map[string]string{
		{format.SettingDecimalMode: "exact"},
		{format.SettingTimeMode: "isostring"},
		{format.SettingBinaryMode: "base32"},
	} {
		if _, err := ParseSettings(s); err == nil {
			t.Errorf("%v: no error", s)
		}
	}
	o, err := ParseSettings(map[string]string{format.SettingDecimalMode: "double", format.SettingTimeMode: "connect",
		format.SettingBinaryMode: "base64"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (format.Modes{Decimal: format.DecimalDouble, Time: format.TimeConnect, Binary: format.BinaryBase64}); o.Modes != want {
		t.Errorf("modes %+v, want %+v", o.Modes, want)
	}
}
