package decoder

import (
	"context"
	"testing"
)

// BenchmarkPGDecodeInsert decodes a 10-column insert. The only allocations expected are the
// After slice and the one buffer its values' bytes move to: every plan here is allocation-free.
func BenchmarkPGDecodeInsert(b *testing.B) {
	d, ins := insertFixture(b)
	ctx := context.Background()
	buf := make([]byte, len(ins))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, ins) // Decode rewrites its input in place
		m, err := d.Decode(ctx, buf)
		if err != nil || len(m.Change.After) != 10 {
			b.Fatalf("decode: %v", err)
		}
	}
}

// insertFixture returns a decoder that knows a 10-column relation and an insert into it.
func insertFixture(tb testing.TB) (*PGDecoder, []byte) {
	rel := newMsg('R').u32(testRelID).str("public").str("orders").u8('d').u16(10).
		col("id", oidInt4, -1, true).col("customer", oidInt8, -1, false).col("note", oidText, -1, false).
		col("status", oidVarchar, 20+4, false).col("paid", oidBool, -1, false).
		col("amount", oidNumeric, numericTypmod(10, 2), false).col("created", oidTimestamptz, -1, false).
		col("weight", oidFloat8, -1, false).col("due", oidDate, -1, false).col("ref", oidUUID, -1, false).bytes()
	ins := newMsg('I').u32(testRelID).u8('N').u16(10).text("123456").text("9876543210").
		text("leave at the door").text("shipped").text("t").text("1234.56").
		text("2024-02-29 13:14:15.123456+00").text("12.5").text("2024-03-01").
		text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").bytes()
	d := NewPGDecoder(testCatalog())
	if _, err := d.Decode(context.Background(), rel); err != nil {
		tb.Fatal(err)
	}
	return d, ins
}

// TestPGDecodeInsertAllocations pins the benchmark's allocation count so a regression fails
// the unit tests, not only a benchmark someone has to read.
func TestPGDecodeInsertAllocations(t *testing.T) {
	d, ins := insertFixture(t)
	buf := make([]byte, len(ins))
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, ins)
		if _, err := d.Decode(context.Background(), buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("decoding a 10-column insert allocates %v times, want at most 2 (the After slice, its bytes)", allocs)
	}
	m, _ := d.Decode(context.Background(), append([]byte(nil), ins...))
	if got := string(m.Change.After[6].Bytes); got != "2024-02-29T13:14:15.123456Z" {
		t.Errorf("created = %q", got)
	}
}

// TestPGDecodeOwnsItsValues checks that a decoded row holds nothing of the message: the
// caller reuses it (pgconn's receive buffer), and a bytea's hex text, twice the value, must
// not stay alive with the change.
func TestPGDecodeOwnsItsValues(t *testing.T) {
	d, ins := insertFixture(t)
	buf := append([]byte(nil), ins...)
	m, err := d.Decode(context.Background(), buf)
	if err != nil {
		t.Fatal(err)
	}
	want := string(m.Change.After[2].Bytes)
	for i := range buf {
		buf[i] = 'x'
	}
	if got := string(m.Change.After[2].Bytes); got != want || got != "leave at the door" {
		t.Errorf("note = %q after the message was reused, want %q", got, "leave at the door")
	}
}
