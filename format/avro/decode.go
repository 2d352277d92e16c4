package avro

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/hamba/avro/v2"
)

// SchemaFetcher returns a registered schema by its id; SRClient implements it.
type SchemaFetcher interface {
	// SchemaByID blocks on the registry; an unknown id is an error.
	SchemaByID(ctx context.Context, id int) (string, error)
}

var _ SchemaFetcher = (*SRClient)(nil)

// ErrNotWireFormat means bytes do not start with the Confluent wire format's magic byte and
// schema id.
var ErrNotWireFormat = errors.New("avro: not in the Confluent wire format")

// Decoder turns records in the Confluent wire format back into values, fetching each schema
// from the registry once. It is for tools (cdcd tail, the demo), not for the hot path.
type Decoder struct {
	fetcher SchemaFetcher
	mu      sync.Mutex
	schemas map[int]avro.Schema
}

// NewDecoder returns a Decoder reading schemas through fetcher.
func NewDecoder(fetcher SchemaFetcher) *Decoder {
	return &Decoder{fetcher: fetcher, schemas: map[int]avro.Schema{}}
}

// DecodeJSON decodes b (nil for a tombstone or a null key) into a value that encoding/json
// writes as Debezium's JSON converter would show the record: unions unwrapped, decimals as
// strings, bytes as base64.
func (d *Decoder) DecodeJSON(ctx context.Context, b []byte) (any, error) {
	if b == nil {
		return nil, nil
	}
	if len(b) < 5 || b[0] != 0 {
		return nil, fmt.Errorf("%w (%d bytes)", ErrNotWireFormat, len(b))
	}
	id := int(binary.BigEndian.Uint32(b[1:5]))
	schema, err := d.schema(ctx, id)
	if err != nil {
		return nil, err
	}
	var v any
	if err := avro.Unmarshal(schema, b[5:], &v); err != nil {
		return nil, fmt.Errorf("decoding with schema %d: %w", id, err)
	}
	return plain(schema, v), nil
}

func (d *Decoder) schema(ctx context.Context, id int) (avro.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.schemas[id]; ok {
		return s, nil
	}
	text, err := d.fetcher.SchemaByID(ctx, id)
	if err != nil {
		return nil, err
	}
	s, err := avro.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("schema %d from the registry: %w", id, err)
	}
	d.schemas[id] = s
	return s, nil
}

// plain walks a value decoded by hamba/avro alongside its schema and returns it in JSON-ready
// form.
func plain(schema avro.Schema, v any) any {
	// The envelope's after field refers by name to the record its before field defines.
	schema = deref(schema)
	switch s := schema.(type) {
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(m))
		for _, f := range s.Fields() {
			out[f.Name()] = plain(f.Type(), m[f.Name()])
		}
		return out
	case *avro.UnionSchema:
		if v == nil {
			return nil
		}
		// hamba wraps a named or complex branch as {"<type name>": value}.
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			for name, inner := range m {
				for _, branch := range s.Types() {
					if branchName(branch) == name {
						return plain(branch, inner)
					}
				}
			}
		}
		for _, branch := range s.Types() {
			if branch.Type() != avro.Null {
				return plain(branch, v)
			}
		}
		return v
	case *avro.ArraySchema:
		items, ok := v.([]any)
		if !ok {
			return v
		}
		out := make([]any, len(items))
		for i, item := range items {
			out[i] = plain(s.Items(), item)
		}
		return out
	}
	switch x := v.(type) {
	case *big.Rat:
		scale := 0
		if p, ok := schema.(*avro.PrimitiveSchema); ok {
			if dec, ok := p.Logical().(*avro.DecimalLogicalSchema); ok {
				scale = dec.Scale()
			}
		}
		return x.FloatString(scale)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	}
	return v
}

func branchName(s avro.Schema) string {
	if n, ok := deref(s).(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}
