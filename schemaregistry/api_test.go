package schemaregistry

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestRegisterAndRead(t *testing.T) {
	a := newAPI(t, openRegistry(t, newCluster(t)))

	id := a.register("users-value", userV1)
	if again := a.register("users-value", userV1b); again != id {
		t.Fatalf("same schema written differently: id %d, want %d", again, id)
	}
	var versions []int
	a.ok("GET", "/subjects/users-value/versions", nil, &versions)
	if !reflect.DeepEqual(versions, []int{1}) {
		t.Fatalf("idempotent register made versions %v, want [1]", versions)
	}
	if other := a.register("users-copy", userV1); other != id {
		t.Fatalf("same schema under another subject: id %d, want %d", other, id)
	}
	id2 := a.register("orders-value", orderV1)
	if id2 == id {
		t.Fatalf("different schemas share id %d", id)
	}
	if sid := a.register("names-value", stringV1); sid == id || sid == id2 {
		t.Fatalf("primitive schema got a taken id %d", sid)
	}

	var subjects []string
	a.ok("GET", "/subjects", nil, &subjects)
	if want := []string{"names-value", "orders-value", "users-copy", "users-value"}; !reflect.DeepEqual(subjects, want) {
		t.Fatalf("subjects %v, want %v", subjects, want)
	}

	_, canonical, err := canonicalize(userV1)
	if err != nil {
		t.Fatal(err)
	}
	want := versionInfo{Subject: "users-value", ID: id, Version: 1, Schema: canonical}
	for _, v := range []string{"1", "latest", "-1"} {
		var got versionInfo
		a.ok("GET", "/subjects/users-value/versions/"+v, nil, &got)
		if got != want {
			t.Fatalf("version %s: %+v, want %+v", v, got, want)
		}
	}
	if raw := a.do("GET", "/subjects/users-value/versions/1/schema", nil); string(raw.body) != canonical {
		t.Fatalf("raw schema %q, want %q", raw.body, canonical)
	}
	var byID struct {
		Schema string `json:"schema"`
	}
	a.ok("GET", "/schemas/ids/"+strconv.Itoa(id), nil, &byID)
	if byID.Schema != canonical {
		t.Fatalf("schema by id %q, want %q", byID.Schema, canonical)
	}
	if raw := a.do("GET", "/schemas/ids/"+strconv.Itoa(id)+"/schema", nil); string(raw.body) != canonical {
		t.Fatalf("raw schema by id %q", raw.body)
	}
	var refs []subjectVersionRef
	a.ok("GET", "/schemas/ids/"+strconv.Itoa(id)+"/versions", nil, &refs)
	if want := []subjectVersionRef{{"users-copy", 1}, {"users-value", 1}}; !reflect.DeepEqual(refs, want) {
		t.Fatalf("id versions %v, want %v", refs, want)
	}
	var types []string
	a.ok("GET", "/schemas/types", nil, &types)
	if !reflect.DeepEqual(types, []string{"AVRO", "JSON"}) {
		t.Fatalf("types %v", types)
	}

	// Lookup.
	var found versionInfo
	a.ok("POST", "/subjects/users-value", map[string]any{"schema": userV1b}, &found)
	if found != want {
		t.Fatalf("lookup %+v, want %+v", found, want)
	}
	a.fails("POST", "/subjects/users-value", map[string]any{"schema": orderV1}, 404, codeSchemaNotFound)
	a.fails("POST", "/subjects/nobody", map[string]any{"schema": orderV1}, 404, codeSubjectNotFound)
}

func TestErrors(t *testing.T) {
	a := newAPI(t, openRegistry(t, newCluster(t)))
	a.register("users-value", userV1)

	a.fails("GET", "/subjects/nobody/versions", nil, 404, codeSubjectNotFound)
	a.fails("GET", "/subjects/nobody/versions/1", nil, 404, codeSubjectNotFound)
	a.fails("GET", "/subjects/users-value/versions/7", nil, 404, codeVersionNotFound)
	a.fails("GET", "/subjects/users-value/versions/7/schema", nil, 404, codeVersionNotFound)
	for _, v := range []string{"0", "abc", "-2", "2147483648"} {
		a.fails("GET", "/subjects/users-value/versions/"+v, nil, 422, codeInvalidVersion)
	}
	a.fails("GET", "/schemas/ids/99", nil, 404, codeSchemaNotFound)
	a.fails("GET", "/schemas/ids/99/schema", nil, 404, codeSchemaNotFound)
	a.fails("GET", "/schemas/ids/x", nil, 404, codeSchemaNotFound)

	a.fails("POST", "/subjects/s/versions", map[string]any{"schema": `{"type":"record"`}, 422, codeInvalidSchema)
	a.fails("POST", "/subjects/s/versions", map[string]any{"schema": `{"type":"record","name":"X","fields":[{"name":"a","type":"Missing"}]}`}, 422, codeInvalidSchema)
	a.fails("POST", "/subjects/s/versions", map[string]any{"schema": ""}, 422, codeInvalidSchema)
	msg := a.fails("POST", "/subjects/s/versions", map[string]any{"schema": `syntax = "proto3";`, "schemaType": "PROTOBUF"}, 422, codeInvalidSchema)
	if !strings.Contains(msg, "AVRO") {
		t.Errorf("schema type message %q does not say what is served", msg)
	}
	a.fails("POST", "/subjects/s/versions", map[string]any{"schema": userV1,
		"references": []map[string]any{{"name": "x", "subject": "y", "version": 1}}}, 422, codeInvalidSchema)
	a.fails("POST", "/subjects/s/versions", "not an object", 400, 400)

	a.fails("GET", "/nothing/here", nil, 404, 404)
	ans := a.do("PATCH", "/subjects", nil)
	if ans.status != http.StatusMethodNotAllowed || !strings.Contains(string(ans.body), `"error_code":405`) {
		t.Fatalf("wrong method: %d %s", ans.status, ans.body)
	}

	// A schema registered under an explicit AVRO type is accepted.
	var out struct{ ID int }
	a.ok("POST", "/subjects/typed/versions", map[string]any{"schema": orderV1, "schemaType": "AVRO"}, &out)
	if out.ID == 0 {
		t.Fatal("no id for a schema typed AVRO")
	}
}

func TestCompatibility(t *testing.T) {
	a := newAPI(t, openRegistry(t, newCluster(t)))
	a.register("users-value", userV1)

	msg := a.fails("POST", "/subjects/users-value/versions", map[string]any{"schema": userBad}, 409, codeIncompatible)
	if !strings.Contains(msg, "incompatible") || !strings.Contains(msg, "age") {
		t.Errorf("409 message %q names neither the verdict nor the field", msg)
	}
	var versions []int
	a.ok("GET", "/subjects/users-value/versions", nil, &versions)
	if len(versions) != 1 {
		t.Fatalf("an incompatible schema was registered: versions %v", versions)
	}

	var verdict struct {
		IsCompatible bool      `json:"is_compatible"`
		Messages     *[]string `json:"messages"`
	}
	a.ok("POST", "/compatibility/subjects/users-value/versions/latest", map[string]any{"schema": userBad}, &verdict)
	if verdict.IsCompatible || verdict.Messages != nil {
		t.Fatalf("bad schema: %+v", verdict)
	}
	a.ok("POST", "/compatibility/subjects/users-value/versions/1?verbose=true", map[string]any{"schema": userBad}, &verdict)
	if verdict.IsCompatible || verdict.Messages == nil || len(*verdict.Messages) != 1 {
		t.Fatalf("bad schema, verbose: %+v", verdict)
	}
	verdict.Messages = nil
	a.ok("POST", "/compatibility/subjects/users-value/versions/latest?verbose=true", map[string]any{"schema": userV2}, &verdict)
	if !verdict.IsCompatible || verdict.Messages == nil || len(*verdict.Messages) != 0 {
		t.Fatalf("good schema, verbose: %+v", verdict)
	}
	a.ok("POST", "/compatibility/subjects/users-value/versions", map[string]any{"schema": userV2}, &verdict)
	if !verdict.IsCompatible {
		t.Fatal("good schema against every version: incompatible")
	}
	a.fails("POST", "/compatibility/subjects/nobody/versions/latest", map[string]any{"schema": userV2}, 404, codeSubjectNotFound)
	a.fails("POST", "/compatibility/subjects/users-value/versions/9", map[string]any{"schema": userV2}, 404, codeVersionNotFound)
	a.fails("POST", "/compatibility/subjects/users-value/versions/x", map[string]any{"schema": userV2}, 422, codeInvalidVersion)

	if id := a.register("users-value", userV2); id < 2 {
		t.Fatalf("compatible v2 got id %d", id)
	}
	var v2 versionInfo
	a.ok("GET", "/subjects/users-value/versions/latest", nil, &v2)
	if v2.Version != 2 {
		t.Fatalf("latest is version %d, want 2", v2.Version)
	}

	// Config: global default, subject override, defaultToGlobal, delete.
	var level levelAnswer
	a.ok("GET", "/config", nil, &level)
	if level.CompatibilityLevel != "BACKWARD" {
		t.Fatalf("default global level %q", level.CompatibilityLevel)
	}
	a.fails("GET", "/config/users-value", nil, 404, codeSubjectConfigNotFound)
	a.ok("GET", "/config/users-value?defaultToGlobal=true", nil, &level)
	if level.CompatibilityLevel != "BACKWARD" {
		t.Fatalf("defaultToGlobal level %q", level.CompatibilityLevel)
	}
	var set levelUpdate
	a.ok("PUT", "/config/users-value", map[string]string{"compatibility": "none"}, &set)
	if set.Compatibility != "NONE" {
		t.Fatalf("PUT answered %q", set.Compatibility)
	}
	a.ok("GET", "/config/users-value", nil, &level)
	if level.CompatibilityLevel != "NONE" {
		t.Fatalf("subject level %q after PUT", level.CompatibilityLevel)
	}
	a.register("users-value", userBad) // NONE lets it through
	a.fails("PUT", "/config/users-value", map[string]string{"compatibility": "SIDEWAYS"}, 422, codeInvalidCompatibilityLevel)
	a.ok("DELETE", "/config/users-value", nil, &level)
	if level.CompatibilityLevel != "NONE" {
		t.Fatalf("DELETE answered %q", level.CompatibilityLevel)
	}
	a.fails("DELETE", "/config/users-value", nil, 404, codeSubjectConfigNotFound)
	a.fails("DELETE", "/config/nobody", nil, 404, codeSubjectNotFound)

	a.ok("PUT", "/config", map[string]string{"compatibility": "FULL"}, &set)
	a.ok("GET", "/config", nil, &level)
	if level.CompatibilityLevel != "FULL" {
		t.Fatalf("global level %q after PUT", level.CompatibilityLevel)
	}
	a.register("orders-value", orderV1)
	a.fails("POST", "/subjects/orders-value/versions", map[string]any{
		"schema": `{"type":"record","name":"Order","namespace":"t","fields":[{"name":"no","type":"string"},{"name":"n","type":"int"}]}`,
	}, 409, codeIncompatible)
}

func TestDeletes(t *testing.T) {
	a := newAPI(t, openRegistry(t, newCluster(t)))
	id1 := a.register("users-value", userV1)
	id2 := a.register("users-value", userV2)

	// Versions: soft first, then permanent.
	a.fails("DELETE", "/subjects/users-value/versions/1?permanent=true", nil, 404, codeVersionNotSoftDeleted)
	var deleted int
	a.ok("DELETE", "/subjects/users-value/versions/1", nil, &deleted)
	if deleted != 1 {
		t.Fatalf("deleted version %d", deleted)
	}
	a.fails("DELETE", "/subjects/users-value/versions/1", nil, 404, codeVersionSoftDeleted)
	var versions []int
	a.ok("GET", "/subjects/users-value/versions", nil, &versions)
	if !reflect.DeepEqual(versions, []int{2}) {
		t.Fatalf("versions after soft delete %v", versions)
	}
	a.ok("GET", "/subjects/users-value/versions?deleted=true", nil, &versions)
	if !reflect.DeepEqual(versions, []int{1, 2}) {
		t.Fatalf("versions with deleted %v", versions)
	}
	a.fails("GET", "/subjects/users-value/versions/1", nil, 404, codeVersionNotFound)
	a.ok("GET", "/subjects/users-value/versions/1?deleted=true", nil, nil)
	a.ok("GET", "/schemas/ids/"+strconv.Itoa(id1), nil, nil) // a soft-deleted version's id still decodes
	a.ok("DELETE", "/subjects/users-value/versions/1?permanent=true", nil, &deleted)
	a.fails("GET", "/subjects/users-value/versions/1?deleted=true", nil, 404, codeVersionNotFound)
	a.fails("GET", "/schemas/ids/"+strconv.Itoa(id1), nil, 404, codeSchemaNotFound)

	// Subjects.
	a.fails("DELETE", "/subjects/users-value?permanent=true", nil, 404, codeSubjectNotSoftDeleted)
	var vs []int
	a.ok("DELETE", "/subjects/users-value", nil, &vs)
	if !reflect.DeepEqual(vs, []int{2}) {
		t.Fatalf("soft-deleted versions %v", vs)
	}
	a.fails("DELETE", "/subjects/users-value", nil, 404, codeSubjectSoftDeleted)
	var subjects []string
	a.ok("GET", "/subjects", nil, &subjects)
	if len(subjects) != 0 {
		t.Fatalf("subjects after soft delete %v", subjects)
	}
	a.ok("GET", "/subjects?deleted=true", nil, &subjects)
	if !reflect.DeepEqual(subjects, []string{"users-value"}) {
		t.Fatalf("subjects with deleted %v", subjects)
	}
	a.fails("GET", "/subjects/users-value/versions/latest", nil, 404, codeSubjectNotFound)

	// Registering again after a soft delete makes a new version, with the schema's id.
	if id := a.register("users-value", userV2); id != id2 {
		t.Fatalf("re-registered schema got id %d, want %d", id, id2)
	}
	var v versionInfo
	a.ok("GET", "/subjects/users-value/versions/latest", nil, &v)
	if v.Version != 3 {
		t.Fatalf("version after soft delete %d, want 3", v.Version)
	}
	a.ok("DELETE", "/subjects/users-value", nil, &vs)
	a.ok("DELETE", "/subjects/users-value?permanent=true", nil, &vs)
	if !reflect.DeepEqual(vs, []int{2, 3}) {
		t.Fatalf("permanently deleted versions %v", vs)
	}
	a.fails("DELETE", "/subjects/users-value", nil, 404, codeSubjectNotFound)
	a.fails("GET", "/schemas/ids/"+strconv.Itoa(id2), nil, 404, codeSchemaNotFound)

	// Ids are never issued twice, even after every holder is gone.
	if id := a.register("orders-value", orderV1); id <= id2 {
		t.Fatalf("new schema got id %d, not above the deleted %d", id, id2)
	}
	a.fails("DELETE", "/subjects/nobody", nil, 404, codeSubjectNotFound)
	a.fails("DELETE", "/subjects/nobody/versions/1", nil, 404, codeSubjectNotFound)
	a.fails("DELETE", "/subjects/orders-value/versions/5", nil, 404, codeVersionNotFound)
	a.fails("DELETE", "/subjects/orders-value/versions/zero", nil, 422, codeInvalidVersion)
}
