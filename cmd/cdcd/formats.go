package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/format/cloudevents"
	jsonformat "github.com/cdcd-dev/cdcd/format/json"
	"github.com/cdcd-dev/cdcd/format/jsonschema"
	"github.com/cdcd-dev/cdcd/transform"
)

// formats is the table of output formats a connector's `format` field chooses from, their
// encoders registering schemas in registry with compatibility (registry.compatibility) as the
// default level. A new format is one entry here.
func formats(compatibility string, registry avro.Registry) format.Formats {
	var avroOpts []avro.Option
	level, err := avro.ParseCompatibility(compatibility)
	if err == nil {
		avroOpts = append(avroOpts, avro.WithDefaultCompatibility(level))
	}
	return format.Formats{
		avro.Format(registry, avroOpts...),
		jsonformat.Format(),
		cloudevents.Format(),
		jsonschema.Format(registry, level),
	}
}

// JSONSection configures the json format (format/json), and the keys, data and transaction
// records of the cloudevents format (format/cloudevents), as Kafka Connect's JsonConverter's
// properties do.
type JSONSection struct {
	// SchemasEnable is value.converter.schemas.enable: each value is {"schema", "payload"}
	// (true, the default) or the payload alone.
	SchemasEnable *bool `json:"schemas_enable"`
	// KeySchemasEnable is key.converter.schemas.enable; unset: as SchemasEnable.
	KeySchemasEnable *bool `json:"key_schemas_enable"`
	// DecimalFormat is JsonConverter's decimal.format: base64 (the default) or numeric.
	DecimalFormat string `json:"decimal_format"`
}

// registryFormats are the formats whose schemas are in the registry: the subject name
// strategies are theirs only.
var registryFormats = []string{avro.Name, jsonschema.Name}

// formatSettings returns the connector's format settings (format.Config.Settings): the
// handling modes and subject strategies (modeSettings), and the json section's, by the names
// the formats read.
func (c ConnectorConfig) formatSettings() map[string]string {
	s := c.modeSettings()
	j := c.JSON
	if j == nil {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	if j.SchemasEnable != nil {
		s[jsonformat.SettingValueSchemas] = strconv.FormatBool(*j.SchemasEnable)
		s[jsonformat.SettingKeySchemas] = strconv.FormatBool(*j.SchemasEnable)
	}
	if j.KeySchemasEnable != nil {
		s[jsonformat.SettingKeySchemas] = strconv.FormatBool(*j.KeySchemasEnable)
	}
	if j.DecimalFormat != "" {
		s[jsonformat.SettingDecimalFormat] = j.DecimalFormat
	}
	return s
}

// modeSettings returns the handling modes and subject name strategies c sets, by their
// Debezium and Confluent names (format.SettingDecimalMode, avro.SettingKeySubjectStrategy, ...).
func (c ConnectorConfig) modeSettings() map[string]string {
	s := map[string]string{}
	for _, kv := range [...]struct{ key, value string }{
		{format.SettingDecimalMode, c.DecimalHandlingMode},
		{format.SettingTimeMode, c.TimePrecisionMode},
		{format.SettingBinaryMode, c.BinaryHandlingMode},
		{avro.SettingKeySubjectStrategy, c.KeySubjectNameStrategy},
		{avro.SettingValueSubjectStrategy, c.ValueSubjectNameStrategy},
	} {
		if kv.value != "" {
			s[kv.key] = kv.value
		}
	}
	return s
}

// validateModes returns the problems of conn's handling modes and subject name strategies: an
// unknown value, or a strategy with a format that has no registry.
func validateModes(conn ConnectorConfig) []api.FieldError {
	var errs []api.FieldError
	var m format.Modes
	for _, kv := range [...]struct{ field, key, value string }{
		{"decimal_handling_mode", format.SettingDecimalMode, conn.DecimalHandlingMode},
		{"time_precision_mode", format.SettingTimeMode, conn.TimePrecisionMode},
		{"binary_handling_mode", format.SettingBinaryMode, conn.BinaryHandlingMode},
	} {
		if _, err := m.ParseModeSetting(kv.key, kv.value); err != nil {
			errs = append(errs, api.FieldError{Name: kv.field, Message: err.Error()})
		}
	}
	name := conn.Format
	if name == "" {
		name = format.DefaultFormat
	}
	for _, kv := range [...]struct{ field, value string }{
		{"key_subject_name_strategy", conn.KeySubjectNameStrategy},
		{"value_subject_name_strategy", conn.ValueSubjectNameStrategy},
	} {
		if kv.value == "" {
			continue
		}
		if _, err := avro.ParseSubjectStrategy(kv.value); err != nil {
			errs = append(errs, api.FieldError{Name: kv.field, Message: err.Error()})
		} else if !slices.Contains(registryFormats, name) {
			errs = append(errs, api.FieldError{Name: kv.field,
				Message: "is only used with a format whose schemas are in the registry (" + strings.Join(registryFormats, ", ") + ")"})
		}
	}
	return errs
}

// validateFormatSections returns the problems of the format sections of conn: its handling
// modes and subject strategies (validateModes); format cloudevents takes no unwrap transform,
// json-registry no outbox;
// a json section is for format json or cloudevents only, and its decimal_format is base64 or
// numeric.
func validateFormatSections(conn ConnectorConfig) []api.FieldError {
	errs := validateModes(conn)
	if conn.Format == cloudevents.Name {
		for _, t := range conn.Transforms {
			if t.Type == transform.TypeUnwrap {
				errs = append(errs, api.FieldError{Name: "transforms", Message: fmt.Sprintf(
					"transform %q: format cloudevents writes the envelope, an unwrapped record cannot be one", t.Name)})
			}
		}
	}
	if conn.Format == jsonschema.Name {
		for _, t := range conn.Transforms {
			if t.Type == transform.TypeOutbox {
				errs = append(errs, api.FieldError{Name: "transforms", Message: fmt.Sprintf(
					"transform %q: format json-registry does not write outbox events (their payload's schema is the application's): use avro or json", t.Name)})
			}
		}
	}
	if conn.JSON == nil {
		return errs
	}
	if conn.Format != jsonformat.Name && conn.Format != cloudevents.Name {
		errs = append(errs, api.FieldError{Name: "json", Message: "is only used with format json or cloudevents"})
	}
	switch strings.ToLower(conn.JSON.DecimalFormat) {
	case "", "base64", "numeric":
	default:
		errs = append(errs, api.FieldError{Name: "json.decimal_format",
			Message: strconv.Quote(conn.JSON.DecimalFormat) + " is not base64 or numeric"})
	}
	return errs
}
