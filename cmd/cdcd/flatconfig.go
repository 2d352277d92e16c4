package main

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/connectors"
)

// A connector's configuration travels over the REST API as Kafka Connect's do: flat string
// keys and values. The keys are the config file's, nested sections joined with dots
// ("postgres.host"), lists comma-separated ("postgres.tables": "public.a,public.b"). These
// functions convert between that form and ConnectorConfig by the struct's json tags, so that a
// field added to the file format is at once a key of the API.

// Keys of the flat form that are not fields of ConnectorConfig: Kafka Connect's own, accepted
// so that its tools' requests work.
const (
	keyName           = "name"
	keyConnectorClass = "connector.class"
	keyTasksMax       = "tasks.max"
)

// flattenConnector returns c in the flat form (its name aside). Zero values are left out.
func flattenConnector(c ConnectorConfig) api.Config {
	out := api.Config{}
	flattenStruct(reflect.ValueOf(c), "", out)
	flattenTransforms(c.Transforms, out)
	flattenTopicCreation(c.TopicCreation, out)
	return out
}

func flattenStruct(v reflect.Value, prefix string, out api.Config) {
	t := v.Type()
	for i := range t.NumField() {
		key, ok := jsonKey(t.Field(i))
		if !ok || (prefix == "" && (key == keyName || key == "transforms" || key == keyTopicCreation)) {
			continue
		}
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		switch f.Kind() {
		case reflect.Struct:
			flattenStruct(f, prefix+key+".", out)
		case reflect.Slice:
			if f.Len() > 0 {
				out[prefix+key] = strings.Join(f.Interface().([]string), ",")
			}
		default:
			if !f.IsZero() || v.Field(i).Kind() == reflect.Pointer {
				out[prefix+key] = fmt.Sprint(f.Interface())
			}
		}
	}
}

// unflattenConnector reads the flat form into a ConnectorConfig named name. Every key that is
// not a field, and every value that does not parse as its field's type, is a field error.
func unflattenConnector(name string, cfg api.Config) (ConnectorConfig, []api.FieldError) {
	c := ConnectorConfig{Name: name}
	var errs []api.FieldError
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	root := reflect.ValueOf(&c).Elem()
	transforms, terrs := unflattenTransforms(cfg)
	c.Transforms = transforms
	errs = append(errs, terrs...)
	topicCreation, tcerrs := unflattenTopicCreation(cfg)
	c.TopicCreation = topicCreation
	errs = append(errs, tcerrs...)
	for _, key := range keys {
		val := cfg[key]
		if isTransformKey(key) || isTopicCreationKey(key) {
			continue
		}
		switch key {
		case keyName:
			if val != name {
				errs = append(errs, api.FieldError{Name: key, Message: fmt.Sprintf("%q differs from the connector's name %q", val, name)})
			}
			continue
		case keyConnectorClass:
			// Kafka Connect connector classes name cdcd's types: Debezium's, their simple
			// names, and cdcd's own names (Kind.Aliases).
			kinds := daemonKinds()
			k, ok := kinds.Lookup(val)
			if !ok {
				errs = append(errs, api.FieldError{Name: key, Message: fmt.Sprintf("%q is not a connector class cdcd runs (known: %s, and their Debezium classes)",
					val, strings.Join(kinds.Names(), ", "))})
				continue
			}
			typ := k.Name()
			if t, set := cfg["type"]; set && t != typ {
				errs = append(errs, api.FieldError{Name: key, Message: fmt.Sprintf("%q is a %s connector, type says %s", val, typ, t)})
			}
			c.Type = typ
			continue
		case keyTasksMax:
			if val != "1" {
				errs = append(errs, api.FieldError{Name: key, Message: "cdcd runs one task per connector: only 1 is accepted"})
			}
			continue
		}
		own, ferr := debeziumFlatKey(cfg, key)
		if ferr != nil {
			errs = append(errs, *ferr)
			continue
		}
		key = own
		if problem, ok := kafkaPropertyProblem(key); ok {
			errs = append(errs, api.FieldError{Name: key, Message: problem})
			continue
		}
		if err := setFlat(root, strings.Split(key, "."), val); err != nil {
			msg := err.Error()
			if errors.Is(err, errUnknownSetting) {
				if near := nearest(key, flatKeys()); near != "" {
					msg += "; did you mean " + near + "?"
				}
			}
			errs = append(errs, api.FieldError{Name: key, Message: msg})
		}
	}
	return c, errs
}

// errUnknownSetting is setFlat's error for a key that is no field.
var errUnknownSetting = errors.New("unknown setting")

// flatKeys returns every key of the flat form (sections' fields joined with dots), for the
// nearest one to a misspelt key.
func flatKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			key, ok := jsonKey(t.Field(i))
			if !ok || prefix == "" && key == "transforms" {
				continue
			}
			ft := t.Field(i).Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, prefix+key+".")
				continue
			}
			keys = append(keys, prefix+key)
		}
	}
	walk(reflect.TypeFor[ConnectorConfig](), "")
	return keys
}

// setFlat sets the field at path under v (a struct) from its text.
func setFlat(v reflect.Value, path []string, text string) error {
	f, ok := fieldByKey(v, path[0])
	if !ok {
		return errUnknownSetting
	}
	if f.Kind() == reflect.Pointer {
		if f.IsNil() {
			f.Set(reflect.New(f.Type().Elem()))
		}
		f = f.Elem()
	}
	if f.Kind() == reflect.Struct {
		if len(path) == 1 {
			return fmt.Errorf("is a section: set its fields, e.g. %s.host", path[0])
		}
		return setFlat(f, path[1:], text)
	}
	if len(path) > 1 {
		return errUnknownSetting
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(text)
	case reflect.Bool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return fmt.Errorf("%q is not true or false", text)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer", text)
		}
		f.SetInt(n)
	case reflect.Uint32, reflect.Uint16, reflect.Uint64, reflect.Uint:
		n, err := strconv.ParseUint(strings.TrimSpace(text), 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a non-negative integer of %d bits", text, f.Type().Bits())
		}
		f.SetUint(n)
	case reflect.Slice:
		var items []string
		// Empty entries are kept (`a,,b`), so that validation names them rather than
		// silently reading a list other than the one written.
		// A comma inside double quotes is part of a (table) name: s."a,b".
		if strings.TrimSpace(text) != "" {
			for _, item := range connectors.SplitTableList(text) {
				items = append(items, strings.TrimSpace(item))
			}
		}
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from text (%s)", f.Kind())
	}
	return nil
}

// fieldByKey finds the field of struct v whose json key is key.
func fieldByKey(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if k, ok := jsonKey(t.Field(i)); ok && k == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// jsonKey returns a field's json key; false for fields without one.
func jsonKey(f reflect.StructField) (string, bool) {
	tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if tag == "" || tag == "-" {
		return "", false
	}
	return tag, true
}

// secretKeys are the flat keys that hold secrets: masked in the API's answers, never logged.
func isSecretKey(key string) bool {
	last := key[strings.LastIndexByte(key, '.')+1:]
	return strings.HasSuffix(last, "password") || strings.HasSuffix(last, "token") || strings.HasSuffix(last, "secret") ||
		strings.HasSuffix(last, "user_info")
}
