package decoder

import (
	"fmt"
	"strings"
)

// MySQLColumnDef is one column as information_schema.COLUMNS (or a parsed DDL) describes it.
type MySQLColumnDef struct {
	// Name is COLUMN_NAME.
	Name string
	// ColumnType is COLUMN_TYPE, e.g. "int(10) unsigned", "decimal(10,2)", "enum('a','b')",
	// "datetime(6)", "varchar(20)".
	ColumnType string
	// Charset is CHARACTER_SET_NAME, "" for non-text columns (a text column without one is
	// read as UTF-8).
	Charset string
	// Nullable is IS_NULLABLE = 'YES'.
	Nullable bool
	// Key tells whether the column is part of the primary key.
	Key bool
	// Default is the column's constant default as the text of its value (a string literal
	// unquoted, a number as written), when HasDefault; a NULL, CURRENT_TIMESTAMP or expression
	// default is no default. It becomes Column.Default.
	Default    string
	HasDefault bool
}

// mysqlColumnType is a COLUMN_TYPE split into its parts.
type mysqlColumnType struct {
	// base is the lower-case type name ("int", "double precision", "enum").
	base string
	// nums are the sizes in parentheses (varchar(20), decimal(10,2)); hasArgs says whether
	// there were parentheses at all.
	nums    []int
	hasArgs bool
	// labels are an enum's or set's values, unquoted, in order.
	labels []string
	// unsigned and zerofill are the numeric attributes (zerofill implies unsigned).
	unsigned, zerofill bool
	// charset is a "character set X" (or "charset X") attribute, as a DDL writes it and as
	// NewMySQLTable appends it to a Column's SourceType.
	charset string
}

// maxMySQLSize bounds a size in parentheses: no MySQL size has more digits, and the bound
// keeps the parse free of overflow.
const maxMySQLSize = 1 << 32

// parseMySQLColumnType splits a COLUMN_TYPE. Names and attributes are case-insensitive; enum
// and set labels keep their case and are unescaped (a doubled quote and backslash escapes, as MySQL
// writes them).
func parseMySQLColumnType(s string) (mysqlColumnType, error) {
	var ct mysqlColumnType
	p := mysqlTypeLexer{s: s}
	ct.base = p.word()
	if ct.base == "" {
		return ct, fmt.Errorf("%w: %q: no type name", ErrMySQLBadColumnType, s)
	}
	if ct.base == "double" && p.peekWord() == "precision" {
		p.word()
		ct.base = "double precision"
	}
	p.spaces()
	if p.more() && p.s[p.i] == '(' {
		p.i++
		ct.hasArgs = true
		var err error
		if ct.base == "enum" || ct.base == "set" {
			ct.labels, err = p.labels()
		} else {
			ct.nums, err = p.sizes()
		}
		if err != nil {
			return ct, fmt.Errorf("%w: %q: %s", ErrMySQLBadColumnType, s, err.Error())
		}
	}
	for {
		w := p.word()
		if w == "" {
			break
		}
		switch w {
		case "unsigned":
			ct.unsigned = true
		case "zerofill":
			ct.unsigned, ct.zerofill = true, true
		case "signed":
		case "character", "charset", "collate":
			if w == "character" && p.word() != "set" {
				return ct, fmt.Errorf("%w: %q: \"character\" without \"set\"", ErrMySQLBadColumnType, s)
			}
			name := p.word()
			if name == "" {
				return ct, fmt.Errorf("%w: %q: %s without a name", ErrMySQLBadColumnType, s, w)
			}
			if w != "collate" {
				ct.charset = name
			}
		default:
			return ct, fmt.Errorf("%w: %q: unexpected %q", ErrMySQLBadColumnType, s, w)
		}
	}
	p.spaces()
	if p.more() {
		return ct, fmt.Errorf("%w: %q: unexpected %q at offset %d", ErrMySQLBadColumnType, s, p.s[p.i:], p.i)
	}
	return ct, nil
}

// mysqlTypeLexer reads a COLUMN_TYPE; every read checks the length first.
type mysqlTypeLexer struct {
	s string
	i int
}

func (p *mysqlTypeLexer) more() bool { return p.i < len(p.s) }

func (p *mysqlTypeLexer) spaces() {
	for p.more() && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// word reads a name ([A-Za-z0-9_]+) after spaces and returns it in lower case ("" if none).
func (p *mysqlTypeLexer) word() string {
	p.spaces()
	start := p.i
	for p.more() {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			break
		}
		p.i++
	}
	return strings.ToLower(p.s[start:p.i])
}

func (p *mysqlTypeLexer) peekWord() string {
	save := p.i
	w := p.word()
	p.i = save
	return w
}

// sizes reads "n[,n...])" after the opening parenthesis.
func (p *mysqlTypeLexer) sizes() ([]int, error) {
	var out []int
	for {
		p.spaces()
		n, digits := 0, 0
		for p.more() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			n = n*10 + int(p.s[p.i]-'0')
			p.i++
			digits++
			if n >= maxMySQLSize {
				return nil, fmt.Errorf("size too large")
			}
		}
		if digits == 0 {
			return nil, fmt.Errorf("size expected at offset %d", p.i)
		}
		out = append(out, n)
		p.spaces()
		if !p.more() {
			return nil, fmt.Errorf("unclosed parenthesis")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ')':
			p.i++
			return out, nil
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", p.s[p.i], p.i)
		}
	}
}

// labels reads a quoted, comma-separated list and the closing parenthesis.
func (p *mysqlTypeLexer) labels() ([]string, error) {
	var out []string
	for {
		p.spaces()
		if !p.more() {
			return nil, fmt.Errorf("unclosed parenthesis")
		}
		if p.s[p.i] == ')' && len(out) == 0 {
			return nil, fmt.Errorf("no labels")
		}
		if p.s[p.i] != '\'' {
			return nil, fmt.Errorf("quoted label expected at offset %d", p.i)
		}
		p.i++
		label, err := p.quoted()
		if err != nil {
			return nil, err
		}
		out = append(out, label)
		p.spaces()
		if !p.more() {
			return nil, fmt.Errorf("unclosed parenthesis")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ')':
			p.i++
			return out, nil
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", p.s[p.i], p.i)
		}
	}
}

// quoted reads a label's text up to its closing quote (the opening one is consumed).
func (p *mysqlTypeLexer) quoted() (string, error) {
	var b strings.Builder
	for p.more() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '\'':
			if p.more() && p.s[p.i] == '\'' {
				b.WriteByte('\'')
				p.i++
				continue
			}
			return b.String(), nil
		case '\\':
			if !p.more() {
				return "", fmt.Errorf("unterminated escape")
			}
			e := p.s[p.i]
			p.i++
			switch e {
			case '0':
				b.WriteByte(0)
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			case 'Z':
				b.WriteByte(0x1a)
			case '%', '_': // MySQL keeps the backslash before the LIKE wildcards
				b.WriteByte('\\')
				b.WriteByte(e)
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated quoted label")
}

// NewMySQLTable builds an immutable *Table (Namespace = database) with its columns' logical
// types, mapped as Debezium's MySQL connector maps them with its default settings; an
// unsupported type or character set is a *MySQLColumnError naming table, column and type.
func NewMySQLTable(database, name string, cols []MySQLColumnDef, version uint64) (*Table, error) {
	t := &Table{Namespace: database, Name: name, Version: version, Columns: make([]Column, len(cols))}
	for i, def := range cols {
		c, plan, err := mysqlColumnPlan(def)
		if err != nil {
			return nil, &MySQLColumnError{Database: database, Table: name, Column: def.Name,
				ColumnType: def.ColumnType, Err: err}
		}
		if def.HasDefault {
			c.Default = mysqlDefault(c, plan, def.Default)
		}
		t.Columns[i] = c
	}
	return t, nil
}

// mysqlColumnPlan maps one column definition to its Column and the plan that decodes its
// values. NewMySQLTable and NewMySQLRowDecoder share it, so a Table and its decoder agree.
func mysqlColumnPlan(def MySQLColumnDef) (Column, mysqlPlan, error) {
	c := Column{Name: def.Name, SourceType: def.ColumnType, Optional: def.Nullable, Key: def.Key}
	ct, err := parseMySQLColumnType(def.ColumnType)
	if err != nil {
		return c, nil, err
	}
	nums := ct.nums
	charset := def.Charset
	if ct.charset != "" {
		charset = ct.charset
	}
	size := func(i, dflt int) int {
		if i < len(nums) {
			return nums[i]
		}
		return dflt
	}
	args := func(max int) error {
		if len(nums) > max {
			return fmt.Errorf("%w: %q takes at most %d sizes", ErrMySQLBadColumnType, def.ColumnType, max)
		}
		return nil
	}
	fsp := func() (int, error) {
		if err := args(1); err != nil {
			return 0, err
		}
		if f := size(0, 0); f <= 6 {
			return f, nil
		}
		return 0, fmt.Errorf("%w: %q: fractional seconds precision above 6", ErrMySQLBadColumnType, def.ColumnType)
	}
	var plan mysqlPlan
	switch ct.base {
	case "bool", "boolean":
		err = args(0)
		c.Type, plan = TypeBool, planMySQLBool
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		// The display width (tinyint(1) included) changes nothing: Debezium reads
		// tinyint(1) as INT16 and only a BOOLEAN in the DDL as a boolean.
		err = args(1)
		c.Type, plan = mysqlIntType(ct.base, ct.unsigned)
	case "decimal", "numeric", "dec", "fixed":
		if err = args(2); err != nil {
			break
		}
		c.Precision, c.Scale = size(0, 10), size(1, 0)
		if c.Precision < 1 || c.Precision > 65 || c.Scale > 30 || c.Scale > c.Precision {
			err = fmt.Errorf("%w: %q: precision must be 1..65 and scale 0..min(30, precision)",
				ErrMySQLBadColumnType, def.ColumnType)
			break
		}
		c.Type, plan = TypeDecimal, mysqlDecimalPlan(c.Scale)
	case "float":
		// float(p) is single precision up to p = 23; float(M,D) is FLOAT64 in Debezium.
		if err = args(2); err == nil {
			c.Type, plan = TypeFloat32, planMySQLFloat32
			if len(nums) == 2 || (len(nums) == 1 && nums[0] > 23) {
				c.Type, plan = TypeFloat64, planMySQLFloat64
			}
		}
	case "double", "double precision", "real":
		err = args(2)
		c.Type, plan = TypeFloat64, planMySQLFloat64
	case "bit":
		if err = args(1); err != nil {
			break
		}
		n := size(0, 1)
		if n < 1 || n > 64 {
			err = fmt.Errorf("%w: %q: bit length must be 1..64", ErrMySQLBadColumnType, def.ColumnType)
			break
		}
		// bit(1) is a boolean in Debezium; a longer one io.debezium.data.Bits, whose length
		// parameter is the Precision.
		c.Precision = n
		if n == 1 {
			c.Type, plan = TypeBool, planMySQLBool
		} else {
			c.Type, plan = TypeBits, mysqlBitsPlan(n)
		}
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		if err = args(1); err != nil {
			break
		}
		if strings.EqualFold(charset, "binary") { // char(n) binary, a binary string
			c.Type, plan = TypeBytes, mysqlBytesPlan(0)
			if ct.charset == "" {
				c.SourceType += " character set binary"
			}
			break
		}
		var conv mysqlCharset
		if conv, err = lookupMySQLCharset(charset); err == nil {
			c.Type, plan = TypeString, mysqlTextPlan(conv)
			if !conv.utf8Already() && ct.charset == "" {
				// Column has no charset field: the SourceType carries it, so that
				// NewMySQLRowDecoder plans the same conversion from the Table alone.
				c.SourceType += " character set " + strings.ToLower(charset)
			}
		}
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		if err = args(1); err != nil {
			break
		}
		pad := 0
		if ct.base == "binary" {
			// The binlog drops a binary(n)'s trailing zero bytes; the value has all n.
			pad = size(0, 1)
		}
		c.Type, plan = TypeBytes, mysqlBytesPlan(pad)
	case "date":
		err = args(0)
		c.Type, plan = TypeDate, mysqlDatePlan(def.Nullable)
	case "time":
		// adaptive_time_microseconds: MicroTime whatever the precision.
		c.Precision, err = fsp()
		c.Type, plan = TypeTimeMicros, planMySQLTime
	case "datetime":
		if c.Precision, err = fsp(); err != nil {
			break
		}
		if c.Precision <= 3 {
			c.Type, plan = TypeTimestampMillis, mysqlDatetimePlan(def.Nullable, true)
		} else {
			c.Type, plan = TypeTimestampMicros, mysqlDatetimePlan(def.Nullable, false)
		}
	case "timestamp":
		if c.Precision, err = fsp(); err == nil {
			c.Type, plan = TypeZonedTimestamp, mysqlTimestampPlan(def.Nullable, c.Precision)
		}
	case "year":
		err = args(1)
		c.Type, plan = TypeYear, planMySQLYear
	case "enum":
		if len(ct.labels) == 0 {
			err = fmt.Errorf("%w: %q: enum without labels", ErrMySQLBadColumnType, def.ColumnType)
			break
		}
		c.EnumValues = ct.labels
		c.Type, plan = TypeEnum, mysqlEnumPlan(ct.labels)
	case "set":
		if len(ct.labels) == 0 || len(ct.labels) > 64 {
			err = fmt.Errorf("%w: %q: a set has 1..64 labels", ErrMySQLBadColumnType, def.ColumnType)
			break
		}
		c.EnumValues = ct.labels
		c.Type, plan = TypeEnumSet, mysqlSetPlan(ct.labels)
	case "json":
		err = args(0)
		c.Type, plan = TypeJSON, mysqlJSONPlan(def.Nullable)
	case "uuid":
		// MariaDB's UUID, INET4 and INET6 are strings in Debezium's MariaDB connector.
		err = args(0)
		c.Type, plan = TypeString, planMariaDBUUID
	case "inet4":
		err = args(0)
		c.Type, plan = TypeString, planMariaDBInet4
	case "inet6":
		err = args(0)
		c.Type, plan = TypeString, planMariaDBInet6
	default:
		if mysqlSpatialTypes[ct.base] {
			err = args(0)
			c.Type, plan = TypeGeometry, planMySQLGeometry
			break
		}
		err = fmt.Errorf("%w: %q", ErrMySQLUnsupportedType, def.ColumnType)
	}
	if err == nil && ct.unsigned && !mysqlNumeric[ct.base] {
		err = fmt.Errorf("%w: %q: unsigned on a non-numeric type", ErrMySQLBadColumnType, def.ColumnType)
	}
	if err == nil && ct.charset != "" && c.Type != TypeString && !(c.Type == TypeBytes && ct.charset == "binary") {
		err = fmt.Errorf("%w: %q: a character set on a non-text type", ErrMySQLBadColumnType, def.ColumnType)
	}
	if err != nil {
		return c, nil, err
	}
	return c, plan, nil
}

// mysqlNumeric are the types that take unsigned and zerofill.
var mysqlNumeric = map[string]bool{
	"tinyint": true, "smallint": true, "mediumint": true, "int": true, "integer": true, "bigint": true,
	"decimal": true, "numeric": true, "dec": true, "fixed": true, "float": true, "double": true,
	"double precision": true, "real": true,
}

// mysqlIntType maps an integer type as Debezium does: each to the smallest Connect integer
// that holds all its values (so an unsigned type may take the next size), bigint unsigned to
// INT64 as bigint.unsigned.handling.mode=long does (values above 2^63-1 wrap).
func mysqlIntType(base string, unsigned bool) (Type, mysqlPlan) {
	switch base {
	case "tinyint":
		return TypeInt16, mysqlIntPlan(8, unsigned)
	case "smallint":
		if unsigned {
			return TypeInt32, mysqlIntPlan(16, true)
		}
		return TypeInt16, mysqlIntPlan(16, false)
	case "mediumint":
		return TypeInt32, mysqlIntPlan(24, unsigned)
	case "int", "integer":
		if unsigned {
			return TypeInt64, mysqlIntPlan(32, true)
		}
		return TypeInt32, mysqlIntPlan(32, false)
	default:
		return TypeInt64, mysqlIntPlan(64, unsigned)
	}
}
