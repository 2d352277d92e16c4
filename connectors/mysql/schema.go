package mysql

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	pmysql "github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/types"

	// The parser builds literal values through a driver; this one has no TiDB dependencies.
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// This file is the schema model: the captured tables' definitions as of a point in the binlog,
// and how a parsed DDL statement changes them. It has no network code.

// columnDef is one column as the schema history stores it: what information_schema.COLUMNS
// says of it.
type columnDef struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Charset  string `json:"charset,omitempty"`
	Nullable bool   `json:"nullable,omitempty"`
	Key      bool   `json:"key,omitempty"`
	// Default is the constant default's value text, when HasDefault (see
	// decoder.MySQLColumnDef.Default).
	Default    string `json:"default,omitempty"`
	HasDefault bool   `json:"has_default,omitempty"`
}

// tableDef is a captured table's definition. A tableDef in a schemaModel is never changed in
// place: a DDL replaces it with a modified copy.
type tableDef struct {
	Database string `json:"database"`
	Name     string `json:"name"`
	// Charset is the table's default character set, which a text column added without one
	// takes.
	Charset string `json:"charset,omitempty"`
	// Version is the decoder.Table version of this definition.
	Version uint64      `json:"version"`
	Columns []columnDef `json:"columns"`
}

func (t *tableDef) key() string { return connectors.JoinTable(t.Database, t.Name) }

func (t *tableDef) clone() *tableDef {
	c := *t
	c.Columns = slices.Clone(t.Columns)
	return &c
}

func (t *tableDef) column(name string) int {
	return slices.IndexFunc(t.Columns, func(c columnDef) bool { return strings.EqualFold(c.Name, name) })
}

// sameShape tells whether t and o decode rows alike: the same columns, types and charsets.
func (t *tableDef) sameShape(o *tableDef) bool {
	return t.Charset == o.Charset && slices.Equal(t.Columns, o.Columns)
}

// decoderTable builds the table's description and row decoder.
func (t *tableDef) decoderTable() (*capturedTable, error) {
	defs := make([]decoder.MySQLColumnDef, len(t.Columns))
	for i, c := range t.Columns {
		defs[i] = decoder.MySQLColumnDef{Name: c.Name, ColumnType: c.Type, Charset: c.Charset, Nullable: c.Nullable, Key: c.Key,
			Default: c.Default, HasDefault: c.HasDefault}
	}
	dt, err := decoder.NewMySQLTable(t.Database, t.Name, defs, t.Version)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.key(), err)
	}
	dec, err := decoder.NewMySQLRowDecoder(dt)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.key(), err)
	}
	return &capturedTable{table: dt, dec: dec}, nil
}

// schemaModel is the captured tables' definitions, and the default character sets that a
// CREATE TABLE without one takes.
type schemaModel struct {
	Tables map[string]*tableDef `json:"-"`
	// Databases are the default character sets of the databases with captured tables.
	Databases map[string]string `json:"-"`
	// ServerCharset is @@character_set_server, for a database without a known default.
	ServerCharset string `json:"-"`
}

func newSchemaModel() *schemaModel {
	return &schemaModel{Tables: map[string]*tableDef{}, Databases: map[string]string{}}
}

func (m *schemaModel) clone() *schemaModel {
	return &schemaModel{Tables: maps.Clone(m.Tables), Databases: maps.Clone(m.Databases), ServerCharset: m.ServerCharset}
}

// ddlEffect is what a DDL statement did to the captured tables.
type ddlEffect struct {
	// touched tells whether the statement concerns captured tables at all (a TRUNCATE or
	// CREATE INDEX does without changing a definition): only then it has a history record.
	touched bool
	// tables are the new definitions of the tables it created or changed, in order.
	tables []*tableDef
	// dropped are the captured tables it removed ("db.table"), renamed ones included.
	dropped []string
}

// ErrDDLUnparseable and ErrDDLUnsupported are the conditions of a *DDLError.
var (
	// ErrDDLUnparseable means the SQL parser cannot read a DDL statement that may change a
	// captured table. Config.UnparseableDDL may skip such statements.
	ErrDDLUnparseable = errors.New("mysql source: cannot parse a DDL statement on a captured table")
	// ErrDDLUnsupported means a parsed DDL statement cannot be applied to the schema model: it
	// names a column or table the model does not hold, copies a table whose schema is not
	// tracked, or gives a column a type the decoder does not support.
	ErrDDLUnsupported = errors.New("mysql source: cannot apply a DDL statement to the captured tables' schemas")
)

// ddlParser parses DDL statements; it is not safe for concurrent use, so each Stream has one.
type ddlStatementParser struct{ p *parser.Parser }

func newDDLStatementParser() *ddlStatementParser { return &ddlStatementParser{p: parser.New()} }

// parse reads query, which may hold several statements.
func (d *ddlStatementParser) parse(query string) ([]ast.StmtNode, error) {
	stmts, _, err := d.p.Parse(rewriteDDLTypes(query), "", "")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDDLUnparseable, err)
	}
	return stmts, nil
}

// apply changes m by stmt, run with default database db. It changes nothing when it fails.
func (m *schemaModel) apply(sc scope, db string, stmt ast.StmtNode) (ddlEffect, error) {
	work := m.clone()
	var eff ddlEffect
	var err error
	switch s := stmt.(type) {
	case *ast.CreateTableStmt:
		err = work.createTable(sc, db, s, &eff)
	case *ast.AlterTableStmt:
		err = work.alterTable(sc, db, s, &eff)
	case *ast.RenameTableStmt:
		for _, tt := range s.TableToTables {
			if err = work.rename(sc, tableKey(db, tt.OldTable), tableKey(db, tt.NewTable), &eff); err != nil {
				break
			}
		}
	case *ast.DropTableStmt:
		if s.IsView || s.TemporaryKeyword != ast.TemporaryNone {
			break
		}
		for _, tn := range s.Tables {
			k := tableKey(db, tn)
			if _, ok := work.Tables[k]; ok {
				delete(work.Tables, k)
				eff.touched, eff.dropped = true, append(eff.dropped, k)
			}
		}
	case *ast.TruncateTableStmt:
		eff.touched = work.Tables[tableKey(db, s.Table)] != nil
	case *ast.CreateIndexStmt:
		eff.touched = work.Tables[tableKey(db, s.Table)] != nil
	case *ast.DropIndexStmt:
		eff.touched = work.Tables[tableKey(db, s.Table)] != nil
	case *ast.CreateDatabaseStmt, *ast.AlterDatabaseStmt:
		var name string
		var opts []*ast.DatabaseOption
		if c, ok := s.(*ast.CreateDatabaseStmt); ok {
			name, opts = c.Name.O, c.Options
		} else {
			a := s.(*ast.AlterDatabaseStmt)
			name, opts = a.Name.O, a.Options
			if a.AlterDefaultDatabase || name == "" {
				name = db
			}
		}
		if !sc.capturesAnyOf(name) {
			break
		}
		for _, o := range opts {
			switch o.Tp {
			case ast.DatabaseOptionCharset:
				work.Databases[name] = strings.ToLower(o.Value)
			case ast.DatabaseOptionCollate:
				if _, ok := work.Databases[name]; !ok || !hasCharsetOption(opts) {
					work.Databases[name] = collationCharset(o.Value)
				}
			}
		}
		eff.touched = true
	case *ast.DropDatabaseStmt:
		for _, k := range slices.Sorted(maps.Keys(work.Tables)) {
			if work.Tables[k].Database == s.Name.O {
				delete(work.Tables, k)
				eff.dropped = append(eff.dropped, k)
			}
		}
		eff.touched = len(eff.dropped) > 0 || sc.capturesAnyOf(s.Name.O)
	}
	if err != nil {
		return ddlEffect{}, err
	}
	// Only a definition that decodes rows differently is a new version.
	for i, t := range eff.tables {
		if old, ok := m.Tables[t.key()]; ok && old.sameShape(t) {
			eff.tables[i] = old
			work.Tables[t.key()] = old
		}
	}
	*m = *work
	return eff, nil
}

func hasCharsetOption(opts []*ast.DatabaseOption) bool {
	return slices.ContainsFunc(opts, func(o *ast.DatabaseOption) bool { return o.Tp == ast.DatabaseOptionCharset })
}

func tableKey(db string, tn *ast.TableName) string {
	if tn.Schema.O != "" {
		db = tn.Schema.O
	}
	return connectors.JoinTable(db, tn.Name.O)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDDLUnsupported, fmt.Sprintf(format, args...))
}

func (m *schemaModel) createTable(sc scope, db string, s *ast.CreateTableStmt, eff *ddlEffect) error {
	k := tableKey(db, s.Table)
	dbName, name, _ := strings.Cut(k, ".")
	if s.TemporaryKeyword != ast.TemporaryNone || !sc.captures(dbName, name) {
		return nil
	}
	eff.touched = true
	old, exists := m.Tables[k]
	if exists && s.IfNotExists {
		return nil
	}
	var t *tableDef
	switch {
	case s.ReferTable != nil:
		src, ok := m.Tables[tableKey(db, s.ReferTable)]
		if !ok {
			return unsupported("CREATE TABLE %s LIKE %s: the schema of %s is not tracked (capture it too)",
				k, tableKey(db, s.ReferTable), tableKey(db, s.ReferTable))
		}
		t = src.clone()
		t.Database, t.Name = dbName, name
	case s.Select != nil && len(s.Cols) == 0:
		return unsupported("CREATE TABLE %s ... SELECT without column definitions", k)
	default:
		t = &tableDef{Database: dbName, Name: name, Charset: m.defaultCharset(dbName)}
		if cs := tableCharset(s.Options); cs != "" {
			t.Charset = cs
		}
		for _, cd := range s.Cols {
			c, err := t.columnFrom(cd)
			if err != nil {
				return err
			}
			if t.column(c.Name) >= 0 {
				return unsupported("CREATE TABLE %s: column %s twice", k, c.Name)
			}
			t.Columns = append(t.Columns, c)
		}
		for _, con := range s.Constraints {
			if err := t.addConstraint(con); err != nil {
				return err
			}
		}
	}
	t.Version = 1
	if exists {
		t.Version = old.Version + 1
	}
	m.Tables[k] = t
	eff.tables = append(eff.tables, t)
	return nil
}

func (m *schemaModel) defaultCharset(db string) string {
	if cs, ok := m.Databases[db]; ok && cs != "" {
		return cs
	}
	return m.ServerCharset
}

func tableCharset(opts []*ast.TableOption) string {
	cs := ""
	for _, o := range opts {
		switch o.Tp {
		case ast.TableOptionCharset:
			cs = strings.ToLower(o.StrValue)
		case ast.TableOptionCollate:
			if cs == "" {
				cs = collationCharset(o.StrValue)
			}
		}
	}
	return cs
}

// collationCharset is the character set of a collation: MySQL's and MariaDB's collation names
// start with their character set's name and an underscore ("latin1_swedish_ci",
// "utf8mb4_uca1400_ai_ci").
func collationCharset(collation string) string {
	cs, _, _ := strings.Cut(strings.ToLower(collation), "_")
	return cs
}

func (m *schemaModel) alterTable(sc scope, db string, s *ast.AlterTableStmt, eff *ddlEffect) error {
	k := tableKey(db, s.Table)
	dbName, name, _ := strings.Cut(k, ".")
	cur, ok := m.Tables[k]
	if !ok {
		if sc.captures(dbName, name) {
			return unsupported("ALTER TABLE %s: the table is captured but its schema is not tracked", k)
		}
		return nil
	}
	eff.touched = true
	t := cur.clone()
	for _, spec := range s.Specs {
		switch spec.Tp {
		case ast.AlterTableAddColumns:
			pos := spec.Position
			for _, cd := range spec.NewColumns {
				c, err := t.columnFrom(cd)
				if err != nil {
					return err
				}
				if t.column(c.Name) >= 0 {
					if spec.IfNotExists {
						continue
					}
					return unsupported("ALTER TABLE %s: column %s exists", k, c.Name)
				}
				at, err := t.position(pos, len(t.Columns))
				if err != nil {
					return err
				}
				t.Columns = slices.Insert(t.Columns, at, c)
				if pos != nil && pos.Tp != ast.ColumnPositionNone {
					// ADD (a, b) FIRST: b follows a.
					pos = &ast.ColumnPosition{Tp: ast.ColumnPositionAfter, RelativeColumn: &ast.ColumnName{Name: ast.NewCIStr(c.Name)}}
				}
			}
			for _, con := range spec.NewConstraints {
				if err := t.addConstraint(con); err != nil {
					return err
				}
			}
		case ast.AlterTableDropColumn:
			i := t.column(spec.OldColumnName.Name.O)
			if i < 0 {
				if spec.IfExists {
					continue
				}
				return unsupported("ALTER TABLE %s: no column %s", k, spec.OldColumnName.Name.O)
			}
			t.Columns = slices.Delete(t.Columns, i, i+1)
		case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
			old := spec.NewColumns[0].Name.Name.O
			if spec.Tp == ast.AlterTableChangeColumn {
				old = spec.OldColumnName.Name.O
			}
			i := t.column(old)
			if i < 0 {
				if spec.IfExists {
					continue
				}
				return unsupported("ALTER TABLE %s: no column %s", k, old)
			}
			c, err := t.columnFrom(spec.NewColumns[0])
			if err != nil {
				return err
			}
			if t.Columns[i].Key {
				c.Key, c.Nullable = true, false
			}
			if j := t.column(c.Name); j >= 0 && j != i {
				return unsupported("ALTER TABLE %s: column %s exists", k, c.Name)
			}
			t.Columns = slices.Delete(t.Columns, i, i+1)
			at := i
			if spec.Position != nil && spec.Position.Tp != ast.ColumnPositionNone {
				if at, err = t.position(spec.Position, i); err != nil {
					return err
				}
			}
			t.Columns = slices.Insert(t.Columns, at, c)
		case ast.AlterTableAlterColumn:
			// ALTER COLUMN c SET DEFAULT x / DROP DEFAULT (no option).
			cd := spec.NewColumns[0]
			i := t.column(cd.Name.Name.O)
			if i < 0 {
				return unsupported("ALTER TABLE %s: no column %s", k, cd.Name.Name.O)
			}
			t.Columns[i].Default, t.Columns[i].HasDefault = "", false
			if len(cd.Options) == 1 {
				t.Columns[i].Default, t.Columns[i].HasDefault = ddlDefault(cd.Options[0].Expr)
			}
		case ast.AlterTableRenameColumn:
			i := t.column(spec.OldColumnName.Name.O)
			if i < 0 {
				return unsupported("ALTER TABLE %s: no column %s", k, spec.OldColumnName.Name.O)
			}
			if j := t.column(spec.NewColumnName.Name.O); j >= 0 && j != i {
				return unsupported("ALTER TABLE %s: column %s exists", k, spec.NewColumnName.Name.O)
			}
			t.Columns[i].Name = spec.NewColumnName.Name.O
		case ast.AlterTableAddConstraint:
			if err := t.addConstraint(spec.Constraint); err != nil {
				return err
			}
		case ast.AlterTableDropPrimaryKey:
			for i := range t.Columns {
				t.Columns[i].Key = false
			}
		case ast.AlterTableOption:
			for _, o := range spec.Options {
				if o.Tp != ast.TableOptionCharset && o.Tp != ast.TableOptionCollate {
					continue
				}
				cs := strings.ToLower(o.StrValue)
				if o.Tp == ast.TableOptionCollate {
					cs = collationCharset(o.StrValue)
				}
				t.Charset = cs
				if o.Tp == ast.TableOptionCharset && o.UintValue == ast.TableOptionCharsetWithConvertTo {
					// CONVERT TO CHARACTER SET converts every text column.
					for i := range t.Columns {
						if t.Columns[i].Charset != "" && t.Columns[i].Charset != "binary" {
							t.Columns[i].Charset = cs
						}
					}
				}
			}
		}
	}
	for _, spec := range s.Specs {
		if spec.Tp == ast.AlterTableRenameTable {
			m.Tables[k] = t
			return m.rename(sc, k, tableKey(dbName, spec.NewTable), eff)
		}
	}
	if !t.sameShape(cur) {
		t.Version = cur.Version + 1
	}
	m.Tables[k] = t
	eff.tables = append(eff.tables, t)
	return nil
}

// rename moves table from to to. A captured table renamed out of the capture is dropped; a
// table renamed into it must be tracked already.
func (m *schemaModel) rename(sc scope, from, to string, eff *ddlEffect) error {
	t, ok := m.Tables[from]
	toDB, toName, _ := strings.Cut(to, ".")
	fromDB, fromName, _ := strings.Cut(from, ".")
	if !ok {
		if sc.captures(toDB, toName) {
			return unsupported("RENAME %s TO %s: %s is not captured, so its schema is not tracked (capture it too)", from, to, from)
		}
		if sc.captures(fromDB, fromName) {
			return unsupported("RENAME %s TO %s: the table is captured but its schema is not tracked", from, to)
		}
		return nil
	}
	eff.touched = true
	delete(m.Tables, from)
	eff.dropped = append(eff.dropped, from)
	eff.tables = slices.DeleteFunc(eff.tables, func(d *tableDef) bool { return d.key() == from })
	if !sc.captures(toDB, toName) {
		return nil
	}
	n := t.clone()
	n.Database, n.Name = toDB, toName
	n.Version = t.Version + 1
	if prev, ok := m.Tables[to]; ok && prev.Version >= n.Version {
		n.Version = prev.Version + 1
	}
	m.Tables[to] = n
	eff.dropped = slices.DeleteFunc(eff.dropped, func(d string) bool { return d == to })
	eff.tables = append(eff.tables, n)
	return nil
}

// position returns where a column goes: at FIRST, AFTER a column, or at dflt.
func (t *tableDef) position(pos *ast.ColumnPosition, dflt int) (int, error) {
	if pos == nil {
		return dflt, nil
	}
	switch pos.Tp {
	case ast.ColumnPositionFirst:
		return 0, nil
	case ast.ColumnPositionAfter:
		i := t.column(pos.RelativeColumn.Name.O)
		if i < 0 {
			return 0, unsupported("table %s: no column %s to place a column after", t.key(), pos.RelativeColumn.Name.O)
		}
		return i + 1, nil
	}
	return dflt, nil
}

// addConstraint applies a PRIMARY KEY constraint: its columns become the key, NOT NULL.
// Other constraints do not change the columns.
func (t *tableDef) addConstraint(con *ast.Constraint) error {
	if con == nil || con.Tp != ast.ConstraintPrimaryKey {
		return nil
	}
	for i := range t.Columns {
		t.Columns[i].Key = false
	}
	for _, part := range con.Keys {
		if part.Column == nil {
			return unsupported("table %s: a primary key on an expression", t.key())
		}
		i := t.column(part.Column.Name.O)
		if i < 0 {
			return unsupported("table %s: no column %s for the primary key", t.key(), part.Column.Name.O)
		}
		t.Columns[i].Key, t.Columns[i].Nullable = true, false
	}
	return nil
}

// columnFrom describes a parsed column as information_schema would: its COLUMN_TYPE, its
// character set (the table's when the column names none), nullability and key.
func (t *tableDef) columnFrom(cd *ast.ColumnDef) (columnDef, error) {
	c := columnDef{Name: cd.Name.Name.O, Nullable: true}
	ft := cd.Tp
	if ft == nil {
		return c, unsupported("table %s: column %s without a type", t.key(), c.Name)
	}
	c.Type = columnType(ft)
	collate := ft.GetCollate()
	for _, o := range cd.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull:
			c.Nullable = false
		case ast.ColumnOptionNull:
			c.Nullable = true
		case ast.ColumnOptionPrimaryKey:
			c.Key, c.Nullable = true, false
		case ast.ColumnOptionCollate:
			collate = o.StrValue
		case ast.ColumnOptionDefaultValue:
			c.Default, c.HasDefault = ddlDefault(o.Expr)
		}
	}
	if isTextType(ft) {
		switch {
		case ft.GetCharset() != "":
			c.Charset = strings.ToLower(ft.GetCharset())
		case collate != "":
			c.Charset = collationCharset(collate)
		default:
			c.Charset = t.Charset
		}
	}
	return c, nil
}

// ddlDefault returns the value text of a DEFAULT clause's constant: a string, a number (a
// negative one too), TRUE or FALSE. ok is false for NULL, CURRENT_TIMESTAMP and other function
// calls, expressions, and bit or hex literals (their bytes are no text).
func ddlDefault(e ast.ExprNode) (lit string, ok bool) {
	neg := ""
	if u, isUnary := e.(*ast.UnaryOperationExpr); isUnary && (u.Op == opcode.Minus || u.Op == opcode.Plus) {
		if u.Op == opcode.Minus {
			neg = "-"
		}
		e = u.V
	}
	v, isValue := e.(*driver.ValueExpr)
	if !isValue {
		return "", false
	}
	switch v.Kind() {
	case driver.KindString, driver.KindBytes:
		if neg != "" {
			return "", false
		}
		return v.GetString(), true
	case driver.KindInt64, driver.KindUint64, driver.KindFloat32, driver.KindFloat64, driver.KindMysqlDecimal:
		s := fmt.Sprint(v.GetValue())
		if neg != "" {
			if strings.HasPrefix(s, "-") {
				return s[1:], true
			}
			return neg + s, true
		}
		return s, true
	}
	return "", false
}

// infoSchemaDefault reads information_schema.COLUMNS.COLUMN_DEFAULT (nil when SQL NULL) as
// ddlDefault reads a DEFAULT clause. MariaDB (10.2.7 and later) quotes string literals and
// writes a NULL default as NULL and functions with parentheses (current_timestamp()); MySQL
// writes literals unquoted and CURRENT_TIMESTAMP bare, and marks expression defaults in
// EXTRA (DEFAULT_GENERATED), which generated tells.
func infoSchemaDefault(def *string, generated bool) (string, bool) {
	if def == nil || generated {
		return "", false
	}
	s := *def
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		// MariaDB's literal: quotes doubled, backslashes escaped.
		return strings.NewReplacer("''", "'", `\\`, `\`, `\'`, "'", `\n`, "\n", `\t`, "\t", `\r`, "\r", `\0`, "\x00").Replace(s[1 : len(s)-1]), true
	}
	up := strings.ToUpper(s)
	if up == "NULL" || strings.HasSuffix(s, ")") || strings.HasPrefix(up, "CURRENT_TIMESTAMP") ||
		strings.HasPrefix(up, "NOW") || strings.HasPrefix(up, "LOCALTIME") {
		return "", false
	}
	return s, true
}

// isTextType tells whether a parsed type is a character type, which has a character set.
func isTextType(ft *types.FieldType) bool {
	if _, ok := ddlExtraType(ft.GetElems()); ok {
		return false // a spatial, UUID or INET type standing as an enum (ddltypes.go)
	}
	switch ft.GetType() {
	case pmysql.TypeVarchar, pmysql.TypeString, pmysql.TypeVarString, pmysql.TypeBlob, pmysql.TypeTinyBlob,
		pmysql.TypeMediumBlob, pmysql.TypeLongBlob, pmysql.TypeEnum, pmysql.TypeSet:
		return ft.GetCharset() != "binary"
	}
	return false
}

// columnType renders a parsed type as information_schema.COLUMNS.COLUMN_TYPE does ("int(11)",
// "varchar(20)", "decimal(10,2)", "enum('a','b')", "int(10) unsigned zerofill"), which is what
// decoder.NewMySQLTable reads. The parser's own rendering is used except where it differs:
// enum and set labels (quotes and backslashes escaped as the decoder reads them), a year
// without a width, and zerofill.
func columnType(ft *types.FieldType) string {
	if t, ok := ddlExtraType(ft.GetElems()); ok && ft.GetType() == pmysql.TypeEnum {
		return t // a type the parser does not know (ddltypes.go)
	}
	switch ft.GetType() {
	case pmysql.TypeEnum, pmysql.TypeSet:
		var b strings.Builder
		if ft.GetType() == pmysql.TypeEnum {
			b.WriteString("enum(")
		} else {
			b.WriteString("set(")
		}
		for i, e := range ft.GetElems() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('\'')
			b.WriteString(strings.NewReplacer(`'`, `''`, `\`, `\\`).Replace(e))
			b.WriteByte('\'')
		}
		b.WriteByte(')')
		return b.String()
	case pmysql.TypeYear:
		return "year(4)"
	}
	s := ft.InfoSchemaStr()
	if pmysql.HasZerofillFlag(ft.GetFlag()) {
		s += " zerofill"
	}
	return s
}
