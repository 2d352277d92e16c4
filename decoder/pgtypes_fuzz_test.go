package decoder

import (
	"errors"
	"testing"
)

// FuzzPGNewTypePlans feeds one value to the text and binary plans of every type issue 18 maps
// (and the MariaDB/MySQL ones): none may panic, read past its input, or fail with an error
// other than a bad value. The first byte picks the plan. The seed corpus is in
// testdata/fuzz/FuzzPGNewTypePlans.
func FuzzPGNewTypePlans(f *testing.F) {
	f.Add([]byte("\x00\"a\"=>\"1\", \"b\"=>NULL"))
	f.Add(append([]byte{1}, mustHex("000000030000000161000000013100000002712200000003785c7900000003622063ffffffff")...))
	f.Add(append([]byte{8}, mustHex("0000000461000002c0010002625c630000006974277300000180037a7a00000240040005")...))
	f.Add(append([]byte{12}, mustHex("0101000020e6100000000000000000f03f0000000000000040")...))
	f.Add(append([]byte{14}, mustHex("000300003f80000040200000c0400000")...))
	f.Add([]byte("\x05-$1,234.56"))
	f.Add([]byte("\x0b1011000001"))
	type plan struct {
		text pgPlan
		bin  pgBinPlan
	}
	var plans []plan
	for _, name := range []string{"hstore", "citext", "ltree", "geometry", "geography", "vector"} {
		for _, mode := range []HStoreMode{HStoreJSON, HStoreMap} {
			_, p, _ := extensionPlan(PGTypeInfo{Name: name}, mode)
			plans = append(plans, plan(p))
		}
	}
	for _, oid := range []uint32{oidMoney, oidBit, oidVarbit, oidTSVector} {
		for _, typmod := range []int32{-1, 1, 10} {
			_, p, _ := extraBuiltinPlan(oid, typmod)
			plans = append(plans, plan(p))
		}
	}
	var mysql []mysqlPlan
	for _, typ := range []string{"geometry", "uuid", "inet4", "inet6"} {
		_, p, err := mysqlColumnPlan(MySQLColumnDef{Name: "c", ColumnType: typ})
		if err != nil {
			f.Fatal(err)
		}
		mysql = append(mysql, p)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		pick, in := int(data[0]), data[1:]
		p := plans[pick%len(plans)]
		check := func(what string, err error) {
			if err != nil && !errors.Is(err, ErrPGBadValue) && !errors.Is(err, ErrPGSpecialValue) {
				t.Fatalf("%s of %q: untyped error %v", what, in, err)
			}
		}
		var v Value
		// Plans may rewrite their input in place: each gets its own copy, its capacity its
		// length, so that an append cannot reach past it.
		text := append([]byte(nil), in...)
		check("text plan", p.text(text[:len(text):len(text)], &v))
		bin := append([]byte(nil), in...)
		var scratch []byte
		v = Value{}
		check("binary plan", p.bin(bin[:len(bin):len(bin)], &v, &scratch))
		var a mysqlArena
		for _, mp := range mysql {
			v = Value{}
			if err := mp(append([]byte(nil), in...), &v, &a); err != nil && !errors.Is(err, ErrMySQLBadValue) {
				t.Fatalf("mysql plan of %q: untyped error %v", in, err)
			}
		}
	})
}
