package format

import "time"

// Transaction metadata, as Debezium writes it with provide.transaction.metadata: every change
// event of a source transaction carries the envelope's transaction block (TransactionBlock), and
// the transaction's BEGIN and END records go to the topic <prefix>.transaction
// (TransactionEvent). An encoder only writes what it is given; the engine decides the ids and
// counts (see pipeline.TransactionMetadata).

// TransactionTopic returns the transaction topic of a connector with topic prefix prefix:
// <prefix>.transaction, as Debezium names it.
func TransactionTopic(prefix string) string { return prefix + ".transaction" }

// TransactionBlock is the envelope's transaction field (Debezium's record event.block).
type TransactionBlock struct {
	// ID is the source transaction's id.
	ID string
	// TotalOrder is the event's position among the transaction's events, from 1.
	TotalOrder int64
	// DataCollectionOrder is its position among the transaction's events of its table, from 1.
	DataCollectionOrder int64
}

// TransactionStatus is the status of a transaction topic record.
type TransactionStatus string

// The statuses.
const (
	TransactionBegin TransactionStatus = "BEGIN"
	TransactionEnd   TransactionStatus = "END"
)

// DataCollectionCount is one entry of an END record's data_collections (Debezium's record
// event.collection).
type DataCollectionCount struct {
	// DataCollection is the table, "schema.table" (MySQL: "database.table").
	DataCollection string
	// EventCount is the number of the transaction's events of that table.
	EventCount int64
}

// TransactionEvent is one record of the transaction topic.
type TransactionEvent struct {
	Status TransactionStatus
	// ID is the source transaction's id, also the record's key.
	ID string
	// EventCount is an END record's event_count; a BEGIN record writes null.
	EventCount int64
	// DataCollections is an END record's data_collections; nil writes null (a BEGIN record,
	// or an END whose per-table counts are not known).
	DataCollections []DataCollectionCount
	// Time is ts_ms, the source transaction's commit time; the zero Time writes the
	// encoder's clock.
	Time time.Time
}
