package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/worker"
)

// The literal secrets of the connectors' configurations are sealed in the config topic with
// an AES-256-GCM key (worker.SealSecrets): api.secrets_key, normally a reference, or else a
// key cdcd generates at its first start in its state directory (secretsKeyFile). Without a
// key the topic would hold every literal password in plain text for any client allowed to
// read it; refusing literals instead would break every configuration that has one. A
// generated key keeps a single daemon on one machine working with nothing to set; every
// other setup (a container without a persistent volume, a group of daemons sharing the
// topic) must give api.secrets_key, which docs/security.md says.

// secretsKeyName is the generated key's file name in the state directory.
const secretsKeyName = "secrets.key"

// parseSecretsKey reads a key as api.secrets_key and the key file hold it: the base64
// (standard alphabet, padded or not) of 32 bytes, surrounding whitespace ignored, so that a
// file with a trailing newline serves. Its errors never quote the value.
func parseSecretsKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	key, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64 (make one with: openssl rand -base64 32)")
	}
	if len(key) != worker.SecretsKeySize {
		return nil, fmt.Errorf("%d bytes, want %d (make one with: openssl rand -base64 32)", len(key), worker.SecretsKeySize)
	}
	return key, nil
}

// secretsKeyFile is where cdcd keeps the key it generates: systemd's $STATE_DIRECTORY
// (StateDirectory=cdcd), else $XDG_STATE_HOME/cdcd, else ~/.local/state/cdcd.
func secretsKeyFile() (string, error) {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		// systemd may list several, colon-separated: the first is the unit's own.
		d, _, _ = strings.Cut(d, ":")
		return filepath.Join(d, secretsKeyName), nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "cdcd", secretsKeyName), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory for a generated key (%w): set api.secrets_key", err)
	}
	return filepath.Join(home, ".local", "state", "cdcd", secretsKeyName), nil
}

// daemonSecretsKey returns the key sealing the config topic's literal secrets, and logs which
// one it is (its id and where it comes from, never the key).
func daemonSecretsKey(cfg *Config, log zerolog.Logger) ([]byte, error) {
	if cfg.API.SecretsKey != "" {
		key, err := parseSecretsKey(cfg.API.SecretsKey)
		if err != nil {
			return nil, fmt.Errorf("%w: api.secrets_key: %w", ErrConfig, err)
		}
		log.Info().Str("key_id", worker.KeyID(key)).Str("from", "api.secrets_key").Msg("config topic: literal secrets sealed")
		return key, nil
	}
	path, err := secretsKeyFile()
	if err != nil {
		return nil, fmt.Errorf("%w: api.secrets_key: %w", ErrConfig, err)
	}
	key, created, err := loadOrCreateKey(path)
	if err != nil {
		return nil, fmt.Errorf("%w: api.secrets_key not set, and the generated key %s: %w", ErrConfig, path, err)
	}
	ev := log.Info()
	if created {
		ev = log.Warn()
	}
	ev.Str("key_id", worker.KeyID(key)).Str("file", path).Bool("generated", created).
		Msg("config topic: literal secrets sealed with a key of this machine; every daemon reading the topic needs it (api.secrets_key)")
	return key, nil
}

// loadOrCreateKey reads the key file at path, or creates it (mode 0600, its directory 0700)
// with a new random key. Two daemons starting at once end with the same key: the file is
// written under another name and linked into place, which fails for the second, which then
// reads the first's.
func loadOrCreateKey(path string) (key []byte, created bool, err error) {
	key, err = readKeyFile(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	raw := make([]byte, worker.SecretsKeySize)
	if _, err := rand.Read(raw); err != nil {
		return nil, false, err
	}
	tmp, err := os.CreateTemp(dir, "."+secretsKeyName+".*")
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	// CreateTemp makes the file 0600.
	_, werr := tmp.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n")
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		return nil, false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			key, err = readKeyFile(path)
			return key, false, err
		}
		return nil, false, err
	}
	return raw, true, nil
}

// readKeyFile reads a key file, refusing one that others than its owner may read.
func readKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("mode %v: others than its owner may read it (chmod 600 %s)", st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := parseSecretsKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}
