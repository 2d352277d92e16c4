package decoder

import (
	"bytes"
	"testing"
)

func TestMySQLSpatialAndMariaDBTypes(t *testing.T) {
	wkb := []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40}
	cases := []struct {
		colType string
		typ     Type
		in      any
		want    string
		srid    int64
		scale   int32
	}{
		{"point", TypeGeometry, append([]byte{0xe6, 0x10, 0, 0}, wkb...), string(wkb), 4326, 1},
		{"geometry", TypeGeometry, string(append([]byte{0, 0, 0, 0}, wkb...)), string(wkb), 0, 0},
		{"uuid", TypeString, "123e4567-e89b-42d3-a456-426614174000", "123e4567-e89b-42d3-a456-426614174000", 0, 0},
		{"uuid", TypeString, string([]byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x42, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40}),
			"123e4567-e89b-42d3-a456-426614174000", 0, 0},
		{"uuid", TypeString, "", "00000000-0000-0000-0000-000000000000", 0, 0},
		{"inet4", TypeString, string([]byte{1, 2}), "1.2.0.0", 0, 0},
		{"inet4", TypeString, []byte("10.0.0.1"), "10.0.0.1", 0, 0},
		{"inet6", TypeString, string([]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1}), "2001:db8:0:0:1::", 0, 0},
		{"inet6", TypeString, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}, "::ffff:1.2.3.4", 0, 0},
		{"inet6", TypeString, "", "::", 0, 0},
	}
	for _, tc := range cases {
		c, plan, err := mysqlColumnPlan(MySQLColumnDef{Name: "c", ColumnType: tc.colType, Nullable: true})
		if err != nil || c.Type != tc.typ {
			t.Fatalf("%s: %+v, %v", tc.colType, c, err)
		}
		var v Value
		var a mysqlArena
		if err := plan(tc.in, &v, &a); err != nil {
			t.Errorf("%s %q: %v", tc.colType, tc.in, err)
			continue
		}
		if !bytes.Equal(v.Bytes, []byte(tc.want)) || v.Int != tc.srid || v.Scale != tc.scale {
			t.Errorf("%s %q: %q srid %d (%d), want %q srid %d (%d)", tc.colType, tc.in, v.Bytes, v.Int, v.Scale, tc.want, tc.srid, tc.scale)
		}
	}
	for _, bad := range []struct {
		colType string
		in      any
	}{{"point", []byte{0, 0, 0}}, {"uuid", make([]byte, 17)}, {"inet6", make([]byte, 17)}, {"inet4", 5}, {"uuid(3)", ""}} {
		_, plan, err := mysqlColumnPlan(MySQLColumnDef{Name: "c", ColumnType: bad.colType})
		if err != nil {
			continue // a bad column type is refused earlier: fine
		}
		var v Value
		var a mysqlArena
		if err := plan(bad.in, &v, &a); err == nil {
			t.Errorf("%s %v: no error", bad.colType, bad.in)
		}
	}
	if _, _, err := mysqlColumnPlan(MySQLColumnDef{Name: "c", ColumnType: "uuid(3)"}); err == nil {
		t.Error("uuid(3) accepted")
	}
}
