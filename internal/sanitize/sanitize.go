// Package sanitize replaces the characters of a name that its target (a Kafka topic, an Avro
// name) does not take by '_', the way Debezium does: one '_' per UTF-16 unit (Java's char), not
// per UTF-8 byte. It is a leaf: it knows neither Kafka nor Avro, whose rules its callers give as
// a Charset, so that the topic namer and the Avro schema builder share one implementation.
package sanitize

import (
	"strings"
	"unicode/utf8"
)

// Charset is the ASCII characters a name may hold: first for its first byte, rest for the
// others. Every non-ASCII character is replaced. A table, not a function, so that checking a
// clean name (the usual case, on every record for a topic) costs no call per byte.
type Charset struct {
	first, rest [utf8.RuneSelf]bool
}

// NewCharset returns the Charset whose first byte may be any ASCII c with first(c), and whose
// other bytes any ASCII c with rest(c).
func NewCharset(first, rest func(c byte) bool) *Charset {
	var cs Charset
	for c := range byte(utf8.RuneSelf) {
		cs.first[c] = first(c)
		cs.rest[c] = rest(c)
	}
	return &cs
}

// ok tells whether byte c may stand at byte offset i of a name.
func (cs *Charset) ok(c byte, i int) bool {
	if c >= utf8.RuneSelf {
		return false
	}
	if i == 0 {
		return cs.first[c]
	}
	return cs.rest[c]
}

// Replace returns s with each character cs does not take replaced by '_', as Debezium does per
// UTF-16 unit: one '_' for a character of the Basic Multilingual Plane, two for one past it
// (such as an emoji), one for each byte of invalid UTF-8. A clean s is returned as it is,
// without allocating.
func Replace(s string, cs *Charset) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !cs.ok(s[i], i) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r < utf8.RuneSelf && cs.ok(byte(r), i):
			b.WriteByte(byte(r))
		case r > 0xFFFF:
			b.WriteString("__") // two UTF-16 units (Java chars), as Debezium counts
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
