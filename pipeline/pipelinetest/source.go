package pipelinetest

import (
	"strconv"

	"github.com/cdcd-dev/cdcd/decoder"
)

// SourceBlock is the test source's kind of source block: the transaction number tx and the
// change's index i in it (Change), as txId and row.
var SourceBlock = &decoder.SourceBlock{
	Connector: "pipelinetest",
	DB:        decoder.SourceNamespace,
	Fields: []decoder.SourceField{
		{Name: "txId", Type: decoder.SourceFieldLong, Value: decoder.SourceSlotInt, Slot: 0},
		{Name: "row", Type: decoder.SourceFieldInt, Value: decoder.SourceSlotInt, Slot: 1},
	},
	// "<tx>:0", as a PostgreSQL change of xid tx with no LSN.
	TransactionID: func(s *decoder.SourceInfo) string { return strconv.FormatInt(TxID(s), 10) + ":0" },
}

// SourceInfo returns the source information of change i of transaction tx.
func SourceInfo(tx, i int) decoder.SourceInfo {
	return decoder.SourceInfo{Block: SourceBlock, Ints: [decoder.SourceIntSlots]int64{int64(tx), int64(i)}}
}

// TxID returns the transaction number of a test change's source information.
func TxID(s *decoder.SourceInfo) int64 { return s.Ints[0] }

// Row returns the index of a test change in its transaction.
func Row(s *decoder.SourceInfo) int32 { return int32(s.Ints[1]) }
