package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/transform"
)

// TransformConfig is one transform of a connector in the config file: its name, its type and
// its settings, all at one level (docs/transforms.md):
//
//	transforms:
//	  - {name: bigOrders, type: filter, expression: 'after.amount > 100'}
type TransformConfig struct {
	Name     string
	Type     string
	Settings map[string]string
}

// UnmarshalJSON reads a transform's map: name and type, every other key a setting (its value
// as text).
func (t *TransformConfig) UnmarshalJSON(raw []byte) error {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("a transform is a map of settings: %w", err)
	}
	*t = TransformConfig{Settings: map[string]string{}}
	for k, v := range m {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case float64, bool:
			s = fmt.Sprint(v)
		default:
			return fmt.Errorf("transform setting %q: a string, number or boolean, not %T", k, v)
		}
		switch k {
		case "name":
			t.Name = s
		case "type":
			t.Type = s
		default:
			t.Settings[k] = s
		}
	}
	return nil
}

// MarshalJSON writes the map UnmarshalJSON reads.
func (t TransformConfig) MarshalJSON() ([]byte, error) {
	m := map[string]string{"name": t.Name, "type": t.Type}
	for k, v := range t.Settings {
		m[k] = v
	}
	return json.Marshal(m)
}

// flattenTransforms writes transforms in Kafka Connect's flat form into out.
func flattenTransforms(ts []TransformConfig, out api.Config) {
	if len(ts) == 0 {
		return
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
		out["transforms."+t.Name+".type"] = t.Type
		for k, v := range t.Settings {
			out["transforms."+t.Name+"."+k] = v
		}
	}
	out["transforms"] = strings.Join(names, ",")
}

// isTransformKey tells whether a flat key belongs to the transforms.
func isTransformKey(key string) bool {
	return key == "transforms" || strings.HasPrefix(key, "transforms.")
}

// unflattenTransforms reads the flat form's transforms.
func unflattenTransforms(cfg api.Config) ([]TransformConfig, []api.FieldError) {
	specs, err := transform.ParseFlat(cfg)
	if err != nil {
		return nil, []api.FieldError{{Name: "transforms", Message: strings.TrimPrefix(err.Error(), transform.ErrConfig.Error()+": ")}}
	}
	if len(specs) == 0 {
		return nil, nil
	}
	out := make([]TransformConfig, len(specs))
	for i, s := range specs {
		out[i] = TransformConfig{Name: s.Name, Type: s.Type, Settings: s.Settings}
	}
	return out, nil
}

// transformChain builds a connector's chain, checking every setting (a CEL expression
// compiles, a regular expression parses...).
func transformChain(ts []TransformConfig, opts ...transform.BuildOption) (transform.Chain, error) {
	specs := make([]transform.Spec, len(ts))
	for i, t := range ts {
		specs[i] = transform.Spec{Name: t.Name, Type: t.Type, Settings: t.Settings}
	}
	return transform.FromConfig(specs, opts...)
}

// validateTransforms returns the transforms' problems as field errors.
func validateTransforms(ts []TransformConfig) []api.FieldError {
	var errs []api.FieldError
	seen := map[string]bool{}
	for _, t := range ts {
		switch {
		case t.Name == "" || strings.ContainsAny(t.Name, ".,") || strings.TrimSpace(t.Name) != t.Name:
			errs = append(errs, api.FieldError{Name: "transforms", Message: fmt.Sprintf("transform name %q: needed, without dots, commas or spaces", t.Name)})
		case seen[t.Name]:
			errs = append(errs, api.FieldError{Name: "transforms", Message: fmt.Sprintf("transform name %q is used twice", t.Name)})
		}
		seen[t.Name] = true
	}
	if len(errs) > 0 {
		return errs
	}
	if _, err := transformChain(ts); err != nil {
		key := "transforms"
		var se *transform.SettingError
		if errors.As(err, &se) {
			if i := slices.IndexFunc(ts, func(t TransformConfig) bool { return strings.HasPrefix(se.Transform, t.Name+" ") }); i >= 0 {
				key = "transforms." + ts[i].Name + "." + se.Setting
			}
		}
		errs = append(errs, api.FieldError{Name: key, Message: err.Error()})
	}
	return errs
}
