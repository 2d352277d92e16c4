package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// configMapsOf returns the cdcd.yaml of every ConfigMap of a multi-document manifest.
func configMapsOf(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
		var cm struct {
			Kind string            `json:"kind"`
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal([]byte(doc), &cm); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if cfg, ok := cm.Data["cdcd.yaml"]; cm.Kind == "ConfigMap" && ok {
			out = append(out, cfg)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no ConfigMap with a cdcd.yaml", path)
	}
	return out
}

// The configurations of the Kubernetes examples (deploy/kubernetes) are ones cdcd accepts: no
// misspelt key, no invalid value. The secret files they reference are made in a folder of the
// test's; the group's own settings (issue 16's group section) are left out, so that this
// test does not depend on them.
func TestDeployExamplesConfigsParse(t *testing.T) {
	secrets := t.TempDir()
	t.Setenv("CDCD_POD_IP", "10.0.0.7")
	ref := regexp.MustCompile(`\$\{dir:/etc/cdcd/secrets:([^}]+)\}`)
	for _, path := range []string{"../../deploy/kubernetes/sidecar.yaml", "../../deploy/kubernetes/group.yaml"} {
		for _, cfg := range configMapsOf(t, path) {
			for _, m := range ref.FindAllStringSubmatch(cfg, -1) {
				value := "a-secret-of-more-than-16-bytes"
				if m[1] == "secrets-key" { // api.secrets_key: the base64 of 32 bytes
					value = base64.StdEncoding.EncodeToString(make([]byte, 32))
				}
				if err := os.WriteFile(filepath.Join(secrets, m[1]), []byte(value), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg = strings.ReplaceAll(cfg, "${dir:/etc/cdcd/secrets:", "${dir:"+secrets+":")
			var doc map[string]any
			if err := yaml.Unmarshal([]byte(cfg), &doc); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			raw, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parseConfig(raw); err != nil {
				t.Errorf("%s: cdcd refuses its configuration: %v\n%s", path, err, cfg)
			}
		}
	}
}
