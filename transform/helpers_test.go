package transform

import (
	"math/big"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// ordersTable is the test table: id key, amount numeric(10,2), name text, active bool,
// created timestamp(6), note text NULL, blob bytea NULL.
func ordersTable() *decoder.Table {
	return &decoder.Table{ID: 1, Namespace: "public", Name: "orders", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, Key: true},
		{Name: "amount", Type: decoder.TypeDecimal, Precision: 10, Scale: 2},
		{Name: "name", Type: decoder.TypeString},
		{Name: "active", Type: decoder.TypeBool},
		{Name: "created", Type: decoder.TypeTimestampMicros},
		{Name: "note", Type: decoder.TypeString, Optional: true},
		{Name: "blob", Type: decoder.TypeBytes, Optional: true},
	}}
}

func dec(unscaled int64) decoder.Value {
	b := big.NewInt(unscaled)
	raw := b.Bytes()
	if unscaled < 0 {
		// two's complement of the smallest width that holds it
		n := len(raw) + 1
		m := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
		raw = m.Add(m, b).Bytes()
	} else if len(raw) == 0 || raw[0]&0x80 != 0 {
		raw = append([]byte{0}, raw...)
	}
	return decoder.Value{State: decoder.ValueSet, Bytes: raw}
}

func str(s string) decoder.Value { return decoder.Value{State: decoder.ValueSet, Bytes: []byte(s)} }
func i64(n int64) decoder.Value  { return decoder.Value{State: decoder.ValueSet, Int: n} }

var created = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// orderRow is a row of ordersTable with amount in cents.
func orderRow(id, cents int64, name string) []decoder.Value {
	return []decoder.Value{i64(id), dec(cents), str(name), i64(1), i64(created.UnixMicro()), {}, {}}
}

func change(t *decoder.Table, op decoder.Op, before, after []decoder.Value) *decoder.Change {
	return &decoder.Change{Op: op, Table: t, Before: before, After: after}
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
