package transform

import (
	"errors"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

func TestParseFlatAndFromConfig(t *testing.T) {
	cfg := map[string]string{
		"name":                                             "inventory", // the connector's own settings are ignored
		"transforms":                                       "big, pii,hashed,cut,keep,route,hdr,unwrap",
		"transforms.big.type":                              "filter",
		"transforms.big.expression":                        `op != "d" && after.amount > 100`,
		"transforms.pii.type":                              "mask",
		"transforms.pii.tables":                            "public.*",
		"transforms.pii.columns":                           "name",
		"transforms.hashed.type":                           "hash",
		"transforms.hashed.tables":                         "public.orders",
		"transforms.hashed.columns":                        "blob",
		"transforms.hashed.salt":                           "s3cret",
		"transforms.cut.type":                              "exclude_columns",
		"transforms.cut.tables":                            "public.orders",
		"transforms.cut.columns":                           "note",
		"transforms.keep.type":                             "include_columns",
		"transforms.keep.tables":                           "public.orders, sales.*",
		"transforms.keep.columns":                          "id,amount,name",
		"transforms.route.type":                            "route",
		"transforms.route.regex":                           `([^.]+)\.public\.(.*)`,
		"transforms.route.replacement":                     "$1.$2",
		"transforms.hdr.type":                              "headers",
		"transforms.hdr.header.env":                        "prod",
		"transforms.hdr.op.header":                         "op",
		"transforms.unwrap.type":                           "unwrap",
		"transforms.unwrap.add.fields":                     "op",
		"transforms.unwrap.add.headers":                    "op",
		"transforms.unwrap.delete.tombstone.handling.mode": "rewrite",
	}
	specs, err := ParseFlat(cfg)
	mustNoErr(t, err)
	var names []string
	for _, s := range specs {
		names = append(names, s.Name+":"+s.Type)
	}
	if got := strings.Join(names, " "); got != "big:filter pii:mask hashed:hash cut:exclude_columns keep:include_columns route:route hdr:headers unwrap:unwrap" {
		t.Fatalf("specs %s", got)
	}
	ch, err := FromConfig(specs)
	mustNoErr(t, err)
	rec, err := ch.ApplyRecord(record(change(ordersTable(), decoder.OpCreate, nil, orderRow(1, 15000, "alice"))))
	mustNoErr(t, err)
	c := rec.Change
	if rec.Topic != "shop.orders" || rec.Shape != ShapeFlat || rec.Fields != FieldOp|FieldDeleted ||
		len(rec.Headers) != 3 || string(rec.Headers[0].Value) != "prod" || rec.Headers[1].Key != "op" || rec.Headers[2].Key != "__op" {
		t.Errorf("record %+v", rec)
	}
	if got := columnNames(c.Table); strings.Join(got, ",") != "id,amount,name" || string(c.After[2].Bytes) != DefaultMask {
		t.Errorf("change columns %v, name %q", got, c.After[2].Bytes)
	}
	if rec, err := ch.ApplyRecord(record(change(ordersTable(), decoder.OpCreate, nil, orderRow(1, 100, "x")))); rec != nil || err != nil {
		t.Errorf("filter did not drop: %v %v", rec, err)
	}
	if specs, err := ParseFlat(map[string]string{"name": "x"}); err != nil || len(specs) != 0 {
		t.Errorf("no transforms: %v %v", specs, err)
	}
}

func TestParseFlatRejects(t *testing.T) {
	cases := []struct {
		cfg  map[string]string
		want string // the key the error names
	}{
		{map[string]string{"transforms": "a", "transforms.a.type": "filter", "transforms.a.expresion": "true"}, "transforms.a.expresion"},
		{map[string]string{"transforms": "a", "transforms.a.expression": "true"}, "transforms.a.type"},
		{map[string]string{"transforms": "a", "transforms.a.type": "nope"}, "transforms.a.type"},
		{map[string]string{"transforms": "a", "transforms.a.type": "filter", "transforms.b.type": "filter"}, "transforms.b.type"},
		{map[string]string{"transforms": "a,a", "transforms.a.type": "filter"}, `"a" listed twice`},
		{map[string]string{"transforms": "a.b"}, "contains a dot"},
		{map[string]string{"transforms": "a", "transforms.a": "filter"}, "transforms.a:"},
		{map[string]string{"transforms": "a", "transforms.a.type": "headers", "transforms.a.header.": "x"}, "transforms.a.header."},
	}
	for _, tc := range cases {
		_, err := ParseFlat(tc.cfg)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want ErrConfig naming %s", tc.cfg, err, tc.want)
		}
	}
}

func TestFromConfigRejects(t *testing.T) {
	cases := []struct {
		spec    Spec
		setting string
	}{
		{Spec{Name: "f", Type: "filter"}, "expression"},
		{Spec{Name: "f", Type: "filter", Settings: map[string]string{"expression": "after.x +"}}, "expression"},
		{Spec{Name: "f", Type: "filter", Settings: map[string]string{"expression": "true", "x": "1"}}, "x"},
		{Spec{Name: "t", Type: "bogus"}, "type"},
		{Spec{Name: "i", Type: "include_columns", Settings: map[string]string{"columns": "a"}}, "tables"},
		{Spec{Name: "h", Type: "hash", Settings: map[string]string{"tables": "*", "columns": "a"}}, "salt"},
		{Spec{Name: "r", Type: "route", Settings: map[string]string{"regex": "("}}, "regex"},
		{Spec{Name: "u", Type: "unwrap", Settings: map[string]string{"delete.tombstone.handling.mode": "none"}}, "delete.tombstone.handling.mode"},
		{Spec{Name: "u", Type: "unwrap", Settings: map[string]string{"add.fields": "op,lsn"}}, "add.fields"},
		{Spec{Name: "h", Type: "headers"}, "header.<name>"},
	}
	for _, tc := range cases {
		_, err := FromConfig([]Spec{tc.spec})
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != tc.setting || !strings.HasPrefix(se.Transform, tc.spec.Name+" (") {
			t.Errorf("%+v: err %v, want a *SettingError on %s naming %s", tc.spec, err, tc.setting, tc.spec.Name)
		}
	}
}
