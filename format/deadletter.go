package format

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// DeadLetter is the value of a dead-letter record, a JSON object written as
//
//	{"table":"public.users","op":"u","before":{"id":"1","name":"ann"},"after":{"id":"1","name":null}}
//
// Before and After are null
// when the change has no such row; they map each column to its value as text (a JSON string),
// to null for NULL, or, for an array, to a JSON array of such values; a column whose value
// the source did not send (a PostgreSQL unchanged TOASTed value) is absent. The texts:
// integers and floats in decimal, booleans true/false, decimals in plain notation at their
// scale, bytes and bits in lowercase hex, dates 2006-01-02, times 15:04:05.000000, timestamps
// 2006-01-02T15:04:05.000000 (without zone: as the source stored them), intervals as Go
// durations (1h30m0s), strings, JSON, UUIDs, enums and zoned times as written. The record's
// key is {"<key column>":"<value as text>",...}, null for a table without a key column.
type DeadLetter struct {
	Table  string         `json:"table"`
	Op     string         `json:"op"`
	Before map[string]any `json:"before"`
	After  map[string]any `json:"after"`
	// Omitted lists the columns left out of Before and After because their value is too
	// large: each value of more than 1 KiB as text when the change's record was too large
	// for its topic, or when the dead letter would be too large for the dead-letter topic.
	Omitted []string `json:"omitted,omitempty"`
}

// DeadLetterValue writes the DeadLetter JSON of c, its columns in the table's order, leaving
// out the values of more than maxText bytes as text when maxText > 0.
func DeadLetterValue(c *decoder.Change, maxText int) []byte {
	w := rowWriter{c: c, maxText: maxText}
	b := make([]byte, 0, 256)
	b = append(b, `{"table":`...)
	b = appendJSONString(b, TableName(c))
	b = append(b, `,"op":`...)
	b = appendJSONString(b, string(rune(c.Op)))
	b = append(b, `,"before":`...)
	b = w.appendRow(b, c.Before, false)
	b = append(b, `,"after":`...)
	b = w.appendRow(b, c.After, false)
	if len(w.omitted) > 0 {
		b = append(b, `,"omitted":[`...)
		for i, name := range w.omitted {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, name)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// DeadLetterKey writes the key columns of c's row as a JSON object, nil when there are none.
func DeadLetterKey(c *decoder.Change) []byte {
	row := c.After
	if c.Op == decoder.OpDelete || row == nil {
		row = c.Before
	}
	if c.Table == nil || row == nil {
		return nil
	}
	hasKey := false
	for i := range c.Table.Columns {
		if c.Table.Columns[i].Key && i < len(row) {
			hasKey = true
		}
	}
	if !hasKey {
		return nil
	}
	w := rowWriter{c: c}
	return w.appendRow(nil, row, true)
}

// rowWriter writes the rows of change c, leaving out the values of more than maxText bytes as
// text when maxText > 0, and the names of those columns in omitted.
type rowWriter struct {
	c       *decoder.Change
	maxText int
	omitted []string
}

// appendRow writes row as a JSON object of column names to texts, or null for a nil row;
// keys limits it to the key columns. Values beyond the table's columns are named by index.
func (w *rowWriter) appendRow(b []byte, row []decoder.Value, keys bool) []byte {
	c := w.c
	if row == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	first := true
	for i := range row {
		var col *decoder.Column
		if c.Table != nil && i < len(c.Table.Columns) {
			col = &c.Table.Columns[i]
		}
		if keys && (col == nil || !col.Key) {
			continue
		}
		v := &row[i]
		if v.State != decoder.ValueNull && v.State != decoder.ValueSet {
			continue // not sent by the source
		}
		name := "#" + strconv.Itoa(i)
		if col != nil {
			name = col.Name
		}
		if w.maxText > 0 && textSize(col, v) > w.maxText {
			// Measured before it is written: a 100 MB value is never rendered.
			if !slices.Contains(w.omitted, name) {
				w.omitted = append(w.omitted, name)
			}
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, name)
		b = append(b, ':')
		b = appendText(b, col, v)
	}
	return append(b, '}')
}

// appendText writes one value as JSON text (see DeadLetter). It never fails: a value that
// does not fit its column is what may have brought the change here.
func appendText(b []byte, col *decoder.Column, v *decoder.Value) []byte {
	if v.State == decoder.ValueNull {
		return append(b, "null"...)
	}
	typ := decoder.TypeInvalid
	if col != nil {
		typ = col.Type
	}
	switch typ {
	case decoder.TypeArray:
		b = append(b, '[')
		for i := range v.Elems {
			if i > 0 {
				b = append(b, ',')
			}
			if v.Elems[i].State != decoder.ValueSet {
				b = append(b, "null"...)
				continue
			}
			b = appendText(b, col.Elem, &v.Elems[i])
		}
		return append(b, ']')
	}
	return appendJSONString(b, valueText(col, v))
}

// DeadLetterTextSize is about the size of the values' text in the dead letter of c.
func DeadLetterTextSize(c *decoder.Change) int {
	n := 0
	for _, row := range [][]decoder.Value{c.Before, c.After} {
		for i := range row {
			var col *decoder.Column
			if c.Table != nil && i < len(c.Table.Columns) {
				col = &c.Table.Columns[i]
			}
			n += textSize(col, &row[i])
		}
	}
	return n
}

// textSize is about the size of v's text (see appendText), without writing it.
func textSize(col *decoder.Column, v *decoder.Value) int {
	if v.State != decoder.ValueSet {
		return 4
	}
	if col != nil && col.Type == decoder.TypeArray {
		n := 2
		for i := range v.Elems {
			n += 1 + textSize(col.Elem, &v.Elems[i])
		}
		return n
	}
	if col != nil && (col.Type == decoder.TypeBytes || col.Type == decoder.TypeBits) {
		return 2 * len(v.Bytes)
	}
	return 32 + len(v.Bytes) // numbers and times fit in 32; strings as they are, but for escapes
}

// valueText renders one set value as text.
func valueText(col *decoder.Column, v *decoder.Value) string {
	if col == nil {
		if v.Bytes != nil {
			return string(v.Bytes)
		}
		return strconv.FormatInt(v.Int, 10)
	}
	switch col.Type {
	case decoder.TypeBool:
		switch v.Int {
		case 0:
			return "false"
		case 1:
			return "true"
		}
		return strconv.FormatInt(v.Int, 10)
	case decoder.TypeInt16, decoder.TypeInt32, decoder.TypeInt64, decoder.TypeYear:
		return strconv.FormatInt(v.Int, 10)
	case decoder.TypeFloat32:
		return strconv.FormatFloat(v.Float, 'g', -1, 32)
	case decoder.TypeFloat64:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case decoder.TypeDecimal:
		return decimalText(v.Bytes, col.Scale)
	case decoder.TypeVariableDecimal:
		return decimalText(v.Bytes, int(v.Scale))
	case decoder.TypeBytes, decoder.TypeBits:
		return hex.EncodeToString(v.Bytes)
	case decoder.TypeDate:
		return time.Unix(v.Int*86400, 0).UTC().Format(time.DateOnly)
	case decoder.TypeTimeMillis:
		return timeOfDay(v.Int * 1000)
	case decoder.TypeTimeMicros:
		return timeOfDay(v.Int)
	case decoder.TypeTimestampMillis:
		return time.UnixMilli(v.Int).UTC().Format("2006-01-02T15:04:05.000000")
	case decoder.TypeTimestampMicros:
		return time.UnixMicro(v.Int).UTC().Format("2006-01-02T15:04:05.000000")
	case decoder.TypeIntervalMicros:
		const maxMicros = int64(1<<63-1) / int64(time.Microsecond)
		if v.Int > maxMicros || v.Int < -maxMicros {
			return strconv.FormatInt(v.Int, 10) + "us"
		}
		return (time.Duration(v.Int) * time.Microsecond).String()
	default: // strings, JSON, UUID, enums, zoned times and timestamps: their text
		return string(v.Bytes)
	}
}

// decimalText writes an unscaled big-endian two's complement integer at scale.
func decimalText(unscaled []byte, scale int) string {
	n := new(big.Int).SetBytes(unscaled)
	if len(unscaled) > 0 && unscaled[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(unscaled))))
	}
	if scale <= 0 {
		return n.String() + zeros(-scale)
	}
	neg := n.Sign() < 0
	digits := new(big.Int).Abs(n).String()
	if len(digits) <= scale {
		digits = zeros(scale-len(digits)+1) + digits
	}
	s := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if neg {
		return "-" + s
	}
	return s
}

func zeros(n int) string {
	b := make([]byte, max(n, 0))
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

// timeOfDay writes microseconds since midnight as hh:mm:ss.ffffff; PostgreSQL's 24:00:00
// stays 24:00:00.
func timeOfDay(us int64) string {
	neg := ""
	if us < 0 {
		neg, us = "-", -us
	}
	return fmt.Sprintf("%s%02d:%02d:%02d.%06d", neg, us/3_600_000_000, us/60_000_000%60, us/1_000_000%60, us%1_000_000)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// TableName is the change's table as the dead letter and the transaction metadata name it,
// "schema.table" (MySQL: "database.table").
func TableName(c *decoder.Change) string {
	if c == nil || c.Table == nil {
		return "an unknown table"
	}
	return c.Table.Namespace + "." + c.Table.Name
}
