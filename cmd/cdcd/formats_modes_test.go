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
	"github.com/cdcd-dev/cdcd/format/avro"
)

// TestConfigModes checks the handling modes and subject name strategies: in the file and in
// the flat form they become the formats' settings by Debezium's and Confluent's names, each
// format takes them, and an unknown value or a strategy without a registry is a field error.
func TestConfigModes(t *testing.T) {
	with := func(lines string) string {
		return strings.Replace(validConfig, "topic_prefix: demo", "topic_prefix: demo\n"+lines, 1)
	}
	cfg, err := parseConfig([]byte(with("    decimal_handling_mode: string\n    time_precision_mode: connect\n" +
		"    binary_handling_mode: hex\n    key_subject_name_strategy: RecordNameStrategy\n" +
		"    value_subject_name_strategy: io.confluent.kafka.serializers.subject.TopicRecordNameStrategy")))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Connectors[0].formatSettings()
	want := map[string]string{"decimal.handling.mode": "string", "time.precision.mode": "connect", "binary.handling.mode": "hex",
		"key.subject.name.strategy":   "RecordNameStrategy",
		"value.subject.name.strategy": "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"}
	if !maps.Equal(got, want) {
		t.Errorf("settings = %v, want %v", got, want)
	}
	if _, err := formats("", avro.NewSRClient("http://127.0.0.1:1", nil)).New("avro", format.Config{TopicPrefix: "demo", Source: postgres.SourceBlock, Settings: got}); err != nil {
		t.Errorf("New(avro) with the settings: %v", err)
	}
	modesOnly := cfg.Connectors[0].modeSettings()
	delete(modesOnly, "key.subject.name.strategy")
	delete(modesOnly, "value.subject.name.strategy")
	if _, err := formats("", nil).New("json", format.Config{TopicPrefix: "demo", Source: postgres.SourceBlock, Settings: modesOnly}); err != nil {
		t.Errorf("New(json) with the modes: %v", err)
	}

	conn, errs := unflattenConnector("inv", api.Config{"type": "postgres", "topic_prefix": "demo", "format": "json",
		"decimal_handling_mode": "exact", "time_precision_mode": "connect", "binary_handling_mode": "base32",
		"value_subject_name_strategy": "RecordNameStrategy",
		"postgres.host":               "127.0.0.1", "postgres.user": "cdcd", "postgres.database": "shop"})
	if len(errs) > 0 || conn.TimePrecisionMode != "connect" {
		t.Fatalf("flat modes: %v, %+v", errs, conn)
	}
	var names []string
	for _, fe := range validateConnector(withDefaults(conn)) {
		names = append(names, fe.Name)
	}
	slices.Sort(names)
	if want := []string{"binary_handling_mode", "decimal_handling_mode", "value_subject_name_strategy"}; !slices.Equal(names, want) {
		t.Errorf("flat modes: errors on %v, want %v", names, want)
	}
	if flat := flattenConnector(conn); flat["time_precision_mode"] != "connect" {
		t.Errorf("flattened: %v", flat)
	}
	_, err = parseConfig([]byte(with("    key_subject_name_strategy: FancyStrategy")))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "key_subject_name_strategy") {
		t.Errorf("unknown strategy: %v", err)
	}
}

// TestConfigCloudEventsRefusesUnwrap: a CloudEvent is made of the envelope, so format
// cloudevents with an unwrap transform is refused when the configuration is read.
func TestConfigCloudEventsRefusesUnwrap(t *testing.T) {
	with := func(fmtName string) string {
		return strings.Replace(validConfig, "topic_prefix: demo", "topic_prefix: demo\n    format: "+fmtName+
			"\n    transforms:\n      - {name: flat, type: unwrap}", 1)
	}
	_, err := parseConfig([]byte(with("cloudevents")))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `transform "flat": format cloudevents writes the envelope`) {
		t.Errorf("cloudevents with unwrap: %v", err)
	}
	if _, err := parseConfig([]byte(with("json"))); err != nil {
		t.Errorf("json with unwrap: %v", err)
	}
}
