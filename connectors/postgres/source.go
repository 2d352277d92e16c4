package postgres

import (
	"strconv"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// The slots of a PostgreSQL change's own source values (decoder.SourceInfo.Ints).
const (
	slotTxID = 0
	slotLSN  = 1
)

// SourceBlock is the PostgreSQL connector's part of the envelope's source block, as Debezium's
// PostgreSQL connector writes it: source.db is the connector's database, then schema, table,
// txId (the xid), lsn (the change's LSN) and xmin (always null).
var SourceBlock = &decoder.SourceBlock{
	Connector: "postgresql",
	DB:        decoder.SourceDatabase,
	Fields: []decoder.SourceField{
		{Name: "schema", Type: decoder.SourceFieldString, Value: decoder.SourceNamespace},
		{Name: "table", Type: decoder.SourceFieldString, Value: decoder.SourceTableName},
		{Name: "txId", Type: decoder.SourceFieldLong, Optional: true, Value: decoder.SourceSlotInt, Slot: slotTxID},
		{Name: "lsn", Type: decoder.SourceFieldLong, Optional: true, Value: decoder.SourceSlotInt, Slot: slotLSN},
		{Name: "xmin", Type: decoder.SourceFieldLong, Optional: true, Value: decoder.SourceNull},
	},
	// "<xid>:<lsn>": the Begin's id is "<xid>:<commit LSN>"; without one (a run resumed in the
	// transaction) the first change's LSN stands in for it.
	TransactionID: func(s *decoder.SourceInfo) string {
		return strconv.FormatInt(SourceTxID(s), 10) + ":" + strconv.FormatUint(SourceLSN(s), 10)
	},
}

// NewSourceInfo returns the source information of a PostgreSQL change: committed at commit,
// snapshot marker snap, in transaction txID (0: unknown) at lsn (0: unknown).
func NewSourceInfo(commit time.Time, snap decoder.Snapshot, txID int64, lsn uint64) decoder.SourceInfo {
	s := decoder.SourceInfo{CommitTime: commit, Snapshot: snap, Block: SourceBlock}
	s.Ints[slotTxID] = txID
	s.Ints[slotLSN] = int64(lsn)
	return s
}

// SourceTxID returns the xid of a PostgreSQL change's source information (source.txId).
func SourceTxID(s *decoder.SourceInfo) int64 { return s.Ints[slotTxID] }

// SourceLSN returns the LSN of a PostgreSQL change's source information (source.lsn).
func SourceLSN(s *decoder.SourceInfo) uint64 { return uint64(s.Ints[slotLSN]) }
