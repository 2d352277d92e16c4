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
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file is the schema history: its records (a snapshot of the captured tables' schemas, or
// a DDL and the definitions it produced), rebuilding the schemas as of a position from them,
// and the Kafka topic that keeps them.

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

// ensureHistoryTopic creates the history topic if it does not exist: one partition, so that
// the records keep their order, and never deleted (cleanup.policy=delete with infinite
// retention; compaction would keep only the last record of the one key).
func ensureHistoryTopic(ctx context.Context, opts []kgo.Opt, topic string) error {
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return &ConfigError{Source: "mysql", Field: "kafka", Problem: "invalid Kafka client options", Err: err}
	}
	defer client.Close()
	del, forever := "delete", "-1"
	resp, err := kadm.NewClient(client).CreateTopic(ctx, 1, -1,
		map[string]*string{"cleanup.policy": &del, "retention.ms": &forever, "retention.bytes": &forever}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("mysql source: creating the schema history topic %s: %w", topic, err)
	}
	return nil
}

// readHistory returns the committed records of connector in topic, in order. Like
// offsets.ReadCommitted it lists the end first, waits until every transaction below it is
// decided (the last stable offset reaches it: Stream runs after the pipeline's producer fenced
// the previous owner, whose open transaction is then aborted), and reads read_committed up to
// it.
func readHistory(ctx context.Context, opts []kgo.Opt, topic, connector string) ([]*historyRecord, error) {
	all := append(append([]kgo.Opt{}, opts...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records are kept so that a log ending with a commit marker or aborted
		// records still shows its last offset.
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
	)
	client, err := kgo.NewClient(all...)
	if err != nil {
		return nil, &ConfigError{Source: "mysql", Field: "kafka", Problem: "invalid Kafka client options", Err: err}
	}
	defer client.Close()
	adm := kadm.NewClient(client)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("mysql source: listing the end of the schema history topic %s: %w", topic, err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok || end.Err != nil {
		return nil, fmt.Errorf("mysql source: the schema history topic %s has no readable partition 0 (Open creates it): %v", topic, end.Err)
	}
	if end.Offset <= 0 {
		return nil, nil
	}
	for pause := 10 * time.Millisecond; ; pause = min(2*pause, 500*time.Millisecond) {
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("mysql source: listing the stable end of the schema history topic %s: %w", topic, err)
		}
		if o, ok := stable.Lookup(topic, 0); ok && o.Err == nil && o.Offset >= end.Offset {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("mysql source: waiting for the open transactions of %s to end: %w", topic, ctx.Err())
		case <-time.After(pause):
		}
	}
	var out []*historyRecord
	for {
		fetches := client.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			return nil, fmt.Errorf("mysql source: reading the schema history topic %s: %w", topic, err)
		}
		for _, fe := range fetches.Errors() {
			return nil, fmt.Errorf("mysql source: reading the schema history topic %s: %w", topic, fe.Err)
		}
		done := false
		for it := fetches.RecordIter(); !it.Done(); {
			rec := it.Next()
			if rec.Offset >= end.Offset-1 {
				done = true
			}
			if rec.Offset >= end.Offset || rec.Attrs.IsControl() || string(rec.Key) != connector {
				continue
			}
			r, err := decodeHistory(rec.Value)
			if err != nil {
				return nil, fmt.Errorf("topic %s offset %d: %w", topic, rec.Offset, err)
			}
			out = append(out, r)
		}
		if done {
			return out, nil
		}
	}
}
