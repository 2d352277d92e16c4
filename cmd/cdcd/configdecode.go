package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// A config file is read in two passes so that every mistake is reported at once, each with its
// path: first the YAML as a generic tree, walked against the Go type by its json tags (every
// unknown key, with the nearest known one, and every value of the wrong kind); then into the
// struct, leniently, so that validation can look at all that did decode. yaml.UnmarshalStrict
// stops at the first unknown field and does not say where it is.

// decodeYAML reads raw into target (a pointer to a struct) and returns every problem found,
// each "path: problem" (connectors[1].postgres.tabels: unknown field; did you mean tables?).
// What decodes is set even when there are problems; parsed is false when raw is not YAML at
// all (then nothing is set, and validating target would only add noise).
func decodeYAML(raw []byte, target any) (problems []string, parsed bool) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return []string{cleanYAMLError(err)}, false
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return []string{cleanYAMLError(err)}, false
	}
	walkConfig(tree, reflect.TypeOf(target).Elem(), "", &problems)
	// Lenient: unknown keys were reported above. A type error names one field only, and the
	// walk above has named it already, unless the walk's rules are looser than the decoder's.
	if err := yaml.Unmarshal(raw, target); err != nil && len(problems) == 0 {
		problems = append(problems, cleanYAMLError(err))
	}
	return problems, true
}

// jsonUnmarshaler is implemented by types that read their own JSON (a transform's map of
// settings): the walk does not look inside them.
var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// walkConfig checks value v (from encoding/json with UseNumber) against type t, appending a
// problem for each unknown key and each value of the wrong kind; path names v.
func walkConfig(v any, t reflect.Type, path string, problems *[]string) {
	if v == nil || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	add := func(format string, args ...any) {
		where := path
		if where == "" {
			where = "the file"
		}
		*problems = append(*problems, where+": "+fmt.Sprintf(format, args...))
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			add("%s, but a section of settings (key: value lines) is expected", describeJSON(v))
			return
		}
		known := structKeys(t)
		for _, key := range slices.Sorted(maps.Keys(m)) {
			field, ok := known[key]
			sub := joinPath(path, key)
			if !ok {
				msg := sub + ": unknown field"
				if near := nearest(key, slices.Sorted(maps.Keys(known))); near != "" {
					msg += "; did you mean " + near + "?"
				}
				*problems = append(*problems, msg)
				continue
			}
			walkConfig(m[key], field.Type, sub, problems)
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			add("%s, but a list is expected (e.g. [a, b])", describeJSON(v))
			return
		}
		for i, item := range list {
			walkConfig(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), problems)
		}
	case reflect.String:
		// A number is taken as the text written (port numbers, passwords of digits). A YAML
		// 1.1 boolean (off, no, yes, on) is not: the decoder would make it "false" or "true"
		// (api.listen: off would listen on "false").
		switch x := v.(type) {
		case map[string]any, []any:
			add("%s, but a single value is expected", describeJSON(v))
		case bool:
			add("YAML reads this value as %t, not as text: quote it (\"off\")", x)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			add("%s, but true or false is expected", describeJSON(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if ok {
			_, err := strconv.ParseInt(n.String(), 10, t.Bits())
			ok = err == nil
		}
		if !ok {
			add("%s, but an integer is expected", describeJSON(v))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if ok {
			_, err := strconv.ParseUint(n.String(), 10, t.Bits())
			ok = err == nil
		}
		if !ok {
			add("%s, but a non-negative integer of %d bits is expected", describeJSON(v), t.Bits())
		}
	}
}

// structKeys maps the json keys of struct t to its fields.
func structKeys(t reflect.Type) map[string]reflect.StructField {
	out := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		if key, ok := jsonKey(t.Field(i)); ok {
			out[key] = t.Field(i)
		}
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describeJSON says what a value is, for a message: `"abc" (text)`, `a list`.
func describeJSON(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "a section"
	case []any:
		return "a list"
	case string:
		return strconv.Quote(x) + " (text)"
	case json.Number:
		return x.String() + " (a number)"
	case bool:
		return strconv.FormatBool(x) + " (true/false)"
	default:
		return fmt.Sprint(x)
	}
}

// nearest returns the candidate closest to word when it is close enough to be a misspelling
// (an edit distance of at most a third of the word, at least 1), "" otherwise.
func nearest(word string, candidates []string) string {
	best, bestDist := "", len(word)/3+1
	if bestDist < 2 {
		bestDist = 2
	}
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(word), c); d < bestDist || d == bestDist && best == "" {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance (optimal string alignment) of a and b, in
// bytes: a swap of two letters (tabels, tables) counts one.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// withoutShadowed drops the problems of later passes (validation) at or under a path an
// earlier pass (decoding) already reported: a value that did not decode is also, say, "not
// set", which would only repeat the first problem.
func withoutShadowed(decoded, later []string) []string {
	var paths []string
	for _, p := range decoded {
		if path, _, ok := strings.Cut(p, ": "); ok {
			paths = append(paths, path)
		}
	}
	var out []string
	for _, p := range later {
		path, _, _ := strings.Cut(p, ": ")
		if !slices.ContainsFunc(paths, func(d string) bool {
			return path == d || strings.HasPrefix(path, d+".") || strings.HasPrefix(path, d+"[")
		}) {
			out = append(out, p)
		}
	}
	return out
}
