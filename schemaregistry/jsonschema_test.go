package schemaregistry

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// JSON Schemas of the tests: v2 adds an optional property to a closed content model
// (compatible under BACKWARD), bad changes a property's type.
const (
	jsonV1   = `{"type":"object","title":"t.User","additionalProperties":false,"properties":{"id":{"type":"integer","connect.type":"int64"}}}`
	jsonV1b  = `{ "properties" : { "id" : { "connect.type" : "int64", "type" : "integer" } }, "additionalProperties" : false, "title" : "t.User", "type" : "object" }`
	jsonV2   = `{"type":"object","title":"t.User","additionalProperties":false,"properties":{"id":{"type":"integer","connect.type":"int64"},"email":{"oneOf":[{"type":"null"},{"type":"string"}]}}}`
	jsonBad  = `{"type":"object","title":"t.User","additionalProperties":false,"properties":{"id":{"type":"string"}}}`
	jsonOpen = `{"type":"object","properties":{"id":{"type":"integer"}}}`
)

// registerTyped registers schema of schemaType under subject and returns its id.
func (a *api) registerTyped(subject, schema, schemaType string) int {
	a.t.Helper()
	var out struct {
		ID int `json:"id"`
	}
	a.ok("POST", "/subjects/"+subject+"/versions", map[string]any{"schema": schema, "schemaType": schemaType}, &out)
	if out.ID < 1 {
		a.t.Fatalf("register %s: id %d", subject, out.ID)
	}
	return out.ID
}

func TestJSONSchemaRegisterLookupAndRead(t *testing.T) {
	c := newCluster(t)
	a := newAPI(t, openRegistry(t, c))

	id := a.registerTyped("users-value", jsonV1, "JSON")
	if again := a.registerTyped("users-value", jsonV1b, "JSON"); again != id {
		t.Fatalf("same JSON schema written differently: id %d, want %d", again, id)
	}
	if other := a.registerTyped("users-copy", jsonV1b, "JSON"); other != id {
		t.Fatalf("same JSON schema under another subject: id %d, want %d", other, id)
	}
	avroID := a.register("avro-value", userV1)
	if avroID == id {
		t.Fatalf("an Avro schema got the JSON schema's id %d", id)
	}
	// The same text as an Avro schema and as a JSON Schema are two schemas.
	if a.registerTyped("str-json", `{"type":"string"}`, "JSON") == a.register("str-avro", `{"type":"string"}`) {
		t.Fatal(`{"type":"string"} as JSON and as AVRO share an id`)
	}

	var versions []int
	a.ok("GET", "/subjects/users-value/versions", nil, &versions)
	if !reflect.DeepEqual(versions, []int{1}) {
		t.Fatalf("versions %v, want [1]", versions)
	}
	var info versionInfo
	a.ok("GET", "/subjects/users-value/versions/latest", nil, &info)
	canonical := `{"additionalProperties":false,"properties":{"id":{"connect.type":"int64","type":"integer"}},"title":"t.User","type":"object"}`
	if want := (versionInfo{Subject: "users-value", ID: id, Version: 1, SchemaType: "JSON", Schema: canonical}); info != want {
		t.Fatalf("version: %+v, want %+v", info, want)
	}
	var byID struct {
		SchemaType string `json:"schemaType"`
		Schema     string `json:"schema"`
	}
	a.ok("GET", "/schemas/ids/"+strconv.Itoa(id), nil, &byID)
	if byID.SchemaType != "JSON" || byID.Schema != canonical {
		t.Fatalf("schema by id: %+v", byID)
	}
	byID.SchemaType = ""
	a.ok("GET", "/schemas/ids/"+strconv.Itoa(avroID), nil, &byID)
	if byID.SchemaType != "" {
		t.Fatalf("an Avro schema answered with schemaType %q (Confluent omits it)", byID.SchemaType)
	}
	var types []string
	a.ok("GET", "/schemas/types", nil, &types)
	if !reflect.DeepEqual(types, []string{"AVRO", "JSON"}) {
		t.Fatalf("types %v", types)
	}

	// Lookup finds the JSON schema only as JSON.
	a.ok("POST", "/subjects/users-value", map[string]any{"schema": jsonV1b, "schemaType": "JSON"}, &info)
	if info.ID != id || info.SchemaType != "JSON" {
		t.Fatalf("lookup: %+v", info)
	}
	a.fails("POST", "/subjects/users-value", map[string]any{"schema": jsonV2, "schemaType": "JSON"}, 404, codeSchemaNotFound)
	a.fails("POST", "/subjects/users-value", map[string]any{"schema": jsonV1}, 422, codeInvalidSchema)

	// Refused: another type, a document that is no schema.
	msg := a.fails("POST", "/subjects/s/versions", map[string]any{"schema": `syntax = "proto3";`, "schemaType": "PROTOBUF"}, 422, codeInvalidSchema)
	if !strings.Contains(msg, "PROTOBUF") || !strings.Contains(msg, "JSON") {
		t.Errorf("schema type message %q does not name the type refused and those served", msg)
	}
	a.fails("POST", "/subjects/s/versions", map[string]any{"schema": `{"type":`, "schemaType": "JSON"}, 422, codeInvalidSchema)
	a.fails("POST", "/subjects/s/versions", map[string]any{"schema": `{"type":"text"}`, "schemaType": "JSON"}, 422, codeInvalidSchema)
	a.fails("POST", "/subjects/s/versions", map[string]any{"schema": `[1]`, "schemaType": "JSON"}, 422, codeInvalidSchema)

	// A subject does not change type.
	a.fails("POST", "/subjects/avro-value/versions", map[string]any{"schema": jsonV1, "schemaType": "JSON"}, 409, codeIncompatible)

	// A second process reading the topic sees the JSON schemas with their type.
	b := newAPI(t, openRegistry(t, c))
	var fromB versionInfo
	b.ok("GET", "/subjects/users-copy/versions/1", nil, &fromB)
	if fromB.SchemaType != "JSON" || fromB.ID != id || fromB.Schema != canonical {
		t.Fatalf("reloaded: %+v", fromB)
	}
	if again := b.registerTyped("users-value", jsonV1, "JSON"); again != id {
		t.Fatalf("reloaded registry gave id %d to a known schema, want %d", again, id)
	}
}

func TestJSONSchemaCompatibility(t *testing.T) {
	a := newAPI(t, openRegistry(t, newCluster(t)))
	a.registerTyped("users-value", jsonV1, "JSON")

	var verdict verboseCompatibilityAnswer
	a.ok("POST", "/compatibility/subjects/users-value/versions/latest?verbose=true",
		map[string]any{"schema": jsonV2, "schemaType": "JSON"}, &verdict)
	if !verdict.IsCompatible {
		t.Fatalf("adding an optional property to a closed model: %+v", verdict)
	}
	a.ok("POST", "/compatibility/subjects/users-value/versions?verbose=true",
		map[string]any{"schema": jsonBad, "schemaType": "JSON"}, &verdict)
	if verdict.IsCompatible || len(verdict.Messages) != 1 || !strings.Contains(verdict.Messages[0], `"id"`) {
		t.Fatalf("a type change: %+v", verdict)
	}
	msg := a.fails("POST", "/subjects/users-value/versions", map[string]any{"schema": jsonBad, "schemaType": "JSON"}, 409, codeIncompatible)
	if !strings.Contains(msg, "BACKWARD") || !strings.Contains(msg, "type changed") {
		t.Errorf("incompatible message %q does not say the rule and the change", msg)
	}
	if v2 := a.registerTyped("users-value", jsonV2, "JSON"); v2 < 1 {
		t.Fatal("no id for v2")
	}
	// An open content model refuses a new property under BACKWARD.
	a.registerTyped("open-value", jsonOpen, "JSON")
	a.fails("POST", "/subjects/open-value/versions", map[string]any{"schema": strings.Replace(jsonOpen, `}}}`, `},"x":{"type":"string"}}}`, 1), "schemaType": "JSON"}, 409, codeIncompatible)
	// NONE lets it through.
	a.ok("PUT", "/config/open-value", map[string]any{"compatibility": "NONE"}, nil)
	a.registerTyped("open-value", jsonBad, "JSON")
}
