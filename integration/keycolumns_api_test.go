package integration

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestAPIDebeziumMessageKeyColumns creates a MariaDB connector over the REST API with
// Debezium's flat message.key.columns (database.table regex, two columns) and a PostgreSQL
// one with schema.table: each table's key is the columns named, and a table no entry names
// keeps its primary key.
func TestAPIDebeziumMessageKeyColumns(t *testing.T) {
	my := NewMariaDB(t)
	mustExecMySQL(t, my.DB, `CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, region varchar(8) NOT NULL)`)
	mustExecMySQL(t, my.DB, `CREATE TABLE plain (id int PRIMARY KEY, customer int NOT NULL)`)
	pg := NewPostgresDB(t)
	pconn := pg.Conn(t)
	mustExec(t, pconn, `CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL)`)

	d := StartDaemon(t)
	myName, myPrefix := Name(t, "my"), Name(t, "mp")
	myCfg := MySQLAPIConfig(my, myPrefix, "orders", "plain")
	myCfg["message.key.columns"] = fmt.Sprintf(`%s\.ord.*:customer,region;nomatch\..*:id`, my.Name)
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": myName, "config": myCfg}, nil)
	pgName, pgPrefix := Name(t, "pg"), Name(t, "pp")
	pgCfg := PostgresAPIConfig(pg, pgName, pgPrefix, "public.orders")
	pgCfg["message.key.columns"] = `public.orders:customer`
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": pgName, "config": pgCfg}, nil)
	d.WaitState(t, myName, "RUNNING")
	d.WaitState(t, pgName, "RUNNING")

	mustExecMySQL(t, my.DB, `INSERT INTO orders VALUES (1, 7, 'eu')`)
	mustExecMySQL(t, my.DB, `INSERT INTO plain VALUES (1, 7)`)
	mustExec(t, pconn, `INSERT INTO orders VALUES (1, 7)`)

	for _, tc := range []struct {
		registry, topic string
		key             map[string]any
	}{
		{d.Registry, myPrefix + "." + my.Name + ".orders", map[string]any{"customer": 7, "region": "eu"}},
		{d.Registry, myPrefix + "." + my.Name + ".plain", map[string]any{"id": 1}},
		{d.Registry, pgPrefix + ".public.orders", map[string]any{"customer": 7}},
	} {
		got := NewAvroConsumer(t, "http://"+tc.registry, tc.topic).Collect(t, 1, 2*time.Minute)
		if len(got[0].Key) != len(tc.key) {
			t.Errorf("%s: key %v, want %v", tc.topic, got[0].Key, tc.key)
			continue
		}
		for col, w := range tc.key {
			if g := Unwrap(got[0].Key[col]); !sameDecoded(g, w) {
				t.Errorf("%s: key %s = %#v, want %#v (key %v)", tc.topic, col, g, w, got[0].Key)
			}
		}
	}
}
