package transform

import (
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

// Table patterns take the sources' table-name syntax: a quoted part may hold a '.' or a ',',
// and each part matches the namespace or the name alone.
func TestTablePatterns(t *testing.T) {
	for _, c := range []struct {
		list    string
		ns, tbl string
		want    bool
	}{
		{"public.orders", "public", "orders", true},
		{"public.*", "public", "orders", true},
		{"public.*", "public.x", "orders", false}, // schema "public.x" is not public
		{`"public.x".orders`, "public.x", "orders", true},
		{`"public.x".orders`, "public", "x.orders", false},
		{`public."x.orders"`, "public", "x.orders", true},
		{`public."x.orders"`, "public.x", "orders", false},
		{`public."a,b"`, "public", "a,b", true},
		{`s.x, public."a,b"`, "public", "a", false},
		{`"my schema"."Ümlaut Tab"`, "my schema", "Ümlaut Tab", true},
		{"*", "public.x", "orders", true}, // not two parts: matched joined, as before
		{"public.x.orders", "public", "x.orders", true},
		{"public.x.orders", "public.x", "orders", true},
		{"p?blic.ord*", "public", "orders", true},
	} {
		ts, err := parseTables("tables", splitTableList(c.list))
		if err != nil {
			t.Fatalf("%s: %v", c.list, err)
		}
		if got := ts.matches(&decoder.Table{Namespace: c.ns, Name: c.tbl}); got != c.want {
			t.Errorf("%s matches %q.%q = %v, want %v", c.list, c.ns, c.tbl, got, c.want)
		}
	}
	if _, err := parseTables("tables", []string{"public.[x"}); err == nil {
		t.Error("public.[x accepted")
	}
}
