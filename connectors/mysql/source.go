package mysql

import (
	"strconv"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// The slots of a MySQL change's own source values (decoder.SourceInfo.Ints and Strs).
const (
	slotServerID = 0
	slotPos      = 1
	slotRow      = 2

	slotGTID = 0
	slotFile = 1
)

// SourceBlock is the MySQL connector's part of the envelope's source block, as Debezium's
// MySQL connector writes it: source.db is the table's database, then table, server_id, gtid,
// file and pos (the binlog position of the event), row (the row's index in the event), thread
// and query (always null).
var SourceBlock = &decoder.SourceBlock{
	Connector: "mysql",
	DB:        decoder.SourceNamespace,
	Fields: []decoder.SourceField{
		{Name: "table", Type: decoder.SourceFieldString, Optional: true, Value: decoder.SourceTableName},
		{Name: "server_id", Type: decoder.SourceFieldLong, Value: decoder.SourceSlotInt, Slot: slotServerID},
		{Name: "gtid", Type: decoder.SourceFieldString, Optional: true, Value: decoder.SourceSlotStr, Slot: slotGTID},
		{Name: "file", Type: decoder.SourceFieldString, Value: decoder.SourceSlotStr, Slot: slotFile},
		{Name: "pos", Type: decoder.SourceFieldLong, Value: decoder.SourceSlotInt, Slot: slotPos},
		{Name: "row", Type: decoder.SourceFieldInt, Value: decoder.SourceSlotInt, Slot: slotRow},
		{Name: "thread", Type: decoder.SourceFieldLong, Optional: true, Value: decoder.SourceNull},
		{Name: "query", Type: decoder.SourceFieldString, Optional: true, Value: decoder.SourceNull},
	},
	// The GTID when there is one, else "<file>:<pos>" of the first change (MySQL without GTIDs).
	TransactionID: func(s *decoder.SourceInfo) string {
		switch {
		case SourceGTID(s) != "":
			return SourceGTID(s)
		case SourceFile(s) != "":
			return SourceFile(s) + ":" + strconv.FormatUint(SourcePos(s), 10)
		default:
			return "0:0" // no position: as an unknown xid and LSN
		}
	},
}

// NewSourceInfo returns the source information of a MySQL change: committed at commit, snapshot
// marker snap, at binlog file and pos, in transaction gtid ("": none), written by server
// serverID, row row of its event.
func NewSourceInfo(commit time.Time, snap decoder.Snapshot, file string, pos uint64, gtid string, serverID uint32, row int32) decoder.SourceInfo {
	s := decoder.SourceInfo{CommitTime: commit, Snapshot: snap, Block: SourceBlock}
	s.Ints[slotServerID] = int64(serverID)
	s.Ints[slotPos] = int64(pos)
	s.Ints[slotRow] = int64(row)
	s.Strs[slotGTID] = gtid
	s.Strs[slotFile] = file
	return s
}

// SourceFile returns the binlog file of a MySQL change's source information (source.file).
func SourceFile(s *decoder.SourceInfo) string { return s.Strs[slotFile] }

// SourcePos returns the binlog position of a MySQL change's event (source.pos).
func SourcePos(s *decoder.SourceInfo) uint64 { return uint64(s.Ints[slotPos]) }

// SourceGTID returns the GTID of a MySQL change's transaction (source.gtid), "" without one.
func SourceGTID(s *decoder.SourceInfo) string { return s.Strs[slotGTID] }

// SourceServerID returns the id of the server that wrote a MySQL change (source.server_id).
func SourceServerID(s *decoder.SourceInfo) uint32 { return uint32(s.Ints[slotServerID]) }

// SourceRow returns a MySQL change's row index within its event (source.row).
func SourceRow(s *decoder.SourceInfo) int32 { return int32(s.Ints[slotRow]) }
