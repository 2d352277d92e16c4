package jsonschema

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/format/avro"
	jsonformat "github.com/cdcd-dev/cdcd/format/json"
	"github.com/cdcd-dev/cdcd/transform"
)

// Name is the json-registry format's name in a connector's configuration.
const Name = "json-registry"

// ErrConfig is wrapped by every error of a json-registry encoder's settings.
var ErrConfig = errors.New("json-registry: invalid encoder configuration")

// Registry is the part of a Confluent-compatible schema registry the encoder needs
// (*avro.SRClient is one). Its errors are avro.RegistryError's.
type Registry interface {
	// Compatibility returns the subject's level, or the registry's global level when the
	// subject has none, or "" when neither is set.
	Compatibility(ctx context.Context, subject string) (avro.Compatibility, error)
	// Versions returns the subject's versions, oldest first; none for an unknown subject.
	Versions(ctx context.Context, subject string) ([]avro.Schema, error)
	// RegisterJSON registers schema with schemaType JSON under subject and returns its id.
	RegisterJSON(ctx context.Context, subject, schema string) (int, error)
}

// Options are a json-registry encoder's settings beyond format.Config.
type Options struct {
	// KeyStrategy and ValueStrategy name the subjects (TopicNameStrategy by default).
	KeyStrategy, ValueStrategy avro.SubjectStrategy
	// Compatibility is the level checked when the registry has none for a subject; "" is
	// BACKWARD, the registries' default.
	Compatibility avro.Compatibility
	// JSON are the payload's settings (the handling modes, decimal.format), as the json format
	// reads them; schemas are never inlined.
	JSON jsonformat.Options
}

// ParseSettings reads the format's settings: the subject name strategies (the avro format's
// key.subject.name.strategy, value.subject.name.strategy), decimal.format ("numeric", the
// default, as JsonSchemaConverter writes a decimal, or "base64") and the handling modes. An
// unknown key or value is an error.
func ParseSettings(s map[string]string) (Options, error) {
	json := map[string]string{jsonformat.SettingDecimalFormat: "numeric"}
	var o Options
	for k, v := range s {
		var err error
		switch k {
		case avro.SettingKeySubjectStrategy:
			o.KeyStrategy, err = avro.ParseSubjectStrategy(v)
		case avro.SettingValueSubjectStrategy:
			o.ValueStrategy, err = avro.ParseSubjectStrategy(v)
		case jsonformat.SettingKeySchemas, jsonformat.SettingValueSchemas:
			err = errors.New("the json-registry format's schemas are in the registry")
		default:
			json[k] = v
			continue
		}
		if err != nil {
			return Options{}, fmt.Errorf("%w: %s=%q: %w", ErrConfig, k, v, err)
		}
	}
	j, err := jsonformat.ParseSettings(json)
	if err != nil {
		return Options{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	j.KeySchemas, j.ValueSchemas = false, false
	o.JSON = j
	return o, nil
}

// Format is the json-registry format of a daemon's format table: its encoders register their
// schemas in registry, checked at level compatibility when a subject has none ("": BACKWARD).
// A nil registry, or one that cannot register JSON Schemas, fails the encoder's creation.
func Format(registry avro.Registry, compatibility avro.Compatibility) format.Format {
	return format.Format{Name: Name, New: func(c format.Config) (format.Encoder, error) {
		reg, ok := registry.(Registry)
		if !ok || registry == nil {
			return nil, fmt.Errorf("%w: the schema registry client cannot register JSON Schemas", ErrConfig)
		}
		o, err := ParseSettings(c.Settings)
		if err != nil {
			return nil, err
		}
		if o.Compatibility == "" {
			o.Compatibility = compatibility
		}
		return NewEncoder(c, reg, o)
	}}
}

// Encoder writes change events as Confluent's JsonSchemaConverter does. It is safe for
// concurrent use.
type Encoder struct {
	payload *jsonformat.Encoder
	reg     Registry
	opts    Options
	prefix  string

	mu sync.RWMutex
	// ids caches each schema's id by the address of the json encoder's Connect schema (the
	// same slice for every record of a table version, topic and shape), topic and part.
	ids map[idKey]int
	// regMu serialises registrations, so that one table's first records register once.
	regMu sync.Mutex
	// registered maps {subject, canonical JSON Schema} to its id.
	registered map[[2]string]int
}

type idKey struct {
	schema *byte
	topic  string
	part   avro.Part
}

// NewEncoder returns the encoder of one connector.
func NewEncoder(c format.Config, reg Registry, o Options) (*Encoder, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: a schema registry is required", ErrConfig)
	}
	o.JSON.KeySchemas, o.JSON.ValueSchemas = false, false
	o.JSON.Reserve = headerSize
	if o.Compatibility == "" {
		o.Compatibility = avro.CompatBackward
	}
	payload, err := jsonformat.NewEncoder(c, o.JSON)
	if err != nil {
		return nil, fmt.Errorf("json-registry: %w", err)
	}
	return &Encoder{payload: payload, reg: reg, opts: o, prefix: c.TopicPrefix,
		ids: map[idKey]int{}, registered: map[[2]string]int{}}, nil
}

var _ format.Encoder = (*Encoder)(nil)

// EncodeRecord writes rec without a transaction block.
func (e *Encoder) EncodeRecord(ctx context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	return e.EncodeRecordInTransaction(ctx, rec, nil)
}

// EncodeRecordInTransaction writes rec with the envelope's transaction block tx: the json
// format's payloads without schemas, each behind the wire format's header of its schema's id.
func (e *Encoder) EncodeRecordInTransaction(ctx context.Context, rec *transform.Record, tx *format.TransactionBlock) (topic string, key, value []byte, err error) {
	if rec != nil && rec.Shape == transform.ShapeOutbox {
		return "", nil, nil, errOutbox
	}
	keySchema, valueSchema, err := e.payload.ConnectSchemas(rec)
	if err != nil {
		return "", nil, nil, fmt.Errorf("json-registry: %w", err)
	}
	topic, key, value, err = e.payload.EncodeRecordInTransaction(ctx, rec, tx)
	if err != nil {
		return "", nil, nil, fmt.Errorf("json-registry: %w", err)
	}
	t := rec.Change.Table
	table := t.Namespace + "." + t.Name
	if key != nil {
		if key, err = e.frame(ctx, table, topic, avro.PartKey, keySchema, key); err != nil {
			return "", nil, nil, err
		}
	}
	if value != nil {
		if value, err = e.frame(ctx, table, topic, avro.PartValue, valueSchema, value); err != nil {
			return "", nil, nil, err
		}
	}
	return topic, key, value, nil
}

// EncodeTransactionEvent returns the transaction topic's record of ev.
func (e *Encoder) EncodeTransactionEvent(ctx context.Context, ev *format.TransactionEvent) (topic string, key, value []byte, err error) {
	topic, key, value, err = e.payload.EncodeTransactionEvent(ctx, ev)
	if err != nil {
		return "", nil, nil, fmt.Errorf("json-registry: %w", err)
	}
	if key, err = e.frame(ctx, "transaction metadata", topic, avro.PartKey, txKeySchema, key); err != nil {
		return "", nil, nil, err
	}
	if value, err = e.frame(ctx, "transaction metadata", topic, avro.PartValue, txValueSchema, value); err != nil {
		return "", nil, nil, err
	}
	return topic, key, value, nil
}

// The transaction topic's Connect schemas, at addresses that stay (frame's cache key).
var (
	txKeySchema   = []byte(jsonformat.TransactionKeySchema)
	txValueSchema = []byte(jsonformat.TransactionValueSchema)
)

// headerSize is the wire format's header: the magic byte and the schema id.
const headerSize = 5

// frame writes the wire format's header into the first headerSize bytes of b (left free by the
// json encoder, the document after them): magic byte 0 and the id of the schema derived from
// connect, registered under the subject of topic and part.
func (e *Encoder) frame(ctx context.Context, table, topic string, part avro.Part, connect, b []byte) ([]byte, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("json-registry: table %s: %w: no room for the header", table, format.ErrValue)
	}
	k := idKey{topic: topic, part: part}
	if len(connect) > 0 {
		k.schema = &connect[0]
	}
	e.mu.RLock()
	id, ok := e.ids[k]
	e.mu.RUnlock()
	if !ok {
		var err error
		if id, err = e.register(ctx, table, topic, part, connect); err != nil {
			return nil, err
		}
		if k.schema != nil {
			e.mu.Lock()
			e.ids[k] = id
			e.mu.Unlock()
		}
	}
	b[0] = 0
	binary.BigEndian.PutUint32(b[1:headerSize], uint32(id))
	return b, nil
}

// register derives the JSON Schema of connect and returns its id under its subject: the id of
// the subject's version that holds it, else a new version once the compatibility check passed.
func (e *Encoder) register(ctx context.Context, table, topic string, part avro.Part, connect []byte) (int, error) {
	doc, err := FromConnect(connect, e.opts.JSON.DecimalNumeric)
	if err != nil {
		return 0, fmt.Errorf("json-registry: table %s: %w: %w", table, format.ErrSchema, err)
	}
	text := Canonical(doc)
	strategy := e.opts.ValueStrategy
	if part == avro.PartKey {
		strategy = e.opts.KeyStrategy
	}
	subject := strategy.Subject(topic, part, Title(doc))

	e.regMu.Lock()
	defer e.regMu.Unlock()
	if id, ok := e.registered[[2]string{subject, text}]; ok {
		return id, nil
	}
	versions, err := e.reg.Versions(ctx, subject)
	if err != nil {
		return 0, fmt.Errorf("json-registry: table %s: %w", table, err)
	}
	// A schema the subject holds at any version is reused unchecked, as the avro format does:
	// a restart may replay rows older than the subject's latest version.
	existing := make([]any, 0, len(versions))
	for _, v := range versions {
		old, err := Parse(v.Schema)
		if err != nil {
			return 0, fmt.Errorf("json-registry: subject %s version %d is no JSON Schema: %w: %w", subject, v.Version, format.ErrSchema, err)
		}
		if Canonical(old) == text {
			e.registered[[2]string{subject, text}] = v.ID
			return v.ID, nil
		}
		existing = append(existing, old)
	}
	level, err := e.reg.Compatibility(ctx, subject)
	if err != nil {
		return 0, fmt.Errorf("json-registry: table %s: %w", table, err)
	}
	if level == "" {
		level = e.opts.Compatibility
	}
	if err := CheckCompatible(level, doc, existing); err != nil {
		var inc *avro.IncompatibleError
		if errors.As(err, &inc) {
			inc.Subject, inc.Table = subject, table
			inc.Column = columnOf(inc.Column)
			if len(versions) > 0 {
				inc.NewVersion = versions[len(versions)-1].Version + 1
			}
		}
		return 0, fmt.Errorf("json-registry: new schema of %s: %w", table, err)
	}
	id, err := e.reg.RegisterJSON(ctx, subject, text)
	if code, msg, refused := avro.Refusal(err); refused {
		return 0, &refusalError{table: table, subject: subject, code: code, message: msg}
	}
	if err != nil {
		return 0, fmt.Errorf("json-registry: table %s: %w", table, err)
	}
	e.registered[[2]string{subject, text}] = id
	return id, nil
}

// errOutbox refuses an outbox event: its payload's schema is the application's, not derived
// from a table here.
var errOutbox = &refusalError{table: "outbox", message: "the json-registry format does not write outbox events: use avro or json"}

// columnOf turns a property path of an envelope (before.qty, after.qty) into the column's
// name; other paths stay as they are.
func columnOf(path string) string {
	for _, p := range []string{"before.", "after."} {
		if rest, ok := strings.CutPrefix(path, p); ok {
			return rest
		}
	}
	return path
}

// refusalError is the registry's refusal of a schema cdcd's own check let through (another
// level on the registry, or its own rules): an incompatible or invalid schema stays so, so
// the connector stops.
type refusalError struct {
	table, subject string
	code           int
	message        string
}

func (e *refusalError) Error() string {
	if e.code == 0 {
		return "json-registry: " + e.message
	}
	return fmt.Sprintf("json-registry: table %s: the schema registry refused the new schema of subject %s (error %d): %s",
		e.table, e.subject, e.code, e.message)
}

// Is makes the error of the kind format.ErrIncompatible (a 409) or format.ErrSchema.
func (e *refusalError) Is(target error) bool {
	if e.code == 409 || e.code/100 == 409 {
		return target == format.ErrIncompatible
	}
	return target == format.ErrSchema
}

// Retryable is false: the registry would refuse the same schema again.
func (e *refusalError) Retryable() bool { return false }
