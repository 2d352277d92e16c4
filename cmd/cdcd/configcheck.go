package main

import (
	"fmt"
	"strings"

	"github.com/cdcd-dev/cdcd/connectors"
)

// unknownType says that typ is no connector type, which are, and the one meant when typ looks
// like a misspelling of it or is another name of it (mariadb: mysql).
func unknownType(kinds connectors.Kinds, typ string) string {
	names := kinds.Names()
	msg := fmt.Sprintf("unknown type %q, known: %s", typ, strings.Join(names, ", "))
	near := nearest(typ, names)
	if k, ok := kinds.Lookup(typ); ok {
		near = k.Name()
	}
	if near != "" {
		msg += "; did you mean " + near + "?"
	}
	return msg
}
