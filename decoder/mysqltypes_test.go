package decoder

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseMySQLColumnType(t *testing.T) {
	tests := []struct {
		in   string
		want mysqlColumnType
	}{
		{"int", mysqlColumnType{base: "int"}},
		{"INT(11)", mysqlColumnType{base: "int", nums: []int{11}, hasArgs: true}},
		{"int(10) unsigned", mysqlColumnType{base: "int", nums: []int{10}, hasArgs: true, unsigned: true}},
		{"int unsigned", mysqlColumnType{base: "int", unsigned: true}},
		{"int(5) unsigned zerofill", mysqlColumnType{base: "int", nums: []int{5}, hasArgs: true, unsigned: true, zerofill: true}},
		{"  decimal( 10 , 2 )  ", mysqlColumnType{base: "decimal", nums: []int{10, 2}, hasArgs: true}},
		{"double precision", mysqlColumnType{base: "double precision"}},
		{"bigint signed", mysqlColumnType{base: "bigint"}},
		{"enum('a','b')", mysqlColumnType{base: "enum", hasArgs: true, labels: []string{"a", "b"}}},
		{"ENUM('Yes','No')", mysqlColumnType{base: "enum", hasArgs: true, labels: []string{"Yes", "No"}}},
		{`enum('it''s','c\\d','q\'s','', 'x,y', 'tab\there')`, mysqlColumnType{base: "enum", hasArgs: true,
			labels: []string{"it's", `c\d`, "q's", "", "x,y", "tab\there"}}},
		{`set('a\0b','100\%','\Z')`, mysqlColumnType{base: "set", hasArgs: true, labels: []string{"a\x00b", `100\%`, "\x1a"}}},
		{"varchar(20) character set latin1", mysqlColumnType{base: "varchar", nums: []int{20}, hasArgs: true, charset: "latin1"}},
		{"text CHARSET utf16 COLLATE utf16_bin", mysqlColumnType{base: "text", charset: "utf16"}},
	}
	for _, tt := range tests {
		got, err := parseMySQLColumnType(tt.in)
		if err != nil {
			t.Errorf("parse(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseMySQLColumnTypeRejects(t *testing.T) {
	for _, in := range []string{
		"", "   ", "(10)", "int(", "int(10", "int(a)", "int(10,)", "int()", "int(10) unsigned x",
		"int(99999999999)", "int) ", "enum(", "enum()", "enum(a)", "enum('a'", "enum('a)", "enum('a' 'b')",
		`enum('a\`, "varchar(10) character", "varchar(10) character latin1", "varchar(10) charset",
		"int(10)(2)", "int - 1",
	} {
		_, err := parseMySQLColumnType(in)
		if !errors.Is(err, ErrMySQLBadColumnType) {
			t.Errorf("parse(%q) err = %v, want ErrMySQLBadColumnType", in, err)
		}
	}
}

func TestNewMySQLTableTypes(t *testing.T) {
	tests := []struct {
		typ, charset string
		want         Column
	}{
		{"tinyint(4)", "", Column{Type: TypeInt16}},
		{"tinyint(1)", "", Column{Type: TypeInt16}},
		{"tinyint(3) unsigned", "", Column{Type: TypeInt16}},
		{"bool", "", Column{Type: TypeBool}},
		{"boolean", "", Column{Type: TypeBool}},
		{"smallint(6)", "", Column{Type: TypeInt16}},
		{"smallint unsigned", "", Column{Type: TypeInt32}},
		{"mediumint(9)", "", Column{Type: TypeInt32}},
		{"mediumint(8) unsigned", "", Column{Type: TypeInt32}},
		{"int(11)", "", Column{Type: TypeInt32}},
		{"integer", "", Column{Type: TypeInt32}},
		{"int(10) unsigned", "", Column{Type: TypeInt64}},
		{"int(5) unsigned zerofill", "", Column{Type: TypeInt64}},
		{"bigint(20)", "", Column{Type: TypeInt64}},
		{"bigint(20) unsigned", "", Column{Type: TypeInt64}},
		{"decimal(10,2)", "", Column{Type: TypeDecimal, Precision: 10, Scale: 2}},
		{"decimal(65,30) unsigned", "", Column{Type: TypeDecimal, Precision: 65, Scale: 30}},
		{"decimal", "", Column{Type: TypeDecimal, Precision: 10}},
		{"numeric(5)", "", Column{Type: TypeDecimal, Precision: 5}},
		{"float", "", Column{Type: TypeFloat32}},
		{"float(23)", "", Column{Type: TypeFloat32}},
		{"float(24)", "", Column{Type: TypeFloat64}},
		{"float(7,3)", "", Column{Type: TypeFloat64}},
		{"double", "", Column{Type: TypeFloat64}},
		{"double(10,2)", "", Column{Type: TypeFloat64}},
		{"double precision", "", Column{Type: TypeFloat64}},
		{"real", "", Column{Type: TypeFloat64}},
		{"bit(1)", "", Column{Type: TypeBool, Precision: 1}},
		{"bit", "", Column{Type: TypeBool, Precision: 1}},
		{"bit(12)", "", Column{Type: TypeBits, Precision: 12}},
		{"bit(64)", "", Column{Type: TypeBits, Precision: 64}},
		{"char(5)", "utf8mb4", Column{Type: TypeString}},
		{"varchar(20)", "utf8mb3", Column{Type: TypeString}},
		{"varchar(20)", "", Column{Type: TypeString}},
		{"tinytext", "ascii", Column{Type: TypeString}},
		{"text", "utf8", Column{Type: TypeString}},
		{"mediumtext", "utf8mb4", Column{Type: TypeString}},
		{"longtext", "utf8mb4", Column{Type: TypeString}},
		{"varchar(20)", "latin1", Column{Type: TypeString, SourceType: "varchar(20) character set latin1"}},
		{"text", "UCS2", Column{Type: TypeString, SourceType: "text character set ucs2"}},
		{"varchar(3) character set utf16le", "", Column{Type: TypeString}},
		{"char(4)", "binary", Column{Type: TypeBytes, SourceType: "char(4) character set binary"}},
		{"binary(16)", "", Column{Type: TypeBytes}},
		{"varbinary(255)", "", Column{Type: TypeBytes}},
		{"tinyblob", "", Column{Type: TypeBytes}},
		{"blob", "", Column{Type: TypeBytes}},
		{"mediumblob", "", Column{Type: TypeBytes}},
		{"longblob", "", Column{Type: TypeBytes}},
		{"date", "", Column{Type: TypeDate}},
		{"time", "", Column{Type: TypeTimeMicros}},
		{"time(3)", "", Column{Type: TypeTimeMicros, Precision: 3}},
		{"datetime", "", Column{Type: TypeTimestampMillis}},
		{"datetime(3)", "", Column{Type: TypeTimestampMillis, Precision: 3}},
		{"datetime(4)", "", Column{Type: TypeTimestampMicros, Precision: 4}},
		{"datetime(6)", "", Column{Type: TypeTimestampMicros, Precision: 6}},
		{"timestamp", "", Column{Type: TypeZonedTimestamp}},
		{"timestamp(6)", "", Column{Type: TypeZonedTimestamp, Precision: 6}},
		{"year(4)", "", Column{Type: TypeYear}},
		{"year", "", Column{Type: TypeYear}},
		{"enum('a','it''s')", "utf8mb4", Column{Type: TypeEnum, EnumValues: []string{"a", "it's"}}},
		{"set('x','y')", "utf8mb4", Column{Type: TypeEnumSet, EnumValues: []string{"x", "y"}}},
		{"json", "", Column{Type: TypeJSON}},
	}
	for _, tt := range tests {
		def := MySQLColumnDef{Name: "c", ColumnType: tt.typ, Charset: tt.charset, Nullable: true, Key: true}
		tbl, err := NewMySQLTable("db", "t", []MySQLColumnDef{def}, 3)
		if err != nil {
			t.Errorf("%s: %v", tt.typ, err)
			continue
		}
		want := tt.want
		want.Name, want.Optional, want.Key = "c", true, true
		if want.SourceType == "" {
			want.SourceType = tt.typ
		}
		if got := tbl.Columns[0]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s (%s): column = %+v, want %+v", tt.typ, tt.charset, got, want)
		}
		if tbl.Namespace != "db" || tbl.Name != "t" || tbl.Version != 3 {
			t.Errorf("%s: table = %s.%s v%d, want db.t v3", tt.typ, tbl.Namespace, tbl.Name, tbl.Version)
		}
		if _, err := NewMySQLRowDecoder(tbl); err != nil {
			t.Errorf("%s: NewMySQLRowDecoder: %v", tt.typ, err)
		}
	}
}

func TestNewMySQLTableErrors(t *testing.T) {
	tests := []struct {
		typ, charset string
		want         error
	}{
		// geometry, point and inet6 are mapped since issue 18 (mysqlextra_test.go).
		{"geography", "", ErrMySQLUnsupportedType},
		{"inet8", "", ErrMySQLUnsupportedType},
		{"xml", "", ErrMySQLUnsupportedType},
		{"vector(3)", "", ErrMySQLUnsupportedType},
		{"varchar(10)", "armscii8", ErrMySQLUnsupportedCharset},
		{"text character set geostd8", "", ErrMySQLUnsupportedCharset},
		{"int(", "", ErrMySQLBadColumnType},
		{"decimal(66,2)", "", ErrMySQLBadColumnType},
		{"decimal(5,6)", "", ErrMySQLBadColumnType},
		{"decimal(1,2,3)", "", ErrMySQLBadColumnType},
		{"bit(0)", "", ErrMySQLBadColumnType},
		{"bit(65)", "", ErrMySQLBadColumnType},
		{"datetime(7)", "", ErrMySQLBadColumnType},
		{"time(1,2)", "", ErrMySQLBadColumnType},
		{"date(1)", "", ErrMySQLBadColumnType},
		{"json(1)", "", ErrMySQLBadColumnType},
		{"varchar(10) unsigned", "", ErrMySQLBadColumnType},
		{"int character set latin1", "", ErrMySQLBadColumnType},
		{"set('a','b'", "", ErrMySQLBadColumnType},
	}
	for _, tt := range tests {
		defs := []MySQLColumnDef{{Name: "id", ColumnType: "int"}, {Name: "bad", ColumnType: tt.typ, Charset: tt.charset}}
		_, err := NewMySQLTable("db", "t", defs, 1)
		var ce *MySQLColumnError
		if !errors.Is(err, tt.want) || !errors.As(err, &ce) {
			t.Errorf("%s: err = %v, want %v in a *MySQLColumnError", tt.typ, err, tt.want)
			continue
		}
		if ce.Database != "db" || ce.Table != "t" || ce.Column != "bad" || ce.ColumnType != tt.typ {
			t.Errorf("%s: error names %s.%s.%s (%s)", tt.typ, ce.Database, ce.Table, ce.Column, ce.ColumnType)
		}
	}
}

func TestNewMySQLRowDecoderRejectsForeignTable(t *testing.T) {
	tbl := &Table{Namespace: "db", Name: "t", Columns: []Column{{Name: "c", Type: TypeInt32, SourceType: "int4"}}}
	_, err := NewMySQLRowDecoder(tbl)
	if !errors.Is(err, ErrMySQLUnsupportedType) {
		t.Errorf("err = %v, want ErrMySQLUnsupportedType", err)
	}
	tbl.Columns[0].SourceType = "varchar(3)" // a type that does not give the table's Type
	if _, err := NewMySQLRowDecoder(tbl); !errors.Is(err, ErrMySQLBadColumnType) {
		t.Errorf("err = %v, want ErrMySQLBadColumnType", err)
	}
}
