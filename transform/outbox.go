package transform

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
)

// The outbox event router, Debezium's EventRouter (io.debezium.transforms.outbox.EventRouter):
// each insert into an outbox table becomes one event on the topic its route-by column names
// (outbox.event.<aggregatetype>), keyed by its aggregate id, whose value is its payload column
// and whose "id" header is its event id. Updates and deletes of the outbox table are not
// events (an outbox row is written once; deleting it afterwards is housekeeping). The same
// router turns a transactional logical decoding message into an event (outboxmessage.go).
// docs/formats.md "Outbox" describes the output and docs/transforms.md the settings.

// TypeOutbox is the outbox event router's transform type.
const TypeOutbox = "outbox"

// The outbox router's settings, by their Debezium names, and their defaults.
const (
	OutboxRouteByField        = "route.by.field"
	OutboxRouteTopicRegex     = "route.topic.regex"
	OutboxRouteTopicReplace   = "route.topic.replacement"
	OutboxTombstoneOnEmpty    = "route.tombstone.on.empty.payload"
	OutboxFieldEventID        = "table.field.event.id"
	OutboxFieldEventKey       = "table.field.event.key"
	OutboxFieldEventType      = "table.field.event.type"
	OutboxFieldEventPayload   = "table.field.event.payload"
	OutboxFieldEventTimestamp = "table.field.event.timestamp"
	OutboxFieldsAdditional    = "table.fields.additional.placement"
	OutboxAdditionalMissing   = "table.fields.additional.error.on.missing"
	OutboxExpandJSONPayload   = "table.expand.json.payload"
	OutboxOpInvalidBehavior   = "table.op.invalid.behavior"
	OutboxTables              = "tables"
	OutboxMessagePrefix       = "message.prefix"

	// DefaultOutboxTopicReplacement is route.topic.replacement's default; ${routedByValue}
	// stands for the route-by column's value.
	DefaultOutboxTopicReplacement = "outbox.event.${routedByValue}"
	// DefaultOutboxTables is the tables setting's default: a table named outbox in any schema.
	DefaultOutboxTables = "*.outbox"
	// DefaultOutboxMessagePrefix is the prefix of the logical decoding messages the router takes
	// as outbox events.
	DefaultOutboxMessagePrefix = "outbox"
	// OutboxIDHeader is the header that carries the event id, as Debezium names it.
	OutboxIDHeader = "id"
	// OutboxPayloadField is the name of the payload in a value that is a record (when fields
	// are placed in the envelope).
	OutboxPayloadField = "payload"
)

// OpInvalidBehavior is what the outbox router does with an update of an outbox table, with
// Debezium's names (table.op.invalid.behavior). The update produces no event in any case.
type OpInvalidBehavior uint8

// The invalid-operation behaviours.
const (
	// OpInvalidWarn logs a warning (Debezium's default, "warn").
	OpInvalidWarn OpInvalidBehavior = iota
	// OpInvalidError logs an error ("error").
	OpInvalidError
	// OpInvalidFatal fails the change, which the error policy then handles ("fatal").
	OpInvalidFatal
)

var opInvalidNames = []string{"warn", "error", "fatal"}

func (b OpInvalidBehavior) String() string {
	if int(b) < len(opInvalidNames) {
		return opInvalidNames[b]
	}
	return fmt.Sprintf("OpInvalidBehavior(%d)", b)
}

// Placement says where an additional outbox field goes.
type Placement uint8

// The placements.
const (
	// PlaceHeader writes the field as a record header, in its text form.
	PlaceHeader Placement = iota + 1
	// PlaceEnvelope makes the value a record of the payload and the field.
	PlaceEnvelope
)

// OutboxField is one additional field of the outbox events: a column, where it goes and the
// name it has there.
type OutboxField struct {
	Column    string
	Placement Placement
	// Alias is its header's or envelope field's name; empty: the column's name.
	Alias string
}

// OutboxConfig is the outbox router's configuration; the zero value of each field is its
// default (NewOutbox fills them in).
type OutboxConfig struct {
	// Tables are the outbox tables' patterns (default DefaultOutboxTables); changes of other
	// tables pass unchanged.
	Tables []string
	// RouteByField is the column whose value routes the event (default "aggregatetype").
	RouteByField string
	// TopicRegex is matched against the route-by value (default "(?P<routedByValue>.*)");
	// TopicReplacement is the topic, with ${routedByValue} or the regex's groups (default
	// DefaultOutboxTopicReplacement). An unmatched value leaves the event on the table's topic.
	TopicRegex, TopicReplacement string
	// IDField, KeyField, TypeField, PayloadField name the event's columns (defaults id,
	// aggregateid, type, payload). TimestampField, when set, names a column whose value becomes
	// the record's timestamp.
	IDField, KeyField, TypeField, PayloadField, TimestampField string
	// Additional are fields placed in headers or in the value.
	Additional []OutboxField
	// AllowMissing lets an additional field's column be absent (table.fields.additional.
	// error.on.missing=false): the field is then left out.
	AllowMissing bool
	// TombstoneOnEmpty makes an event whose payload is NULL a tombstone.
	TombstoneOnEmpty bool
	// ExpandJSON asks the format to write a JSON payload as the JSON value it holds rather than
	// as a string (table.expand.json.payload).
	ExpandJSON bool
	// OnInvalidOp is what an update of an outbox table does.
	OnInvalidOp OpInvalidBehavior
	// MessagePrefix is the prefix of the logical decoding messages taken as outbox events
	// (default DefaultOutboxMessagePrefix).
	MessagePrefix string
	// Logger receives the warnings of OpInvalidWarn and OpInvalidError; default none.
	Logger *zerolog.Logger
}

// Outbox is the outbox event router. It is safe for concurrent use.
type Outbox struct {
	cfg    OutboxConfig
	tables tableSet
	re     *regexp.Regexp
	plans  *planCache[*outboxPlan]
	// msg is the table of message events: one column per field a message may give.
	msg     *decoder.Table
	msgPlan *outboxPlan
	// invalid counts the updates ignored, for tests and logs.
	invalid atomic.Int64
}

var _ RecordTransform = (*Outbox)(nil)

// NewOutbox checks cfg and returns the router.
func NewOutbox(cfg OutboxConfig) (*Outbox, error) {
	def := func(s *string, d string) {
		if *s = strings.TrimSpace(*s); *s == "" {
			*s = d
		}
	}
	def(&cfg.RouteByField, "aggregatetype")
	def(&cfg.TopicRegex, "(?P<routedByValue>.*)")
	def(&cfg.TopicReplacement, DefaultOutboxTopicReplacement)
	def(&cfg.IDField, "id")
	def(&cfg.KeyField, "aggregateid")
	def(&cfg.TypeField, "type")
	def(&cfg.PayloadField, "payload")
	def(&cfg.MessagePrefix, DefaultOutboxMessagePrefix)
	cfg.TimestampField = strings.TrimSpace(cfg.TimestampField)
	if len(cfg.Tables) == 0 {
		cfg.Tables = []string{DefaultOutboxTables}
	}
	if cfg.OnInvalidOp > OpInvalidFatal {
		return nil, &SettingError{Transform: TypeOutbox, Setting: OutboxOpInvalidBehavior, Value: cfg.OnInvalidOp.String(), Reason: "unknown"}
	}
	tables, err := parseTables(OutboxTables, cfg.Tables)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile("^(?:" + cfg.TopicRegex + ")$")
	if err != nil {
		return nil, &SettingError{Transform: TypeOutbox, Setting: OutboxRouteTopicRegex, Value: cfg.TopicRegex, Reason: err.Error()}
	}
	names := map[string]bool{OutboxPayloadField: true}
	headers := map[string]bool{OutboxIDHeader: true}
	for i, f := range cfg.Additional {
		if f.Column == "" {
			return nil, &SettingError{Transform: TypeOutbox, Setting: OutboxFieldsAdditional, Reason: "empty column name"}
		}
		if f.Alias == "" {
			cfg.Additional[i].Alias = f.Column
			f.Alias = f.Column
		}
		switch f.Placement {
		case PlaceHeader:
			if headers[f.Alias] {
				return nil, &SettingError{Transform: TypeOutbox, Setting: OutboxFieldsAdditional, Value: f.Alias, Reason: "header placed twice (id is the event id's)"}
			}
			headers[f.Alias] = true
		case PlaceEnvelope:
			if names[f.Alias] {
				return nil, &SettingError{Transform: TypeOutbox, Setting: OutboxFieldsAdditional, Value: f.Alias, Reason: "envelope field placed twice (payload is the payload's)"}
			}
			names[f.Alias] = true
		default:
			return nil, &SettingError{Transform: TypeOutbox, Setting: OutboxFieldsAdditional, Value: f.Column, Reason: "placement must be header or envelope"}
		}
	}
	o := &Outbox{cfg: cfg, tables: tables, re: re}
	o.plans = newPlanCache(o.plan)
	o.msg = o.messageTable()
	o.msgPlan = o.plan(o.msg)
	return o, nil
}

// ParseOpInvalidBehavior parses table.op.invalid.behavior.
func ParseOpInvalidBehavior(s string) (OpInvalidBehavior, error) {
	if i := slices.Index(opInvalidNames, s); i >= 0 {
		return OpInvalidBehavior(i), nil
	}
	return 0, &SettingError{Transform: TypeOutbox, Setting: OutboxOpInvalidBehavior, Value: s, Reason: "want warn, error or fatal"}
}

// ParseOutboxPlacement parses table.fields.additional.placement: a comma-separated list of
// column:placement[:alias], placement header or envelope.
func ParseOutboxPlacement(s string) ([]OutboxField, error) {
	var out []OutboxField
	for _, item := range splitList(s) {
		parts := strings.Split(item, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, &SettingError{Transform: TypeOutbox, Setting: OutboxFieldsAdditional, Value: item, Reason: "want column:header|envelope[:alias]"}
		}
		f := OutboxField{Column: strings.TrimSpace(parts[0])}
		switch strings.TrimSpace(parts[1]) {
		case "header":
			f.Placement = PlaceHeader
		case "envelope":
			f.Placement = PlaceEnvelope
		default:
			return nil, &SettingError{Transform: TypeOutbox, Setting: OutboxFieldsAdditional, Value: item, Reason: "placement must be header or envelope"}
		}
		if len(parts) == 3 {
			if f.Alias = strings.TrimSpace(parts[2]); f.Alias == "" {
				return nil, &SettingError{Transform: TypeOutbox, Setting: OutboxFieldsAdditional, Value: item, Reason: "empty alias"}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// outboxPlan is where the router's columns are in one outbox table version; err is set when
// the table lacks one it needs, and every change of the table then fails with it.
type outboxPlan struct {
	id, key, payload, routeBy, ts int // column indexes; -1: absent
	headers                       []placed
	shape                         *OutboxShape
	err                           error
}

type placed struct {
	col  int
	name string
}

func (o *Outbox) plan(t *decoder.Table) *outboxPlan {
	idx := func(name string) int {
		return slices.IndexFunc(t.Columns, func(c decoder.Column) bool { return c.Name == name })
	}
	p := &outboxPlan{id: idx(o.cfg.IDField), key: idx(o.cfg.KeyField), payload: idx(o.cfg.PayloadField),
		routeBy: idx(o.cfg.RouteByField), ts: -1}
	missing := func(setting, col string) *outboxPlan {
		p.err = &ChangeError{Transform: TypeOutbox, Table: qualified(t), Column: col,
			Err: fmt.Errorf("%w: no column %q (%s)", ErrOutboxColumn, col, setting)}
		return p
	}
	switch {
	case p.payload < 0:
		return missing(OutboxFieldEventPayload, o.cfg.PayloadField)
	case p.routeBy < 0:
		return missing(OutboxRouteByField, o.cfg.RouteByField)
	}
	if o.cfg.TimestampField != "" {
		if p.ts = idx(o.cfg.TimestampField); p.ts < 0 {
			return missing(OutboxFieldEventTimestamp, o.cfg.TimestampField)
		}
		switch t.Columns[p.ts].Type {
		case decoder.TypeTimestampMillis, decoder.TypeTimestampMicros, decoder.TypeInt64, decoder.TypeZonedTimestamp:
		default:
			return missing(OutboxFieldEventTimestamp+" of a timestamp type", o.cfg.TimestampField)
		}
	}
	shape := &OutboxShape{Key: p.key, Payload: p.payload, ExpandJSON: o.cfg.ExpandJSON}
	for _, f := range o.cfg.Additional {
		i := idx(f.Column)
		if i < 0 {
			if o.cfg.AllowMissing {
				continue
			}
			return missing(OutboxFieldsAdditional, f.Column)
		}
		if f.Placement == PlaceHeader {
			p.headers = append(p.headers, placed{col: i, name: f.Alias})
		} else {
			shape.Envelope = append(shape.Envelope, OutboxEnvelopeField{Name: f.Alias, Column: i})
		}
	}
	p.shape = shape
	return p
}

// ErrOutboxColumn means an outbox table lacks a column the router's settings name.
var ErrOutboxColumn = errors.New("outbox table lacks a column")

// ErrOutboxOp means an update reached an outbox table under table.op.invalid.behavior=fatal.
var ErrOutboxOp = errors.New("outbox table updated (outbox rows are only inserted)")

// Apply fails with ErrRecordLevel: the router changes the record, see Chain.ApplyRecord.
func (o *Outbox) Apply(*decoder.Change) (*decoder.Change, error) {
	return nil, fmt.Errorf("transform outbox: %w", ErrRecordLevel)
}

// ApplyRecord makes rec an outbox event when its change is an insert (or snapshot read) of an
// outbox table, or a message with the router's prefix; it drops deletes and updates of an
// outbox table, and passes everything else on unchanged.
func (o *Outbox) ApplyRecord(rec *Record) (*Record, error) {
	c := rec.Change
	if c == nil || c.Table == nil {
		return nil, &ChangeError{Transform: TypeOutbox, Table: qualified(nil), Err: errors.New("change without table")}
	}
	if c.Op == decoder.OpMessage {
		return o.message(rec)
	}
	if !o.tables.matches(c.Table) {
		return rec, nil
	}
	switch c.Op {
	case decoder.OpCreate, decoder.OpRead:
	case decoder.OpUpdate:
		return nil, o.invalidOp(c)
	default: // deletes (housekeeping of the outbox) and truncates: no event, as Debezium
		return nil, nil
	}
	return o.route(rec, o.plans.get(c.Table))
}

func (o *Outbox) invalidOp(c *decoder.Change) error {
	o.invalid.Add(1)
	switch o.cfg.OnInvalidOp {
	case OpInvalidFatal:
		return &ChangeError{Transform: TypeOutbox, Table: qualified(c.Table), Err: ErrOutboxOp}
	case OpInvalidError:
		if o.cfg.Logger != nil {
			o.cfg.Logger.Error().Str("table", qualified(c.Table)).Msg("outbox: update of an outbox table ignored (outbox rows are only inserted)")
		}
	default:
		if o.cfg.Logger != nil {
			o.cfg.Logger.Warn().Str("table", qualified(c.Table)).Msg("outbox: update of an outbox table ignored (outbox rows are only inserted)")
		}
	}
	return nil
}

// route makes rec the event of its change's After row under plan p.
func (o *Outbox) route(rec *Record, p *outboxPlan) (*Record, error) {
	if p.err != nil {
		return nil, p.err
	}
	c := rec.Change
	row := c.After
	if len(row) != len(c.Table.Columns) {
		return nil, &ChangeError{Transform: TypeOutbox, Table: qualified(c.Table), Err: errors.New("row does not match its table")}
	}
	by, err := o.text(c.Table, row, p.routeBy)
	if err != nil {
		return nil, err
	}
	if m := o.re.FindStringSubmatchIndex(by); m != nil {
		topic := string(o.re.ExpandString(nil, o.cfg.TopicReplacement, by, m))
		if !offsets.ValidTopic(topic) {
			return nil, &ChangeError{Transform: TypeOutbox, Table: qualified(c.Table), Column: o.cfg.RouteByField,
				Err: fmt.Errorf("%w: %q (from %s %q)", ErrTopicName, topic, o.cfg.RouteByField, by)}
		}
		rec.Topic = topic
	}
	if p.id >= 0 && row[p.id].State != decoder.ValueNull { // a NULL id has no header
		id, err := o.text(c.Table, row, p.id)
		if err != nil {
			return nil, err
		}
		rec.Headers = append(rec.Headers, Header{Key: OutboxIDHeader, Value: []byte(id)})
	}
	for _, h := range p.headers {
		if row[h.col].State != decoder.ValueSet {
			continue // a NULL field has no header
		}
		v, err := o.text(c.Table, row, h.col)
		if err != nil {
			return nil, err
		}
		rec.Headers = append(rec.Headers, Header{Key: h.name, Value: []byte(v)})
	}
	if p.ts >= 0 && row[p.ts].State == decoder.ValueSet {
		ts, err := timestampOf(&c.Table.Columns[p.ts], &row[p.ts])
		if err != nil {
			return nil, &ChangeError{Transform: TypeOutbox, Table: qualified(c.Table), Column: o.cfg.TimestampField, Err: err}
		}
		rec.Timestamp = ts
	}
	rec.Shape = ShapeOutbox
	rec.Outbox = p.shape
	rec.Tombstone = TombstoneDefault
	if o.cfg.TombstoneOnEmpty && row[p.payload].State == decoder.ValueNull {
		rec.Tombstone = TombstoneOnly
	}
	return rec, nil
}

// text returns the text form of column i of row, as a header or a topic carries it.
func (o *Outbox) text(t *decoder.Table, row []decoder.Value, i int) (string, error) {
	c := &t.Columns[i]
	s, err := textOf(c, &row[i])
	if err != nil {
		return "", &ChangeError{Transform: TypeOutbox, Table: qualified(t), Column: c.Name, Err: err}
	}
	return s, nil
}

// ErrOutboxValue means an outbox column's value cannot be used where the router needs it (a
// NULL route-by value, a type without a text form).
var ErrOutboxValue = errors.New("outbox value not usable")

// textOf is the text of a value as Kafka Connect's SimpleHeaderConverter writes it: a string
// as it is, a number in decimal, a boolean as true or false.
func textOf(c *decoder.Column, v *decoder.Value) (string, error) {
	if v.State != decoder.ValueSet {
		return "", fmt.Errorf("%w: NULL or unchanged", ErrOutboxValue)
	}
	switch c.Type {
	case decoder.TypeString, decoder.TypeJSON, decoder.TypeUUID, decoder.TypeEnum, decoder.TypeZonedTime,
		decoder.TypeZonedTimestamp, decoder.TypeEnumSet:
		return string(v.Bytes), nil
	case decoder.TypeInt16, decoder.TypeInt32, decoder.TypeInt64:
		return strconv.FormatInt(v.Int, 10), nil
	case decoder.TypeBool:
		return strconv.FormatBool(v.Int != 0), nil
	case decoder.TypeFloat32:
		return strconv.FormatFloat(v.Float, 'g', -1, 32), nil
	case decoder.TypeFloat64:
		return strconv.FormatFloat(v.Float, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("%w: column type %s has no text form here", ErrOutboxValue, c.SourceType)
}

func timestampOf(c *decoder.Column, v *decoder.Value) (time.Time, error) {
	switch c.Type {
	case decoder.TypeTimestampMillis, decoder.TypeInt64:
		return time.UnixMilli(v.Int).UTC(), nil
	case decoder.TypeTimestampMicros:
		return time.UnixMicro(v.Int).UTC(), nil
	case decoder.TypeZonedTimestamp:
		ts, err := time.Parse(time.RFC3339Nano, string(v.Bytes))
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: timestamp %q: %w", ErrOutboxValue, v.Bytes, err)
		}
		return ts, nil
	}
	return time.Time{}, fmt.Errorf("%w: column type %s is not a timestamp", ErrOutboxValue, c.SourceType)
}
