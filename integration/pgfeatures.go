package integration

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// postgresHasXML tells whether the server conn talks to was built with libxml: the PyPI
// PostgreSQL 18 build the stack runs by default was not (its xml type refuses every value with
// "unsupported XML feature"), Debian's 15 and Maven Central's 16 and 17 were. The xml type is
// then tested on those, by the core set (TestPostgresVersionsCore).
func postgresHasXML(t testing.TB, conn *pgx.Conn) bool {
	t.Helper()
	_, err := conn.Exec(t.Context(), `SELECT '<r/>'::xml`)
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return true
	case errors.As(err, &pgErr) && pgErr.Code == "0A000": // feature_not_supported
		return false
	default:
		t.Fatalf("checking the server's XML support: %v", err)
		return false
	}
}

// xmlOrText returns schema with the xml column declaration decl ("c_xml xml") made text when
// the server has no XML support, so that a test of many types keeps its other columns and its
// values (an XML document is also a text) on such a server; it logs the change.
func xmlOrText(t testing.TB, conn *pgx.Conn, schema, decl string) string {
	t.Helper()
	if !strings.Contains(schema, decl) {
		t.Fatalf("the schema has no column %q", decl)
	}
	if postgresHasXML(t, conn) {
		return schema
	}
	t.Logf("the server has no XML support (built without libxml): %q is text here; the core set tests xml on 15, 16, 17", decl)
	return strings.Replace(schema, decl, strings.TrimSuffix(decl, "xml")+"text", 1)
}
