package main

import (
	"strconv"
	"strings"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/format/avro"
	jsonformat "github.com/cdcd-dev/cdcd/format/json"
)

// formats is the table of output formats a connector's `format` field chooses from, their
// encoders registering schemas in registry with compatibility (registry.compatibility) as the
// default level. A new format is one entry here.
func formats(compatibility string, registry avro.Registry) format.Formats {
	var avroOpts []avro.Option
	if level, err := avro.ParseCompatibility(compatibility); err == nil {
		avroOpts = append(avroOpts, avro.WithDefaultCompatibility(level))
	}
	return format.Formats{
		avro.Format(registry, avroOpts...),
		jsonformat.Format(),
	}
}

// JSONSection configures the json format (format/json), as Kafka Connect's JsonConverter's
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

// formatSettings returns the connector's format settings (format.Config.Settings): the json
// section's, by the names format/json reads.
func (c ConnectorConfig) formatSettings() map[string]string {
	j := c.JSON
	if j == nil {
		return nil
	}
	s := map[string]string{}
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

// validateFormatSections returns the problems of the format sections of conn: a json section
// is for format json only, and its decimal_format is base64 or numeric.
func validateFormatSections(conn ConnectorConfig) []api.FieldError {
	if conn.JSON == nil {
		return nil
	}
	var errs []api.FieldError
	if conn.Format != jsonformat.Name {
		errs = append(errs, api.FieldError{Name: "json", Message: "is only used with format json"})
	}
	switch strings.ToLower(conn.JSON.DecimalFormat) {
	case "", "base64", "numeric":
	default:
		errs = append(errs, api.FieldError{Name: "json.decimal_format",
			Message: strconv.Quote(conn.JSON.DecimalFormat) + " is not base64 or numeric"})
	}
	return errs
}
