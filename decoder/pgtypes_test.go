package decoder

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
)

// TestPGNewTypesTextAndBinary decodes each newly mapped type from the text and the binary
// form PostgreSQL 15 gives of the same value (captured with the type's send function), and
// checks both give the same, expected Value.
func TestPGNewTypesTextAndBinary(t *testing.T) {
	ewkbPoint := "0101000020e6100000000000000000f03f0000000000000040" // POINT(1 2), SRID 4326, little-endian
	wkbPoint := "0101000000000000000000f03f0000000000000040"
	cases := []struct {
		name   string
		oid    uint32
		typmod int32
		ext    string // an extension type's name (oid unused)
		text   string
		bin    string // hex
		typ    Type
		want   Value
	}{
		{name: "hstore", ext: "hstore", text: `"a"=>"1", "q\""=>"x\\y", "b c"=>NULL`,
			bin: "000000030000000161000000013100000002712200000003785c7900000003622063ffffffff", typ: TypeJSON,
			want: Value{Bytes: []byte(`{"a":"1","q\"":"x\\y","b c":null}`)}},
		{name: "empty hstore", ext: "hstore", text: ``, bin: "00000000", typ: TypeJSON, want: Value{Bytes: []byte(`{}`)}},
		{name: "citext", ext: "citext", text: "Hello", bin: hex.EncodeToString([]byte("Hello")), typ: TypeString,
			want: Value{Bytes: []byte("Hello")}},
		{name: "ltree", ext: "ltree", text: "a.b_c.d", bin: "01612e625f632e64", typ: TypeLtree, want: Value{Bytes: []byte("a.b_c.d")}},
		{name: "tsvector", oid: oidTSVector, typmod: -1, text: `'a':1A,2 'b\\c' 'it''s':3B 'zz':4C,5`,
			bin: "0000000461000002c0010002625c630000006974277300000180037a7a00000240040005", typ: TypeString,
			want: Value{Bytes: []byte(`'a':1A,2 'b\\c' 'it''s':3B 'zz':4C,5`)}},
		{name: "money", oid: oidMoney, typmod: -1, text: "-$1,234.56", bin: "fffffffffffe1dc0", typ: TypeDecimal,
			want: Value{Bytes: []byte{0xfe, 0x1d, 0xc0}}},
		{name: "money zero", oid: oidMoney, typmod: -1, text: "$0.00", bin: "0000000000000000", typ: TypeDecimal,
			want: Value{Bytes: []byte{0}}},
		{name: "bit(10)", oid: oidBit, typmod: 10, text: "1011000001", bin: "0000000ab040", typ: TypeBits,
			want: Value{Bytes: []byte{0xc1, 0x02}}},
		{name: "varbit", oid: oidVarbit, typmod: -1, text: "101", bin: "00000003a0", typ: TypeBits, want: Value{Bytes: []byte{5}}},
		{name: "empty varbit", oid: oidVarbit, typmod: 8, text: "", bin: "00000000", typ: TypeBits, want: Value{Bytes: []byte{}}},
		{name: "bit(1)", oid: oidBit, typmod: 1, text: "1", bin: "0000000180", typ: TypeBool, want: Value{Int: 1}},
		{name: "geometry", ext: "geometry", text: "0101000020E6100000000000000000F03F0000000000000040", bin: ewkbPoint,
			typ: TypeGeometry, want: Value{Bytes: mustHex(wkbPoint), Int: 4326, Scale: 1}},
		{name: "geometry without srid", ext: "geometry", text: wkbPoint, bin: wkbPoint,
			typ: TypeGeometry, want: Value{Bytes: mustHex(wkbPoint)}},
		{name: "geography", ext: "geography", text: ewkbPoint, bin: ewkbPoint,
			typ: TypeGeography, want: Value{Bytes: mustHex(wkbPoint), Int: 4326, Scale: 1}},
		{name: "vector", ext: "vector", text: "[1,2.5,-3]", bin: "000300003f80000040200000c0400000", typ: TypeDoubleVector,
			want: Value{Elems: []Value{{State: ValueSet, Float: 1}, {State: ValueSet, Float: 2.5}, {State: ValueSet, Float: -3}}}},
		// 0.1 is the double 0.1 in both forms (the float4's decimal, as Debezium parses it).
		{name: "vector of tenths", ext: "vector", text: "[0.1,-1e-07]", bin: "000200003dcccccdb3d6bf95", typ: TypeDoubleVector,
			want: Value{Elems: []Value{{State: ValueSet, Float: 0.1}, {State: ValueSet, Float: -1e-07}}}},
		{name: "sparsevec", ext: "sparsevec", text: "{1:1.5,3:-2,5:0.1}/5",
			bin: "0000000500000003000000000000000000000002000000043fc00000c00000003dcccccd", typ: TypeSparseVector,
			want: Value{Int: 5, Elems: []Value{{State: ValueSet, Int: 1, Float: 1.5}, {State: ValueSet, Int: 3, Float: -2},
				{State: ValueSet, Int: 5, Float: 0.1}}}},
		{name: "empty sparsevec", ext: "sparsevec", text: "{}/3", bin: "000000030000000000000000", typ: TypeSparseVector,
			want: Value{Int: 3, Elems: []Value{}}},
		// Halves: 1, -2.5, 0.099975586 (the half nearest 0.1), 6.1035156e-05 (the least normal),
		// 5.9604645e-08 (the least subnormal), 65504 (the greatest).
		{name: "halfvec", ext: "halfvec", text: "[1,-2.5,0.099975586,6.1035156e-05,5.9604645e-08,65504]",
			bin: "000600003c00c1002e66040000017bff", typ: TypeFloatVector,
			want: Value{Elems: []Value{{State: ValueSet, Float: 1}, {State: ValueSet, Float: -2.5},
				{State: ValueSet, Float: 0.0999755859375}, {State: ValueSet, Float: math.Ldexp(1, -14)},
				{State: ValueSet, Float: math.Ldexp(1, -24)}, {State: ValueSet, Float: 65504}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Column
			var plans pgColumnPlans
			var ok bool
			if tc.ext != "" {
				c, plans, ok = extensionPlan(PGTypeInfo{OID: 40000, Name: tc.ext, Kind: PGTypeBase}, HStoreJSON)
			} else {
				c, plans, ok = extraBuiltinPlan(tc.oid, tc.typmod)
			}
			if !ok || c.Type != tc.typ || plans.text == nil || plans.bin == nil {
				t.Fatalf("plan: %+v, %v (type %d, want %d)", c, ok, c.Type, tc.typ)
			}
			var tv Value
			if err := plans.text([]byte(tc.text), &tv); err != nil {
				t.Fatalf("text %q: %v", tc.text, err)
			}
			var bv Value
			scratch := []byte("prefix")
			if err := plans.bin(mustHex(tc.bin), &bv, &scratch); err != nil {
				t.Fatalf("binary %s: %v", tc.bin, err)
			}
			for form, got := range map[string]Value{"text": tv, "binary": bv} {
				if !bytes.Equal(got.Bytes, tc.want.Bytes) || got.Int != tc.want.Int || got.Scale != tc.want.Scale ||
					!reflect.DeepEqual(got.Elems, tc.want.Elems) {
					t.Errorf("%s: %+v (%q), want %+v (%q)", form, got, got.Bytes, tc.want, tc.want.Bytes)
				}
			}
		})
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestPGNewTypesColumns(t *testing.T) {
	if c, _, _ := extraBuiltinPlan(oidVarbit, -1); c.Precision != maxVarbitLength || c.SourceType != "varbit" {
		t.Errorf("varbit without length: %+v", c)
	}
	if c, _, _ := extraBuiltinPlan(oidMoney, -1); c.Scale != 2 || c.Precision != 0 {
		t.Errorf("money: %+v", c)
	}
	for oid, name := range rangeNames {
		c, plans, ok := extraBuiltinPlan(oid, -1)
		if !ok || c.Type != TypeString || !c.TextForm || c.Unmapped || c.SourceType != name || plans.bin != nil {
			t.Errorf("range %s: %+v", name, c)
		}
	}
	if c, _, _ := builtinPlan(oidXML, -1); c.Type != TypeXML {
		t.Errorf("xml: %+v", c)
	}
}

func TestPGNewTypesBadValues(t *testing.T) {
	bad := []struct {
		ext  string
		oid  uint32
		text string
		bin  string
	}{
		{ext: "hstore", text: `"a"=>`, bin: "00000001000000016100"},
		{ext: "ltree", bin: "02"},
		{ext: "geometry", text: "0G", bin: "05"},
		{ext: "vector", text: "1,2", bin: "0002000000"},
		{oid: oidMoney, text: "$", bin: "00"},
		{oid: oidBit, text: "012", bin: "0000000900"},
		{oid: oidTSVector, bin: "0000000161"},
	}
	for _, b := range bad {
		var plans pgColumnPlans
		if b.ext != "" {
			_, plans, _ = extensionPlan(PGTypeInfo{Name: b.ext}, HStoreJSON)
		} else {
			_, plans, _ = extraBuiltinPlan(b.oid, 5)
		}
		var v Value
		if b.text != "" {
			if err := plans.text([]byte(b.text), &v); !errors.Is(err, ErrPGBadValue) {
				t.Errorf("%s%d text %q: err = %v", b.ext, b.oid, b.text, err)
			}
		}
		var scratch []byte
		if err := plans.bin(mustHex(b.bin), &v, &scratch); !errors.Is(err, ErrPGBadValue) {
			t.Errorf("%s%d binary %s: err = %v", b.ext, b.oid, b.bin, err)
		}
	}
}

// texterCatalog is a fakeCatalog that is also a PGTypeTexter.
type texterCatalog struct {
	*fakeCatalog
	calls int
}

func (c *texterCatalog) TypeText(_ context.Context, oid uint32, binary []byte) ([]byte, error) {
	c.calls++
	return fmt.Appendf(nil, "text of %d:%x", oid, binary), nil
}

func TestPGUnknownTypeAsText(t *testing.T) {
	cat := &texterCatalog{fakeCatalog: testCatalog()}
	cat.Types = map[uint32]PGTypeInfo{
		30001: {OID: 30001, Name: "mydomain", Kind: PGTypeDomain, BaseOID: 30000},
		30002: {OID: 30002, Name: "_type30000", Kind: PGTypeArray, ElemOID: 30000},
	}
	var warned []UnmappedColumn
	d := NewPGDecoder(cat, WithPGUnmappedColumn(func(u UnmappedColumn) { warned = append(warned, u) }))
	tbl := mustDecode(t, d, relationMsg(
		func(m msg) msg { return m.col("u", 30000, -1, false) },
		func(m msg) msg { return m.col("dom", 30001, -1, false) },
		func(m msg) msg { return m.col("arr", 30002, -1, false) },
		func(m msg) msg { return m.col("r", oidInt4Range, -1, false) },
	)).Table
	want := []struct {
		typ      string
		unmapped bool
	}{{"type30000", true}, {"mydomain", true}, {"_type30000", true}, {"int4range", false}}
	for i, w := range want {
		c := tbl.Columns[3+i]
		if c.Type != TypeString || !c.TextForm || c.Unmapped != w.unmapped || c.SourceType != w.typ {
			t.Errorf("column %s = %+v, want a text-form string of type %s", c.Name, c, w.typ)
		}
	}
	if len(warned) != 3 || warned[1] != (UnmappedColumn{Namespace: "public", Table: "t", Column: "dom", SourceType: "mydomain"}) {
		t.Errorf("unmapped columns reported: %+v", warned)
	}
	// The same shape again reports nothing more.
	mustDecode(t, d, relationMsg(
		func(m msg) msg { return m.col("u", 30000, -1, false) },
		func(m msg) msg { return m.col("dom", 30001, -1, false) },
		func(m msg) msg { return m.col("arr", 30002, -1, false) },
		func(m msg) msg { return m.col("r", oidInt4Range, -1, false) },
	))
	if len(warned) != 3 {
		t.Errorf("an unchanged relation reported its unmapped columns again: %+v", warned)
	}

	// Text values are the values; binary ones are the server's text of them.
	bin := func(m msg, b string) msg { return append(m.u8('b').u32(uint32(len(b))), b...) }
	ins := newMsg('I').u32(testRelID).u8('N').u16(7).text("1").u8('n').u8('n')
	ins = bin(ins.text("(1,2)"), "\x01\x02").text("{a,b}")
	ins = bin(ins, "\x04")
	a := mustDecode(t, d, ins.bytes()).Change.After
	got := []string{string(a[3].Bytes), string(a[4].Bytes), string(a[5].Bytes), string(a[6].Bytes)}
	if exp := []string{"(1,2)", "text of 30001:0102", "{a,b}", "text of 3904:04"}; !reflect.DeepEqual(got, exp) {
		t.Errorf("values = %q, want %q", got, exp)
	}
	if cat.calls != 2 {
		t.Errorf("%d TypeText calls, want 2", cat.calls)
	}

	// A catalog that cannot give the text fails the binary value, naming the column.
	d = NewPGDecoder(testCatalog())
	mustDecode(t, d, relationMsg(func(m msg) msg { return m.col("u", 30000, -1, false) }))
	_, err := d.Decode(context.Background(), bin(newMsg('I').u32(testRelID).u8('N').u16(4).text("1").u8('n').u8('n'), "\x01").bytes())
	var ce *PGColumnError
	if !errors.Is(err, ErrPGBinaryFormat) || !errors.As(err, &ce) || ce.Column != "u" {
		t.Errorf("binary unknown value without a texter: err = %v", err)
	}
}

func TestPGDescribeTableTextForm(t *testing.T) {
	d := NewPGDecoder(testCatalog())
	cols := []PGColumnInfo{{"id", oidInt4, -1}, {"u", 30000, -1}, {"r", oidDateRange, -1}}
	tbl, err := d.DescribeTable(context.Background(), testRelID, "public", "t", cols)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]Value, 3)
	var scratch []byte
	// A snapshot reads TextForm columns cast to text: their binary value is the text.
	if err := d.DecodeBinary(tbl, [][]byte{{0, 0, 0, 7}, []byte("(1,2)"), []byte("[2020-01-01,2020-02-01)")}, dst, &scratch); err != nil {
		t.Fatal(err)
	}
	if dst[0].Int != 7 || string(dst[1].Bytes) != "(1,2)" || string(dst[2].Bytes) != "[2020-01-01,2020-02-01)" {
		t.Errorf("row = %+v", dst)
	}
}

func TestPGHStoreMapMode(t *testing.T) {
	c, plans, ok := extensionPlan(PGTypeInfo{Name: "hstore"}, HStoreMap)
	if !ok || c.Type != TypeStringMap {
		t.Fatalf("hstore in map mode: %+v", c)
	}
	var tv, bv Value
	if err := plans.text([]byte(`"a"=>"1", "q\""=>"x\\y", "b c"=>NULL`), &tv); err != nil {
		t.Fatal(err)
	}
	var scratch []byte
	if err := plans.bin(mustHex("000000030000000161000000013100000002712200000003785c7900000003622063ffffffff"), &bv, &scratch); err != nil {
		t.Fatal(err)
	}
	want := []Value{{State: ValueSet, Bytes: []byte("a")}, {State: ValueSet, Bytes: []byte("1")},
		{State: ValueSet, Bytes: []byte(`q"`)}, {State: ValueSet, Bytes: []byte(`x\y`)},
		{State: ValueSet, Bytes: []byte("b c")}, {}}
	for form, got := range map[string]Value{"text": tv, "binary": bv} {
		if !reflect.DeepEqual(got.Elems, want) {
			t.Errorf("%s: %+v, want %+v", form, got.Elems, want)
		}
	}
	// The decoder option reaches the plan.
	cat := testCatalog()
	cat.Types = map[uint32]PGTypeInfo{40001: {OID: 40001, Name: "hstore", Kind: PGTypeBase}}
	d := NewPGDecoder(cat, WithPGHStoreMode(HStoreMap))
	tbl := mustDecode(t, d, relationMsg(func(m msg) msg { return m.col("h", 40001, -1, false) })).Table
	if tbl.Columns[3].Type != TypeStringMap {
		t.Errorf("hstore column with WithPGHStoreMode(HStoreMap): %+v", tbl.Columns[3])
	}
}
