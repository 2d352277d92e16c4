package integration

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// generatedTable has a stored generated column, total, computed from qty and price.
const generatedTable = `CREATE TABLE orders (id int PRIMARY KEY, qty int NOT NULL, price int NOT NULL,
	total int GENERATED ALWAYS AS (qty * price) STORED)`

// TestPostgresGeneratedColumns runs on a private PostgreSQL 18 two connectors, each on its own
// database holding a table with a stored generated column, one row written before cdcd starts
// (read by the snapshot) and one after (streamed). With postgres.publish_generated_columns the
// publication cdcd creates publishes them: the column is in both rows, with its computed value,
// and the value schema marks it generated. Without, pgoutput leaves it out of the stream, and
// the snapshot leaves it out too, so that both rows have the same shape.
func TestPostgresGeneratedColumns(t *testing.T) {
	pg := StartPrivatePostgresVersion(t, "18")
	for _, publish := range []bool{true, false} {
		t.Run(fmt.Sprintf("publish=%t", publish), func(t *testing.T) {
			db := pg.NewDB(t)
			conn := db.Conn(t)
			mustExec(t, conn, generatedTable)
			mustExec(t, conn, `INSERT INTO orders (id, qty, price) VALUES (1, 3, 7)`)
			c := NewPostgresConnector(t, db, "public.orders")
			if publish {
				c.Extra = []string{"publish_generated_columns: true"}
			}
			cdcd := c.StartStreaming(t, conn)
			mustExec(t, conn, `INSERT INTO orders (id, qty, price) VALUES (2, 4, 5)`)
			got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("orders")).Collect(t, 2, 2*time.Minute)
			for i, want := range []struct {
				op    string
				total int64
			}{{"r", 21}, {"c", 20}} {
				r := got[i]
				total, has := r.After()["total"]
				switch {
				case r.Op() != want.op:
					t.Fatalf("record %d: op %s, want %s", i, r.Op(), want.op)
				case publish && toInt64(total) != want.total:
					t.Errorf("%s row: total = %v, want %d", want.op, total, want.total)
				case !publish && has:
					t.Errorf("%s row holds the generated column (%v) although it is not published", want.op, total)
				}
			}
			body, err := httpGetBody(t.Context(), c.RegistryURL()+"/subjects/"+url.PathEscape(c.Topic("orders")+"-value")+"/versions/latest")
			if err != nil {
				t.Fatalf("reading the value schema: %v", err)
			}
			marked := strings.Contains(string(body), `cdcd.column.generated`)
			if marked != publish {
				t.Errorf("value schema marks a generated column: %t, want %t:\n%s", marked, publish, body)
			}
			cdcd.Stop(time.Minute)
		})
	}
}
