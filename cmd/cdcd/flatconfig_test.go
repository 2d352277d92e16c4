package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
)

func TestFlatConfigRoundTrip(t *testing.T) {
	off := false
	in := ConnectorConfig{Name: "inv", Type: "postgres", TopicPrefix: "demo", TombstonesOnDelete: &off, MaxBatchRecords: 500,
		Postgres: &postgres.Section{Host: "db", Port: 5433, User: "cdcd", Password: "s3cret", Database: "shop",
			Tables: []string{"public.a", "public.b"}, SnapshotMode: "no_data", SignalTable: "public.sig"}}
	flat := flattenConnector(in)
	want := api.Config{"type": "postgres", "topic_prefix": "demo", "tombstones_on_delete": "false", "max_batch_records": "500",
		"postgres.host": "db", "postgres.port": "5433", "postgres.user": "cdcd", "postgres.password": "s3cret",
		"postgres.database": "shop", "postgres.tables": "public.a,public.b", "postgres.snapshot_mode": "no_data",
		"postgres.signal_table": "public.sig"}
	if !reflect.DeepEqual(flat, want) {
		t.Fatalf("flattened:\n%v\nwant\n%v", flat, want)
	}
	back, errs := unflattenConnector("inv", flat)
	if len(errs) > 0 {
		t.Fatalf("unflatten: %v", errs)
	}
	if !reflect.DeepEqual(back, in) {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", back, in)
	}
}

func TestFlatConfigKafkaConnectKeys(t *testing.T) {
	c, errs := unflattenConnector("inv", api.Config{"name": "inv", "tasks.max": "1",
		"connector.class": "io.debezium.connector.postgresql.PostgresConnector", "postgres.host": "db"})
	if len(errs) > 0 || c.Type != "postgres" || c.Postgres == nil || c.Postgres.Host != "db" {
		t.Fatalf("got %+v, %v", c, errs)
	}
}

func TestFlatConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		cfg      api.Config
		key, msg string
	}{
		{api.Config{"postgres.hots": "db"}, "postgres.hots", "unknown setting; did you mean postgres.host?"},
		{api.Config{"postgres.tabels": "public.a"}, "postgres.tabels", "unknown setting; did you mean postgres.tables?"},
		{api.Config{"colour": "red"}, "colour", "unknown setting"},
		{api.Config{"postgres.port": "fifty"}, "postgres.port", "not an integer"},
		{api.Config{"mysql.server_id": "-1"}, "mysql.server_id", "non-negative"},
		{api.Config{"tombstones_on_delete": "maybe"}, "tombstones_on_delete", "true or false"},
		{api.Config{"postgres": "x"}, "postgres", "is a section"},
		{api.Config{"postgres.host.name": "x"}, "postgres.host.name", "unknown setting"},
		{api.Config{"name": "other"}, "name", "differs"},
		{api.Config{"tasks.max": "3"}, "tasks.max", "one task"},
		{api.Config{"connector.class": "com.example.Other"}, "connector.class", "not a connector class"},
		{api.Config{"connector.class": "mysql", "type": "postgres"}, "connector.class", "type says postgres"},
	} {
		_, errs := unflattenConnector("inv", tc.cfg)
		if len(errs) != 1 || errs[0].Name != tc.key || !strings.Contains(errs[0].Message, tc.msg) {
			t.Errorf("%v: errors %v, want one on %s mentioning %q", tc.cfg, errs, tc.key, tc.msg)
		}
	}
}

func TestSecretKeys(t *testing.T) {
	for key, want := range map[string]bool{"postgres.password": true, "mysql.password": true, "api.token": true,
		"postgres.sslpassword": true, "registry.basic_auth_user_info": true, "registry.bearer_auth_token": true,
		"postgres.sslkey": false, "mysql.ssl_key": false, "postgres.host": false, "postgres.user": false, "topic_prefix": false} {
		if got := isSecretKey(key); got != want {
			t.Errorf("isSecretKey(%q) = %t", key, got)
		}
	}
}

func TestFlatConfigTransforms(t *testing.T) {
	raw := []byte(`kafka: {brokers: [k:1]}
api: {listen: "off"}
connectors:
  - name: inv
    type: postgres
    topic_prefix: demo
    postgres: {host: db, user: u, database: d}
    transforms:
      - {name: big, type: filter, expression: 'after.amount > 100'}
      - {name: hide, type: mask, tables: public.customers, columns: email}
`)
	cfg, err := parseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	flat := flattenConnector(cfg.Connectors[0])
	for k, v := range map[string]string{"transforms": "big,hide", "transforms.big.type": "filter",
		"transforms.big.expression": "after.amount > 100", "transforms.hide.columns": "email"} {
		if flat[k] != v {
			t.Errorf("flat %s = %q, want %q", k, flat[k], v)
		}
	}
	back, errs := unflattenConnector("inv", flat)
	if len(errs) > 0 || !reflect.DeepEqual(back.Transforms, cfg.Connectors[0].Transforms) {
		t.Fatalf("round trip: %+v, %v", back.Transforms, errs)
	}
	for _, tc := range []struct {
		edit    func(api.Config)
		key     string
		mention string
	}{
		{func(c api.Config) { c["transforms.big.expression"] = "after.amount >" }, "transforms.big.expression", "expression"},
		{func(c api.Config) { c["transforms.big.colour"] = "red" }, "transforms", "colour"},
		{func(c api.Config) { c["transforms.other.type"] = "filter" }, "transforms", "not listed"},
		{func(c api.Config) { c["transforms.hide.type"] = "teleport" }, "transforms", "teleport"},
	} {
		c := api.Config{}
		for k, v := range flat {
			c[k] = v
		}
		tc.edit(c)
		conn, errs := unflattenConnector("inv", c)
		if len(errs) == 0 {
			applyConnectorDefaults(&conn)
			errs = validateConnector(conn)
		}
		if len(errs) != 1 || errs[0].Name != tc.key || !strings.Contains(errs[0].Message, tc.mention) {
			t.Errorf("errors %v, want one on %s mentioning %q", errs, tc.key, tc.mention)
		}
	}
}

// TestFlatConfigKeepsEmptyListEntries checks that `a,,b` over the API is refused by validation,
// not read as [a b].
func TestFlatConfigKeepsEmptyListEntries(t *testing.T) {
	conn, errs := unflattenConnector("inv", api.Config{"type": "mysql", "topic_prefix": "demo",
		"mysql.host": "127.0.0.1", "mysql.user": "cdcd", "mysql.databases": "a,,b"})
	if len(errs) != 0 {
		t.Fatalf("unflatten: %v", errs)
	}
	applyConnectorDefaults(&conn)
	var found bool
	for _, fe := range validateConnector(conn) {
		found = found || fe.Name == "mysql.databases" && strings.Contains(fe.Message, "entry 2 is empty")
	}
	if !found {
		t.Errorf("databases a,,b: validation gives %v, want the empty entry named", validateConnector(conn))
	}
}

func TestFlatConfigQuotedTableNames(t *testing.T) {
	tables := `public."a,b", "my schema"."my.table",public.Ümlaut Tab`
	conn, errs := unflattenConnector("inv", api.Config{"type": "postgres", "topic_prefix": "demo",
		"postgres.host": "127.0.0.1", "postgres.user": "cdcd", "postgres.database": "shop", "postgres.tables": tables})
	if len(errs) != 0 {
		t.Fatalf("unflatten: %v", errs)
	}
	want := []string{`public."a,b"`, `"my schema"."my.table"`, "public.Ümlaut Tab"}
	if !slices.Equal(conn.Postgres.Tables, want) {
		t.Errorf("tables %q, want %q", conn.Postgres.Tables, want)
	}
	back, errs := unflattenConnector("inv", flattenConnector(conn))
	if len(errs) != 0 || !slices.Equal(back.Postgres.Tables, want) {
		t.Errorf("round trip: %q %v", back.Postgres.Tables, errs)
	}
}

// The API reports the problems of reading and of validation at once, as a config file does,
// without a validation problem of a key whose value did not read.
func TestFlatConfigEveryProblemAtOnce(t *testing.T) {
	f := &connectorFactory{}
	errs := f.Validate(t.Context(), "inv", api.Config{"type": "postgres", "topic_prefix": "demo",
		"postgres.hots": "db", "postgres.port": "fifty", "postgres.tables": "items", "postgres.database": "shop"})
	var got []string
	for _, fe := range errs {
		got = append(got, fe.Name)
	}
	for _, want := range []string{"postgres.hots", "postgres.port", "postgres.tables"} {
		if !slices.Contains(got, want) {
			t.Errorf("problems %v: none for %s", errs, want)
		}
	}
	for _, fe := range errs {
		if fe.Name == "postgres.port" && !strings.Contains(fe.Message, "not an integer") {
			t.Errorf("postgres.port: %q, want only the reading problem", fe.Message)
		}
	}
}
