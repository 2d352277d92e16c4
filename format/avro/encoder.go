package avro

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

// SubjectStrategy says how a record's subject is named, as the Confluent serializers' strategies do.
type SubjectStrategy uint8

// The subject strategies.
const (
	// TopicNameStrategy: <topic>-key and <topic>-value (the default).
	TopicNameStrategy SubjectStrategy = iota
	// RecordNameStrategy: the record's full name (<prefix>.<ns>.<table>.Key / .Envelope).
	RecordNameStrategy
	// TopicRecordNameStrategy: <topic>-<record full name>.
	TopicRecordNameStrategy
)

// Part says whether a subject is for a record's key or its value.
type Part uint8

// The parts of a record.
const (
	PartKey Part = iota
	PartValue
)

// Subject returns the subject of the part of topic whose schema is the record recordName.
func (s SubjectStrategy) Subject(topic string, part Part, recordName string) string {
	switch s {
	case RecordNameStrategy:
		return recordName
	case TopicRecordNameStrategy:
		return topic + "-" + recordName
	default:
		if part == PartKey {
			return topic + "-key"
		}
		return topic + "-value"
	}
}

// ErrConfig is wrapped by every error of NewEncoder's validation.
var ErrConfig = errors.New("avro: invalid encoder configuration")

// config holds the Encoder's settings; defaults() is the one place they are set.
type config struct {
	topicPrefix   string
	connectorName string
	source        *decoder.SourceBlock
	database      string
	version       string
	registry      Registry
	placeholder   string
	strategy      SubjectStrategy
	keyStrategy   SubjectStrategy
	modes         format.Modes
	compat        Compatibility
	now           func() time.Time
}

func defaults() config {
	return config{
		version:     "cdcd",
		placeholder: DefaultPlaceholder,
		strategy:    TopicNameStrategy,
		compat:      CompatBackward,
		now:         time.Now,
	}
}

func (c *config) validate() error {
	switch {
	case c.topicPrefix == "":
		return fmt.Errorf("%w: a topic prefix is required", ErrConfig)
	case c.registry == nil:
		return fmt.Errorf("%w: a registry is required", ErrConfig)
	case c.source.Check() != nil:
		return fmt.Errorf("%w: %w", ErrConfig, c.source.Check())
	case c.strategy > TopicRecordNameStrategy || c.keyStrategy > TopicRecordNameStrategy:
		return fmt.Errorf("%w: unknown subject strategy %d", ErrConfig, max(c.strategy, c.keyStrategy))
	case !c.compat.valid():
		return fmt.Errorf("%w: unknown default compatibility %q", ErrConfig, c.compat)
	case c.now == nil:
		return fmt.Errorf("%w: nil clock", ErrConfig)
	}
	return nil
}

// Option configures an Encoder.
type Option func(*config)

// WithTopicPrefix sets Debezium's topic.prefix, the first part of topics and schema names.
// Required.
func WithTopicPrefix(p string) Option { return func(c *config) { c.topicPrefix = p } }

// WithConnectorName sets source.name. Default: the topic prefix, as in Debezium.
func WithConnectorName(n string) Option { return func(c *config) { c.connectorName = n } }

// WithSource sets the source connector's kind of source block (source.connector and the kind's
// fields: connectors/postgres.SourceBlock, connectors/mysql.SourceBlock). Required.
func WithSource(b *decoder.SourceBlock) Option { return func(c *config) { c.source = b } }

// WithDatabase sets source.db for a kind whose db is the connector's database (PostgreSQL: the
// database the slot belongs to). MySQL's source.db is the table's database. Default: empty.
func WithDatabase(db string) Option { return func(c *config) { c.database = db } }

// WithVersion sets source.version. Default: "cdcd".
func WithVersion(v string) Option { return func(c *config) { c.version = v } }

// WithRegistry sets the schema registry. Required.
func WithRegistry(r Registry) Option { return func(c *config) { c.registry = r } }

// WithPlaceholder sets what an unchanged value is written as. Default: DefaultPlaceholder.
func WithPlaceholder(p string) Option { return func(c *config) { c.placeholder = p } }

// WithSubjectStrategy sets how the subjects of keys and values are named (Confluent's
// key.subject.name.strategy and value.subject.name.strategy both). Default: TopicNameStrategy.
func WithSubjectStrategy(s SubjectStrategy) Option {
	return func(c *config) { c.strategy, c.keyStrategy = s, s }
}

// WithKeySubjectStrategy sets how the subjects of keys are named (key.subject.name.strategy),
// after WithSubjectStrategy. Default: TopicNameStrategy.
func WithKeySubjectStrategy(s SubjectStrategy) Option { return func(c *config) { c.keyStrategy = s } }

// WithValueSubjectStrategy sets how the subjects of values are named
// (value.subject.name.strategy), after WithSubjectStrategy. Default: TopicNameStrategy.
func WithValueSubjectStrategy(s SubjectStrategy) Option { return func(c *config) { c.strategy = s } }

// WithModes sets the handling modes (decimal, time and binary: format.Modes). Default: the
// zero Modes, Debezium's defaults.
func WithModes(m format.Modes) Option { return func(c *config) { c.modes = m } }

// WithDefaultCompatibility sets the level checked when the registry has none for a subject.
// Default: CompatBackward, the Confluent registry's default.
func WithDefaultCompatibility(l Compatibility) Option { return func(c *config) { c.compat = l } }

// WithClock sets the processing-time clock (envelope ts_ms). Default: time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Encoder turns Changes into Kafka records in the Confluent wire format. It is safe for
// concurrent use. The first record of a *decoder.Table in a given topic and value shape
// derives, checks and registers its schemas; every later one only appends bytes.
type Encoder struct {
	cfg        config
	sourceHead []byte // source.version, .connector, .name: the same for every record

	mu     sync.RWMutex
	tables map[codecKey]*tableCodec
	// last is the codec found for the last record: a stream's records mostly come from the
	// table of the record before, which then costs a comparison instead of the map's hash
	// and lock. A codec in tables is never replaced, so a stale last is still right for its
	// key.
	last atomic.Pointer[tableCodec]
	// regMu serialises the slow path, so that a table is registered once.
	regMu sync.Mutex
	// ids caches registered ids by subject and schema text: a new *Table with an unchanged
	// schema (a relation message re-sent after a reconnect) costs no registry call. idsMu
	// guards it: PrepareTables registers several tables at once.
	idsMu sync.Mutex
	ids   map[subjectSchema]int
	// txCodec is the transaction topic's, set at its first record (txmeta.go).
	txCodec *txCodec
	// names remembers which table each sanitised default topic and record namespace was
	// first given to (under regMu), so that a second table named alike fails (names.go).
	names tableNames
	// outbox holds the codecs of outbox events (outbox.go).
	outbox outboxCodecs
}

type subjectSchema struct{ subject, schema string }

// codecKey says which codec a record needs: its table version, its topic when a route
// changed it ("" for the table's default topic), and the shape of its value. A route or an
// unwrap makes other subjects or another value schema of the same table, so each combination
// has a codec of its own.
type codecKey struct {
	table  *decoder.Table
	topic  string
	shape  transform.Shape
	fields transform.FlatFields // only for transform.ShapeFlat
}

// tableCodec is everything needed to encode the records of one table version in one topic
// and value shape.
type tableCodec struct {
	k              codecKey // its key in Encoder.tables
	topic          string
	shape          transform.Shape
	fields         transform.FlatFields
	keyID, valueID int
	key            *rowPlan // nil: the key is null
	row            *rowPlan
	db             []byte                // encoded source.db
	tableSrc       []byte                // encoded leading fields of the kind's that the table decides (schema, table)
	srcFields      []decoder.SourceField // the kind's fields after those
	sizeHint       atomic.Int64
}

// NewEncoder returns an Encoder configured by opts.
func NewEncoder(opts ...Option) (*Encoder, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.connectorName == "" {
		cfg.connectorName = cfg.topicPrefix
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	head := appendString(nil, cfg.version)
	head = appendString(head, cfg.source.Connector)
	head = appendString(head, cfg.connectorName)
	return &Encoder{
		cfg:        cfg,
		sourceHead: head,
		tables:     map[codecKey]*tableCodec{},
		ids:        map[subjectSchema]int{},
		names:      tableNames{},
	}, nil
}

// Encode returns the topic, key and value of c, in the envelope shape and the table's default
// topic. key is nil when the table has no key and for truncates. The returned slices are the
// caller's. The first Change of a *decoder.Table blocks on the registry; an incompatible schema
// change returns an error wrapping *IncompatibleError and registers nothing; a registry failure
// returns one wrapping *RegistryError; a value the schema cannot hold returns one wrapping
// *EncodeError.
func (e *Encoder) Encode(ctx context.Context, c *decoder.Change) (topic string, key, value []byte, err error) {
	if c == nil || c.Table == nil {
		return "", nil, nil, fmt.Errorf("avro: encode: %w: change without table", ErrBadValue)
	}
	return e.encode(ctx, codecKey{table: c.Table}, c, transform.TombstoneDefault, nil)
}

// encode writes c with the codec of k and, in an envelope, the transaction block tx.
func (e *Encoder) encode(ctx context.Context, k codecKey, c *decoder.Change, tomb transform.Tombstone, tx *format.TransactionBlock) (topic string, key, value []byte, err error) {
	if b := c.Source.Block; b != nil && b != e.cfg.source {
		// Its slots would be written under another kind's names.
		return "", nil, nil, fmt.Errorf("avro: encode: %w: a change of source kind %s to an encoder of %s",
			ErrBadValue, b.Connector, e.cfg.source.Connector)
	}
	tc, err := e.codec(ctx, k)
	if err != nil {
		return "", nil, nil, err
	}
	if tc.key != nil && c.Op != decoder.OpTruncate {
		row := c.After
		if row == nil {
			row = c.Before
		}
		key = appendHeader(make([]byte, 0, 64), tc.keyID)
		if key, err = tc.key.appendRow(key, row, nullsRejected); err != nil {
			return "", nil, nil, fmt.Errorf("avro: key: %w", err)
		}
	}
	if c.Op == decoder.OpDelete && tomb == transform.TombstoneOnly {
		return tc.topic, key, nil, nil // the tombstone alone: no value to write
	}
	// A value of ordinary size starts at the size of the table's last one; a large one at
	// what it can take, so that a 100 MB value is allocated once, not grown by doubling
	// through copies that each stay until the collector runs.
	size := tc.sizeHint.Load()
	if maxSize := e.valueMaxSize(tc, c, tx); maxSize > largeValue {
		size = int64(maxSize)
		if maxSize > collectBefore {
			// The garbage of the value's decoding (PostgreSQL's hex text of a bytea, twice
			// the value) is likely still uncollected: the heap's goal, twice what was live
			// at the last collection, is far off after one huge message. Collecting first
			// lets the buffer reuse that memory rather than add to it; rare and cheap next
			// to copying the value.
			runtime.GC()
		}
	}
	value = make([]byte, 0, size)
	if tc.shape == transform.ShapeFlat {
		value, err = appendFlat(value, tc, c)
	} else {
		value, err = e.appendValue(value, tc, c, tx)
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("avro: value: %w", err)
	}
	// One large value must not make every later value of the table as large.
	tc.sizeHint.Store(min(int64(len(value))+64, largeValue))
	return tc.topic, key, value, nil
}

// largeValue is the size from which a value's buffer is sized from its change rather than
// from the table's last value.
const largeValue = 64 << 10

// collectBefore is the size from which a value's buffer is allocated after a collection.
const collectBefore = 16 << 20

// valueMaxSize is at least the size of c's value, with the transaction block tx: its rows at
// their widest (rowPlan.maxSize) and the envelope's source block and fields.
func (e *Encoder) valueMaxSize(tc *tableCodec, c *decoder.Change, tx *format.TransactionBlock) int {
	n := 256 + len(e.sourceHead) + len(tc.db) + len(tc.tableSrc) + 16*len(tc.srcFields)
	for i := range c.Source.Strs {
		n += len(c.Source.Strs[i])
	}
	if tx != nil {
		n += len(tx.ID)
	}
	if c.Before != nil {
		n += tc.row.maxSize(c.Before)
	}
	if c.After != nil {
		n += tc.row.maxSize(c.After)
	}
	return n
}

// appendValue appends the wire-format envelope of c, with tx as its transaction block.
func (e *Encoder) appendValue(dst []byte, tc *tableCodec, c *decoder.Change, tx *format.TransactionBlock) ([]byte, error) {
	dst = appendHeader(dst, tc.valueID)
	var err error
	env := format.Envelope{Change: c, Transaction: tx, Time: e.cfg.now()}
	before, after := env.Rows()
	if before == nil {
		dst = append(dst, 0)
	} else if dst, err = tc.row.appendRow(append(dst, 2), before, nullsAsZero); err != nil {
		return dst, fmt.Errorf("before: %w", err)
	}
	if after == nil {
		dst = append(dst, 0)
	} else if dst, err = tc.row.appendRow(append(dst, 2), after, nullsRejected); err != nil {
		return dst, fmt.Errorf("after: %w", err)
	}

	now, commit := env.Time, env.SourceTime()
	// source
	dst = append(dst, e.sourceHead...)
	dst = appendLong(dst, commit.UnixMilli())
	dst = appendString(append(dst, 0), c.Source.Snapshot.String()) // snapshot: branch 0, string
	dst = append(dst, tc.db...)
	dst = append(dst, 0) // sequence: null
	dst = appendLong(append(dst, 2), commit.UnixMicro())
	dst = appendLong(append(dst, 2), commit.UnixNano())
	dst = append(dst, tc.tableSrc...)
	dst = e.appendSourceFields(dst, tc.srcFields, c)
	dst = appendTransaction(dst, env.Transaction)
	dst = append(dst, 2, byte(c.Op)) // op: a one-letter string
	dst = appendLong(append(dst, 2), now.UnixMilli())
	dst = appendLong(append(dst, 2), now.UnixMicro())
	return appendLong(append(dst, 2), now.UnixNano()), nil
}

// appendSourceFields writes the kind's source fields fs of c, as its SourceBlock describes
// them: an optional field's zero value (0, "") is null.
func (e *Encoder) appendSourceFields(dst []byte, fs []decoder.SourceField, c *decoder.Change) []byte {
	for i := range fs {
		f := &fs[i]
		switch f.Value {
		case decoder.SourceSlotInt:
			v := c.Source.Ints[f.Slot]
			if f.Optional {
				if v == 0 {
					dst = append(dst, 0)
					continue
				}
				dst = append(dst, 2)
			}
			dst = appendLong(dst, v)
		case decoder.SourceSlotStr:
			v := c.Source.Strs[f.Slot]
			if f.Optional {
				if v == "" {
					dst = append(dst, 0)
					continue
				}
				dst = append(dst, 2)
			}
			dst = appendString(dst, v)
		case decoder.SourceNamespace, decoder.SourceTableName, decoder.SourceDatabase:
			dst = appendTableSource(dst, f, c.Table, e.cfg.database)
		default: // SourceNull
			dst = append(dst, 0)
		}
	}
	return dst
}

// appendTableSource writes a source field that the table or the connector decides (never null).
func appendTableSource(dst []byte, f *decoder.SourceField, t *decoder.Table, database string) []byte {
	if f.Optional {
		dst = append(dst, 2)
	}
	return appendString(dst, format.SourceTableValue(f, t, database))
}

// codec returns the cached codec of k, building it on first sight.
func (e *Encoder) codec(ctx context.Context, k codecKey) (*tableCodec, error) {
	if tc := e.last.Load(); tc != nil && tc.k == k {
		return tc, nil
	}
	e.mu.RLock()
	tc := e.tables[k]
	e.mu.RUnlock()
	if tc != nil {
		e.last.Store(tc)
		return tc, nil
	}
	e.regMu.Lock()
	defer e.regMu.Unlock()
	e.mu.RLock()
	tc = e.tables[k]
	e.mu.RUnlock()
	if tc != nil {
		return tc, nil
	}
	tc, err := e.newCodec(ctx, k)
	if err != nil {
		return nil, err
	}
	tc.k = k
	e.mu.Lock()
	e.tables[k] = tc
	e.mu.Unlock()
	e.last.Store(tc)
	return tc, nil
}

func (e *Encoder) newCodec(ctx context.Context, k codecKey) (*tableCodec, error) {
	tc, parts, err := e.planCodec(k)
	if err != nil {
		return nil, err
	}
	if err := e.registerCodec(ctx, k.table, tc, parts); err != nil {
		return nil, err
	}
	return tc, nil
}

// codecParts are the subjects and schemas a new codec registers: its value's, and its key's
// when keyed.
type codecParts struct {
	keyed                    bool
	keySubject, valueSubject string
	keyJSON, valueJSON       string
	keySchema, valueSchema   avro.Schema
}

// planCodec builds the codec of k but for its schema ids, and names what it registers; it does
// not touch the registry. The caller holds regMu (the table names are claimed here).
func (e *Encoder) planCodec(k codecKey) (*tableCodec, codecParts, error) {
	var parts codecParts
	t := k.table
	schemas, err := DeriveSchemas(e.naming(), t)
	if err != nil {
		return nil, parts, err
	}
	if err := e.names.claim(schemas.Topic, k.topic != "", schemas.ValueName, t); err != nil {
		return nil, parts, err
	}
	tc := &tableCodec{topic: schemas.Topic, shape: k.shape, fields: k.fields}
	if k.topic != "" {
		tc.topic = k.topic
	}
	// A column the encoder has no plan for fails every change of the table alike: it is a
	// schema problem (ErrSchema), not a bad value of one row.
	if tc.row, err = newRowPlan(t, e.cfg.placeholder, e.cfg.modes, func(*decoder.Column) bool { return true }); err != nil {
		return nil, parts, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	if schemas.HasKey() {
		if tc.key, err = newRowPlan(t, e.cfg.placeholder, e.cfg.modes, func(c *decoder.Column) bool { return c.Key }); err != nil {
			return nil, parts, fmt.Errorf("%w: %w", ErrSchema, err)
		}
	}
	// What the table decides of the source block is written once, here.
	tc.db = appendString(nil, format.SourceDB(e.cfg.source, e.cfg.database, t))
	tc.srcFields = e.cfg.source.Fields
	for len(tc.srcFields) > 0 {
		f := &tc.srcFields[0]
		if f.Value != decoder.SourceNamespace && f.Value != decoder.SourceTableName && f.Value != decoder.SourceDatabase {
			break
		}
		tc.tableSrc = appendTableSource(tc.tableSrc, f, t, e.cfg.database)
		tc.srcFields = tc.srcFields[1:]
	}
	tc.sizeHint.Store(256)

	valueName, valueJSON, value := schemas.ValueName, schemas.ValueJSON, schemas.Value
	switch k.shape {
	case transform.ShapeEnvelope:
	case transform.ShapeFlat:
		if valueName, valueJSON, value, err = deriveFlatValue(e.cfg.topicPrefix, t, k.fields, e.cfg.modes); err != nil {
			return nil, parts, err
		}
	default:
		return nil, parts, fmt.Errorf("%w: table %s.%s: unknown value shape %d", ErrSchema, t.Namespace, t.Name, k.shape)
	}

	parts.valueSubject, parts.valueJSON, parts.valueSchema = e.cfg.strategy.Subject(tc.topic, PartValue, valueName), valueJSON, value
	if schemas.HasKey() {
		parts.keyed = true
		parts.keySubject = e.cfg.keyStrategy.Subject(tc.topic, PartKey, schemas.KeyName)
		parts.keyJSON, parts.keySchema = schemas.KeyJSON, schemas.Key
	}
	return tc, parts, nil
}

// registerCodec checks and registers the schemas of parts, t's, and sets tc's ids. It may run
// for several codecs at once (PrepareTables), each of other subjects.
func (e *Encoder) registerCodec(ctx context.Context, t *decoder.Table, tc *tableCodec, parts codecParts) error {
	// Check both parts before registering either, so that a rejected change registers nothing.
	valueReg, err := e.prepare(ctx, t, parts.valueSubject, parts.valueJSON, parts.valueSchema)
	if err != nil {
		return err
	}
	if parts.keyed {
		keyReg, err := e.prepare(ctx, t, parts.keySubject, parts.keyJSON, parts.keySchema)
		if err != nil {
			return err
		}
		if tc.keyID, err = keyReg(ctx); err != nil {
			return err
		}
	}
	if tc.valueID, err = valueReg(ctx); err != nil {
		return err
	}
	return nil
}

// cachedID returns the id registered or looked up for k, if any.
func (e *Encoder) cachedID(k subjectSchema) (int, bool) {
	e.idsMu.Lock()
	defer e.idsMu.Unlock()
	id, ok := e.ids[k]
	return id, ok
}

// cacheID remembers the id of k.
func (e *Encoder) cacheID(k subjectSchema, id int) {
	e.idsMu.Lock()
	e.ids[k] = id
	e.idsMu.Unlock()
}

// prepare checks schema against subject's versions and returns the function that registers it
// (or returns the id the subject already has for it).
//
// A schema the subject already holds, at any version, is reused without a compatibility
// check: it was checked when it was registered, and a restart may replay rows older than the
// subject's latest version. A process killed after registering a table's new schema but before
// committing the records written with it leaves that newer version behind; the next run reads
// the older rows again, and checking their schema as a new version against the newer one would
// refuse it (int after long fails BACKWARD) on every restart. The registry is asked (Lookup)
// rather than the texts compared, since a registry answers its own rendering of a schema.
func (e *Encoder) prepare(ctx context.Context, t *decoder.Table, subject, text string, parsed avro.Schema) (func(context.Context) (int, error), error) {
	k := subjectSchema{subject, text}
	if id, ok := e.cachedID(k); ok {
		return func(context.Context) (int, error) { return id, nil }, nil
	}
	found, ok, err := e.cfg.registry.Lookup(ctx, subject, text)
	if err != nil {
		return nil, fmt.Errorf("avro: table %s.%s: %w", t.Namespace, t.Name, err)
	}
	if ok {
		id := found.ID
		e.cacheID(k, id)
		return func(context.Context) (int, error) { return id, nil }, nil
	}
	versions, err := e.cfg.registry.Versions(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("avro: table %s.%s: %w", t.Namespace, t.Name, err)
	}
	existing := make([]avro.Schema, 0, len(versions))
	for _, v := range versions {
		s, err := avro.ParseWithCache(v.Schema, "", &avro.SchemaCache{})
		if err != nil {
			return nil, fmt.Errorf("avro: subject %s version %d does not parse: %w", subject, v.Version, err)
		}
		existing = append(existing, s)
	}
	level, err := e.cfg.registry.Compatibility(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("avro: table %s.%s: %w", t.Namespace, t.Name, err)
	}
	if level == "" {
		level = e.cfg.compat
	}
	if err := CheckCompatible(level, parsed, existing); err != nil {
		var inc *IncompatibleError
		if errors.As(err, &inc) {
			inc.Subject = subject
			inc.Table = t.Namespace + "." + t.Name
			if inc.against >= 0 && inc.against < len(versions) {
				inc.Version = versions[inc.against].Version
				inc.NewVersion = versions[len(versions)-1].Version + 1
			}
		}
		return nil, fmt.Errorf("avro: new schema of %s.%s: %w", t.Namespace, t.Name, err)
	}
	return func(ctx context.Context) (int, error) {
		id, err := e.cfg.registry.Register(ctx, subject, text)
		if err != nil {
			return 0, fmt.Errorf("avro: table %s.%s: %w", t.Namespace, t.Name, err)
		}
		e.cacheID(k, id)
		return id, nil
	}, nil
}

// Schemas returns the schemas of t, derived anew; it does not touch the registry. A codec
// does not keep its table's parsed schemas once registered: about 18 KiB per table that a
// connector of 1,000 tables held for nothing (docs/benchmarks.md, "Scale").
func (e *Encoder) Schemas(t *decoder.Table) (*TableSchemas, error) {
	return DeriveSchemas(e.naming(), t)
}

// naming is what the encoder's schemas are named and typed after.
func (e *Encoder) naming() Naming {
	return Naming{TopicPrefix: e.cfg.topicPrefix, Source: e.cfg.source, Modes: e.cfg.modes}
}
