package main

import (
	"fmt"
	"strings"

	"github.com/cdcd-dev/cdcd/api"
)

// connectorTypes are the values of a connector's type, each also the name of its section.
var connectorTypes = []string{"postgres", "mysql"}

// unknownType says that typ is no connector type, which are, and the one meant when typ looks
// like a misspelling of it.
func unknownType(typ string) string {
	msg := fmt.Sprintf("unknown type %q, known: %s", typ, strings.Join(connectorTypes, ", "))
	if near := nearest(typ, connectorTypes); near != "" {
		msg += "; did you mean " + near + "?"
	}
	return msg
}

// otherSections returns the source sections conn sets besides its type's.
func otherSections(conn ConnectorConfig) []string {
	var out []string
	if conn.Type != "postgres" && conn.Postgres != nil {
		out = append(out, "postgres")
	}
	if conn.Type != "mysql" && conn.MySQL != nil {
		out = append(out, "mysql")
	}
	return out
}

// checkSchemaQualified refuses a table named without its schema (PostgreSQL) or database
// (MySQL): `tables: [items]` would pass the file and the API and then stop the connector when
// the source opens. Nothing is guessed (public is not the only schema a search_path finds):
// the message gives the qualified name to write.
func checkSchemaQualified(conn ConnectorConfig) []api.FieldError {
	var errs []api.FieldError
	check := func(key, table, part, example string) {
		if table != "" && !hasUnquotedDot(table) {
			errs = append(errs, api.FieldError{Name: key, Message: fmt.Sprintf(
				"%q has no %s: write %s.table, e.g. %s.%s", table, part, part, example, table)})
		}
	}
	if pg := conn.Postgres; pg != nil && conn.Type == "postgres" {
		for _, t := range pg.Tables {
			check("postgres.tables", t, "schema", "public")
		}
		check("postgres.signal_table", pg.SignalTable, "schema", "public")
	}
	if my := conn.MySQL; my != nil && conn.Type == "mysql" {
		example := "shop"
		if len(my.Databases) > 0 {
			example = my.Databases[0]
		}
		for _, t := range my.Tables {
			check("mysql.tables", t, "database", example)
		}
		check("mysql.signal_table", my.SignalTable, "database", example)
	}
	return errs
}

// hasUnquotedDot tells whether name has a dot outside double quotes (PostgreSQL) and
// backquotes (MySQL): the separator of a qualified name, "my.schema".items counting once.
func hasUnquotedDot(name string) bool {
	var quote rune
	for _, r := range name {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '`':
			quote = r
		case r == '.':
			return true
		}
	}
	return false
}
