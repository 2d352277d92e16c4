package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/pipeline"
)

func pgFlat(password string) api.Config {
	return api.Config{"type": "postgres", "topic_prefix": "demo", "postgres.host": "db", "postgres.user": "cdcd",
		"postgres.password": password, "postgres.database": "shop", "postgres.tables": "public.a"}
}

// Validation resolves a reference: one that resolves is valid, one that fails is a field error
// naming the key and the reference, never a value.
func TestFactoryValidateResolvesReferences(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "pg.properties")
	if err := os.WriteFile(props, []byte("password=Pw-in-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CDCD_TEST_PGHOST", "db.example")
	f := &connectorFactory{cfg: &Config{}, log: zerolog.Nop()}
	ok := pgFlat("${file:" + props + ":password}")
	ok["postgres.host"] = "${env:CDCD_TEST_PGHOST}"
	if errs := f.Validate(t.Context(), "inv", ok); len(errs) > 0 {
		t.Fatalf("Validate: %v; want a resolvable reference valid", errs)
	}
	conn, errs := f.connectorConfig("inv", ok)
	if len(errs) > 0 || conn.Postgres.Password != "Pw-in-file" || conn.Postgres.Host != "db.example" {
		t.Fatalf("connectorConfig resolved %q, %q (%v)", conn.Postgres.Password, conn.Postgres.Host, errs)
	}
	if ok["postgres.password"] != "${file:"+props+":password}" {
		t.Fatal("connectorConfig changed the configuration it was given")
	}

	for _, ref := range []string{"${file:" + props + ":nokey}", "${env:CDCD_TEST_UNSET_VAR}", "${dir:" + dir + ":none}", "${vault:a:b}"} {
		errs := f.Validate(t.Context(), "inv", pgFlat(ref))
		if len(errs) != 1 || errs[0].Name != "postgres.password" || !strings.Contains(errs[0].Message, ref) {
			t.Errorf("%s: %v; want one error of postgres.password naming the reference", ref, errs)
		}
		for _, fe := range errs {
			if strings.Contains(fe.Message, "Pw-in-file") {
				t.Errorf("%s: the error shows the file's secret: %v", ref, fe)
			}
		}
	}
}

// A stored configuration whose reference no longer resolves fails the build for good (the
// connector FAILED, not retried forever), naming the reference.
func TestFactoryBuildFailsOnUnresolvableReference(t *testing.T) {
	f := &connectorFactory{cfg: &Config{}, log: zerolog.Nop()}
	ref := "${file:" + filepath.Join(t.TempDir(), "gone.properties") + ":password}"
	_, err := f.Build(t.Context(), "inv", pgFlat(ref))
	if err == nil || !strings.Contains(err.Error(), ref) || !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("Build: %v; want ErrInvalid naming the reference", err)
	}
	if pipeline.IsRetryable(err) {
		t.Fatalf("Build: %v is retryable; want it permanent", err)
	}
}

// The config file: the daemon's settings are resolved when it is read; a connector's
// references are validated resolved and kept unresolved, to be resolved at each build.
func TestParseConfigReferences(t *testing.T) {
	t.Setenv("CDCD_TEST_TOKEN", "api-token-value")
	t.Setenv("CDCD_TEST_PW", "pg-pw")
	raw := strings.Replace(validConfig, "password: s3cret", "password: ${env:CDCD_TEST_PW}", 1) +
		"api:\n  listen: 127.0.0.1:8083\n  token: ${env:CDCD_TEST_TOKEN}\n"
	cfg, err := parseConfig([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Token != "api-token-value" {
		t.Errorf("api.token = %q, want the variable's value", cfg.API.Token)
	}
	if got := cfg.Connectors[0].Postgres.Password; got != "${env:CDCD_TEST_PW}" {
		t.Errorf("the connector's password = %q, want the reference kept", got)
	}

	bad := strings.Replace(validConfig, "password: s3cret", "password: ${env:CDCD_TEST_UNSET_VAR}", 1) +
		"api:\n  token: ${env:CDCD_TEST_UNSET_TOKEN}\n"
	_, err = parseConfig([]byte(bad))
	for _, want := range []string{
		"api.token: ${env:CDCD_TEST_UNSET_TOKEN}: the environment variable CDCD_TEST_UNSET_TOKEN is not set",
		"connectors[0].postgres.password: ${env:CDCD_TEST_UNSET_VAR}",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseConfig: %v; want it to say %q", err, want)
		}
	}
}

// api.literal_secrets: refuse refuses a literal in a secret key, over the API as in the file,
// and accepts references alone; the error never quotes the value.
func TestLiteralSecretsRefused(t *testing.T) {
	t.Setenv("CDCD_TEST_PW", "pg-pw")
	f := &connectorFactory{cfg: &Config{API: APIConfig{LiteralSecrets: literalSecretsRefuse}}, log: zerolog.Nop()}
	for value, refused := range map[string]bool{
		"Literal-Pw":                  true,
		"pre${env:CDCD_TEST_PW}":      true,
		"${env:CDCD_TEST_PW}":         false,
		"${env:CDCD_TEST_PW}${env:A}": false, // A is unset: refused as unresolvable, not as literal
	} {
		errs := f.Validate(t.Context(), "inv", pgFlat(value))
		literal := false
		for _, fe := range errs {
			if strings.Contains(fe.Message, "literal secret is refused") {
				literal = fe.Name == "postgres.password"
			}
			if strings.Contains(fe.Message, "Literal-Pw") {
				t.Errorf("%q: the error quotes the value: %v", value, fe)
			}
		}
		if literal != refused {
			t.Errorf("%q: errors %v; want a literal refused: %v", value, errs, refused)
		}
	}
	if errs := (&connectorFactory{cfg: &Config{}}).Validate(t.Context(), "inv", pgFlat("Literal-Pw")); len(errs) > 0 {
		t.Errorf("by default a literal is allowed: %v", errs)
	}

	refuse := validConfig + "api:\n  literal_secrets: refuse\n"
	if _, err := parseConfig([]byte(refuse)); err == nil || !strings.Contains(err.Error(), "connectors[0].postgres.password: a literal secret is refused") ||
		strings.Contains(err.Error(), "s3cret") {
		t.Errorf("parseConfig: %v; want the file's literal password refused, unquoted", err)
	}
	if _, err := parseConfig([]byte(strings.Replace(refuse, "password: s3cret", "password: ${env:CDCD_TEST_PW}", 1))); err != nil {
		t.Errorf("parseConfig: %v; want a reference accepted", err)
	}
	if _, err := parseConfig([]byte(validConfig + "api:\n  literal_secrets: never\n")); err == nil || !strings.Contains(err.Error(), "api.literal_secrets") {
		t.Errorf("parseConfig: %v; want an unknown literal_secrets refused", err)
	}
}
