package schemaregistry

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/cdcd-dev/cdcd/kafkalog"
)

// The records of the schemas topic follow the layout of Confluent's `_schemas` topic, so that an
// operator who knows one can read the other: the key says what the record is about, the value
// holds its state, and a null value (a tombstone) is a hard delete that compaction eventually
// turns into nothing.

// Key types. Records with another key type (Confluent also writes NOOP, DELETE_SUBJECT, MODE...)
// are skipped, so a topic written by a newer version or by Confluent still loads.
const (
	keyTypeSchema = "SCHEMA"
	keyTypeConfig = "CONFIG"
	// keyTypeIDWatermark is cdcd's own: it keeps the highest id ever issued alive after the
	// versions that carried it are hard-deleted and compacted away, so that an id is never issued
	// twice for different schemas (a consumer may still hold data encoded with the old one).
	keyTypeIDWatermark = "ID_WATERMARK"
)

// Magic numbers of the key layouts, as Confluent writes them.
const (
	magicSchema = 1
	magicConfig = 0
)

// recordKey is the JSON key of a record of the schemas topic.
type recordKey struct {
	KeyType string `json:"keytype"`
	// Subject is absent (null) for the global config and the id watermark.
	Subject *string `json:"subject,omitempty"`
	Version int     `json:"version,omitempty"`
	Magic   int     `json:"magic"`
}

// schemaValue is the JSON value of a SCHEMA record.
type schemaValue struct {
	Subject    string `json:"subject"`
	Version    int    `json:"version"`
	ID         int    `json:"id"`
	Schema     string `json:"schema"`
	SchemaType string `json:"schemaType,omitempty"`
	Deleted    bool   `json:"deleted"`
}

// configValue is the JSON value of a CONFIG record.
type configValue struct {
	CompatibilityLevel string `json:"compatibilityLevel"`
}

// watermarkValue is the JSON value of an ID_WATERMARK record.
type watermarkValue struct {
	MaxID int `json:"maxId"`
}

// errBadRecord marks a record of the schemas topic that cannot be understood; the loader skips
// it rather than refusing to serve every other schema.
var errBadRecord = errors.New("malformed schemas topic record")

// record is one decoded record of the schemas topic. Exactly one of the value pointers matches
// key.KeyType, or none for a tombstone.
type record struct {
	key       recordKey
	schema    *schemaValue
	config    *configValue
	watermark *watermarkValue
}

func schemaKey(subject string, version int) recordKey {
	return recordKey{KeyType: keyTypeSchema, Subject: &subject, Version: version, Magic: magicSchema}
}

// configKey returns the key of subject's config, or of the global config when subject is empty.
func configKey(subject string) recordKey {
	k := recordKey{KeyType: keyTypeConfig, Magic: magicConfig}
	if subject != "" {
		k.Subject = &subject
	}
	return k
}

func watermarkKey() recordKey {
	return recordKey{KeyType: keyTypeIDWatermark, Magic: magicConfig}
}

// encode returns the key and value bytes of r; the value is nil for a tombstone.
func (r record) encode() (key, value []byte, err error) {
	key, err = json.Marshal(r.key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding record key: %w", err)
	}
	var v any
	switch {
	case r.schema != nil:
		v = r.schema
	case r.config != nil:
		v = r.config
	case r.watermark != nil:
		v = r.watermark
	default:
		return key, nil, nil
	}
	value, err = json.Marshal(v)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding record value: %w", err)
	}
	return key, value, nil
}

// recordCodec is the codec of the schemas topic's log: the records of key types this package
// does not handle are skipped.
type recordCodec struct{}

var _ kafkalog.Codec[record] = recordCodec{}

func (recordCodec) Encode(r record) (key, value []byte, err error) { return r.encode() }

func (recordCodec) Decode(key, value []byte) (record, error) {
	r, ok, err := decodeRecord(key, value)
	if err == nil && !ok {
		return r, kafkalog.ErrSkip
	}
	return r, err
}

// decodeRecord parses one record of the schemas topic. It returns ok=false, with no error, for
// a key type this package does not handle.
func decodeRecord(key, value []byte) (r record, ok bool, err error) {
	if len(key) == 0 {
		return record{}, false, fmt.Errorf("%w: empty key", errBadRecord)
	}
	if err := json.Unmarshal(key, &r.key); err != nil {
		return record{}, false, fmt.Errorf("%w: key: %w", errBadRecord, err)
	}
	switch r.key.KeyType {
	case keyTypeSchema:
		if r.key.Subject == nil || *r.key.Subject == "" {
			return record{}, false, fmt.Errorf("%w: schema key without subject", errBadRecord)
		}
		if r.key.Version < 1 {
			return record{}, false, fmt.Errorf("%w: schema key with version %d", errBadRecord, r.key.Version)
		}
		if len(value) == 0 {
			return r, true, nil
		}
		var v schemaValue
		if err := json.Unmarshal(value, &v); err != nil {
			return record{}, false, fmt.Errorf("%w: schema value: %w", errBadRecord, err)
		}
		// The key is what compaction and tombstones act on; a value that disagrees with it
		// would make the state depend on whether compaction has run.
		if v.Subject != *r.key.Subject || v.Version != r.key.Version {
			return record{}, false, fmt.Errorf("%w: schema value for %q version %d under key %q version %d",
				errBadRecord, v.Subject, v.Version, *r.key.Subject, r.key.Version)
		}
		if v.ID < 1 || v.ID > math.MaxInt32 {
			return record{}, false, fmt.Errorf("%w: schema id %d", errBadRecord, v.ID)
		}
		r.schema = &v
	case keyTypeConfig:
		if len(value) == 0 {
			return r, true, nil
		}
		var v configValue
		if err := json.Unmarshal(value, &v); err != nil {
			return record{}, false, fmt.Errorf("%w: config value: %w", errBadRecord, err)
		}
		r.config = &v
	case keyTypeIDWatermark:
		if len(value) == 0 {
			return r, true, nil
		}
		var v watermarkValue
		if err := json.Unmarshal(value, &v); err != nil {
			return record{}, false, fmt.Errorf("%w: id watermark value: %w", errBadRecord, err)
		}
		r.watermark = &v
	default:
		return record{}, false, nil
	}
	return r, true, nil
}
