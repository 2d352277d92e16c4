package decoder

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

// bin appends a binary column value: tag 'b', its length, its bytes.
func (m msg) bin(b []byte) msg { return append(m.u8('b').u32(uint32(len(b))), b...) }

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// binaryFields are insertFixture's values in PostgreSQL's binary format, as pgoutput's binary
// option and COPY's binary format send them.
func binaryFields() [][]byte {
	created := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC).Sub(pgEpoch).Microseconds()
	due := int32(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Sub(pgEpoch).Hours() / 24)
	amount := append(append(append(be16(2), be16(0)...), be16(numericPos)...), be16(2)...) // 2 digits, weight 0, dscale 2
	amount = append(append(amount, be16(1234)...), be16(5600)...)
	ref := []byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}
	return [][]byte{be32(123456), be64(9876543210), []byte("leave at the door"), []byte("shipped"), {1}, amount,
		be64(uint64(created)), be64(math.Float64bits(12.5)), be32(uint32(due)), ref}
}

// binaryInsert is insertFixture's insert with every value in pgoutput's binary format, as the
// walsender sends it with binary 'true'.
func binaryInsert() []byte {
	m := newMsg('I').u32(testRelID).u8('N').u16(10)
	for _, f := range binaryFields() {
		m = m.bin(f)
	}
	return m.bytes()
}

// TestPGDecodeBinaryInsertMatchesText decodes one row in both formats: the values must be the
// same (TestDecoderPGOutputBinaryMatchesText checks every type against a real server).
func TestPGDecodeBinaryInsertMatchesText(t *testing.T) {
	d, ins := insertFixture(t)
	text := mustDecode(t, d, ins)
	bin := mustDecode(t, d, binaryInsert())
	if !reflect.DeepEqual(text.Change.After, bin.Change.After) {
		t.Errorf("binary row\n%+v\nwant the text row's\n%+v", bin.Change.After, text.Change.After)
	}
}

// TestPGDecodeBinaryOwnsItsValues checks that values a binary plan writes (a uuid's text, a
// timestamp's) do not stay in the decoder's scratch buffer, which the next row reuses.
func TestPGDecodeBinaryOwnsItsValues(t *testing.T) {
	d, _ := insertFixture(t)
	first := mustDecode(t, d, binaryInsert())
	ref, created := string(first.Change.After[9].Bytes), string(first.Change.After[6].Bytes)
	other := binaryInsert()
	copy(other[len(other)-16:], make([]byte, 16)) // another uuid
	mustDecode(t, d, other)
	if got := string(first.Change.After[9].Bytes); got != ref || got != "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" {
		t.Errorf("ref = %q after the next row, want %q", got, ref)
	}
	if got := string(first.Change.After[6].Bytes); got != created || got != "2024-02-29T13:14:15.123456Z" {
		t.Errorf("created = %q after the next row", got)
	}
}

// TestPGDecodeBinaryInsertAllocations: decoding in binary allocates no more than in text, the
// After slice and its bytes.
func TestPGDecodeBinaryInsertAllocations(t *testing.T) {
	d, _ := insertFixture(t)
	ins := binaryInsert()
	mustDecode(t, d, ins) // the scratch buffer grows once
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Decode(context.Background(), ins); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("decoding a 10-column binary insert allocates %v times, want at most 2", allocs)
	}
}

// BenchmarkPGDecodeInsertBinary is BenchmarkPGDecodeInsert in pgoutput's binary format.
func BenchmarkPGDecodeInsertBinary(b *testing.B) {
	d, _ := insertFixture(b)
	ins := binaryInsert()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m, err := d.Decode(ctx, ins) // binary plans do not rewrite the message
		if err != nil || len(m.Change.After) != 10 {
			b.Fatalf("decode: %v", err)
		}
	}
}

// TestPGBinaryValueErrors checks that malformed or special binary values fail as their text
// would.
func TestPGBinaryValueErrors(t *testing.T) {
	nan := append(append(append(be16(0), be16(0)...), be16(numericNaN)...), be16(0)...)
	cases := []struct {
		name string
		plan pgBinPlan
		data []byte
		want error
	}{
		{"numeric NaN", binNumeric(planVariableDecimal), nan, ErrPGSpecialValue},
		{"numeric short", binNumeric(planVariableDecimal), be16(1), ErrPGBadValue},
		{"date infinity", binDate, be32(math.MaxInt32), ErrPGSpecialValue},
		{"bool 2", binBool, []byte{2}, ErrPGBadValue},
		{"uuid 15 bytes", binUUID, make([]byte, 15), ErrPGBadValue},
		{"jsonb version 2", binJSONB, []byte{2, '{', '}'}, ErrPGBadValue},
		{"inet family 9", binInet, []byte{9, 32, 0, 4, 1, 2, 3, 4}, ErrPGBadValue},
		{"2-D array", binArrayPlan(binInt32), append(append(be32(2), be32(0)...), be32(oidInt4)...), ErrPGMultiDimArray},
		{"array element past the end", binArrayPlan(binInt32),
			append(append(append(append(be32(1), be32(0)...), be32(oidInt4)...), be32(1)...), append(be32(1), be32(4)...)...), ErrPGBadValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v Value
			var scratch []byte
			if err := tc.plan(tc.data, &v, &scratch); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestPGDecodeBinaryMatchesDecodeText decodes one snapshot row in both formats: the same values
// (TestDecoderSnapshotBinaryMatchesText checks every type against a real server), owned by the
// row.
func TestPGDecodeBinaryMatchesDecodeText(t *testing.T) {
	d, tbl, row := textFixture(t)
	text := make([]Value, len(tbl.Columns))
	if err := d.DecodeText(tbl, cloneFields(row), text); err != nil {
		t.Fatal(err)
	}
	fields := binaryFields()
	bin := make([]Value, len(tbl.Columns))
	var scratch []byte
	if err := d.DecodeBinary(tbl, fields, bin, &scratch); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(text, bin) {
		t.Errorf("binary row\n%+v\nwant the text row's\n%+v", bin, text)
	}
	for _, f := range fields {
		clear(f)
	}
	clear(scratch[:cap(scratch)])
	if !reflect.DeepEqual(text, bin) {
		t.Errorf("the row changed with its fields and the scratch buffer: %+v", bin)
	}
	if err := d.DecodeBinary(tbl, fields[:9], bin[:9], &scratch); !errors.Is(err, ErrPGRowShape) {
		t.Errorf("9 fields: %v, want ErrPGRowShape", err)
	}
	if err := d.DecodeBinary(&Table{ID: 1}, fields, bin, &scratch); !errors.Is(err, ErrPGTableNotDescribed) {
		t.Errorf("a table not described: %v, want ErrPGTableNotDescribed", err)
	}
}

// BenchmarkPGDecodeBinary is BenchmarkPGDecodeText in the binary format: one allocation, the
// buffer the row's bytes move to.
func BenchmarkPGDecodeBinary(b *testing.B) {
	d, tbl, _ := textFixture(b)
	fields := binaryFields()
	dst := make([]Value, len(tbl.Columns))
	var scratch []byte
	b.ReportAllocs()
	for b.Loop() {
		if err := d.DecodeBinary(tbl, fields, dst, &scratch); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPGBinaryExtremesMatchText checks that the values past Debezium's range (±infinity, the
// latest timestamps, intervals past the microseconds of an int64) come out of the binary
// plans as the text plans give them from the same values' text.
func TestPGBinaryExtremesMatchText(t *testing.T) {
	const pgMaxTimestamp = 9223371331200000000 - 1 // 294276-12-31 23:59:59.999999, since 2000
	interval := func(us int64, days, months int32) []byte {
		return append(append(be64(uint64(us)), be32(uint32(days))...), be32(uint32(months))...)
	}
	cases := []struct {
		name string
		bin  pgBinPlan
		text pgPlan
		data []byte
		str  string
	}{
		{"timestamp infinity", binTimestampMicros, planTimestampMicros, be64(math.MaxInt64), "infinity"},
		{"timestamp -infinity", binTimestampMicros, planTimestampMicros, be64(1 << 63), "-infinity"},
		{"timestamp latest", binTimestampMicros, planTimestampMicros, be64(pgMaxTimestamp), "294276-12-31 23:59:59.999999"},
		{"timestamp(3) latest", binTimestampMillis, planTimestampMillis, be64(pgMaxTimestamp), "294276-12-31 23:59:59.999999"},
		{"timestamp(3) -infinity", binTimestampMillis, planTimestampMillis, be64(1 << 63), "-infinity"},
		{"timestamptz infinity", binTimestamptz(6), timestamptzPlan(6), be64(math.MaxInt64), "infinity"},
		{"timestamptz -infinity", binTimestamptz(6), timestamptzPlan(6), be64(1 << 63), "-infinity"},
		{"timestamptz latest", binTimestamptz(6), timestamptzPlan(6), be64(pgMaxTimestamp), "294276-12-31 23:59:59.999999+00"},
		{"interval past int64 micros", binInterval, planInterval, interval(0, 0, 178000000), "P14833333Y4M"},
		{"interval before int64 micros", binInterval, planInterval, interval(0, 0, -178000000), "P-14833333Y-4M"},
		{"interval with the largest time", binInterval, planInterval,
			interval(math.MaxInt64, math.MaxInt32, 2136000000), "P178000000Y2147483647DT2562047788H54.775807S"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var fromText, fromBin Value
			if err := tc.text([]byte(tc.str), &fromText); err != nil {
				t.Fatalf("text %q: %v", tc.str, err)
			}
			var scratch []byte
			if err := tc.bin(tc.data, &fromBin, &scratch); err != nil {
				t.Fatalf("binary: %v", err)
			}
			if fromBin.Int != fromText.Int || string(fromBin.Bytes) != string(fromText.Bytes) {
				t.Errorf("binary gives %d %q, text %q gives %d %q", fromBin.Int, fromBin.Bytes, tc.str, fromText.Int, fromText.Bytes)
			}
		})
	}
}
