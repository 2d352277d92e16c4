package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// postgresConfig is the source configuration of a valid postgres connector, as its kind makes
// it when it opens the source.
func postgresConfig(conn ConnectorConfig, log zerolog.Logger) postgres.Config {
	return postgres.SourceConfig(settingsOf(conn, postgres.Kind{}), connectors.Env{Logger: log})
}

// mysqlConfig is the source configuration of a valid mysql connector, as its kind makes it
// when it opens the source.
func mysqlConfig(cfg *Config, conn ConnectorConfig, log zerolog.Logger) mysql.Config {
	return mysql.SourceConfig(settingsOf(conn, mysql.Kind{}), sourceEnv(cfg, nil, log))
}

// TestDaemonKinds: the daemon's table of kinds is consistent (no name or alias twice), and each
// kind's section is a field of ConnectorConfig keyed by the kind's name, so that the file, the
// flat form and the kind agree.
func TestDaemonKinds(t *testing.T) {
	kinds := daemonKinds()
	if err := kinds.Check(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(kinds.Names(), ","); got != "postgres,mysql" {
		t.Errorf("kinds %s, want postgres,mysql (the order users read)", got)
	}
	for _, k := range kinds {
		f, ok := sectionField(reflect.ValueOf(ConnectorConfig{}), k.Name())
		if !ok {
			t.Errorf("kind %s: ConnectorConfig has no section field keyed %q", k.Name(), k.Name())
			continue
		}
		conn := ConnectorConfig{Name: "c", Type: k.Name()}
		reflect.ValueOf(&conn).Elem().FieldByIndex(fieldIndex(t, k.Name())).Set(reflect.New(f.Type().Elem()))
		applyConnectorDefaults(&conn)
		if errs := validateConnector(conn); len(errs) == 0 {
			t.Errorf("kind %s: an empty section passes validation", k.Name())
		}
		for _, alias := range k.Aliases() {
			if got, ok := kinds.Lookup(alias); !ok || got.Name() != k.Name() {
				t.Errorf("alias %s does not resolve to %s", alias, k.Name())
			}
		}
	}
}

func fieldIndex(t *testing.T, key string) []int {
	t.Helper()
	typ := reflect.TypeFor[ConnectorConfig]()
	for i := range typ.NumField() {
		if k, ok := jsonKey(typ.Field(i)); ok && k == key {
			return typ.Field(i).Index
		}
	}
	t.Fatalf("no field %s", key)
	return nil
}

// TestPermanentErrorContract runs the contract between a kind's source and the engine
// (pipelinetest.CheckPermanentErrors) for every kind of the daemon: a new kind gets it by being
// in daemonKinds.
func TestPermanentErrorContract(t *testing.T) {
	for _, k := range daemonKinds() {
		pipelinetest.CheckPermanentErrors(t, k)
	}
}

// TestOpenSourceRefusesAnUnknownKind: a connector of a type no kind has is refused with the
// known ones, not opened as a PostgreSQL source (openSource's default once did).
func TestOpenSourceRefusesAnUnknownKind(t *testing.T) {
	cfg := &Config{Kafka: KafkaConfig{Brokers: []string{"127.0.0.1:1"}}}
	conn := ConnectorConfig{Name: "o", Type: "oracle", TopicPrefix: "o",
		Postgres: &postgres.Section{Host: "127.0.0.1", Port: 1, User: "u", Database: "d"}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src, _, err := openSource(ctx, cfg, conn, nil, zerolog.Nop())
	if err == nil || src != nil {
		t.Fatalf("openSource of type oracle: %v, %v; want an error", src, err)
	}
	for _, want := range []string{`unknown connector type "oracle"`, "known: postgres, mysql"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "postgres source") {
		t.Errorf("err = %v: a PostgreSQL source was tried", err)
	}
}

// TestUnknownTypeNamesTheKind: a type that is another name of a kind (mariadb) is refused in
// the file with the kind to write.
func TestUnknownTypeNamesTheKind(t *testing.T) {
	raw := strings.Replace(validConfig, "type: postgres", "type: postgresql", 1)
	_, err := parseConfig([]byte(raw))
	if err == nil || !strings.Contains(err.Error(), `unknown type "postgresql", known: postgres, mysql; did you mean postgres?`) {
		t.Errorf("err = %v", err)
	}
	conn, errs := unflattenConnector("m", api.Config{"connector.class": "MariaDbConnector", "topic_prefix": "m",
		"mysql.host": "db", "mysql.user": "u"})
	if len(errs) > 0 || conn.Type != "mysql" {
		t.Errorf("connector.class MariaDbConnector: %+v, %v; want type mysql", conn, errs)
	}
}

// TestAPIPluginsAreTheDaemonKinds: the REST API lists and resolves the daemon's kinds, with
// their aliases, as the daemon passes them.
func TestAPIPluginsAreTheDaemonKinds(t *testing.T) {
	srv, err := api.New(validateOnly{}, api.WithPlugins(apiPlugins(daemonKinds())...))
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/connector-plugins", nil))
	if body := w.Body.String(); w.Code != 200 || !strings.Contains(body, `"class":"mysql"`) || !strings.Contains(body, `"class":"postgres"`) ||
		strings.Index(body, "mysql") > strings.Index(body, "postgres") {
		t.Errorf("GET /connector-plugins: %d %s", w.Code, body)
	}
	for name, typ := range map[string]string{"postgres": "postgres", "PostgresConnector": "postgres",
		"io.debezium.connector.mariadb.MariaDbConnector": "mysql", "mariadb": "mysql", "mysql": "mysql"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPut, "http://127.0.0.1/connector-plugins/"+name+"/config/validate", strings.NewReader(`{}`))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, r)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"name":"`+typ+`"`) {
			t.Errorf("validate with plugin %s: %d %s", name, w.Code, w.Body.String())
		}
	}
	w = httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPut, "http://127.0.0.1/connector-plugins/oracle/config/validate", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, r)
	if w.Code != 404 {
		t.Errorf("plugin oracle: %d, want 404", w.Code)
	}
}

// validateOnly is a Backend that answers Validate only: the API names the plugin itself.
type validateOnly struct{ api.Backend }

func (validateOnly) Validate(context.Context, string, api.Config) (api.Validation, error) {
	return api.Validation{}, nil
}
