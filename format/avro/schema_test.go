package avro

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func checkGolden(t *testing.T, name, text string) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(text), "", "  "); err != nil {
		t.Fatalf("%s: not JSON: %v", name, err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, pretty.String())
	}
}

func TestDeriveSchemasGolden(t *testing.T) {
	for _, tc := range []struct {
		kind   *decoder.SourceBlock
		prefix string
	}{{postgres.SourceBlock, "cdc"}, {mysql.SourceBlock, "my-server"}} {
		t.Run(tc.kind.Connector, func(t *testing.T) {
			s, err := DeriveSchemas(Naming{TopicPrefix: tc.prefix, Source: tc.kind}, allTypesTable())
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "all_types_"+tc.kind.Connector+"_key.avsc", s.KeyJSON)
			checkGolden(t, "all_types_"+tc.kind.Connector+"_value.avsc", s.ValueJSON)
			if want := tc.prefix + ".public.all_types"; s.Topic != want {
				t.Errorf("topic %q, want %q", s.Topic, want)
			}
		})
	}
}

func TestDeriveSchemasShape(t *testing.T) {
	s, err := DeriveSchemas(Naming{TopicPrefix: "cdc", Source: postgres.SourceBlock}, allTypesTable())
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyName != "cdc.public.all_types.Key" || s.ValueName != "cdc.public.all_types.Envelope" {
		t.Errorf("names %q %q", s.KeyName, s.ValueName)
	}
	env := s.Value.(*avro.RecordSchema)
	var names []string
	for _, f := range env.Fields() {
		names = append(names, f.Name())
	}
	want := []string{"before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"}
	if !equalStrings(names, want) {
		t.Errorf("envelope fields %v, want %v", names, want)
	}
	src := env.Fields()[2].Type().(*avro.RecordSchema)
	var srcNames []string
	for _, f := range src.Fields() {
		srcNames = append(srcNames, f.Name())
	}
	wantSrc := []string{"version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "ts_us", "ts_ns", "schema", "table", "txId", "lsn", "xmin"}
	if !equalStrings(srcNames, wantSrc) {
		t.Errorf("source fields %v, want %v", srcNames, wantSrc)
	}
	if d := src.Fields()[4].Default(); d != "false" {
		t.Errorf("snapshot default %v, want \"false\"", d)
	}
	row := rowRecord(s.Value)
	if row.FullName() != "cdc.public.all_types.Value" {
		t.Errorf("row record %s", row.FullName())
	}
	last := row.Fields()[len(row.Fields())-1]
	if last.Name() != "_nd_col" {
		t.Errorf("sanitised name %q, want _nd_col", last.Name())
	}
	// A table without key columns has no key schema.
	nokey := &decoder.Table{Namespace: "public", Name: "log", Columns: []decoder.Column{{Name: "line", Type: decoder.TypeString}}}
	s2, err := DeriveSchemas(Naming{TopicPrefix: "cdc", Source: postgres.SourceBlock}, nokey)
	if err != nil {
		t.Fatal(err)
	}
	if s2.HasKey() || s2.KeyJSON != "" {
		t.Error("table without key columns got a key schema")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"price":      "price",
		"Price_2":    "Price_2",
		"2nd":        "_nd",
		"a-b c":      "a_b_c",
		"é":          "_", // one character, two UTF-8 bytes: one '_', as Debezium
		"Ümlaut":     "_mlaut",
		"Ümlaut Tab": "_mlaut_Tab",
		"o'brien":    "o_brien",
		"日本":         "__",
		"my.table":   "my_table",
		"":           "_",
		"_ok":        "_ok",
		"dollar$sig": "dollar_sig",
		"😀x":         "__x", // past the BMP: two UTF-16 units, two '_', as Debezium's charAt loop
	} {
		if got := sanitizeName(in); got != want {
			t.Errorf("sanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := sanitizeFullName("my-server.1db.t"); got != "my_server._db.t" {
		t.Errorf("sanitizeFullName = %q", got)
	}
}

func TestDeriveSchemasErrors(t *testing.T) {
	clash := &decoder.Table{Namespace: "public", Name: "t", Columns: []decoder.Column{
		{Name: "a-b", Type: decoder.TypeInt32}, {Name: "a_b", Type: decoder.TypeInt32},
	}}
	badType := &decoder.Table{Namespace: "public", Name: "t", Columns: []decoder.Column{{Name: "x", Type: 200}}}
	noElem := &decoder.Table{Namespace: "public", Name: "t", Columns: []decoder.Column{{Name: "x", Type: decoder.TypeArray}}}
	badDecimal := &decoder.Table{Namespace: "public", Name: "t", Columns: []decoder.Column{{Name: "x", Type: decoder.TypeDecimal, Precision: 2, Scale: 3}}}
	noLength := &decoder.Table{Namespace: "public", Name: "t", Columns: []decoder.Column{{Name: "x", Type: decoder.TypeBits}}}
	for name, tab := range map[string]*decoder.Table{"clash": clash, "type": badType, "elem": noElem,
		"decimal": badDecimal, "bits": noLength} {
		if _, err := DeriveSchemas(Naming{TopicPrefix: "p", Source: postgres.SourceBlock}, tab); !errors.Is(err, ErrSchema) {
			t.Errorf("%s: err %v, want ErrSchema", name, err)
		}
	}
	if _, err := DeriveSchemas(Naming{TopicPrefix: "p", Source: &decoder.SourceBlock{Connector: "oracle"}}, clash); !errors.Is(err, ErrSchema) {
		t.Errorf("unknown kind: err %v", err)
	}
}

// TestAllTypesTableCoversEveryType keeps the golden and round-trip tests complete: every Type
// the schema derivation knows has a column in allTypesTable.
func TestAllTypesTableCoversEveryType(t *testing.T) {
	have := map[decoder.Type]bool{}
	for _, c := range allTypesTable().Columns {
		have[c.Type] = true
	}
	b := &builder{defined: map[string]bool{}}
	known := 0
	for typ := decoder.TypeInvalid + 1; typ != decoder.TypeInvalid; typ++ {
		c := &decoder.Column{Type: typ, Precision: 1, Elem: &decoder.Column{Type: decoder.TypeInt32}}
		if _, err := b.columnType(c); err != nil {
			continue
		}
		known++
		if !have[typ] {
			t.Errorf("type %d has a schema but no column in allTypesTable", typ)
		}
		if _, _, err := encoderFor(c); err != nil {
			t.Errorf("type %d has a schema but no encode plan: %v", typ, err)
		}
	}
	if known < int(decoder.TypeEnumSet) {
		t.Errorf("%d types have a schema, want at least %d", known, decoder.TypeEnumSet)
	}
}
