package mysql

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/rs/zerolog"
)

// schemaTracker is a Stream's schema model and what it needs to follow DDL: the parser, the
// unparseable-DDL mode, and where history records go.
type schemaTracker struct {
	model       *schemaModel
	parser      *ddlStatementParser
	unparseable UnparseableDDLMode
	log         zerolog.Logger
	// topic and connector are the history records' topic and key.
	topic, connector string
	now              func() time.Time
}

func newSchemaTracker(cfg Config, m *schemaModel) *schemaTracker {
	return &schemaTracker{model: m, parser: newDDLStatementParser(), unparseable: cfg.UnparseableDDL, log: cfg.Logger,
		topic: cfg.HistoryTopic, connector: cfg.Name, now: time.Now}
}

// capturedTables builds the descriptions and row decoders of the model's tables.
func (st *schemaTracker) capturedTables() (map[string]*capturedTable, error) {
	out := make(map[string]*capturedTable, len(st.model.Tables))
	for k, t := range st.model.Tables {
		ct, err := t.decoderTable()
		if err != nil {
			return nil, fmt.Errorf("mysql source: %w", err)
		}
		out[k] = ct
	}
	return out, nil
}

// apply parses q, run in database db, and applies it to the model. It returns the history
// record of what it changed at position after, or nil when it concerns no captured table or
// is an unparseable statement the configuration skips.
func (st *schemaTracker) apply(sc scope, db, q, gtid string, after Position) (*historyRecord, error) {
	stmts, err := st.parser.parse(q)
	if err != nil {
		if st.unparseable == UnparseableDDLSkip {
			st.log.Warn().Err(err).Str("statement", truncate(q, 2000)).Str("gtid", gtid).
				Msg("mysql source: skipping a DDL statement the parser cannot read; the schemas stay as they were")
			return nil, nil
		}
		return nil, err
	}
	before := st.model.clone()
	touched := false
	for _, stmt := range stmts {
		eff, err := st.model.apply(sc, db, stmt)
		if err != nil {
			st.model = before
			return nil, err
		}
		touched = touched || eff.touched
	}
	if !touched {
		return nil, nil
	}
	// The effect of all the statements: tables whose definition is new, tables gone.
	var eff ddlEffect
	for _, k := range slices.Sorted(maps.Keys(st.model.Tables)) {
		if t := st.model.Tables[k]; before.Tables[k] != t {
			eff.tables = append(eff.tables, t)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(before.Tables)) {
		if _, ok := st.model.Tables[k]; !ok {
			eff.dropped = append(eff.dropped, k)
		}
	}
	return ddlRecord(st.model, eff, after, db, q, gtid, st.now()), nil
}

// encode makes the pipeline record of a history record.
func (st *schemaTracker) encode(r *historyRecord) (*connectors.Record, error) {
	return encodeHistory(st.topic, st.connector, r)
}

// emitSnapshot sends the first start's snapshot record as a transaction of its own, at
// position at (the start position, with the data snapshot's progress when one follows):
// Begin, the record, Commit.
func (st *schemaTracker) emitSnapshot(r *historyRecord, pos Position, emit func(connectors.Event) error) error {
	rec, err := st.encode(r)
	if err != nil {
		return err
	}
	at := pos.encode(0)
	for _, e := range []connectors.Event{{Kind: connectors.EventBegin, Position: at}, {Kind: connectors.EventRecord, Record: rec},
		{Kind: connectors.EventCommit, Position: at}} {
		if err := emit(e); err != nil {
			return err
		}
	}
	return nil
}
