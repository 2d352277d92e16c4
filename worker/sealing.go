package worker

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/internal/configref"
)

// SecretsKeySize is the size in bytes of the key [SealSecrets] takes: AES-256.
const SecretsKeySize = 32

// sealedPrefix marks a secret sealed in the config topic: the key's id (the first 4 bytes of
// its SHA-256, hex) and the nonce followed by the AES-256-GCM ciphertext (base64, standard
// alphabet, unpadded) follow, colon-separated. The version lets a later format coexist.
const sealedPrefix = "cdcd-sealed:v1:"

// errSealed means a sealed secret of the config topic could not be opened.
var errSealed = errors.New("sealed secret")

// sealer seals and opens the literal secrets of connector configurations with one
// AES-256-GCM key.
type sealer struct {
	aead cipher.AEAD
	// id names the key in every sealed value, so that a daemon given another key says so
	// rather than "message authentication failed".
	id string
}

// newSealer makes a sealer of a 32-byte key.
func newSealer(key []byte) (*sealer, error) {
	if len(key) != SecretsKeySize {
		return nil, fmt.Errorf("%w: the secrets key has %d bytes, want %d (AES-256)", ErrInvalidOption, len(key), SecretsKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: the secrets key: %w", ErrInvalidOption, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: the secrets key: %w", ErrInvalidOption, err)
	}
	return &sealer{aead: aead, id: KeyID(key)}, nil
}

// KeyID is the id a sealed value gives of its key: 8 hex digits of the key's SHA-256, which
// tell keys apart and reveal nothing usable of a random 256-bit key.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// additionalData binds a sealed value to its connector and key: a value copied into another
// connector's record, or another key of the same record, does not open.
func additionalData(name, key string) []byte {
	return []byte("cdcd config topic\x00" + name + "\x00" + key)
}

// seal returns value sealed for the connector name's key.
func (s *sealer) seal(name, key, value string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(value)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("worker: sealing %s: %w", key, err)
	}
	box := s.aead.Seal(nonce, nonce, []byte(value), additionalData(name, key))
	return sealedPrefix + s.id + ":" + base64.RawStdEncoding.EncodeToString(box), nil
}

// open returns the secret a sealed value holds. Its errors name the key and the key ids,
// never a value.
func (s *sealer) open(name, key, sealed string) (string, error) {
	rest, _ := strings.CutPrefix(sealed, sealedPrefix)
	id, enc, ok := strings.Cut(rest, ":")
	if !ok {
		return "", fmt.Errorf("%w: %s: malformed", errSealed, key)
	}
	if id != s.id {
		return "", fmt.Errorf("%w: %s was sealed with the secrets key %s, and this daemon's key is %s: give it the key it was sealed with (api.secrets_key), or put the configuration again",
			errSealed, key, id, s.id)
	}
	box, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil || len(box) < s.aead.NonceSize() {
		return "", fmt.Errorf("%w: %s: malformed", errSealed, key)
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, box[:n], box[n:], additionalData(name, key))
	if err != nil {
		return "", fmt.Errorf("%w: %s: it does not open with the secrets key %s (altered, or copied from another connector or key)", errSealed, key, s.id)
	}
	return string(plain), nil
}

// sealingStore is a configStore that keeps the literal secrets of the configurations sealed:
// put seals every secret key's literal value (a value of references alone is no secret and is
// stored as it is), load opens them. Everything above it (the manager, its answers, the
// factory) sees the configuration as it was given.
type sealingStore struct {
	configStore
	sealer *sealer
	secret func(key string) bool
}

var _ configStore = (*sealingStore)(nil)

func newSealingStore(inner configStore, s *sealer, secret func(key string) bool) *sealingStore {
	return &sealingStore{configStore: inner, sealer: s, secret: secret}
}

// sealable tells whether the value of key is a literal secret, the values sealed.
func (s *sealingStore) sealable(key, value string) bool {
	return value != "" && s.secret(key) && !configref.Only(value)
}

func (s *sealingStore) put(ctx context.Context, name string, sc *storedConnector) error {
	if sc == nil {
		return s.configStore.put(ctx, name, nil)
	}
	sealed := storedConnector{Config: make(api.Config, len(sc.Config)), Target: sc.Target}
	for k, v := range sc.Config {
		if s.sealable(k, v) {
			var err error
			if v, err = s.sealer.seal(name, k, v); err != nil {
				return err
			}
		}
		sealed.Config[k] = v
	}
	return s.configStore.put(ctx, name, &sealed)
}

// load opens the sealed secrets; a connector one of whose secrets does not open is broken,
// with the reason. A literal secret stored before sealing existed (or by a daemon without a
// key) is returned as it is, and sealed at its connector's next put.
func (s *sealingStore) load(ctx context.Context) (map[string]storedConnector, map[string]error, error) {
	stored, broken, err := s.configStore.load(ctx)
	if err != nil {
		return nil, nil, err
	}
	for name, sc := range stored {
		opened := maps.Clone(sc.Config)
		var bad error
		for k, v := range sc.Config {
			if !s.secret(k) || !strings.HasPrefix(v, sealedPrefix) {
				continue
			}
			if opened[k], err = s.sealer.open(name, k, v); err != nil {
				bad = err
				break
			}
		}
		if bad != nil {
			delete(stored, name)
			broken[name] = bad
			continue
		}
		sc.Config = opened
		stored[name] = sc
	}
	return stored, broken, nil
}
