package transform

import (
	"errors"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

func TestFilterKeepsAndDrops(t *testing.T) {
	tbl := ordersTable()
	ins := change(tbl, decoder.OpCreate, nil, orderRow(1, 15000, "alice"))
	small := change(tbl, decoder.OpCreate, nil, orderRow(2, 9999, "bob"))
	upd := change(tbl, decoder.OpUpdate, orderRow(1, 15000, "alice"), orderRow(1, 20050, "alice"))
	del := change(tbl, decoder.OpDelete, orderRow(1, 20050, "alice"), nil)
	withNote := change(tbl, decoder.OpCreate, nil, orderRow(3, 1, "carol"))
	withNote.After[5] = str("vip")
	neg := change(tbl, decoder.OpCreate, nil, orderRow(4, -250, "dan"))

	cases := []struct {
		expr string
		c    *decoder.Change
		keep bool
	}{
		{`op != "d" && after.amount > 100`, ins, true},
		{`op != "d" && after.amount > 100`, small, false},
		{`op != "d" && after.amount > 100`, del, false}, // short-circuit: after is empty, never read
		{`op == "u" && after.amount - before.amount > 50.0`, upd, true},
		{`after.amount == 150.0`, ins, true},
		{`after.amount < -2.4 && after.amount > -2.6`, neg, true},
		{`table == "public.orders"`, ins, true},
		{`table.startsWith("public.") && op == "c"`, upd, false},
		{`after.name == "alice" && after.active`, ins, true},
		{`after.note == null`, ins, true},
		{`after.note == "vip"`, withNote, true},
		{`has(after.note) && !has(after.missing)`, ins, true},
		{`size(before) == 0 && size(after) == 7`, ins, true},
		{`after.created == timestamp("2024-05-06T07:08:09Z")`, ins, true},
		{`after.created > timestamp("2025-01-01T00:00:00Z")`, ins, false},
		{`after.id in [1, 3]`, withNote, true},
		{`after.exists(k, k == "blob")`, ins, true},
		{`before.name.contains("lic")`, del, true},
	}
	for _, tc := range cases {
		f, err := NewFilter(tc.expr)
		mustNoErr(t, err)
		out, err := f.Apply(tc.c)
		if err != nil {
			t.Errorf("%s on %c: %v", tc.expr, tc.c.Op, err)
			continue
		}
		if (out != nil) != tc.keep {
			t.Errorf("%s on %c: kept %v, want %v", tc.expr, tc.c.Op, out != nil, tc.keep)
		}
		if out != nil && out != tc.c {
			t.Errorf("%s: kept change is not the input", tc.expr)
		}
	}
}

func TestFilterRuntimeErrorsAreChangeErrors(t *testing.T) {
	tbl := ordersTable()
	ins := change(tbl, decoder.OpCreate, nil, orderRow(1, 15000, "alice"))
	toast := change(tbl, decoder.OpUpdate, nil, orderRow(1, 15000, "alice"))
	toast.After[2] = decoder.Value{State: decoder.ValueUnchanged}
	cases := []struct {
		expr string
		c    *decoder.Change
		want string
	}{
		{`after.nosuch > 1`, ins, "no such key: "},
		{`before.amount > 1`, ins, "no such key: "},
		{`after.name == "x"`, toast, "unchanged value"},
		{`dyn(after.name)`, ins, "did not give a bool"},
	}
	for _, tc := range cases {
		f, err := NewFilter(tc.expr)
		mustNoErr(t, err)
		out, err := f.Apply(tc.c)
		var ce *ChangeError
		if out != nil || !errors.As(err, &ce) || ce.Table != "public.orders" {
			t.Fatalf("%s: got %v, %v; want a *ChangeError", tc.expr, out, err)
		}
		if !contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not say %q", tc.expr, err, tc.want)
		}
	}
}

func TestNewFilterRejects(t *testing.T) {
	for _, expr := range []string{"", "after.amount >", `after.name + 1`, `"text"`, `nosuchvar == 1`, `1 + 2`} {
		_, err := NewFilter(expr)
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != "expression" {
			t.Errorf("NewFilter(%q) = %v, want a *SettingError on expression", expr, err)
		}
	}
}

func TestFilterTableVersions(t *testing.T) {
	f, err := NewFilter(`after.x == 1`)
	mustNoErr(t, err)
	v1 := &decoder.Table{Namespace: "s", Name: "t", Version: 1, Columns: []decoder.Column{{Name: "y", Type: decoder.TypeInt64}, {Name: "x", Type: decoder.TypeInt64}}}
	v2 := &decoder.Table{Namespace: "s", Name: "t", Version: 2, Columns: []decoder.Column{{Name: "x", Type: decoder.TypeInt64}}}
	if out, err := f.Apply(change(v1, decoder.OpCreate, nil, []decoder.Value{i64(5), i64(1)})); out == nil || err != nil {
		t.Fatalf("v1: %v %v", out, err)
	}
	if out, err := f.Apply(change(v2, decoder.OpCreate, nil, []decoder.Value{i64(1)})); out == nil || err != nil {
		t.Fatalf("v2: %v %v", out, err)
	}
	if n := len(f.plans.plans); n != 1 {
		t.Errorf("plan cache holds %d plans after a new version, want 1", n)
	}
}

func TestDecimalFloat(t *testing.T) {
	for _, tc := range []struct {
		cents int64
		want  float64
	}{{0, 0}, {1, 0.01}, {-1, -0.01}, {12345, 123.45}, {-32768, -327.68}, {1 << 40, float64(1<<40) / 100}} {
		v := dec(tc.cents)
		if got := decimalFloat(v.Bytes, 2); got != tc.want {
			t.Errorf("%d: got %v, want %v", tc.cents, got, tc.want)
		}
	}
	big := []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0} // -2^72, scale 0 via the big path
	if got := decimalFloat(big, 0); got != -4722366482869645213696 {
		t.Errorf("big negative: %v", got)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func BenchmarkFilter(b *testing.B) {
	f, err := NewFilter(`op != "d" && after.amount > 100`)
	mustNoErr(b, err)
	c := change(ordersTable(), decoder.OpCreate, nil, orderRow(1, 15000, "alice"))
	b.ReportAllocs()
	for b.Loop() {
		if out, err := f.Apply(c); out == nil || err != nil {
			b.Fatal(out, err)
		}
	}
}

func BenchmarkFilterString(b *testing.B) {
	f, err := NewFilter(`table == "public.orders" && after.name == "alice"`)
	mustNoErr(b, err)
	c := change(ordersTable(), decoder.OpCreate, nil, orderRow(1, 15000, "alice"))
	b.ReportAllocs()
	for b.Loop() {
		if out, err := f.Apply(c); out == nil || err != nil {
			b.Fatal(out, err)
		}
	}
}
