package connectors

import (
	"errors"
	"testing"
)

func TestSplitTable(t *testing.T) {
	for _, c := range []struct {
		in, ns, table, canonical string
	}{
		{"public.orders", "public", "orders", "public.orders"},
		{"Shop.Orders", "Shop", "Orders", "Shop.Orders"},
		{"public.Ümlaut Tab", "public", "Ümlaut Tab", "public.Ümlaut Tab"},
		{`public."Ümlaut Tab"`, "public", "Ümlaut Tab", "public.Ümlaut Tab"},
		{"public.o'brien", "public", "o'brien", "public.o'brien"},
		{`"my schema"."my.table"`, "my schema", "my.table", `my schema."my.table"`},
		{`s."say ""hi"""`, "s", `say "hi"`, `s.say "hi"`},
		{`s."""q"""`, "s", `"q"`, `s."""q"""`},
		{`s.a"b`, "s", `a"b`, `s.a"b`},
		{`s."a,b"`, "s", "a,b", `s."a,b"`},
		{"s.`x`", "s", "`x`", "s.`x`"},
		{`"".x`, "", "", ""},
	} {
		ns, table, err := SplitTable(c.in)
		if c.canonical == "" {
			if err == nil {
				t.Errorf("SplitTable(%q) = %q, %q; want an error", c.in, ns, table)
			}
			continue
		}
		if err != nil || ns != c.ns || table != c.table {
			t.Errorf("SplitTable(%q) = %q, %q, %v; want %q, %q", c.in, ns, table, err, c.ns, c.table)
			continue
		}
		if got := JoinTable(ns, table); got != c.canonical {
			t.Errorf("JoinTable(%q, %q) = %q, want %q", ns, table, got, c.canonical)
		}
		if ns2, t2, err := SplitTable(c.canonical); err != nil || ns2 != ns || t2 != table {
			t.Errorf("SplitTable(JoinTable) of %q = %q, %q, %v", c.in, ns2, t2, err)
		}
	}
	for _, bad := range []string{"", "orders", ".x", "x.", "a.b.c", `"a.b`, `"a"b.c`, `a."b"c`, `"a".`, "s.a,b"} {
		if ns, table, err := SplitTable(bad); !errors.Is(err, ErrTableName) {
			t.Errorf("SplitTable(%q) = %q, %q, %v; want ErrTableName", bad, ns, table, err)
		}
	}
}

func TestSplitTableList(t *testing.T) {
	got := SplitTableList(`a.b,s."x,y", s." q",s."a""," ,b`)
	want := []string{"a.b", `s."x,y"`, ` s." q"`, `s."a""," `, "b"}
	if len(got) != len(want) {
		t.Fatalf("SplitTableList = %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("item %d = %q, want %q", i, got[i], want[i])
		}
	}
	if c := JoinTable("s", " q"); c != `s." q"` {
		t.Errorf("JoinTable with a leading space = %q", c)
	}
}
