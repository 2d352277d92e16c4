package main

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/internal/configref"
)

// A configuration value may hold references to secrets (configref: ${env:NAME},
// ${file:/path:key}, ${dir:/path:file}). A connector's configuration is stored as given,
// references unresolved (in the config topic, in memory), and resolved by connectorConfig each
// time it is read to validate, build or act on the connector: a rotated secret is picked up at
// the connector's next start. The daemon's own settings are resolved once, when the file is
// read (resolveSettings).

// resolveConfig returns cfg with its references resolved, and a field error for each value
// whose reference failed (naming the reference, never a value). cfg is not changed.
func resolveConfig(cfg api.Config) (api.Config, []api.FieldError) {
	var out api.Config
	var errs []api.FieldError
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		v := cfg[k]
		if !strings.Contains(v, "${") {
			continue
		}
		r, err := configref.Resolve(v)
		if err != nil {
			errs = append(errs, api.FieldError{Name: k, Message: err.Error()})
			continue
		}
		if r == v {
			continue
		}
		if out == nil {
			out = maps.Clone(cfg)
		}
		out[k] = r
	}
	if out == nil {
		return cfg, errs
	}
	return out, errs
}

// resolveSettings resolves the references in the string fields (and lists of strings) of the
// daemon's own settings, every section of c but the connectors (resolved when each is built).
// It returns a problem ("path: why") for each reference that failed.
func resolveSettings(c *Config) []string {
	var problems []string
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		key, ok := jsonKey(t.Field(i))
		if !ok || key == "connectors" {
			continue
		}
		resolveStrings(v.Field(i), key, &problems)
	}
	return problems
}

// resolveStrings resolves, in place, the strings under v, a field at path.
func resolveStrings(v reflect.Value, path string, problems *[]string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			resolveStrings(v.Elem(), path, problems)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if key, ok := jsonKey(t.Field(i)); ok && v.Field(i).CanSet() {
				resolveStrings(v.Field(i), path+"."+key, problems)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			resolveStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i), problems)
		}
	case reflect.String:
		r, err := configref.Resolve(v.String())
		if err != nil {
			*problems = append(*problems, path+": "+err.Error())
			return
		}
		v.SetString(r)
	}
}

// resolvedConnector returns conn with its references resolved (through its flat form, as the
// API's configurations are), and a field error for each reference that failed. Without
// references, it is conn.
func resolvedConnector(conn ConnectorConfig) (ConnectorConfig, []api.FieldError) {
	flat := flattenConnector(conn)
	resolved, errs := resolveConfig(flat)
	if len(errs) == 0 && maps.Equal(flat, resolved) {
		return conn, nil
	}
	for _, fe := range errs {
		delete(resolved, fe.Name)
	}
	out, _ := unflattenConnector(conn.Name, resolved)
	applyConnectorDefaults(&out)
	return out, errs
}

// The values of api.literal_secrets.
const (
	literalSecretsAllow  = "allow"
	literalSecretsRefuse = "refuse"
)

// literalSecrets returns, with api.literal_secrets: refuse, a field error for each secret key of
// cfg (a flat configuration) holding a literal: anything but references alone. It never quotes
// the value.
func (c *Config) literalSecrets(cfg api.Config) []api.FieldError {
	if c == nil || c.API.LiteralSecrets != literalSecretsRefuse {
		return nil
	}
	var errs []api.FieldError
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		if v := cfg[k]; isSecretKey(k) && v != "" && !configref.Only(v) {
			errs = append(errs, api.FieldError{Name: k, Message: "a literal secret is refused (api.literal_secrets: refuse): " +
				"give a reference, e.g. ${file:/etc/cdcd/secrets.properties:" + k + "}, ${dir:/run/secrets/cdcd:" + k + "} or ${env:NAME}"})
		}
	}
	return errs
}
