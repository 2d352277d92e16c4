package transform

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// ErrConfig means a transforms configuration is malformed (apart from the settings of one
// transform, which give a *SettingError).
var ErrConfig = errors.New("transform config")

// Spec is one transform as a connector's configuration gives it.
type Spec struct {
	// Name is the transform's alias, as listed in "transforms"; errors name it.
	Name string
	// Type is the transform's type: filter, include_columns, exclude_columns, mask, hash,
	// route, headers, unwrap or outbox.
	Type string
	// Settings are the type's settings (see docs/transforms.md), without the
	// "transforms.<name>." prefix.
	Settings map[string]string
}

// The transform types.
const (
	TypeFilter         = "filter"
	TypeIncludeColumns = "include_columns"
	TypeExcludeColumns = "exclude_columns"
	TypeMask           = "mask"
	TypeHash           = "hash"
	TypeRoute          = "route"
	TypeHeaders        = "headers"
	TypeUnwrap         = "unwrap"
)

// headerPrefix starts the settings of a headers transform that name a static header.
const headerPrefix = "header."

// knownSettings are each type's settings; a headers transform also takes header.<name>.
var knownSettings = map[string][]string{
	TypeFilter:         {"expression"},
	TypeIncludeColumns: {"tables", "columns"},
	TypeExcludeColumns: {"tables", "columns"},
	TypeMask:           {"tables", "columns", "replacement"},
	TypeHash:           {"tables", "columns", "salt"},
	TypeRoute:          {"regex", "replacement"},
	TypeHeaders:        {"op.header"},
	TypeUnwrap:         {"delete.tombstone.handling.mode", "add.fields", "add.headers"},
	TypeOutbox:         outboxSettings,
}

func typeNames() []string {
	out := make([]string, 0, len(knownSettings))
	for t := range knownSettings {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// checkSetting tells whether key is a setting of typ.
func checkSetting(typ, key string) bool {
	if typ == TypeHeaders && strings.HasPrefix(key, headerPrefix) && len(key) > len(headerPrefix) {
		return true
	}
	return slices.Contains(knownSettings[typ], key)
}

// FromConfig builds the chain the specs describe, in order. It fails on an unknown type or
// setting, or a setting a transform rejects, with an error naming the transform and setting
// (a *SettingError).
func FromConfig(specs []Spec, opts ...BuildOption) (Chain, error) {
	var o buildOptions
	for _, opt := range opts {
		opt(&o)
	}
	ch := make(Chain, 0, len(specs))
	for i, s := range specs {
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		t, err := build(s, o)
		if err != nil {
			var se *SettingError
			if errors.As(err, &se) {
				se.Transform = name + " (" + s.Type + ")"
			}
			return nil, err
		}
		ch = append(ch, t)
	}
	return ch, nil
}

func build(s Spec, o buildOptions) (Transform, error) {
	if _, ok := knownSettings[s.Type]; !ok {
		return nil, &SettingError{Setting: "type", Value: s.Type, Reason: "unknown transform type (want one of " + strings.Join(typeNames(), ", ") + ")"}
	}
	keys := make([]string, 0, len(s.Settings))
	for k := range s.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !checkSetting(s.Type, k) {
			return nil, &SettingError{Setting: k, Reason: "unknown setting of a " + s.Type + " transform"}
		}
	}
	get := func(k string) string { return strings.TrimSpace(s.Settings[k]) }
	switch s.Type {
	case TypeFilter:
		return NewFilter(get("expression"))
	case TypeIncludeColumns:
		return NewColumnSelect(IncludeColumns, splitTableList(get("tables")), splitList(get("columns")))
	case TypeExcludeColumns:
		return NewColumnSelect(ExcludeColumns, splitTableList(get("tables")), splitList(get("columns")))
	case TypeMask:
		var opts []MaskOption
		if r, ok := s.Settings["replacement"]; ok {
			opts = append(opts, MaskWith(r))
		}
		return NewMask(splitTableList(get("tables")), splitList(get("columns")), opts...)
	case TypeHash:
		// The salt is taken as written: spaces in it are part of it.
		return NewHash(splitTableList(get("tables")), splitList(get("columns")), []byte(s.Settings["salt"]))
	case TypeRoute:
		return NewRoute(get("regex"), s.Settings["replacement"])
	case TypeOutbox:
		return buildOutbox(get, s.Settings, o)
	case TypeHeaders:
		var static []Header
		for _, k := range keys {
			if strings.HasPrefix(k, headerPrefix) {
				static = append(static, Header{Key: k[len(headerPrefix):], Value: []byte(s.Settings[k])})
			}
		}
		var opts []HeadersOption
		if n := get("op.header"); n != "" {
			opts = append(opts, OpHeader(n))
		}
		return NewHeaders(static, opts...)
	default: // TypeUnwrap
		var opts []UnwrapOption
		if m := get("delete.tombstone.handling.mode"); m != "" {
			d, err := ParseDeleteHandling(m)
			if err != nil {
				return nil, err
			}
			opts = append(opts, UnwrapDeletes(d))
		}
		for _, f := range splitList(get("add.fields")) {
			if f != "op" {
				return nil, &SettingError{Setting: "add.fields", Value: f, Reason: "unknown field (supported: op)"}
			}
			opts = append(opts, UnwrapFields(FieldOp))
		}
		for _, f := range splitList(get("add.headers")) {
			if f != "op" {
				return nil, &SettingError{Setting: "add.headers", Value: f, Reason: "unknown header (supported: op)"}
			}
			opts = append(opts, UnwrapOpHeader(FieldOpName))
		}
		return NewUnwrap(opts...)
	}
}

// ParseFlat reads the transforms of a connector's flat configuration, Kafka Connect's form:
//
//	"transforms": "big,mask"
//	"transforms.big.type": "filter"
//	"transforms.big.expression": "after.amount > 100"
//
// Keys not starting with "transforms" are the connector's and are ignored. It fails, naming
// the key, on an alias listed twice or without a type, a "transforms.<alias>.*" key whose alias
// is not listed, an unknown type, or a setting the type does not have. An absent or empty
// "transforms" gives no specs.
func ParseFlat(cfg map[string]string) ([]Spec, error) {
	var specs []Spec
	index := map[string]int{}
	for _, alias := range strings.Split(cfg["transforms"], ",") {
		alias = strings.TrimSpace(alias)
		switch {
		case alias == "":
			continue
		case strings.Contains(alias, "."):
			return nil, fmt.Errorf("%w: transforms: alias %q contains a dot", ErrConfig, alias)
		}
		if _, dup := index[alias]; dup {
			return nil, fmt.Errorf("%w: transforms: alias %q listed twice", ErrConfig, alias)
		}
		index[alias] = len(specs)
		specs = append(specs, Spec{Name: alias, Settings: map[string]string{}})
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same first error every time
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, "transforms.")
		if !ok {
			continue
		}
		alias, setting, ok := strings.Cut(rest, ".")
		i, listed := index[alias]
		switch {
		case !ok || setting == "":
			return nil, fmt.Errorf("%w: %s: not of the form transforms.<alias>.<setting>", ErrConfig, k)
		case !listed:
			return nil, fmt.Errorf("%w: %s: alias %q is not listed in transforms", ErrConfig, k, alias)
		case setting == "type":
			specs[i].Type = strings.TrimSpace(cfg[k])
		default:
			specs[i].Settings[setting] = cfg[k]
		}
	}
	for _, s := range specs {
		if s.Type == "" {
			return nil, fmt.Errorf("%w: transforms.%s.type: required", ErrConfig, s.Name)
		}
		if _, ok := knownSettings[s.Type]; !ok {
			return nil, fmt.Errorf("%w: transforms.%s.type: unknown transform type %q (want one of %s)", ErrConfig, s.Name, s.Type, strings.Join(typeNames(), ", "))
		}
		for _, k := range slices.Sorted(maps.Keys(s.Settings)) {
			if !checkSetting(s.Type, k) {
				return nil, fmt.Errorf("%w: transforms.%s.%s: unknown setting of a %s transform", ErrConfig, s.Name, k, s.Type)
			}
		}
	}
	return specs, nil
}
