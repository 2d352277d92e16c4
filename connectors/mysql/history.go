package mysql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
)

// This file is the schema history: its records (a snapshot of the captured tables' schemas, or
// a DDL and the definitions it produced), rebuilding the schemas as of a position from them,
// the declaration of the topic that keeps them and their reading back through a HistoryReader.

// The schema history's conditions.
var (
	// ErrHistoryMissing is returned by Stream when it resumes from a stored position but the
	// schema history holds no snapshot at or before it: the topic was deleted, or the position
	// was stored by a version without schema history.
	ErrHistoryMissing = errors.New("mysql source: no schema history for the resume position")
	// ErrHistoryCorrupt wraps a schema history record that cannot be read, or one at a position
	// not comparable with the resume position.
	ErrHistoryCorrupt = errors.New("mysql source: corrupt schema history")
)

// The kinds of history record.
const (
	historySnapshot = "snapshot"
	historyDDL      = "ddl"
)

// historyRecord is the value of a schema history record.
type historyRecord struct {
	// Kind is historySnapshot (Tables are all the captured tables) or historyDDL (Tables are
	// those the statement created or changed, Dropped those it removed).
	Kind string `json:"kind"`
	// Position is where the record applies: a snapshot's start position, or the position just
	// after the DDL's transaction (what its Commit carries).
	Position json.RawMessage `json:"position"`
	// Database is the statement's default database, and DDL the statement as the binlog has it.
	Database string `json:"database,omitempty"`
	DDL      string `json:"ddl,omitempty"`
	// GTID is the DDL's transaction.
	GTID    string      `json:"gtid,omitempty"`
	Tables  []*tableDef `json:"tables"`
	Dropped []string    `json:"dropped,omitempty"`
	// Databases and ServerCharset are the default character sets after the record.
	Databases     map[string]string `json:"databases,omitempty"`
	ServerCharset string            `json:"server_charset,omitempty"`
	// TsMs is when the record was made, for people reading the topic.
	TsMs int64 `json:"ts_ms"`

	pos Position
}

// snapshotRecord describes all of m at pos.
func snapshotRecord(m *schemaModel, pos Position, now time.Time) *historyRecord {
	r := &historyRecord{Kind: historySnapshot, Position: json.RawMessage(pos.String()), Tables: []*tableDef{},
		Databases: m.Databases, ServerCharset: m.ServerCharset, TsMs: now.UnixMilli(), pos: pos}
	for _, k := range slices.Sorted(maps.Keys(m.Tables)) {
		r.Tables = append(r.Tables, m.Tables[k])
	}
	return r
}

// ddlRecord describes a DDL's effect on m (already applied) at pos.
func ddlRecord(m *schemaModel, eff ddlEffect, pos Position, db, stmt, gtid string, now time.Time) *historyRecord {
	tables := eff.tables
	if tables == nil {
		tables = []*tableDef{}
	}
	return &historyRecord{Kind: historyDDL, Position: json.RawMessage(pos.String()), Database: db, DDL: stmt, GTID: gtid,
		Tables: tables, Dropped: eff.dropped, Databases: m.Databases, ServerCharset: m.ServerCharset,
		TsMs: now.UnixMilli(), pos: pos}
}

// encodeHistory returns the record as the pipeline writes it.
func encodeHistory(topic, connector string, r *historyRecord) (*connectors.Record, error) {
	v, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("mysql source: encoding a schema history record: %w", err)
	}
	return &connectors.Record{Topic: topic, Key: []byte(connector), Value: v}, nil
}

// decodeHistory reads a record's value, checking what rebuilding relies on.
func decodeHistory(value []byte) (*historyRecord, error) {
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.DisallowUnknownFields()
	var r historyRecord
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHistoryCorrupt, err)
	}
	if r.Kind != historySnapshot && r.Kind != historyDDL {
		return nil, fmt.Errorf("%w: kind %q", ErrHistoryCorrupt, r.Kind)
	}
	pos, err := ParsePosition(string(r.Position))
	if err != nil || pos.IsZero() {
		return nil, fmt.Errorf("%w: position %s: %v", ErrHistoryCorrupt, r.Position, err)
	}
	r.pos = pos
	for _, t := range r.Tables {
		if t == nil || t.Database == "" || t.Name == "" || t.Version == 0 || len(t.Columns) == 0 {
			return nil, fmt.Errorf("%w: a table without database, name, version or columns at %s", ErrHistoryCorrupt, r.Position)
		}
	}
	return &r, nil
}

// rebuildSchema returns the schemas as of resume from the records, in the order they were
// written: the last snapshot at or before resume, and every DDL record after it at or before
// resume. Records after resume are ignored: the binlog holds their DDL again after resume, and
// Stream applies it when it reads it. (A committed record can be after resume only when resume
// is inside the record's own DDL transaction, with Skip counting the record.)
func rebuildSchema(recs []*historyRecord, resume Position) (*schemaModel, error) {
	var m *schemaModel
	for _, r := range recs {
		c, ok := r.pos.compare(resume)
		if !ok {
			return nil, fmt.Errorf("%w: record at %s is not comparable with the resume position %s", ErrHistoryCorrupt, r.pos, resume)
		}
		if c > 0 {
			continue
		}
		if r.Kind == historySnapshot {
			m = newSchemaModel()
		} else if m == nil {
			return nil, fmt.Errorf("%w: a DDL record at %s before any snapshot", ErrHistoryCorrupt, r.pos)
		}
		for _, k := range r.Dropped {
			delete(m.Tables, k)
		}
		for _, t := range r.Tables {
			m.Tables[t.key()] = t
		}
		if r.Databases != nil {
			m.Databases = r.Databases
		}
		if r.ServerCharset != "" {
			m.ServerCharset = r.ServerCharset
		}
	}
	if m == nil {
		return nil, fmt.Errorf("%w: %s (%d records read)", ErrHistoryMissing, resume, len(recs))
	}
	return m, nil
}

// HistoryReader reads the schema history topic back: the source contract's reader of a
// source's own records (cdcd's is kafkalog's SchemaHistoryReader). The source writes the
// history through the engine (EventRecord, in the Kafka transaction of the changes around it)
// and only reads it itself.
type HistoryReader = connectors.HistoryReader

// historyTopicSpec declares the history topic: one partition, so that the records keep their
// order, and never deleted (cleanup.policy=delete with infinite retention; compaction would
// keep only the last record of the one key).
func historyTopicSpec(topic string) connectors.TopicSpec {
	return connectors.TopicSpec{Name: topic, Purpose: "schema history", Partitions: 1,
		Cleanup: connectors.CleanupDelete, KeepForever: true}
}

var _ connectors.TopicDeclarer = (*Source)(nil)

// Topics declares the schema history topic and, when heartbeats are on, the heartbeat topic:
// the engine creates the topics of changes only, and a source's own records go to topics it
// declares.
func (s *Source) Topics() []connectors.TopicSpec {
	ts := []connectors.TopicSpec{historyTopicSpec(s.cfg.HistoryTopic)}
	if s.cfg.HeartbeatInterval > 0 {
		ts = append(ts, connectors.HeartbeatTopicSpec(s.cfg.HeartbeatTopic))
	}
	return ts
}

// readHistory returns the committed records of connector in topic, in order, read with r (see
// HistoryReader). A record that cannot be decoded is an error naming its offset.
func readHistory(ctx context.Context, r HistoryReader, topic, connector string) ([]*historyRecord, error) {
	var out []*historyRecord
	var bad error
	err := r.ReadHistory(ctx, topic, func(offset int64, key, value []byte) error {
		if string(key) != connector {
			return nil
		}
		rec, err := decodeHistory(value)
		if err != nil {
			bad = fmt.Errorf("topic %s offset %d: %w", topic, offset, err)
			return bad
		}
		out = append(out, rec)
		return nil
	})
	switch {
	case bad != nil:
		return nil, bad
	case err != nil:
		return nil, fmt.Errorf("mysql source: %w", err)
	}
	return out, nil
}
