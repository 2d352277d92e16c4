package main

import (
	"reflect"
	"slices"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
)

// daemonKinds are the connector kinds cdcd runs, in the order they are listed to users: the
// one list of them. The configuration, the flat form of the REST API, its plugin list and the
// sources opened all go through it; each kind's section is the field of ConnectorConfig whose
// json key is the kind's name.
func daemonKinds() connectors.Kinds {
	return connectors.Kinds{postgres.Kind{}, mysql.Kind{}}
}

// sectionField returns the field of conn (a ConnectorConfig) holding the section keyed name.
func sectionField(conn reflect.Value, name string) (reflect.Value, bool) {
	f, ok := fieldByKey(conn, name)
	if !ok || f.Kind() != reflect.Pointer || f.Type().Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	return f, true
}

// settingsOf returns what kind k reads of conn: the shared settings and k's section (nil when
// conn has none). The section is conn's own: k.Defaults fills it in place.
func settingsOf(conn ConnectorConfig, k connectors.Kind) connectors.Settings {
	skipped, _ := skippedOperations(conn.SkippedOperations) // the default skips truncates only
	s := connectors.Settings{Name: conn.Name, TopicPrefix: conn.TopicPrefix, SkippedOperations: skipped}
	if f, ok := sectionField(reflect.ValueOf(conn), k.Name()); ok && !f.IsNil() {
		s.Section = f.Interface()
	}
	return s
}

// presentSections returns the kinds whose section conn sets.
func presentSections(kinds connectors.Kinds, conn ConnectorConfig) []connectors.Kind {
	var out []connectors.Kind
	for _, k := range kinds {
		if settingsOf(conn, k).Section != nil {
			out = append(out, k)
		}
	}
	return out
}

// copySections returns conn with a copy of each of its sections, so that defaults applied to
// the copy leave conn's as they are.
func copySections(conn ConnectorConfig) ConnectorConfig {
	v := reflect.ValueOf(&conn).Elem()
	for _, k := range daemonKinds() {
		if f, ok := sectionField(v, k.Name()); ok && !f.IsNil() {
			dup := reflect.New(f.Type().Elem())
			dup.Elem().Set(f.Elem())
			f.Set(dup)
		}
	}
	return conn
}

// fieldErrors converts a kind's problems to the API's.
func fieldErrors(errs []connectors.FieldError) []api.FieldError {
	out := make([]api.FieldError, 0, len(errs))
	for _, fe := range errs {
		out = append(out, api.FieldError{Name: fe.Key, Message: fe.Message})
	}
	return out
}

// apiPlugins returns the kinds as the REST API lists them (GET /connector-plugins).
func apiPlugins(kinds connectors.Kinds) []api.Plugin {
	out := make([]api.Plugin, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, api.Plugin{Type: k.Name(), Aliases: slices.Clone(k.Aliases())})
	}
	return out
}
