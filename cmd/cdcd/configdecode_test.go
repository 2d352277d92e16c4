package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors"
)

// manyMistakes is a config file with a mistake of each kind, in several places.
const manyMistakes = `
kafka:
  brokers: [127.0.0.1:19092]
  ofsets_topic: x
log:
  level: info
connectors:
  - name: one
    type: postgress
    topic_prefix: one
    postgres:
      host: 127.0.0.1
      user: cdcd
      database: shop
      tables: [public.items]
  - name: two
    type: postgres
    topic_prefix: two
    max_batch_records: lots
    postgres:
      host: 127.0.0.1
      port: "abc"
      user: cdcd
      database: shop
      tabels: [public.items]
      tables: [items]
`

// TestParseConfigListsEveryProblemWithItsPath: every mistake of the file is reported at once,
// each with its path; a misspelt key gets the nearest known one; an unknown type gets the list
// of known types (not "keep only the postgress section").
func TestParseConfigListsEveryProblemWithItsPath(t *testing.T) {
	_, err := parseConfig([]byte(manyMistakes))
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v, want an ErrConfig", err)
	}
	for _, want := range []string{
		"kafka.ofsets_topic: unknown field; did you mean offsets_topic?",
		`connectors[0].type: unknown type "postgress", known: postgres, mysql; did you mean postgres?`,
		`connectors[1].max_batch_records: "lots" (text), but an integer is expected`,
		`connectors[1].postgres.port: "abc" (text), but an integer is expected`,
		"connectors[1].postgres.tabels: unknown field; did you mean tables?",
		`connectors[1].postgres.tables: "items" has no schema: write schema.table, e.g. public.items`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	for _, unwanted := range []string{"keep only", "is not a TCP port"} {
		if strings.Contains(err.Error(), unwanted) {
			t.Errorf("the error says %q:\n%v", unwanted, err)
		}
	}
	if n := strings.Count(err.Error(), "\n  "); n != 6 {
		t.Errorf("%d problems listed, want 6:\n%v", n, err)
	}
}

func TestParseConfigOtherTypesSection(t *testing.T) {
	raw := strings.Replace(validConfig, "    postgres:", "    mysql: {host: db, user: u}\n    postgres:", 1)
	_, err := parseConfig([]byte(raw))
	if err == nil || !strings.Contains(err.Error(), "connectors[0].mysql: is the section of a mysql connector, this one is postgres: keep only the postgres section") {
		t.Errorf("err = %v, want the mysql section named", err)
	}
}

// TestSchemaLessTablesRefused: a table without its schema (database) is refused by the file's
// check and by the API's (connectors apply), not when the source opens.
func TestSchemaLessTablesRefused(t *testing.T) {
	f := &connectorFactory{}
	for _, tc := range []struct {
		cfg  map[string]string
		want string
	}{
		{map[string]string{"type": "postgres", "topic_prefix": "p", "postgres.host": "h", "postgres.user": "u",
			"postgres.database": "d", "postgres.tables": "public.a,items"},
			`postgres.tables: "items" has no schema: write schema.table, e.g. public.items`},
		{map[string]string{"type": "postgres", "topic_prefix": "p", "postgres.host": "h", "postgres.user": "u",
			"postgres.database": "d", "postgres.signal_table": "signals"},
			`postgres.signal_table: "signals" has no schema`},
		{map[string]string{"type": "mysql", "topic_prefix": "p", "mysql.host": "h", "mysql.user": "u",
			"mysql.databases": "shop", "mysql.tables": "items"},
			`mysql.tables: "items" has no database: write database.table, e.g. shop.items`},
	} {
		errs := f.Validate(t.Context(), "c", tc.cfg)
		var got []string
		for _, fe := range errs {
			got = append(got, fe.Name+": "+fe.Message)
		}
		if !strings.Contains(strings.Join(got, "\n"), tc.want) {
			t.Errorf("Validate(%v) = %q, want %q", tc.cfg, got, tc.want)
		}
	}
	for _, ok := range []string{"public.items", `"my.schema".items`, `public."a.b"`} {
		if !connectors.HasUnquotedDot(ok) {
			t.Errorf("%s: taken as having no schema", ok)
		}
	}
	for _, bad := range []string{"items", `"public.items"`, "`shop.items`"} {
		if connectors.HasUnquotedDot(bad) {
			t.Errorf("%s: taken as schema-qualified", bad)
		}
	}
}

// TestReadConnectorsFileListsEveryProblem: connectors apply checks the file as the daemon's
// config is checked, before sending anything.
func TestReadConnectorsFileListsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	body := "name: shop\ntype: postgres\ntopic_prefix: shop\npostgres:\n  host: h\n  user: u\n  database: d\n  tabels: [x]\n  tables: [items]\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := readConnectorsFile(path)
	for _, want := range []string{"postgres.tabels: unknown field; did you mean tables?", `postgres.tables: "items" has no schema`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"tabels", "tables", 1}, {"postgress", "postgres", 1}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"same", "same", 0}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestParseConfigUnquotedBoolean: YAML 1.1 reads off, on, yes and no as booleans; for a text
// setting (api.listen: off, streaming: off) that is refused with the fix, rather than taken as
// "false".
func TestParseConfigUnquotedBoolean(t *testing.T) {
	raw := strings.Replace(validConfig, "connectors:", "api:\n  listen: off\nconnectors:", 1)
	_, err := parseConfig([]byte(raw))
	if err == nil || !strings.Contains(err.Error(), `api.listen: YAML reads this value as false, not as text: quote it ("off")`) {
		t.Errorf("err = %v, want api.listen's value to be quoted", err)
	}
	if _, err := parseConfig([]byte(strings.Replace(raw, "listen: off", `listen: "off"`, 1))); err != nil {
		t.Errorf("quoted: %v", err)
	}
}

// TestParseConfigSyntaxErrorAlone: a file that is not YAML gets its syntax error only, not the
// validation of an empty configuration besides.
func TestParseConfigSyntaxErrorAlone(t *testing.T) {
	_, err := parseConfig([]byte("kafka: {brokers: [a:1]}\n  bad: indent\n"))
	if err == nil || !strings.Contains(err.Error(), "line 1") || strings.Contains(err.Error(), "kafka.brokers") {
		t.Errorf("err = %v, want the YAML syntax error alone", err)
	}
}
