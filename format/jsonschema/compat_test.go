package jsonschema

import (
	"errors"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/format/avro"
)

func mustParse(t *testing.T, s string) any {
	t.Helper()
	doc, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return doc
}

// Rows of a table as cdcd writes them: closed objects, nullable columns as oneOf null.
const (
	rowV1 = `{"type":"object","title":"t.Value","additionalProperties":false,"properties":{
		"id":{"type":"integer","connect.type":"int32","connect.index":0},
		"name":{"oneOf":[{"type":"null"},{"type":"string"}],"connect.index":1}}}`
	// rowAdded adds a nullable column.
	rowAdded = `{"type":"object","title":"t.Value","additionalProperties":false,"properties":{
		"id":{"type":"integer","connect.type":"int32","connect.index":0},
		"name":{"oneOf":[{"type":"null"},{"type":"string"}],"connect.index":1},
		"email":{"oneOf":[{"type":"null"},{"type":"string"}],"connect.index":2}}}`
	// rowDropped drops the nullable column name.
	rowDropped = `{"type":"object","title":"t.Value","additionalProperties":false,"properties":{
		"id":{"type":"integer","connect.type":"int32","connect.index":0}}}`
	// rowRetyped changes name from string to integer.
	rowRetyped = `{"type":"object","title":"t.Value","additionalProperties":false,"properties":{
		"id":{"type":"integer","connect.type":"int32","connect.index":0},
		"name":{"oneOf":[{"type":"null"},{"type":"integer"}],"connect.index":1}}}`
	// rowDocumented only changes annotations.
	rowDocumented = `{"type":"object","title":"t.Value","description":"the users","additionalProperties":false,"properties":{
		"id":{"type":"integer","connect.type":"int32","connect.index":0,"description":"key"},
		"name":{"oneOf":[{"type":"null"},{"type":"string"}],"connect.index":1}}}`
	// rowWidened makes id a number and name any string or number.
	rowWidened = `{"type":"object","title":"t.Value","additionalProperties":false,"properties":{
		"id":{"type":"number"},
		"name":{"oneOf":[{"type":"null"},{"type":"string"},{"type":"number"}]}}}`
)

// TestCheckCompatibleEachMode gives each level an evolution it accepts and one it refuses,
// against a history of one version, or two for the transitive levels (whose break is with the
// oldest only).
func TestCheckCompatibleEachMode(t *testing.T) {
	for _, tc := range []struct {
		level                avro.Compatibility
		history              []string
		compatible, breaking string
		column, reason       string
	}{
		{avro.CompatBackward, []string{rowV1}, rowAdded, rowRetyped, "name", "type changed"},
		{avro.CompatBackward, []string{rowV1}, rowWidened, rowDropped, "name", "removed from a closed content model"},
		{avro.CompatForward, []string{rowV1}, rowDropped, rowAdded, "email", "removed from a closed content model"},
		{avro.CompatForward, []string{rowV1}, rowDocumented, rowWidened, "id", "narrowed from number to integer"},
		{avro.CompatFull, []string{rowV1}, rowDocumented, rowAdded, "email", ""},
		{avro.CompatBackwardTransitive, []string{rowDropped, rowV1}, rowV1, rowDropped, "name", ""},
		{avro.CompatForwardTransitive, []string{rowRetyped, rowV1}, rowDropped, rowDocumented, "name", "type changed"},
		{avro.CompatFullTransitive, []string{rowV1, rowDocumented}, rowV1, rowAdded, "email", ""},
		{avro.CompatNone, []string{rowV1}, rowRetyped, "", "", ""},
	} {
		t.Run(string(tc.level), func(t *testing.T) {
			var existing []any
			for _, h := range tc.history {
				existing = append(existing, mustParse(t, h))
			}
			if err := CheckCompatible(tc.level, mustParse(t, tc.compatible), existing); err != nil {
				t.Errorf("compatible evolution refused: %v", err)
			}
			if tc.breaking == "" {
				return
			}
			err := CheckCompatible(tc.level, mustParse(t, tc.breaking), existing)
			var ie *avro.IncompatibleError
			if !errors.As(err, &ie) {
				t.Fatalf("incompatible evolution: %v, want an IncompatibleError", err)
			}
			if !errors.Is(err, format.ErrIncompatible) || ie.Level != tc.level || ie.Table != "t.Value" {
				t.Errorf("error %v: level %s table %q", err, ie.Level, ie.Table)
			}
			if tc.column != "" && ie.Column != tc.column {
				t.Errorf("error %v names column %q, want %q", err, ie.Column, tc.column)
			}
			if !strings.Contains(ie.Reason, tc.reason) {
				t.Errorf("reason %q, want it to say %q", ie.Reason, tc.reason)
			}
		})
	}
	// Transitive levels break with an older version a plain level does not look at.
	if err := CheckCompatible(avro.CompatBackward, mustParse(t, rowDropped), []any{mustParse(t, rowV1), mustParse(t, rowDropped)}); err != nil {
		t.Errorf("BACKWARD checked more than the latest version: %v", err)
	}
}

// TestCheckCompatibleContentModels covers the rules of open, partially open and closed objects,
// required properties, enums and bounds.
func TestCheckCompatibleContentModels(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		ok             bool
	}{
		{"property added to an open model", `{"type":"object","properties":{"a":{"type":"string"}}}`,
			`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}`, false},
		{"property removed from an open model", `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}`,
			`{"type":"object","properties":{"a":{"type":"string"}}}`, true},
		{"property added to a partially open model, covered", `{"type":"object","additionalProperties":{"type":"string"}}`,
			`{"type":"object","properties":{"b":{"type":"string","maxLength":3}},"additionalProperties":{"type":"string"}}`, false},
		{"property added to a partially open model, wider", `{"type":"object","additionalProperties":{"type":"string"}}`,
			`{"type":"object","properties":{"b":{"type":["string","null"]}},"additionalProperties":{"type":"string"}}`, true},
		{"required property added to a closed model", `{"type":"object","additionalProperties":false}`,
			`{"type":"object","properties":{"b":{"type":"string"}},"required":["b"],"additionalProperties":false}`, false},
		{"required property with default added", `{"type":"object","additionalProperties":false}`,
			`{"type":"object","properties":{"b":{"type":"string","default":"x"}},"required":["b"],"additionalProperties":false}`, true},
		{"property became required", `{"type":"object","properties":{"b":{"type":"string"}}}`,
			`{"type":"object","properties":{"b":{"type":"string"}},"required":["b"]}`, false},
		{"required dropped", `{"type":"object","properties":{"b":{"type":"string"}},"required":["b"]}`,
			`{"type":"object","properties":{"b":{"type":"string"}}}`, true},
		{"model closed", `{"type":"object"}`, `{"type":"object","additionalProperties":false}`, false},
		{"model opened", `{"type":"object","additionalProperties":false}`, `{"type":"object"}`, true},
		{"integer to number", `{"type":"integer"}`, `{"type":"number"}`, true},
		{"null dropped from a choice", `{"oneOf":[{"type":"null"},{"type":"string"}]}`, `{"type":"string"}`, false},
		{"null added to a choice", `{"type":"string"}`, `{"oneOf":[{"type":"null"},{"type":"string"}]}`, true},
		{"enum narrowed", `{"type":"string","enum":["a","b"]}`, `{"type":"string","enum":["a"]}`, false},
		{"enum extended", `{"type":"string","enum":["a"]}`, `{"type":"string","enum":["a","b"]}`, true},
		{"maxLength lowered", `{"type":"string","maxLength":5}`, `{"type":"string","maxLength":3}`, false},
		{"maxLength raised", `{"type":"string","maxLength":3}`, `{"type":"string","maxLength":5}`, true},
		{"items changed", `{"type":"array","items":{"type":"integer"}}`, `{"type":"array","items":{"type":"string"}}`, false},
		{"anything", `{"type":"array"}`, `true`, true},
	} {
		err := CheckCompatible(avro.CompatBackward, mustParse(t, tc.new), []any{mustParse(t, tc.old)})
		if (err == nil) != tc.ok {
			t.Errorf("%s: BACKWARD gave %v, want compatible %v", tc.name, err, tc.ok)
		}
	}
}

func TestCanonicalize(t *testing.T) {
	_, a, err := Canonicalize(` { "type" : "object", "properties" : { "b" : {"maximum": 1.50}, "a" : {} } } `)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"properties":{"a":{},"b":{"maximum":1.50}},"type":"object"}`; a != want {
		t.Fatalf("canonical %s, want %s", a, want)
	}
	for _, bad := range []string{`{`, `[]`, `"x"`, `{"type":"text"}`, `{"properties":[]}`, `{"oneOf":[]}`, `{} {}`, `{"required":[1]}`} {
		if _, _, err := Canonicalize(bad); err == nil {
			t.Errorf("Canonicalize(%s) accepted", bad)
		}
	}
}
