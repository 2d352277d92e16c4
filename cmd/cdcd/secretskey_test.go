package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/worker"
)

// api.secrets_key is checked when the file is read (a reference resolved first), never
// quoted; a valid one is the key.
func TestSecretsKeySetting(t *testing.T) {
	key := bytes.Repeat([]byte{3}, worker.SecretsKeySize)
	enc := base64.StdEncoding.EncodeToString(key)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k"), []byte(enc+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for value, want := range map[string]string{
		"not-a-key!": "api.secrets_key: not base64",
		base64.StdEncoding.EncodeToString(key[:16]): "api.secrets_key: 16 bytes, want 32",
		enc:                          "",
		strings.TrimRight(enc, "="):  "",
		"${dir:" + dir + ":k}":       "",
		"${dir:" + dir + ":missing}": "api.secrets_key: ${dir:",
	} {
		c, err := parseConfig([]byte(validConfig + "api:\n  secrets_key: \"" + value + "\"\n"))
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", value, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: %v; want it to say %q", value, err, want)
		case err != nil && value != "" && !strings.HasPrefix(value, "${") && strings.Contains(err.Error(), value):
			t.Errorf("%q: the error quotes the key: %v", value, err)
		case err == nil:
			got, err := daemonSecretsKey(c, zerolog.Nop())
			if err != nil || !bytes.Equal(got, key) {
				t.Errorf("%q: key %x, %v; want %x", value, got, err, key)
			}
		}
	}
}

// Without api.secrets_key, the daemon generates a key in its state directory (0600, in a
// 0700 directory) at its first start and reads the same at the next; daemons starting at
// once share one; a key file others may read is refused.
func TestGeneratedSecretsKey(t *testing.T) {
	state := t.TempDir()
	t.Setenv("STATE_DIRECTORY", filepath.Join(state, "cdcd"))
	var wg sync.WaitGroup
	keys := make([][]byte, 8)
	for i := range keys {
		wg.Go(func() {
			k, err := daemonSecretsKey(&Config{}, zerolog.Nop())
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !bytes.Equal(k, keys[0]) || len(k) != worker.SecretsKeySize {
			t.Fatalf("keys %x and %x; want one 32-byte key", keys[0], k)
		}
	}
	path := filepath.Join(state, "cdcd", secretsKeyName)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v; want mode 0600", st, err)
	}
	if d, err := os.Stat(filepath.Dir(path)); err != nil || d.Mode().Perm() != 0o700 {
		t.Fatalf("key directory %v, %v; want mode 0700", d, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the state directory holds %d files, want the key alone", len(entries))
	}
	again, err := daemonSecretsKey(&Config{}, zerolog.Nop())
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Fatalf("second start: %x, %v; want the first key", again, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := daemonSecretsKey(&Config{}, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a readable key file: %v; want it refused", err)
	}
}
