package mysql

import "strings"

// The TiDB parser that reads DDL knows neither MySQL's spatial types nor MariaDB's UUID, INET4
// and INET6, which the decoder maps (decoder.NewMySQLTable). Before parsing, such a type in a
// column definition is written as a one-label enum whose label names it, which columnType
// turns back into the type's name; nothing else of the statement changes.

// ddlExtraTypes are the column types the parser does not know.
var ddlExtraTypes = map[string]bool{
	"geometry": true, "point": true, "linestring": true, "polygon": true, "multipoint": true,
	"multilinestring": true, "multipolygon": true, "geometrycollection": true, "geomcollection": true,
	"uuid": true, "inet4": true, "inet6": true,
}

// ddlTypeLabel starts the label of the enum that stands for such a type.
const ddlTypeLabel = "__cdcd_type__"

// ddlColumnStarts are the words after which a name starts a column definition, so that the
// word after that name is its type.
var ddlColumnStarts = map[string]bool{"(": true, ",": true, "column": true, "add": true, "modify": true, "exists": true}

// rewriteDDLTypes returns query with each type of ddlExtraTypes that a column definition names
// (the word after the column's name) replaced by enum('__cdcd_type__<type>'). It reads the
// statement as MySQL's lexer does: quoted strings, quoted identifiers and comments are skipped.
func rewriteDDLTypes(query string) string {
	lower := strings.ToLower(query)
	found := false
	for t := range ddlExtraTypes {
		if strings.Contains(lower, t) {
			found = true
			break
		}
	}
	if !found {
		return query
	}
	// tokens are the last significant tokens: a word in lower case, "`" for a quoted
	// identifier, or a punctuation character.
	var tokens []string
	push := func(tok string) {
		tokens = append(tokens, tok)
		if len(tokens) > 4 {
			tokens = tokens[1:]
		}
	}
	back := func(i int) string {
		if i > len(tokens) {
			return ""
		}
		return tokens[len(tokens)-i]
	}
	isName := func(tok string) bool {
		return tok == "`" || (tok != "" && (tok[0] == '_' || tok[0] >= 'a' && tok[0] <= 'z' || tok[0] >= '0' && tok[0] <= '9'))
	}
	var b strings.Builder
	i := 0
	for i < len(query) {
		c := query[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(query) {
				if query[j] == '\\' && c != '`' {
					j += 2
					continue
				}
				if query[j] == c {
					if j+1 < len(query) && query[j+1] == c { // a doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			j = min(j+1, len(query))
			b.WriteString(query[i:j])
			if c == '`' {
				push("`")
			} else {
				push("'")
			}
			i = j
		case c == '#' || (c == '-' && strings.HasPrefix(query[i:], "-- ")):
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			j := strings.Index(query[i+2:], "*/")
			end := len(query)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(query[i:end])
			i = end
		case c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			j := i
			for j < len(query) && (query[j] == '_' || query[j] == '$' || query[j] >= 'a' && query[j] <= 'z' ||
				query[j] >= 'A' && query[j] <= 'Z' || query[j] >= '0' && query[j] <= '9') {
				j++
			}
			word := strings.ToLower(query[i:j])
			// The type of a column definition: after its name, which follows a column start,
			// or CHANGE [COLUMN] old new.
			isType := ddlExtraTypes[word] && isName(back(1)) &&
				(ddlColumnStarts[back(2)] && !(back(2) == "column" && back(3) == "change") ||
					isName(back(2)) && (back(3) == "change" || back(3) == "column" && back(4) == "change"))
			if isType {
				b.WriteString("enum('" + ddlTypeLabel + word + "')")
			} else {
				b.WriteString(query[i:j])
			}
			push(word)
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(c)
			i++
		default:
			b.WriteByte(c)
			push(string(c))
			i++
		}
	}
	return b.String()
}

// ddlExtraType returns the type an enum written by rewriteDDLTypes stands for.
func ddlExtraType(elems []string) (string, bool) {
	if len(elems) != 1 || !strings.HasPrefix(elems[0], ddlTypeLabel) {
		return "", false
	}
	t := strings.TrimPrefix(elems[0], ddlTypeLabel)
	return t, ddlExtraTypes[t]
}
