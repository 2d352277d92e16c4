package transform

import (
	"errors"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

func record(c *decoder.Change) *Record {
	r := &Record{}
	r.Reset(c, "shop")
	return r
}

func TestRoute(t *testing.T) {
	tbl := ordersTable()
	shard := &decoder.Table{Namespace: "public", Name: "orders_2024", Columns: tbl.Columns}
	r, err := NewRoute(`shop\.public\.orders(_\d+)?`, "shop.all_orders")
	mustNoErr(t, err)
	for _, tb := range []*decoder.Table{tbl, shard, tbl} {
		rec, err := r.ApplyRecord(record(change(tb, decoder.OpCreate, nil, orderRow(1, 1, "a"))))
		mustNoErr(t, err)
		if rec.Topic != "shop.all_orders" {
			t.Errorf("%s routed to %q", tb.Name, rec.Topic)
		}
	}
	// Not a whole match: left alone.
	other := &decoder.Table{Namespace: "public", Name: "orders_x", Columns: tbl.Columns}
	rec, err := r.ApplyRecord(record(change(other, decoder.OpCreate, nil, orderRow(1, 1, "a"))))
	mustNoErr(t, err)
	if rec.Topic != "" {
		t.Errorf("unmatched topic set to %q", rec.Topic)
	}
	// Groups, and a second route acting on the first one's result.
	g, err := NewRoute(`([^.]+)\.([^.]+)\.(.+)`, "${1}_$3")
	mustNoErr(t, err)
	up, err := NewRoute(`shop_(.*)`, "cdc.$1")
	mustNoErr(t, err)
	out, err := Chain{g, up}.ApplyRecord(record(change(tbl, decoder.OpCreate, nil, orderRow(1, 1, "a"))))
	mustNoErr(t, err)
	if out.Topic != "cdc.orders" {
		t.Errorf("chained routes gave %q", out.Topic)
	}
	// Another prefix is not served from the first prefix's cache.
	rec = &Record{}
	rec.Reset(change(tbl, decoder.OpCreate, nil, nil), "other")
	if _, err := g.ApplyRecord(rec); err != nil || rec.Topic != "other_orders" {
		t.Errorf("prefix other: %q %v", rec.Topic, err)
	}
	// Route through Apply is refused.
	if _, err := r.Apply(change(tbl, decoder.OpCreate, nil, nil)); !errors.Is(err, ErrRecordLevel) {
		t.Errorf("Apply: %v", err)
	}
	bad, err := NewRoute(`(.*)`, "$1/x")
	mustNoErr(t, err)
	if _, err := bad.ApplyRecord(record(change(tbl, decoder.OpCreate, nil, nil))); !errors.Is(err, ErrTopicName) {
		t.Errorf("invalid topic: %v", err)
	}
	for _, tc := range [][2]string{{"", "x"}, {"(", "x"}, {"a", ""}} {
		var se *SettingError
		if _, err := NewRoute(tc[0], tc[1]); !errors.As(err, &se) {
			t.Errorf("NewRoute(%q, %q): %v", tc[0], tc[1], err)
		}
	}
}

func TestHeaders(t *testing.T) {
	h, err := NewHeaders([]Header{{Key: "env", Value: []byte("prod")}}, OpHeader("__op"))
	mustNoErr(t, err)
	rec, err := h.ApplyRecord(record(change(ordersTable(), decoder.OpUpdate, nil, nil)))
	mustNoErr(t, err)
	if len(rec.Headers) != 2 || rec.Headers[0].Key != "env" || string(rec.Headers[0].Value) != "prod" ||
		rec.Headers[1].Key != "__op" || string(rec.Headers[1].Value) != "u" {
		t.Errorf("headers %+v", rec.Headers)
	}
	for _, bad := range [][]Header{nil, {{Key: ""}}, {{Key: "a"}, {Key: "a"}}} {
		if _, err := NewHeaders(bad); err == nil {
			t.Errorf("NewHeaders(%v) accepted", bad)
		}
	}
	if _, err := NewHeaders([]Header{{Key: "__op"}}, OpHeader("__op")); err == nil {
		t.Errorf("op header equal to a static one accepted")
	}
}

func TestUnwrap(t *testing.T) {
	tbl := ordersTable()
	row := orderRow(1, 1, "a")
	ops := []decoder.Op{decoder.OpCreate, decoder.OpUpdate, decoder.OpRead, decoder.OpDelete, decoder.OpTruncate}
	type want struct {
		dropped   bool
		fields    FlatFields
		tombstone Tombstone
	}
	cases := []struct {
		mode DeleteHandling
		del  want // for the delete
		rest FlatFields
	}{
		{DeleteTombstone, want{fields: FieldOp, tombstone: TombstoneOnly}, FieldOp},
		{DeleteRewrite, want{fields: FieldOp | FieldDeleted, tombstone: TombstoneNever}, FieldOp | FieldDeleted},
		{DeleteRewriteWithTombstone, want{fields: FieldOp | FieldDeleted, tombstone: TombstoneAlways}, FieldOp | FieldDeleted},
		{DeleteDrop, want{dropped: true}, FieldOp},
	}
	for _, tc := range cases {
		u, err := NewUnwrap(UnwrapDeletes(tc.mode), UnwrapFields(FieldOp), UnwrapOpHeader("__op"))
		mustNoErr(t, err)
		for _, op := range ops {
			c := change(tbl, op, row, row)
			rec, err := u.ApplyRecord(record(c))
			mustNoErr(t, err)
			w := want{fields: tc.rest}
			switch op {
			case decoder.OpDelete:
				w = tc.del
			case decoder.OpTruncate:
				w = want{dropped: true}
			}
			if w.dropped {
				if rec != nil {
					t.Errorf("%v %c: not dropped", tc.mode, op)
				}
				continue
			}
			if rec == nil || rec.Shape != ShapeFlat || rec.Fields != w.fields || rec.Tombstone != w.tombstone ||
				len(rec.Headers) != 1 || string(rec.Headers[0].Value) != op.String() || rec.Change != c {
				t.Errorf("%v %c: %+v, want %+v", tc.mode, op, rec, w)
			}
		}
	}
	if _, err := NewUnwrap(UnwrapDeletes(DeleteHandling(7))); err == nil {
		t.Errorf("unknown delete handling accepted")
	}
	if _, err := ParseDeleteHandling("rewrite-with-tombstone"); err != nil {
		t.Error(err)
	}
	if _, err := ParseDeleteHandling("none"); err == nil {
		t.Errorf("none accepted")
	}
}

func TestChainApplyRecordMixes(t *testing.T) {
	f, err := NewFilter(`op != "d"`)
	mustNoErr(t, err)
	sel, err := NewColumnSelect(ExcludeColumns, []string{"*"}, []string{"note"})
	mustNoErr(t, err)
	r, err := NewRoute(`shop\.(.*)`, "x.$1")
	mustNoErr(t, err)
	u, err := NewUnwrap()
	mustNoErr(t, err)
	ch := Chain{f, sel, r, u}
	in := change(ordersTable(), decoder.OpCreate, nil, orderRow(1, 1, "a"))
	rec, err := ch.ApplyRecord(record(in))
	mustNoErr(t, err)
	if rec.Topic != "x.public.orders" || rec.Shape != ShapeFlat || len(rec.Change.Table.Columns) != 6 {
		t.Errorf("record %+v, table %v", rec, columnNames(rec.Change.Table))
	}
	if rec, err := ch.ApplyRecord(record(change(ordersTable(), decoder.OpDelete, orderRow(1, 1, "a"), nil))); rec != nil || err != nil {
		t.Errorf("filtered delete: %v %v", rec, err)
	}
	// Chain.Apply still runs change-level chains, and refuses record-level transforms.
	if out, err := (Chain{f, sel}).Apply(in); err != nil || out == nil || len(out.After) != 6 {
		t.Errorf("Apply: %v %v", out, err)
	}
	if _, err := ch.Apply(in); !errors.Is(err, ErrRecordLevel) {
		t.Errorf("Apply with a route: %v", err)
	}
	// Reset keeps the headers' memory but not their content.
	rec.Headers = append(rec.Headers, Header{Key: "k"})
	rec.Reset(in, "p")
	if len(rec.Headers) != 0 || cap(rec.Headers) == 0 || rec.Topic != "" || rec.Shape != ShapeEnvelope {
		t.Errorf("Reset: %+v", rec)
	}
}
