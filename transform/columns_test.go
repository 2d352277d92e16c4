package transform

import (
	"errors"
	"slices"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

func columnNames(t *decoder.Table) []string {
	var out []string
	for _, c := range t.Columns {
		out = append(out, c.Name)
	}
	return out
}

func TestColumnSelect(t *testing.T) {
	tbl := ordersTable()
	cases := []struct {
		name    string
		mode    SelectMode
		tables  []string
		columns []string
		want    []string // nil: the change passes unchanged
	}{
		{"include", IncludeColumns, []string{"public.orders"}, []string{"id", "amount", "nosuch"}, []string{"id", "amount"}},
		{"exclude", ExcludeColumns, []string{"public.*"}, []string{"note", "blob"}, []string{"id", "amount", "name", "active", "created"}},
		{"other table", ExcludeColumns, []string{"sales.*"}, []string{"note"}, nil},
		{"nothing excluded", ExcludeColumns, []string{"*"}, []string{"nosuch"}, nil},
		{"everything included", IncludeColumns, []string{"*.orders"}, []string{"id", "amount", "name", "active", "created", "note", "blob"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewColumnSelect(tc.mode, tc.tables, tc.columns)
			mustNoErr(t, err)
			in := change(tbl, decoder.OpUpdate, orderRow(1, 100, "a"), orderRow(1, 200, "b"))
			out, err := s.Apply(in)
			mustNoErr(t, err)
			if tc.want == nil {
				if out != in {
					t.Fatalf("change not passed unchanged")
				}
				return
			}
			if got := columnNames(out.Table); !slices.Equal(got, tc.want) {
				t.Fatalf("columns %v, want %v", got, tc.want)
			}
			if out.Table == tbl || out.Table.Namespace != tbl.Namespace || out.Table.Name != tbl.Name || out.Table.Version != tbl.Version {
				t.Fatalf("derived table %+v", out.Table)
			}
			if len(out.Before) != len(tc.want) || len(out.After) != len(tc.want) {
				t.Fatalf("rows of %d and %d values", len(out.Before), len(out.After))
			}
			for j, name := range tc.want {
				i := slices.IndexFunc(tbl.Columns, func(c decoder.Column) bool { return c.Name == name })
				if string(out.After[j].Bytes) != string(in.After[i].Bytes) || out.After[j].Int != in.After[i].Int ||
					string(out.Before[j].Bytes) != string(in.Before[i].Bytes) {
					t.Errorf("value of %s moved wrongly", name)
				}
			}
			// The same source table gives the same derived table; the input is untouched.
			again, err := s.Apply(change(tbl, decoder.OpDelete, orderRow(2, 1, "c"), nil))
			mustNoErr(t, err)
			if again.Table != out.Table || again.After != nil || len(again.Before) != len(tc.want) {
				t.Errorf("second change: table %p vs %p, after %v", again.Table, out.Table, again.After)
			}
			if len(in.After) != len(tbl.Columns) {
				t.Errorf("input change modified")
			}
		})
	}
}

func TestColumnSelectKeyColumn(t *testing.T) {
	tbl := ordersTable()
	for _, s := range []struct {
		mode SelectMode
		cols []string
	}{{ExcludeColumns, []string{"note", "id"}}, {IncludeColumns, []string{"amount"}}} {
		sel, err := NewColumnSelect(s.mode, []string{"public.orders"}, s.cols)
		mustNoErr(t, err)
		_, err = sel.Apply(change(tbl, decoder.OpCreate, nil, orderRow(1, 1, "a")))
		var ce *ChangeError
		if !errors.Is(err, ErrKeyColumn) || !errors.As(err, &ce) || ce.Column != "id" || ce.Table != "public.orders" {
			t.Errorf("%v %v: err %v, want ErrKeyColumn naming id", s.mode, s.cols, err)
		}
	}
}

func TestNewColumnSelectRejects(t *testing.T) {
	cases := []struct {
		mode            SelectMode
		tables, columns []string
		setting         string
	}{
		{IncludeColumns, nil, []string{"a"}, "tables"},
		{IncludeColumns, []string{"public.["}, []string{"a"}, "tables"},
		{ExcludeColumns, []string{"*"}, nil, "columns"},
		{SelectMode(9), []string{"*"}, []string{"a"}, "type"},
	}
	for _, tc := range cases {
		_, err := NewColumnSelect(tc.mode, tc.tables, tc.columns)
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != tc.setting {
			t.Errorf("%+v: err %v, want a *SettingError on %s", tc, err, tc.setting)
		}
	}
}

func BenchmarkIncludeColumns(b *testing.B) {
	s, err := NewColumnSelect(IncludeColumns, []string{"public.orders"}, []string{"id", "amount", "name"})
	mustNoErr(b, err)
	c := change(ordersTable(), decoder.OpUpdate, orderRow(1, 100, "a"), orderRow(1, 200, "b"))
	b.ReportAllocs()
	for b.Loop() {
		if out, err := s.Apply(c); out == nil || err != nil {
			b.Fatal(out, err)
		}
	}
}

// The transforms are used from the encode goroutine, but nothing stops a caller sharing one:
// concurrent use must be race-free and give every caller the same derived table.
func TestConcurrentApply(t *testing.T) {
	f, err := NewFilter(`after.amount > 1`)
	mustNoErr(t, err)
	s, err := NewColumnSelect(ExcludeColumns, []string{"*"}, []string{"blob"})
	mustNoErr(t, err)
	tbl := ordersTable()
	tables := make(chan *decoder.Table, 8)
	done := make(chan error, 8)
	for range 8 {
		go func() {
			var last *decoder.Table
			for range 200 {
				out, err := Chain{f, s}.Apply(change(tbl, decoder.OpCreate, nil, orderRow(1, 500, "a")))
				if err != nil || out == nil {
					done <- errors.Join(err, errors.New("dropped"))
					return
				}
				last = out.Table
			}
			tables <- last
			done <- nil
		}()
	}
	var first *decoder.Table
	for range 8 {
		mustNoErr(t, <-done)
		got := <-tables
		if first == nil {
			first = got
		} else if got != first {
			t.Fatalf("two derived tables for one source table")
		}
	}
}
