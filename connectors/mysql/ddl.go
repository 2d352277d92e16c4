package mysql

import "strings"

// This file finds the tables a statement from a binlog Query event may change, well enough to
// stop before rows are decoded with a stale schema. It is not a DDL parser (schema tracking
// comes with one); it errs towards "may change": a table statement it cannot read names the
// statement's default database.

// ddlTarget is a table ("db", "table") or, with table empty, a whole database that a
// statement changes.
type ddlTarget struct{ db, table string }

// ddlTargets returns what query, run with default database defaultDB, changes; nil for
// statements that change no table's columns (BEGIN, COMMIT, GRANT, CREATE VIEW, ...).
func ddlTargets(defaultDB, query string) []ddlTarget {
	toks := tokenize(query)
	p := &ddlParser{toks: toks, db: defaultDB}
	return p.parse()
}

type token struct {
	text   string
	quoted bool
}

// tokenize splits a statement into identifiers, keywords and punctuation, dropping comments
// and string literals. An executable comment (/*! ... */, /*M! ... */) is code: its marker and
// version are dropped and its content kept.
func tokenize(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "/*!") || strings.HasPrefix(s[i:], "/*M!"):
			i += strings.IndexByte(s[i:], '!') + 1
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
		case strings.HasPrefix(s[i:], "*/"):
			i += 2
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += 2 + end + 2
		case c == '#' || strings.HasPrefix(s[i:], "-- "):
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return out
			}
			i += end + 1
		case c == '`':
			var b strings.Builder
			j := i + 1
			for j < len(s) {
				if s[j] == '`' {
					if j+1 < len(s) && s[j+1] == '`' {
						b.WriteByte('`')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{text: b.String(), quoted: true})
			i = j + 1
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		default:
			out = append(out, token{text: s[i : i+1]})
			i++
		}
	}
	return out
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

type ddlParser struct {
	toks []token
	i    int
	db   string
}

func (p *ddlParser) peek() string {
	if p.i >= len(p.toks) || p.toks[p.i].quoted {
		if p.i < len(p.toks) {
			return "`"
		}
		return ""
	}
	return strings.ToUpper(p.toks[p.i].text)
}

// accept consumes the keywords kws if they come next, all of them.
func (p *ddlParser) accept(kws ...string) bool {
	for k, kw := range kws {
		if p.i+k >= len(p.toks) || p.toks[p.i+k].quoted || !strings.EqualFold(p.toks[p.i+k].text, kw) {
			return false
		}
	}
	p.i += len(kws)
	return true
}

// name reads [db.]name; ok is false when no identifier comes next.
func (p *ddlParser) name() (ddlTarget, bool) {
	if p.i >= len(p.toks) || !p.isIdent(p.i) {
		return ddlTarget{}, false
	}
	first := p.toks[p.i].text
	p.i++
	if p.i+1 < len(p.toks) && p.toks[p.i].text == "." && !p.toks[p.i].quoted && p.isIdent(p.i+1) {
		second := p.toks[p.i+1].text
		p.i += 2
		return ddlTarget{db: first, table: second}, true
	}
	return ddlTarget{db: p.db, table: first}, true
}

func (p *ddlParser) isIdent(i int) bool {
	t := p.toks[i]
	return t.quoted || len(t.text) > 0 && isIdentByte(t.text[0])
}

// unreadable is the answer for a table statement whose table cannot be read: the default
// database as a whole, so that a captured one stops the stream.
func (p *ddlParser) unreadable() []ddlTarget { return []ddlTarget{{db: p.db}} }

func (p *ddlParser) parse() []ddlTarget {
	switch p.peek() {
	case "CREATE":
		p.i++
		return p.create()
	case "ALTER":
		p.i++
		for p.accept("ONLINE") || p.accept("OFFLINE") || p.accept("IGNORE") {
		}
		if p.accept("TABLE") {
			p.accept("IF", "EXISTS")
			return p.oneTable()
		}
		if p.accept("DATABASE") || p.accept("SCHEMA") {
			// A new default character set for the tables created later.
			return p.database()
		}
		return nil
	case "DROP":
		p.i++
		p.accept("TEMPORARY")
		switch {
		case p.accept("TABLE"), p.accept("TABLES"):
			p.accept("IF", "EXISTS")
			return p.tableList()
		case p.accept("INDEX"):
			return p.indexOn()
		case p.accept("DATABASE"), p.accept("SCHEMA"):
			p.accept("IF", "EXISTS")
			return p.database()
		}
		return nil
	case "RENAME":
		p.i++
		if !p.accept("TABLE") && !p.accept("TABLES") {
			return nil
		}
		var out []ddlTarget
		for {
			from, ok := p.name()
			if !ok || !p.accept("TO") {
				return p.unreadable()
			}
			to, ok := p.name()
			if !ok {
				return p.unreadable()
			}
			out = append(out, from, to)
			if p.peek() != "," {
				return out
			}
			p.i++
		}
	case "TRUNCATE":
		p.i++
		p.accept("TABLE")
		return p.oneTable()
	}
	return nil
}

func (p *ddlParser) create() []ddlTarget {
	p.accept("OR", "REPLACE")
	// Skip DEFINER=..., ALGORITHM=..., SQL SECURITY ..., TEMPORARY, UNIQUE and the like up to
	// the object's keyword, which decides.
	for p.i < len(p.toks) {
		switch p.peek() {
		case "TABLE":
			p.i++
			p.accept("IF", "NOT", "EXISTS")
			return p.oneTable()
		case "INDEX":
			p.i++
			return p.indexOn()
		case "DATABASE", "SCHEMA":
			p.i++
			p.accept("IF", "NOT", "EXISTS")
			return p.database()
		case "VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT", "USER", "ROLE", "SEQUENCE", "SERVER", "TABLESPACE",
			"PACKAGE", "SPATIAL", "AGGREGATE", "LOGFILE":
			if p.peek() == "SPATIAL" {
				p.i++
				continue
			}
			return nil
		}
		p.i++
	}
	return nil
}

func (p *ddlParser) oneTable() []ddlTarget {
	t, ok := p.name()
	if !ok {
		return p.unreadable()
	}
	return []ddlTarget{t}
}

func (p *ddlParser) tableList() []ddlTarget {
	var out []ddlTarget
	for {
		t, ok := p.name()
		if !ok {
			return p.unreadable()
		}
		out = append(out, t)
		if p.peek() != "," {
			return out
		}
		p.i++
	}
}

// indexOn reads "[IF [NOT] EXISTS] name ON table".
func (p *ddlParser) indexOn() []ddlTarget {
	for p.i < len(p.toks) && !p.accept("ON") {
		p.i++
	}
	return p.oneTable()
}

func (p *ddlParser) database() []ddlTarget {
	if p.i >= len(p.toks) || !p.isIdent(p.i) {
		return p.unreadable()
	}
	db := p.toks[p.i].text
	p.i++
	return []ddlTarget{{db: db}}
}
