package transform

import (
	"errors"
	"strings"
)

// This file holds the syntax of a table's name in settings, shared by the sources' tables
// (connectors.SplitTable) and the transforms' table patterns: "<namespace>.<table>", a part
// double-quoted as in SQL when it holds a '.' or a ','.

// TablePart reads one part of a table name ("<namespace>.<table>", see connectors.SplitTable)
// at the start of s and returns it unquoted, with what follows: up to the first '.' when it is
// not double-quoted, else up to the closing quote, a '"' inside doubled.
func TablePart(s string) (part, rest string, err error) {
	if !strings.HasPrefix(s, `"`) {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			i = len(s)
		}
		if i == 0 {
			return "", "", errors.New("empty name")
		}
		if strings.Contains(s[:i], ",") {
			return "", "", errors.New("a ',' in an unquoted name (two names with a ',' between them, or double-quote the name)")
		}
		return s[:i], s[i:], nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '"' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		if b.Len() == 0 {
			return "", "", errors.New("empty quoted name")
		}
		return b.String(), s[i+1:], nil
	}
	return "", "", errors.New("unterminated '\"'")
}

// SplitTableList splits a comma-separated list of table names at the commas outside double
// quotes: `a.b,s."x,y"` is a.b and s."x,y". The items are not trimmed.
func SplitTableList(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted // a doubled "" inside quotes toggles twice
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
