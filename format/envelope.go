package format

import (
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// The Debezium envelope, format-neutral: what a change event holds, whatever format writes it.
// Its rules are here once (which rows a truncate has, which time source.ts_ms is, what
// source.db and the table's source fields hold); a format decides only how to write them.

// EnvelopeFields are the envelope's fields, in Debezium's order.
var EnvelopeFields = [...]string{"before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"}

// CommonSourceFields are the source block's fields every source kind has, in Debezium's order;
// the kind's own follow (decoder.SourceBlock.Fields).
var CommonSourceFields = [...]string{"version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "ts_us", "ts_ns"}

// Envelope is one change event: the change (its rows, op, table and source values), its
// transaction block and the processing time. An encoder makes one per record, as a value (it
// costs no allocation), and writes its parts.
type Envelope struct {
	Change *decoder.Change
	// Transaction is the transaction block; nil writes null.
	Transaction *TransactionBlock
	// Time is the processing time: the envelope's ts_ms, ts_us and ts_ns.
	Time time.Time
}

// Rows returns the envelope's before and after: the change's, none for a truncate.
func (e *Envelope) Rows() (before, after []decoder.Value) {
	if e.Change.Op == decoder.OpTruncate {
		return nil, nil
	}
	return e.Change.Before, e.Change.After
}

// SourceTime is source.ts_ms (ts_us, ts_ns): the source's commit time, or the processing time
// when the source gave none.
func (e *Envelope) SourceTime() time.Time {
	if t := e.Change.Source.CommitTime; !t.IsZero() {
		return t
	}
	return e.Time
}

// SourceDB is source.db of a change of table t for a kind described by b and a connector whose
// database is database (Config.Database).
func SourceDB(b *decoder.SourceBlock, database string, t *decoder.Table) string {
	if b.DB == decoder.SourceNamespace {
		return t.Namespace
	}
	return database
}

// SourceTableValue is the value of a source field that the table or the connector decides
// (decoder.SourceNamespace, SourceTableName, SourceDatabase), for a change of table t.
func SourceTableValue(f *decoder.SourceField, t *decoder.Table, database string) string {
	switch f.Value {
	case decoder.SourceNamespace:
		return t.Namespace
	case decoder.SourceTableName:
		return t.Name
	default:
		return database
	}
}
