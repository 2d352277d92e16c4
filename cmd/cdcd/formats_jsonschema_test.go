package main

import (
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/format/avro"
)

// TestJSONRegistryFormat checks the json-registry entry of the format table: it takes the
// registry client and the subject strategies, and refuses to start without a registry.
func TestJSONRegistryFormat(t *testing.T) {
	cfg := format.Config{TopicPrefix: "demo", Source: postgres.SourceBlock, Settings: map[string]string{
		avro.SettingValueSubjectStrategy: "RecordNameStrategy", format.SettingDecimalMode: "string"}}
	if _, err := formats("BACKWARD", avro.NewSRClient("http://127.0.0.1:1", nil)).New("json-registry", cfg); err != nil {
		t.Fatalf("json-registry with a registry: %v", err)
	}
	if _, err := formats("", nil).New("json-registry", cfg); err == nil || !strings.Contains(err.Error(), "JSON Schemas") {
		t.Errorf("json-registry without a registry: %v, want a refusal", err)
	}
	conn := ConnectorConfig{Format: "json-registry", KeySubjectNameStrategy: "TopicRecordNameStrategy"}
	if errs := validateModes(conn); len(errs) != 0 {
		t.Errorf("a subject strategy with json-registry: %v", errs)
	}
	conn.Transforms = []TransformConfig{{Name: "events", Type: "outbox"}}
	if errs := validateFormatSections(conn); len(errs) != 1 || !strings.Contains(errs[0].Message, `transform "events": format json-registry does not write outbox events`) {
		t.Errorf("an outbox with json-registry: %v, want it refused", errs)
	}
}
