package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/format"
)

// TestConfigFormat checks that a connector's format is chosen by name: avro (the default) is
// accepted, an unknown name is refused at parse time with the list of known formats.
func TestConfigFormat(t *testing.T) {
	if got := formats("", nil).Names(); !slices.Equal(got, []string{"avro"}) {
		t.Errorf("formats = %v, want [avro]", got)
	}
	withFormat := func(name string) string {
		return strings.Replace(validConfig, "topic_prefix: demo", "topic_prefix: demo\n    format: "+name, 1)
	}
	cfg, err := parseConfig([]byte(withFormat("avro")))
	if err != nil || cfg.Connectors[0].Format != "avro" {
		t.Fatalf("format avro: %v", err)
	}
	_, err = parseConfig([]byte(withFormat("protobuf")))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `format: "protobuf" is not a known format (avro)`) {
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
		found = found || (fe.Name == "format" && strings.Contains(fe.Message, "(avro)"))
	}
	if !found {
		t.Errorf("flat format protobuf: validation gives %v, want the format named", validateConnector(withDefaults(conn)))
	}
}
