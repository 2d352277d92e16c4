package main

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/format"
)

// TestConfigFormat checks that a connector's format is chosen by name: avro (the default) is
// accepted, an unknown name is refused at parse time with the list of known formats.
func TestConfigFormat(t *testing.T) {
	if got := formats("", nil).Names(); !slices.Equal(got, []string{"avro", "json", "cloudevents", "json-registry"}) {
		t.Errorf("formats = %v, want [avro json cloudevents json-registry]", got)
	}
	withFormat := func(name string) string {
		return strings.Replace(validConfig, "topic_prefix: demo", "topic_prefix: demo\n    format: "+name, 1)
	}
	cfg, err := parseConfig([]byte(withFormat("avro")))
	if err != nil || cfg.Connectors[0].Format != "avro" {
		t.Fatalf("format avro: %v", err)
	}
	_, err = parseConfig([]byte(withFormat("protobuf")))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `format: "protobuf" is not a known format (avro, json, cloudevents, json-registry)`) {
		t.Errorf("format protobuf: %v, want it refused with the known formats", err)
	}
	if _, err := formats("", nil).New("protobuf", format.Config{TopicPrefix: "demo"}); !errors.Is(err, format.ErrUnknownFormat) {
		t.Errorf("New(protobuf) = %v, want ErrUnknownFormat", err)
	}
	// Over the API, in the flat form, alike.
	conn, errs := unflattenConnector("inv", api.Config{"type": "postgres", "topic_prefix": "demo", "format": "protobuf",
		"postgres.host": "127.0.0.1", "postgres.user": "cdcd", "postgres.database": "shop"})
	if len(errs) > 0 || conn.Format != "protobuf" {
		t.Fatalf("flat format: %v, %+v", errs, conn)
	}
	found := false
	for _, fe := range validateConnector(withDefaults(conn)) {
		found = found || (fe.Name == "format" && strings.Contains(fe.Message, "(avro, json, cloudevents, json-registry)"))
	}
	if !found {
		t.Errorf("flat format protobuf: validation gives %v, want the format named", validateConnector(withDefaults(conn)))
	}
}

// TestConfigJSONFormat checks format json and its section: the file's json section and the
// flat form's json.* keys become the format's settings (Connect's names), and a json section
// beside another format, or an unknown decimal_format, is a field error.
func TestConfigJSONFormat(t *testing.T) {
	withJSON := func(fmtName, section string) string {
		return strings.Replace(validConfig, "topic_prefix: demo", "topic_prefix: demo\n    format: "+fmtName+section, 1)
	}
	cfg, err := parseConfig([]byte(withJSON("json", "\n    json:\n      schemas_enable: false\n      key_schemas_enable: true\n      decimal_format: numeric")))
	if err != nil {
		t.Fatalf("format json: %v", err)
	}
	got := cfg.Connectors[0].formatSettings()
	want := map[string]string{"value.converter.schemas.enable": "false", "key.converter.schemas.enable": "true", "decimal.format": "numeric"}
	if !maps.Equal(got, want) {
		t.Errorf("settings = %v, want %v", got, want)
	}
	if _, err := formats("", nil).New("json", format.Config{TopicPrefix: "demo", Source: postgres.SourceBlock, Settings: got}); err != nil {
		t.Errorf("New(json) with the settings: %v", err)
	}
	if s := (ConnectorConfig{Format: "json"}).formatSettings(); s != nil {
		t.Errorf("no section: settings %v, want none (the format's defaults)", s)
	}
	_, err = parseConfig([]byte(withJSON("avro", "\n    json:\n      schemas_enable: false")))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "json: is only used with format json") {
		t.Errorf("json section with avro: %v", err)
	}
	conn, errs := unflattenConnector("inv", api.Config{"type": "postgres", "topic_prefix": "demo", "format": "json",
		"json.schemas_enable": "false", "json.decimal_format": "hex",
		"postgres.host": "127.0.0.1", "postgres.user": "cdcd", "postgres.database": "shop"})
	if len(errs) > 0 || conn.JSON == nil || conn.JSON.SchemasEnable == nil || *conn.JSON.SchemasEnable {
		t.Fatalf("flat json section: %v, %+v", errs, conn)
	}
	var names []string
	for _, fe := range validateConnector(withDefaults(conn)) {
		names = append(names, fe.Name)
	}
	if !slices.Equal(names, []string{"json.decimal_format"}) {
		t.Errorf("flat json.decimal_format hex: errors on %v, want [json.decimal_format]", names)
	}
	if flat := flattenConnector(conn); flat["json.schemas_enable"] != "false" {
		t.Errorf("flattened: %v", flat)
	}
}
