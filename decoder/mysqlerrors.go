package decoder

import (
	"errors"
	"fmt"
)

// The conditions of the MySQL/MariaDB column mapping and row decoding. A column's failure is
// wrapped in a *MySQLColumnError; test them with errors.Is.
var (
	// ErrMySQLBadColumnType: a COLUMN_TYPE string does not parse (unbalanced parentheses or
	// quotes, a non-numeric size, an unknown attribute).
	ErrMySQLBadColumnType = errors.New("malformed MySQL column type")
	// ErrMySQLUnsupportedType: a well-formed column type cdcd has no mapping for (spatial
	// types, MariaDB's inet6 and uuid, vector...).
	ErrMySQLUnsupportedType = errors.New("unsupported MySQL column type")
	// ErrMySQLUnsupportedCharset: a text column's character set cdcd cannot convert to UTF-8.
	ErrMySQLUnsupportedCharset = errors.New("unsupported MySQL character set")
	// ErrMySQLBadValue: a row value's Go type or content does not fit its column (for example
	// a string in an int column, 300 in a tinyint, a malformed date).
	ErrMySQLBadValue = errors.New("value does not fit its MySQL column")
	// ErrMySQLZeroDate: a zero date ('0000-00-00', or a date with a zero month or day) in a
	// NOT NULL column; in a nullable column it decodes as NULL, as Debezium emits it.
	ErrMySQLZeroDate = errors.New("zero date in a NOT NULL column")
	// ErrMySQLRowShape: a row image or destination does not have one value per column of the
	// table it is decoded against (the table's description is stale).
	ErrMySQLRowShape = errors.New("row does not match the table's columns")
)

// MySQLColumnError says which column of which table could not be mapped or decoded.
type MySQLColumnError struct {
	// Database and Table name the table; Column the column.
	Database, Table, Column string
	// ColumnType is the column's COLUMN_TYPE as given.
	ColumnType string
	// Err is the condition, one of the ErrMySQL sentinels, possibly wrapped with detail.
	Err error
}

// Error implements error.
func (e *MySQLColumnError) Error() string {
	return fmt.Sprintf("column %s.%s.%s (%s): %v", e.Database, e.Table, e.Column, e.ColumnType, e.Err)
}

// Unwrap returns the condition.
func (e *MySQLColumnError) Unwrap() error { return e.Err }

// mysqlBadValue wraps ErrMySQLBadValue with the value's Go type and a bounded rendering of it.
// Only error paths call it.
func mysqlBadValue(what string, in any) error {
	s := fmt.Sprintf("%v", in)
	if b, ok := in.([]byte); ok {
		s = fmt.Sprintf("%q", b)
	}
	const maxShown = 64
	if len(s) > maxShown {
		s = s[:maxShown] + "..."
	}
	return fmt.Errorf("%w: %s: %T %s", ErrMySQLBadValue, what, in, s)
}
