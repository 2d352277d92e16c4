package postgres

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/jackc/pgx/v5"
)

// ErrCopyFormat wraps COPY text output this package cannot read.
var ErrCopyFormat = errors.New("postgres source: malformed COPY text data")

// snapTable is what the snapshot knows of one captured table.
type snapTable struct {
	// name is "schema.table"; schema and table its parts.
	name, schema, table string
	relID               uint32
	// columns are the live columns in attnum order; key the primary key's columns in key
	// order (none: the table is read by ctid ranges).
	columns []string
	key     []string
	// asText marks the columns read cast to text: those whose values are their type's text
	// (decoder.Column.TextForm), as DescribeTable wants them.
	asText []bool
	// keyIdx are the indexes in columns of the key's columns.
	keyIdx []int
	// estimate is pg_class.reltuples (-1 when never analysed); pages is relpages.
	estimate float64
	pages    int64
}

// quoteLiteral renders s as an SQL string literal. The snapshot connection runs with
// standard_conforming_strings on, where a backslash is an ordinary character.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// selectList renders the table's columns for a SELECT, quoted, in attnum order, those read as
// text cast to it.
func (t *snapTable) selectList() string {
	parts := make([]string, len(t.columns))
	for i, c := range t.columns {
		parts[i] = pgx.Identifier{c}.Sanitize()
		if i < len(t.asText) && t.asText[i] {
			parts[i] += "::text"
		}
	}
	return strings.Join(parts, ", ")
}

// keysetCopy returns the COPY statement that reads the next limit rows of t in key order after
// the key values after (the first rows when after is nil) and, when upTo is set, up to and
// including the key values upTo. COPY takes no parameters, so the values are literals;
// untyped, PostgreSQL takes each as the type of its key column. The rows come in COPY's binary
// format (parseCopyBinary), each with the row's columns and then its key columns again as text,
// which the next chunk's literals are made of.
func keysetCopy(t *snapTable, after, upTo []string, limit int) (string, error) {
	list := t.selectList()
	for _, k := range t.key {
		list += ", " + pgx.Identifier{k}.Sanitize() + "::text"
	}
	return keysetSQL(t, list, after, upTo, limit, " (FORMAT binary)")
}

// keysetProbe returns the COPY statement that reads one row's key after the key values after
// and up to upTo, if there is one: whether a chunk of limit rows was the last one, told without
// reading a row past it, which may be large.
func keysetProbe(t *snapTable, after, upTo []string) (string, error) {
	return keysetSQL(t, t.keyList(), after, upTo, 1, "")
}

// keysetSQL is keysetCopy's and keysetProbe's COPY statement, of the select list list, with
// COPY's options opts.
func keysetSQL(t *snapTable, list string, after, upTo []string, limit int, opts string) (string, error) {
	if len(t.key) == 0 {
		return "", fmt.Errorf("table %s has no primary key to page by", t.name)
	}
	for _, bound := range [][]string{after, upTo} {
		if bound != nil && len(bound) != len(t.key) {
			return "", fmt.Errorf("%w: %d key values for the %d key columns of %s", ErrBadPosition, len(bound), len(t.key), t.name)
		}
	}
	keys := t.keyList()
	var b strings.Builder
	b.WriteString("COPY (SELECT ")
	b.WriteString(list)
	b.WriteString(" FROM ")
	b.WriteString(pgx.Identifier{t.schema, t.table}.Sanitize())
	b.WriteString(snapshot.KeysetWhere(keys, literalList(after), literalList(upTo)))
	// The key columns qualified: keysetCopy's list holds each again, as text, under its name.
	qualified := make([]string, len(t.key))
	for i, k := range t.key {
		qualified[i] = pgx.Identifier{t.schema, t.table, k}.Sanitize()
	}
	b.WriteString(" ORDER BY " + strings.Join(qualified, ", "))
	b.WriteString(" LIMIT " + strconv.Itoa(limit))
	b.WriteString(") TO STDOUT" + opts)
	return b.String(), nil
}

// keyScanCopy returns the COPY statement that reads the key columns only of every row of t
// after the key values after (nil: all rows), in key order: what the parallel reader's key
// scanner cuts into ranges.
func keyScanCopy(t *snapTable, after []string) (string, error) {
	if len(t.key) == 0 {
		return "", fmt.Errorf("table %s has no primary key to page by", t.name)
	}
	if after != nil && len(after) != len(t.key) {
		return "", fmt.Errorf("%w: %d key values for the %d key columns of %s", ErrBadPosition, len(after), len(t.key), t.name)
	}
	keys := t.keyList()
	return "COPY (SELECT " + keys + " FROM " + pgx.Identifier{t.schema, t.table}.Sanitize() + snapshot.KeysetWhere(keys, literalList(after), "") +
		" ORDER BY " + keys + ") TO STDOUT", nil
}

// maxKeyCopy returns the COPY statement that reads the greatest key of t, its key columns
// only: no row when t is empty.
func maxKeyCopy(t *snapTable) string {
	desc := make([]string, len(t.key))
	for i, k := range t.key {
		desc[i] = pgx.Identifier{k}.Sanitize() + " DESC"
	}
	return "COPY (SELECT " + t.keyList() + " FROM " + pgx.Identifier{t.schema, t.table}.Sanitize() +
		" ORDER BY " + strings.Join(desc, ", ") + " LIMIT 1) TO STDOUT"
}

// keyList renders the key columns, quoted, in key order.
func (t *snapTable) keyList() string {
	keys := make([]string, len(t.key))
	for i, k := range t.key {
		keys[i] = pgx.Identifier{k}.Sanitize()
	}
	return strings.Join(keys, ", ")
}

// keyText returns the key values of a row of t's key columns, as COPY's text format gave
// them; a NULL one is an error.
func (t *snapTable) keyText(fields [][]byte) ([]string, error) {
	key := make([]string, len(fields))
	for i, f := range fields {
		if f == nil {
			return nil, fmt.Errorf("%w: key column %s of %s is NULL", ErrCopyFormat, t.key[i], t.name)
		}
		key[i] = string(f)
	}
	return key, nil
}

// literalList renders values as a list of SQL string literals.
func literalList(values []string) string {
	vals := make([]string, len(values))
	for i, v := range values {
		vals[i] = quoteLiteral(v)
	}
	return strings.Join(vals, ", ")
}

// ctidCopy returns the COPY statement that reads the rows of t on pages [from, to): a TID
// range scan, which reads those pages only. The rows come in COPY's binary format.
func ctidCopy(t *snapTable, from, to uint32) string {
	return "COPY (SELECT " + t.selectList() + " FROM " + pgx.Identifier{t.schema, t.table}.Sanitize() +
		" WHERE ctid >= '" + pageCTID(from) + "'::tid AND ctid < '" + pageCTID(to) + "'::tid) TO STDOUT (FORMAT binary)"
}

// copyBinarySignature starts COPY's binary format, followed by a flags word and the length of
// a header extension.
const copyBinarySignature = "PGCOPY\n\xff\r\n\x00"

// copyBinaryRows is an io.Writer for pgconn's CopyTo that splits COPY's binary format into rows
// of ncols fields as it comes, and calls fn with each (nil for NULL; the fields slice is reused
// for the next row). The fields point into what was written, which pgconn reuses: fn must copy
// what it keeps. A row is decoded from the message that brings it, without a copy (PostgreSQL
// sends one row a message); only a row split across writes is gathered first. Decoding the
// rows as they come, not a whole chunk's bytes at the end, means a large value costs its
// message and its decoded row, twice its size, not the chunk's buffer as well.
type copyBinaryRows struct {
	ncols   int
	fn      func(fields [][]byte) error
	fields  [][]byte
	partial []byte
	// header is set once the file header has been read; done once the trailer has.
	header, done bool
	rows         int
	// err is the first error, which end returns.
	err error
}

// Write implements io.Writer. An error (a malformed row, or fn's) is kept for end, and what
// follows is discarded: an error from Write would make pgconn close the connection, which the
// caller still uses (to end its transaction).
func (w *copyBinaryRows) Write(p []byte) (int, error) {
	n := len(p)
	if w.err != nil {
		return n, nil
	}
	data := p
	if len(w.partial) > 0 {
		w.partial = append(w.partial, p...)
		data = w.partial
	}
	used, err := w.parse(data)
	if err != nil {
		w.err = err
		w.partial = nil
		return n, nil
	}
	rest := data[used:]
	if len(w.partial) > 0 {
		w.partial = append(w.partial[:0], rest...)
	} else {
		w.partial = append(w.partial, rest...)
	}
	return n, nil
}

// parse reads the header and whole rows from data and returns how many bytes it used.
func (w *copyBinaryRows) parse(data []byte) (int, error) {
	off := 0
	if !w.header {
		const fixed = len(copyBinarySignature) + 8
		if len(data) < fixed {
			return 0, nil
		}
		if string(data[:len(copyBinarySignature)]) != copyBinarySignature {
			return 0, fmt.Errorf("%w: no binary COPY signature", ErrCopyFormat)
		}
		if flags := binary.BigEndian.Uint32(data[len(copyBinarySignature):]); flags&(1<<16) != 0 {
			return 0, fmt.Errorf("%w: binary COPY with OIDs", ErrCopyFormat)
		}
		ext := int(binary.BigEndian.Uint32(data[len(copyBinarySignature)+4:]))
		if len(data) < fixed+ext {
			return 0, nil
		}
		off = fixed + ext
		w.header = true
		w.fields = make([][]byte, w.ncols)
	}
	for off < len(data) {
		if w.done {
			return 0, fmt.Errorf("%w: data after the binary COPY trailer", ErrCopyFormat)
		}
		if len(data)-off < 2 {
			return off, nil
		}
		count := int16(binary.BigEndian.Uint16(data[off:]))
		if count == -1 {
			w.done = true
			off += 2
			continue
		}
		if int(count) != w.ncols {
			return 0, fmt.Errorf("%w: row %d has %d fields, want %d", ErrCopyFormat, w.rows, count, w.ncols)
		}
		pos := off + 2
		for i := range w.fields {
			if len(data)-pos < 4 {
				return off, nil // the row goes on in the next write
			}
			size := int32(binary.BigEndian.Uint32(data[pos:]))
			pos += 4
			switch {
			case size == -1:
				w.fields[i] = nil
				continue
			case size < 0:
				return 0, fmt.Errorf("%w: row %d field %d has length %d", ErrCopyFormat, w.rows, i, size)
			case int(size) > len(data)-pos:
				return off, nil
			}
			w.fields[i] = data[pos : pos+int(size) : pos+int(size)]
			pos += int(size)
		}
		if err := w.fn(w.fields); err != nil {
			return 0, err
		}
		w.rows++
		off = pos
	}
	return off, nil
}

// end returns the first error of the rows, or checks that the COPY ended with its trailer,
// all of it parsed.
func (w *copyBinaryRows) end() error {
	if w.err != nil {
		return w.err
	}
	if !w.done || len(w.partial) > 0 {
		return fmt.Errorf("%w: binary COPY ended after %d rows without its trailer", ErrCopyFormat, w.rows)
	}
	return nil
}

// parseCopyText splits COPY's text format into rows of ncols fields and calls fn for each,
// with the fields unescaped (nil for \N, NULL). It unescapes in place: data is overwritten, and
// the fields point into it, so fn may keep them as long as data lives; the fields slice itself
// is reused for the next row.
func parseCopyText(data []byte, ncols int, fn func(fields [][]byte) error) error {
	fields := make([][]byte, ncols)
	row := 0
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			return fmt.Errorf("%w: row %d does not end with a newline", ErrCopyFormat, row)
		}
		line := data[:end]
		data = data[end+1:]
		n := 0
		for {
			tab := bytes.IndexByte(line, '\t')
			raw := line
			if tab >= 0 {
				raw = line[:tab]
			}
			if n == ncols {
				return fmt.Errorf("%w: row %d has more than %d fields", ErrCopyFormat, row, ncols)
			}
			f, err := unescapeCopyField(raw)
			if err != nil {
				return fmt.Errorf("%w: row %d field %d: %w", ErrCopyFormat, row, n, err)
			}
			fields[n] = f
			n++
			if tab < 0 {
				break
			}
			line = line[tab+1:]
		}
		if n != ncols {
			return fmt.Errorf("%w: row %d has %d fields, want %d", ErrCopyFormat, row, n, ncols)
		}
		if err := fn(fields); err != nil {
			return err
		}
		row++
	}
	return nil
}

// unescapeCopyField decodes one field of COPY's text format in place: \N alone is NULL (nil);
// \b \f \n \r \t \v are those control characters, \ followed by 1 to 3 octal digits or by x
// and 1 or 2 hexadecimal digits is that byte, and \ followed by any other character is that
// character. A field never holds a raw tab or newline, so the caller's split is exact.
func unescapeCopyField(f []byte) ([]byte, error) {
	if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
		return nil, nil
	}
	i := bytes.IndexByte(f, '\\')
	if i < 0 {
		return f, nil
	}
	w := i
	for i < len(f) {
		c := f[i]
		if c != '\\' {
			f[w] = c
			w++
			i++
			continue
		}
		if i+1 >= len(f) {
			return nil, errors.New("a backslash ends the field")
		}
		c = f[i+1]
		i += 2
		switch c {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'v':
			c = '\v'
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 0; k < 2 && i < len(f) && f[i] >= '0' && f[i] <= '7'; k++ {
				v = v<<3 | int(f[i]-'0')
				i++
			}
			c = byte(v)
		case 'x':
			v, k := 0, 0
			for ; k < 2 && i < len(f) && hexDigit(f[i]) >= 0; k++ {
				v = v<<4 | hexDigit(f[i])
				i++
			}
			if k == 0 {
				// PostgreSQL reads \x without digits as a plain x.
				v = 'x'
			}
			c = byte(v)
		}
		f[w] = c
		w++
	}
	return f[:w], nil
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
