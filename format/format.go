package format

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/transform"
)

// Encoder is what a format implements: it turns the transform chain's record of one change into
// the bytes of a Kafka record (the Debezium envelope, or the shape the chain chose), and writes
// the transaction topic's records. It is safe for concurrent use. Each method returns slices the
// caller owns and keeps none of its arguments. Errors say their kind (ErrValue, ErrSchema,
// ErrIncompatible, ErrRegistry) to errors.Is.
type Encoder interface {
	// EncodeRecord returns the topic, key and value of rec's record: the topic is rec.Topic
	// when a route set it, else the change's default topic; the value has rec.Shape, and is
	// nil for a delete whose rec.Tombstone is transform.TombstoneOnly; key is nil for a table
	// without a key. It may block on the format's schema registry at the first record of a
	// table version, topic or shape.
	EncodeRecord(ctx context.Context, rec *transform.Record) (topic string, key, value []byte, err error)
	// EncodeRecordInTransaction is EncodeRecord with the envelope's transaction block tx (nil:
	// null). A flat value has no transaction block and ignores tx.
	EncodeRecordInTransaction(ctx context.Context, rec *transform.Record, tx *TransactionBlock) (topic string, key, value []byte, err error)
	// EncodeTransactionEvent returns the transaction topic's record of ev.
	EncodeTransactionEvent(ctx context.Context, ev *TransactionEvent) (topic string, key, value []byte, err error)
}

// Config is what every format's encoder is built from: the connector's parts of the envelope.
type Config struct {
	// TopicPrefix is Debezium's topic.prefix, the first part of topics and record names.
	// Required.
	TopicPrefix string
	// ConnectorName is source.name; empty: the topic prefix, as in Debezium.
	ConnectorName string
	// Version is source.version; empty: the format's default.
	Version string
	// Source is the connector kind's part of the envelope's source block (its name in
	// source.connector, its fields and where their values come from). Required.
	Source *decoder.SourceBlock
	// Database is source.db for a kind whose db is the connector's database (PostgreSQL); a
	// kind whose db is the table's namespace (MySQL) ignores it.
	Database string
	// Placeholder is what a value the source did not send (an unchanged TOASTed value) is
	// written as; empty: Debezium's default.
	Placeholder string
	// Settings are the connector's settings of its format, by the names the format documents
	// (Kafka Connect's converter properties, e.g. value.converter.schemas.enable); a format
	// refuses a setting it does not know. Nil: the format's defaults.
	Settings map[string]string
}

// DefaultFormat is the format of a connector that names none.
const DefaultFormat = "avro"

// ErrUnknownFormat is wrapped by the error of a format name that is not in the table.
var ErrUnknownFormat = errors.New("format: unknown format")

// Format is one output format: its name in the configuration and how to build its encoder.
type Format struct {
	// Name is what a connector's `format` field says, e.g. "avro".
	Name string
	// New builds an encoder for one connector.
	New func(Config) (Encoder, error)
}

// Formats is the table of the formats a daemon offers. A new format is one entry.
type Formats []Format

// New builds the encoder of the format named name ("": DefaultFormat).
func (fs Formats) New(name string, cfg Config) (Encoder, error) {
	f, err := fs.Lookup(name)
	if err != nil {
		return nil, err
	}
	enc, err := f.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", f.Name, err)
	}
	return enc, nil
}

// Lookup returns the format named name ("": DefaultFormat), or an error wrapping
// ErrUnknownFormat that lists the known names.
func (fs Formats) Lookup(name string) (Format, error) {
	if name == "" {
		name = DefaultFormat
	}
	for _, f := range fs {
		if f.Name == name {
			return f, nil
		}
	}
	return Format{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownFormat, name, strings.Join(fs.Names(), ", "))
}

// Names returns the formats' names, in the table's order.
func (fs Formats) Names() []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return names
}
