package transform

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync/atomic"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
)

// ErrTopicName means a route gave a name Kafka does not accept as a topic.
var ErrTopicName = errors.New("invalid topic name")

// Route renames the topic of a change's record by a regular expression, as Kafka Connect's
// RegexRouter does: when the whole topic (by default DefaultTopic's "<prefix>.<schema>.<table>",
// or what an earlier route made of it) matches regex, the topic becomes replacement, in which $1 or ${1}
// (${name} for a named group) stand for the groups; otherwise the topic is left as it is.
// regex uses Go's RE2 syntax; write ${1} when a letter, digit or _ follows the group.
type Route struct {
	re          *regexp.Regexp
	regex       string
	replacement string
	plans       *planCache[*routePlan]
}

var _ RecordTransform = (*Route)(nil)

// NewRoute returns a Route; regex is anchored at both ends (it must match the whole topic).
func NewRoute(regex, replacement string) (*Route, error) {
	if regex == "" {
		return nil, &SettingError{Transform: "route", Setting: "regex", Reason: "required"}
	}
	re, err := regexp.Compile("^(?:" + regex + ")$")
	if err != nil {
		return nil, &SettingError{Transform: "route", Setting: "regex", Value: regex, Reason: err.Error()}
	}
	if replacement == "" {
		return nil, &SettingError{Transform: "route", Setting: "replacement", Reason: "required"}
	}
	r := &Route{re: re, regex: regex, replacement: replacement}
	r.plans = newPlanCache(func(*decoder.Table) *routePlan { return &routePlan{} })
	return r, nil
}

// routePlan caches the route of a table's default topic under one topic prefix.
type routePlan struct{ last atomic.Pointer[routed] }

type routed struct {
	prefix, topic string
	err           error
}

// Apply fails with ErrRecordLevel: a route changes the record, see Chain.ApplyRecord.
func (r *Route) Apply(*decoder.Change) (*decoder.Change, error) {
	return nil, fmt.Errorf("transform route: %w", ErrRecordLevel)
}

// ApplyRecord sets rec.Topic when the topic matches. The default topic's route is computed
// once per table and prefix.
func (r *Route) ApplyRecord(rec *Record) (*Record, error) {
	c := rec.Change
	if c == nil || c.Table == nil {
		return nil, &ChangeError{Transform: "route", Table: qualified(nil), Err: errors.New("change without table")}
	}
	if rec.Topic != "" { // routed before: route the result again
		topic, err := r.route(rec.Topic, c.Table)
		if err != nil {
			return nil, err
		}
		if topic != "" {
			rec.Topic = topic
		}
		return rec, nil
	}
	p := r.plans.get(c.Table)
	res := p.last.Load()
	if res == nil || res.prefix != rec.TopicPrefix {
		res = &routed{prefix: rec.TopicPrefix}
		res.topic, res.err = r.route(DefaultTopic(rec.TopicPrefix, c.Table.Namespace, c.Table.Name), c.Table)
		p.last.Store(res)
	}
	if res.err != nil {
		return nil, res.err
	}
	rec.Topic = res.topic // "" when unmatched: the default topic
	return rec, nil
}

// route returns the new topic, or "" when topic does not match.
func (r *Route) route(topic string, t *decoder.Table) (string, error) {
	m := r.re.FindStringSubmatchIndex(topic)
	if m == nil {
		return "", nil
	}
	out := string(r.re.ExpandString(nil, r.replacement, topic, m))
	if !offsets.ValidTopic(out) {
		return "", &ChangeError{Transform: "route", Table: qualified(t),
			Err: fmt.Errorf("%w: %q (from %q by %s -> %s)", ErrTopicName, out, topic, r.regex, r.replacement)}
	}
	return out, nil
}

// opBytes holds each op letter as a header value, shared by all records.
var opBytes = func() [256][]byte {
	var v [256][]byte
	for i := range v {
		v[i] = []byte{byte(i)}
	}
	return v
}()

// HeadersOption configures Headers.
type HeadersOption func(*Headers)

// OpHeader adds a header of that name holding the change's op letter (c, u, d, r, t).
func OpHeader(name string) HeadersOption { return func(h *Headers) { h.opHeader = name } }

// Headers adds headers to every record: fixed ones, and optionally the op.
type Headers struct {
	static   []Header
	opHeader string
}

var _ RecordTransform = (*Headers)(nil)

// NewHeaders returns a Headers transform adding static, in order, then the op header if asked.
// Header keys must be non-empty and distinct.
func NewHeaders(static []Header, opts ...HeadersOption) (*Headers, error) {
	h := &Headers{static: slices.Clone(static)}
	for _, o := range opts {
		o(h)
	}
	if len(h.static) == 0 && h.opHeader == "" {
		return nil, &SettingError{Transform: "headers", Setting: "header.<name>", Reason: "no header to add (set header.<name> or op.header)"}
	}
	seen := map[string]bool{}
	for _, hd := range h.static {
		switch {
		case hd.Key == "":
			return nil, &SettingError{Transform: "headers", Setting: "header.<name>", Reason: "empty header name"}
		case seen[hd.Key]:
			return nil, &SettingError{Transform: "headers", Setting: "header." + hd.Key, Reason: "header given twice"}
		}
		seen[hd.Key] = true
	}
	if seen[h.opHeader] {
		return nil, &SettingError{Transform: "headers", Setting: "op.header", Value: h.opHeader, Reason: "also a static header"}
	}
	return h, nil
}

// Apply fails with ErrRecordLevel: headers change the record, see Chain.ApplyRecord.
func (h *Headers) Apply(*decoder.Change) (*decoder.Change, error) {
	return nil, fmt.Errorf("transform headers: %w", ErrRecordLevel)
}

// ApplyRecord appends the headers to rec.Headers.
func (h *Headers) ApplyRecord(rec *Record) (*Record, error) {
	rec.Headers = append(rec.Headers, h.static...)
	if h.opHeader != "" && rec.Change != nil {
		rec.Headers = append(rec.Headers, Header{Key: h.opHeader, Value: opBytes[rec.Change.Op]})
	}
	return rec, nil
}

// DeleteHandling says what Unwrap makes of a delete, with Debezium's names
// (delete.tombstone.handling.mode).
type DeleteHandling uint8

// The delete handlings.
const (
	// DeleteTombstone: the delete becomes a tombstone alone (Debezium's default, "tombstone").
	DeleteTombstone DeleteHandling = iota
	// DeleteRewrite: the delete becomes the before row with __deleted "true", no tombstone;
	// every other record carries __deleted "false" ("rewrite").
	DeleteRewrite
	// DeleteRewriteWithTombstone: as DeleteRewrite, followed by a tombstone
	// ("rewrite-with-tombstone").
	DeleteRewriteWithTombstone
	// DeleteDrop: the delete produces no record at all ("drop").
	DeleteDrop
)

var deleteHandlingNames = []string{"tombstone", "rewrite", "rewrite-with-tombstone", "drop"}

func (d DeleteHandling) String() string {
	if int(d) < len(deleteHandlingNames) {
		return deleteHandlingNames[d]
	}
	return fmt.Sprintf("DeleteHandling(%d)", d)
}

// ParseDeleteHandling parses a delete handling by its Debezium name.
func ParseDeleteHandling(s string) (DeleteHandling, error) {
	if i := slices.Index(deleteHandlingNames, s); i >= 0 {
		return DeleteHandling(i), nil
	}
	return 0, &SettingError{Transform: "unwrap", Setting: "delete.tombstone.handling.mode", Value: s,
		Reason: "want tombstone, rewrite, rewrite-with-tombstone or drop"}
}

// UnwrapOption configures Unwrap.
type UnwrapOption func(*Unwrap)

// UnwrapDeletes sets what a delete becomes, default DeleteTombstone.
func UnwrapDeletes(d DeleteHandling) UnwrapOption { return func(u *Unwrap) { u.deletes = d } }

// UnwrapFields adds metadata fields to every value (FieldOp), default none. FieldDeleted
// follows from the delete handling and need not be given.
func UnwrapFields(f FlatFields) UnwrapOption { return func(u *Unwrap) { u.fields |= f } }

// UnwrapOpHeader adds a header of that name with the op letter to every record, default none.
func UnwrapOpHeader(name string) UnwrapOption { return func(u *Unwrap) { u.opHeader = name } }

// Unwrap flattens records as Debezium's ExtractNewRecordState: the value is the row after the
// change, its columns at the top level, instead of the envelope; deletes are handled as
// DeleteHandling says; truncates, which have no row, produce no record. The key is unchanged.
type Unwrap struct {
	deletes  DeleteHandling
	fields   FlatFields
	opHeader string
}

var _ RecordTransform = (*Unwrap)(nil)

// NewUnwrap returns an Unwrap.
func NewUnwrap(opts ...UnwrapOption) (*Unwrap, error) {
	u := &Unwrap{}
	for _, o := range opts {
		o(u)
	}
	if u.deletes > DeleteDrop {
		return nil, &SettingError{Transform: "unwrap", Setting: "delete.tombstone.handling.mode", Value: u.deletes.String(), Reason: "unknown"}
	}
	if u.fields&^(FieldOp|FieldDeleted) != 0 {
		return nil, &SettingError{Transform: "unwrap", Setting: "add.fields", Value: fmt.Sprint(u.fields), Reason: "unknown field"}
	}
	if u.deletes == DeleteRewrite || u.deletes == DeleteRewriteWithTombstone {
		u.fields |= FieldDeleted
	}
	return u, nil
}

// Apply fails with ErrRecordLevel: unwrap changes the record, see Chain.ApplyRecord.
func (u *Unwrap) Apply(*decoder.Change) (*decoder.Change, error) {
	return nil, fmt.Errorf("transform unwrap: %w", ErrRecordLevel)
}

// ApplyRecord marks rec flat, with its fields, tombstone choice and op header; it returns nil
// for a truncate and, under DeleteDrop, for a delete.
func (u *Unwrap) ApplyRecord(rec *Record) (*Record, error) {
	c := rec.Change
	if c == nil {
		return nil, &ChangeError{Transform: "unwrap", Table: qualified(nil), Err: errors.New("no change")}
	}
	switch c.Op {
	case decoder.OpTruncate:
		return nil, nil
	case decoder.OpDelete:
		switch u.deletes {
		case DeleteDrop:
			return nil, nil
		case DeleteTombstone:
			rec.Tombstone = TombstoneOnly
		case DeleteRewrite:
			rec.Tombstone = TombstoneNever
		case DeleteRewriteWithTombstone:
			rec.Tombstone = TombstoneAlways
		}
	}
	rec.Shape = ShapeFlat
	rec.Fields |= u.fields
	if u.opHeader != "" {
		rec.Headers = append(rec.Headers, Header{Key: u.opHeader, Value: opBytes[c.Op]})
	}
	return rec, nil
}
