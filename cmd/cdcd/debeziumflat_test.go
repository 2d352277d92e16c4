package main

import (
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/transform"
)

// TestFlatConfigDebeziumMessageKeyColumns: the flat form (the REST API) takes Debezium's
// message.key.columns as message_key_columns, in Debezium's documented syntax for both
// connectors (schema.table for PostgreSQL, database.table for MySQL, several tables with
// ';', several columns with ','); setting both names is an error naming Debezium's.
func TestFlatConfigDebeziumMessageKeyColumns(t *testing.T) {
	for _, tc := range []struct{ typ, spec string }{
		{"postgres", `inventory.customers:pk1,pk2;(.*).purchaseorders:pk3,pk4`},
		{"mysql", `inventory.customers:email;inventory\.orders:customer_id, region`},
	} {
		c, errs := unflattenConnector("inv", api.Config{"type": tc.typ, "message.key.columns": tc.spec})
		if len(errs) > 0 || c.MessageKeyColumns != tc.spec {
			t.Fatalf("%s: message_key_columns %q, errors %v; want %q", tc.typ, c.MessageKeyColumns, errs, tc.spec)
		}
		if k, err := transform.ParseKeyColumns(c.MessageKeyColumns); err != nil || k == nil {
			t.Errorf("%s: %q does not parse: %v", tc.typ, tc.spec, err)
		}
	}
	_, errs := unflattenConnector("inv", api.Config{"message.key.columns": "a.b:c", "message_key_columns": "a.b:d"})
	if len(errs) != 1 || errs[0].Name != "message.key.columns" || !strings.Contains(errs[0].Message, "keep one") {
		t.Errorf("both names set: %v, want one error on message.key.columns", errs)
	}
	// Only the names listed are aliases: other dotted Debezium keys stay unknown settings.
	if _, errs := unflattenConnector("inv", api.Config{"message.key.column": "a.b:c"}); len(errs) != 1 {
		t.Errorf("a misspelt Debezium key: %v, want an error", errs)
	}
}
