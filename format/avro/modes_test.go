package avro

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

func str(s string) []byte { return appendString(nil, s) }

// TestModesColumn shows, per handling mode, the exact Avro type and bytes of a column.
func TestModesColumn(t *testing.T) {
	dec := decoder.Column{Name: "c", Type: decoder.TypeDecimal, Precision: 10, Scale: 2}
	decVal := decoder.Value{State: decoder.ValueSet, Bytes: []byte{0xfe, 0x1d, 0xc0}} // -1234.56
	vdec := decoder.Column{Name: "c", Type: decoder.TypeVariableDecimal}
	vdecVal := decoder.Value{State: decoder.ValueSet, Bytes: []byte{0x30, 0x39}, Scale: 3} // 12.345
	bin := decoder.Column{Name: "c", Type: decoder.TypeBytes}
	binVal := decoder.Value{State: decoder.ValueSet, Bytes: []byte{0, 1, 0xfe, 0xff}}
	binArr := decoder.Column{Name: "c", Type: decoder.TypeArray, Elem: &decoder.Column{Type: decoder.TypeBytes, Optional: true}}
	binArrVal := decoder.Value{State: decoder.ValueSet, Elems: []decoder.Value{{State: decoder.ValueSet, Bytes: []byte("hi")}, {}}}
	double := func(f float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)) }
	long := func(n int64) []byte { return appendLong(nil, n) }
	col := func(t decoder.Type) decoder.Column { return decoder.Column{Name: "c", Type: t} }
	val := func(n int64) decoder.Value { return decoder.Value{State: decoder.ValueSet, Int: n} }
	cases := []struct {
		name   string
		modes  format.Modes
		col    decoder.Column
		val    decoder.Value
		schema string
		bytes  []byte
	}{
		{"decimal precise", format.Modes{}, dec, decVal,
			`{"type":"bytes","scale":2,"precision":10,"connect.version":1,"connect.parameters":{"scale":"2","connect.decimal.precision":"10"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}`,
			[]byte{6, 0xfe, 0x1d, 0xc0}},
		{"decimal double", format.Modes{Decimal: format.DecimalDouble}, dec, decVal, `"double"`, double(-1234.56)},
		{"variable decimal double", format.Modes{Decimal: format.DecimalDouble}, vdec, vdecVal, `"double"`, double(12.345)},
		{"decimal string", format.Modes{Decimal: format.DecimalString}, dec, decVal, `"string"`, str("-1234.56")},
		{"variable decimal string", format.Modes{Decimal: format.DecimalString}, vdec, vdecVal, `"string"`, str("12.345")},
		{"date adaptive", format.Modes{}, col(decoder.TypeDate), val(19849),
			`{"type":"int","connect.version":1,"connect.name":"io.debezium.time.Date"}`, long(19849)},
		{"date connect", format.Modes{Time: format.TimeConnect}, col(decoder.TypeDate), val(19849),
			`{"type":"int","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Date","logicalType":"date"}`, long(19849)},
		{"time(3) connect", format.Modes{Time: format.TimeConnect}, col(decoder.TypeTimeMillis), val(45296789),
			`{"type":"int","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Time","logicalType":"time-millis"}`, long(45296789)},
		{"time(6) connect", format.Modes{Time: format.TimeConnect}, col(decoder.TypeTimeMicros), val(45296789012),
			`{"type":"int","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Time","logicalType":"time-millis"}`, long(45296789)},
		{"timestamp(3) connect", format.Modes{Time: format.TimeConnect}, col(decoder.TypeTimestampMillis), val(1715000000123),
			`{"type":"long","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Timestamp","logicalType":"timestamp-millis"}`, long(1715000000123)},
		{"timestamp(6) connect before the epoch", format.Modes{Time: format.TimeConnect}, col(decoder.TypeTimestampMicros), val(-1),
			`{"type":"long","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Timestamp","logicalType":"timestamp-millis"}`, long(-1)},
		{"time(3) adaptive_time_microseconds", format.Modes{Time: format.TimeAdaptiveMicroseconds}, col(decoder.TypeTimeMillis), val(45296789),
			`{"type":"long","connect.version":1,"connect.name":"io.debezium.time.MicroTime"}`, long(45296789000)},
		{"timestamp(6) adaptive_time_microseconds", format.Modes{Time: format.TimeAdaptiveMicroseconds}, col(decoder.TypeTimestampMicros), val(7),
			`{"type":"long","connect.version":1,"connect.name":"io.debezium.time.MicroTimestamp"}`, long(7)},
		{"bytes", format.Modes{}, bin, binVal, `"bytes"`, append([]byte{8}, 0, 1, 0xfe, 0xff)},
		{"bytes base64", format.Modes{Binary: format.BinaryBase64}, bin, binVal, `"string"`, str("AAH+/w==")},
		{"bytes hex", format.Modes{Binary: format.BinaryHex}, bin, binVal, `"string"`, str("0001feff")},
		{"bytes base64-url-safe", format.Modes{Binary: format.BinaryBase64URLSafe}, bin, binVal, `"string"`, str("AAH-_w==")},
		{"bytea[] hex", format.Modes{Binary: format.BinaryHex}, binArr, binArrVal, `{"type":"array","items":["null","string"]}`,
			append(append([]byte{4, 2}, str("6869")...), 0, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &builder{defined: map[string]bool{}, modes: tc.modes}
			typ, err := b.columnType(&tc.col)
			if err != nil {
				t.Fatal(err)
			}
			text, err := json.Marshal(typ)
			if err != nil {
				t.Fatal(err)
			}
			if string(text) != tc.schema {
				t.Errorf("schema %s, want %s", text, tc.schema)
			}
			cp, err := planColumn(&tc.col, DefaultPlaceholder, tc.modes)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cp.append(nil, &tc.val, nullsRejected)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.bytes) {
				t.Errorf("bytes % x, want % x", got, tc.bytes)
			}
		})
	}
}

// TestModesRoundTrip encodes a row under every non-default mode and reads it back with the
// registered schema, as a consumer does.
func TestModesRoundTrip(t *testing.T) {
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg, WithModes(format.Modes{Decimal: format.DecimalString, Time: format.TimeConnect, Binary: format.BinaryBase64}))
	tab := &decoder.Table{Namespace: "public", Name: "m", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "dec", Type: decoder.TypeDecimal, Precision: 5, Scale: 1, Optional: true,
			Default: &decoder.Value{State: decoder.ValueSet, Bytes: []byte{0x7b}}}, // 12.3
		{Name: "ts", Type: decoder.TypeTimestampMicros},
		{Name: "d", Type: decoder.TypeDate},
		{Name: "by", Type: decoder.TypeBytes, Optional: true},
	}}
	row := []decoder.Value{set(decoder.Value{Int: 1}), set(decoder.Value{Bytes: []byte{0xff, 0x85}}), // -12.3
		set(decoder.Value{Int: 1715000000123456}), set(decoder.Value{Int: 19849}), {State: decoder.ValueUnchanged}}
	rec := &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: tab, After: row}}
	_, _, value, err := e.EncodeRecord(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	after := unwrap(decodeWire(t, reg, "cdc.public.m-value", value)["after"]).(map[string]any)
	if got := unwrap(after["dec"]); got != "-12.3" {
		t.Errorf("dec %#v", got)
	}
	if got, want := after["ts"], time.UnixMilli(1715000000123).UTC(); !want.Equal(got.(time.Time)) {
		t.Errorf("ts %#v, want %v", got, want)
	}
	if got, want := after["d"], time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC); !want.Equal(got.(time.Time)) {
		t.Errorf("d %#v, want %v", got, want)
	}
	if got := unwrap(after["by"]); got != DefaultPlaceholder {
		t.Errorf("by %#v", got)
	}
	schema := reg.subjects["cdc.public.m-value"][0].Schema
	if s := `{"name":"dec","type":["string","null"],"default":"12.3"}`; !strings.Contains(schema, s) {
		t.Errorf("schema has no %s:\n%s", s, schema)
	}
}

func TestParseSettings(t *testing.T) {
	for _, tc := range []struct {
		settings   map[string]string
		key, value SubjectStrategy
		modes      format.Modes
		ok         bool
	}{
		{nil, TopicNameStrategy, TopicNameStrategy, format.Modes{}, true},
		{map[string]string{SettingKeySubjectStrategy: "RecordNameStrategy",
			SettingValueSubjectStrategy: "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
			format.SettingDecimalMode:   "double"},
			RecordNameStrategy, TopicRecordNameStrategy, format.Modes{Decimal: format.DecimalDouble}, true},
		{map[string]string{SettingValueSubjectStrategy: "io.confluent.kafka.serializers.subject.TopicNameStrategy"},
			TopicNameStrategy, TopicNameStrategy, format.Modes{}, true},
		{map[string]string{SettingKeySubjectStrategy: "FooStrategy"}, 0, 0, format.Modes{}, false},
		{map[string]string{"value.converter.schemas.enable": "true"}, 0, 0, format.Modes{}, false},
		{map[string]string{format.SettingTimeMode: "nanos"}, 0, 0, format.Modes{}, false},
	} {
		opts, err := ParseSettings(tc.settings)
		if (err == nil) != tc.ok {
			t.Errorf("%v: error %v", tc.settings, err)
			continue
		}
		if !tc.ok {
			continue
		}
		c := defaults()
		for _, o := range opts {
			o(&c)
		}
		if c.keyStrategy != tc.key || c.strategy != tc.value || c.modes != tc.modes {
			t.Errorf("%v: key %v value %v modes %+v", tc.settings, c.keyStrategy, c.strategy, c.modes)
		}
	}
}

// TestSubjectStrategiesApart: the key's and the value's strategies are chosen apart, as
// key.subject.name.strategy and value.subject.name.strategy are.
func TestSubjectStrategiesApart(t *testing.T) {
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg, WithKeySubjectStrategy(RecordNameStrategy), WithValueSubjectStrategy(TopicRecordNameStrategy))
	tab := &decoder.Table{Namespace: "public", Name: "items", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true}}}
	rec := &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: tab, After: []decoder.Value{set(decoder.Value{Int: 1})}}}
	if _, _, _, err := e.EncodeRecord(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"cdc.public.items.Key", "cdc.public.items-cdc.public.items.Envelope"} {
		if len(reg.subjects[s]) != 1 {
			t.Errorf("subject %s not registered: %v", s, reg.calls)
		}
	}
}
