package jsonschema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"

	"github.com/cdcd-dev/cdcd/format/avro"
)

// The compatibility rules of JSON Schema, as Confluent's registry applies them: a reader's
// schema (the new one under BACKWARD) is compatible with a writer's (the old one) when every
// document the writer's schema accepts is accepted by the reader's. What breaks it, change by
// change (Confluent's names of the differences in parentheses):
//
//   - a type changed (TYPE_CHANGED) or narrowed, number to integer (TYPE_NARROWED); integer to
//     number is an extension (TYPE_EXTENDED), as is a reader that accepts anything;
//   - a choice (oneOf, anyOf, a list of types) that lost a branch a writer used
//     (SUM_TYPE_NARROWED); a branch added is an extension;
//   - a property added to an open content model, one without additionalProperties or with
//     additionalProperties true (PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL): the old documents may
//     already hold anything under that name; added to a closed model (additionalProperties
//     false) it is compatible, unless required without a default
//     (REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL); added to a partially open model
//     (additionalProperties a schema) it must accept what that schema did;
//   - a property removed from a closed content model (PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL);
//     removed from an open model it is compatible; from a partially open one, its schema must
//     fit the reader's additionalProperties;
//   - a property that became required without a default (REQUIRED_ATTRIBUTE_ADDED);
//   - additionalProperties closed or narrowed (ADDITIONAL_PROPERTIES_REMOVED, _NARROWED);
//   - an enum that lost a value, maxLength/maxItems/maximum added or lowered,
//     minLength/minItems/minimum added or raised, a pattern added or changed.
//
// Annotations (title, description, default, connect.* and other unknown keywords) take no part.
// FORWARD swaps the roles (the old schema reads the new one's documents); FULL checks both.

// CheckCompatible checks candidate against the existing versions (oldest first, each as Parse
// returns it) under level, as avro.CheckCompatible does for Avro: BACKWARD = candidate reads
// the latest; FORWARD = the latest reads candidate; FULL = both; _TRANSITIVE = against every
// version; NONE = always compatible. It returns an *avro.IncompatibleError (Column: the dotted
// path of the property that broke, empty at the top) or nil.
func CheckCompatible(level avro.Compatibility, candidate any, existing []any) error {
	if level == avro.CompatNone || len(existing) == 0 {
		return nil
	}
	table := Title(candidate)
	if _, err := avro.ParseCompatibility(string(level)); err != nil {
		return &avro.IncompatibleError{Table: table, Level: level, Reason: "unknown compatibility level"}
	}
	backward := level != avro.CompatForward && level != avro.CompatForwardTransitive
	forward := level != avro.CompatBackward && level != avro.CompatBackwardTransitive
	first := len(existing) - 1
	if strings.HasSuffix(string(level), "_TRANSITIVE") {
		first = 0
	}
	for i := len(existing) - 1; i >= first; i-- {
		old := existing[i]
		var d *difference
		if backward {
			d = compare(old, candidate, "")
		}
		if d == nil && forward {
			d = compare(candidate, old, "")
		}
		if d != nil {
			return &avro.IncompatibleError{Table: table, Column: d.path, Level: level, Reason: d.reason}
		}
	}
	return nil
}

// Title is the schema's title (cdcd and JsonSchemaConverter write the Connect record name
// there), or "" for none.
func Title(s any) string {
	m, _ := s.(map[string]any)
	t, _ := m["title"].(string)
	return t
}

// difference is an incompatible change, at path (dotted property names).
type difference struct{ path, reason string }

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// validating keywords: a schema without any of them accepts every document.
var validating = []string{"type", "properties", "additionalProperties", "required", "items", "additionalItems",
	"enum", "const", "oneOf", "anyOf", "allOf", "not", "maxLength", "minLength", "pattern", "maximum", "minimum",
	"exclusiveMaximum", "exclusiveMinimum", "multipleOf", "maxItems", "minItems", "uniqueItems", "maxProperties",
	"minProperties", "patternProperties", "dependencies", "dependentRequired", "dependentSchemas", "$ref", "format",
	"propertyNames", "contains", "if", "then", "else"}

// acceptsAll tells whether s accepts every document: true, or an object with no validating
// keyword.
func acceptsAll(s any) bool {
	switch v := s.(type) {
	case bool:
		return v
	case map[string]any:
		for _, k := range validating {
			if _, ok := v[k]; ok {
				return false
			}
		}
		return true
	}
	return false
}

func acceptsNone(s any) bool { b, ok := s.(bool); return ok && !b }

// branches returns the alternatives of a choice (oneOf or anyOf, each with the keywords of the
// schema around it; a list of types, one branch per type), or s alone.
func branches(s any) []any {
	m, ok := s.(map[string]any)
	if !ok {
		return []any{s}
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		subs, ok := m[k].([]any)
		if !ok {
			continue
		}
		rest := without(m, k)
		if acceptsAll(rest) {
			return subs
		}
		out := make([]any, len(subs))
		for i, sub := range subs {
			out[i] = map[string]any{"allOf": []any{rest, sub}}
		}
		return out
	}
	if ts, ok := m["type"].([]any); ok && len(ts) != 1 {
		out := make([]any, len(ts))
		for i, t := range ts {
			b := without(m, "type")
			b["type"] = t
			out[i] = b
		}
		return out
	}
	return []any{s}
}

func without(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// compare returns the first change that makes reader refuse a document writer accepts, or nil.
func compare(writer, reader any, path string) *difference {
	if acceptsAll(reader) || acceptsNone(writer) {
		return nil
	}
	if acceptsNone(reader) {
		return &difference{path, "the new schema accepts no value"}
	}
	ws, rs := branches(writer), branches(reader)
	if len(ws) > 1 || len(rs) > 1 {
		// The reader's one branch that is not null: a writer's branch it refuses says why.
		var only any
		for _, r := range rs {
			if !isNull(r) {
				if only != nil {
					only = nil
					break
				}
				only = r
			}
		}
		for _, w := range ws {
			matched := false
			for _, r := range rs {
				if compare(w, r, path) == nil {
					matched = true
					break
				}
			}
			if matched {
				continue
			}
			if only != nil && !isNull(w) {
				return compare(w, only, path)
			}
			return &difference{path, fmt.Sprintf("the choice lost the branch %s", describe(w))}
		}
		return nil
	}
	w, _ := writer.(map[string]any)
	r, _ := reader.(map[string]any)
	if allOf, ok := r["allOf"].([]any); ok {
		// Every part of the reader must accept what the writer wrote.
		for _, part := range allOf {
			if d := compare(writer, part, path); d != nil {
				return d
			}
		}
		return compare(writer, without(r, "allOf"), path)
	}
	if allOf, ok := w["allOf"].([]any); ok {
		// The writer wrote what all its parts accept: one part fitting the reader is enough.
		merged := without(w, "allOf")
		if compare(merged, reader, path) == nil {
			return nil
		}
		var first *difference
		for _, part := range allOf {
			d := compare(part, reader, path)
			if d == nil {
				return nil
			}
			if first == nil {
				first = d
			}
		}
		return first
	}
	if d := compareTypes(w, r, path); d != nil {
		return d
	}
	if d := compareEnum(w, r, path); d != nil {
		return d
	}
	for _, b := range []struct{ key, upper, what string }{
		{"maxLength", "max", "maxLength"}, {"minLength", "min", "minLength"},
		{"maxItems", "max", "maxItems"}, {"minItems", "min", "minItems"},
		{"maximum", "max", "maximum"}, {"minimum", "min", "minimum"},
		{"exclusiveMaximum", "max", "exclusiveMaximum"}, {"exclusiveMinimum", "min", "exclusiveMinimum"},
		{"maxProperties", "max", "maxProperties"}, {"minProperties", "min", "minProperties"},
	} {
		if d := compareBound(w, r, b.key, b.upper == "max", path); d != nil {
			return d
		}
	}
	if p, ok := r["pattern"]; ok && fmt.Sprint(w["pattern"]) != fmt.Sprint(p) {
		if _, had := w["pattern"]; had {
			return &difference{path, fmt.Sprintf("pattern changed from %v to %v", w["pattern"], p)}
		}
		return &difference{path, fmt.Sprintf("pattern %v added", p)}
	}
	if d := compareObjects(w, r, path); d != nil {
		return d
	}
	if ri, ok := r["items"]; ok {
		wi, had := w["items"]
		if !had {
			wi = true
		}
		if _, tuple := ri.([]any); !tuple {
			if _, wtuple := wi.([]any); !wtuple {
				if d := compare(wi, ri, path+"[]"); d != nil {
					return d
				}
			} else if Canonical(wi) != Canonical(ri) {
				return &difference{path, "items changed"}
			}
		} else if Canonical(wi) != Canonical(ri) {
			return &difference{path, "items changed"}
		}
	}
	for _, k := range []string{"not", "const", "$ref", "patternProperties", "dependencies", "if", "then", "else", "multipleOf", "uniqueItems", "format"} {
		if rv, ok := r[k]; ok && Canonical(rv) != Canonical(w[k]) {
			return &difference{path, fmt.Sprintf("%s changed", k)}
		}
	}
	return nil
}

// typeSet returns the types s allows (integer implies nothing more), nil for any.
func typeSet(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

func compareTypes(w, r map[string]any, path string) *difference {
	rt := typeSet(r)
	if rt == nil {
		return nil
	}
	wt := typeSet(w)
	if wt == nil {
		return &difference{path, fmt.Sprintf("the type narrowed from any to %s", strings.Join(rt, " or "))}
	}
	for _, t := range wt {
		if slices.Contains(rt, t) || (t == "integer" && slices.Contains(rt, "number")) {
			continue
		}
		if t == "number" && slices.Contains(rt, "integer") {
			return &difference{path, "the type narrowed from number to integer"}
		}
		return &difference{path, fmt.Sprintf("the type changed from %s to %s", strings.Join(wt, " or "), strings.Join(rt, " or "))}
	}
	return nil
}

func compareEnum(w, r map[string]any, path string) *difference {
	re, ok := r["enum"].([]any)
	if !ok {
		return nil
	}
	we, had := w["enum"].([]any)
	if !had {
		return &difference{path, "enum added"}
	}
	allowed := map[string]bool{}
	for _, v := range re {
		allowed[Canonical(v)] = true
	}
	for _, v := range we {
		if !allowed[Canonical(v)] {
			return &difference{path, fmt.Sprintf("the enum lost %s", Canonical(v))}
		}
	}
	return nil
}

// compareBound checks a bound of the reader: an upper bound must not be added or lowered, a
// lower bound not added or raised.
func compareBound(w, r map[string]any, key string, upper bool, path string) *difference {
	rv, ok := number(r[key])
	if !ok {
		return nil
	}
	wv, had := number(w[key])
	if !had {
		return &difference{path, fmt.Sprintf("%s %s added", key, rv.RatString())}
	}
	if c := rv.Cmp(wv); (upper && c < 0) || (!upper && c > 0) {
		return &difference{path, fmt.Sprintf("%s changed from %s to %s", key, wv.RatString(), rv.RatString())}
	}
	return nil
}

func number(v any) (*big.Rat, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(n.String())
	return r, ok
}

// contentModel is what additionalProperties makes of an object: open (absent or true), closed
// (false) or partially open (a schema, returned).
func contentModel(s map[string]any) (open, closed bool, partial any) {
	ap, ok := s["additionalProperties"]
	if !ok || acceptsAll(ap) {
		return true, false, nil
	}
	if acceptsNone(ap) {
		return false, true, nil
	}
	return false, false, ap
}

func isObject(s map[string]any) bool {
	if _, ok := s["properties"]; ok {
		return true
	}
	if _, ok := s["additionalProperties"]; ok {
		return true
	}
	return slices.Contains(typeSet(s), "object")
}

func requiredSet(s map[string]any) map[string]bool {
	out := map[string]bool{}
	if names, ok := s["required"].([]any); ok {
		for _, n := range names {
			out[fmt.Sprint(n)] = true
		}
	}
	return out
}

func hasDefault(s any) bool {
	m, _ := s.(map[string]any)
	_, ok := m["default"]
	return ok
}

func compareObjects(w, r map[string]any, path string) *difference {
	if !isObject(r) {
		return nil
	}
	wp, _ := w["properties"].(map[string]any)
	rp, _ := r["properties"].(map[string]any)
	wOpen, wClosed, wPartial := contentModel(w)
	rOpen, rClosed, rPartial := contentModel(r)
	wReq, rReq := requiredSet(w), requiredSet(r)

	for _, name := range sortedKeys(rp) {
		prop := rp[name]
		at := join(path, name)
		wprop, had := wp[name]
		if had {
			if d := compare(wprop, prop, at); d != nil {
				return d
			}
			if rReq[name] && !wReq[name] && !hasDefault(prop) {
				return &difference{at, "the property became required"}
			}
			continue
		}
		if rReq[name] && !hasDefault(prop) {
			return &difference{at, "a required property without a default was added"}
		}
		switch {
		case wOpen:
			if !acceptsAll(prop) {
				return &difference{at, "the property was added to an open content model (additionalProperties not false), where the old documents may hold any value under its name"}
			}
		case wPartial != nil:
			if d := compare(wPartial, prop, at); d != nil {
				return &difference{at, "the property was added, and does not accept what the old additionalProperties did: " + d.reason}
			}
		}
	}
	for _, name := range sortedKeys(wp) {
		if _, kept := rp[name]; kept {
			continue
		}
		at := join(path, name)
		switch {
		case rClosed:
			return &difference{at, "the property was removed from a closed content model (additionalProperties false), which refuses the old documents that hold it"}
		case rPartial != nil:
			if d := compare(wp[name], rPartial, at); d != nil {
				return &difference{at, "the property was removed, and the new additionalProperties does not accept it: " + d.reason}
			}
		}
	}
	switch {
	case wClosed || rOpen:
	case rClosed:
		return &difference{path, "additionalProperties false was added to an open content model"}
	case wOpen:
		return &difference{path, "additionalProperties narrowed from any value to a schema"}
	default:
		if d := compare(wPartial, rPartial, path); d != nil {
			return &difference{path, "additionalProperties narrowed: " + d.reason}
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// isNull tells whether s is the null type alone.
func isNull(s any) bool {
	m, _ := s.(map[string]any)
	t := typeSet(m)
	return len(t) == 1 && t[0] == "null"
}

// describe names a schema's kind in a message.
func describe(s any) string {
	m, ok := s.(map[string]any)
	if !ok {
		return Canonical(s)
	}
	if t := typeSet(m); t != nil {
		return strings.Join(t, " or ")
	}
	return "schema"
}
