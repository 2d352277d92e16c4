package decoder

import (
	"errors"
	"fmt"
)

// The envelope's source block has fields common to every source kind (version, connector,
// name, ts_ms, snapshot, db, sequence, ts_us, ts_ns), then fields of the kind's own (PostgreSQL:
// schema, table, txId, lsn, xmin; MySQL: table, server_id, gtid, file, pos, row, thread,
// query). A SourceBlock describes those of one kind, once, format-neutral: their names, types
// and where each value comes from. A Change's values of them are in typed slots of its
// SourceInfo (Ints, Strs), laid out by the kind's block, so that a change carries them without
// a map or an interface per change, and an encoder writes any kind's block from the description.

// SourceIntSlots and SourceStrSlots are the numbers of integer and string slots a SourceInfo
// has for a kind's own values.
const (
	SourceIntSlots = 3
	SourceStrSlots = 2
)

// SourceFieldType is the type of a source block field's values.
type SourceFieldType uint8

// The field types.
const (
	// SourceFieldLong: a 64-bit integer (Avro long).
	SourceFieldLong SourceFieldType = iota + 1
	// SourceFieldInt: a 32-bit integer (Avro int).
	SourceFieldInt
	// SourceFieldString: a string.
	SourceFieldString
)

// SourceValue says where a source block field's value comes from.
type SourceValue uint8

// Where values come from.
const (
	// SourceNull: always null (a field Debezium declares that cdcd does not fill: xmin,
	// thread, query). The field must be optional.
	SourceNull SourceValue = iota + 1
	// SourceNamespace: the table's namespace (PostgreSQL schema, MySQL database).
	SourceNamespace
	// SourceTableName: the table's name.
	SourceTableName
	// SourceDatabase: the connector's database (format.Config.Database).
	SourceDatabase
	// SourceSlotInt: the change's SourceInfo.Ints[Slot]; an optional field writes 0 as null.
	SourceSlotInt
	// SourceSlotStr: the change's SourceInfo.Strs[Slot]; an optional field writes "" as null.
	SourceSlotStr
)

// SourceField is one field of a kind's own part of the source block.
type SourceField struct {
	// Name is the field's name in the envelope, e.g. "lsn".
	Name string
	// Type is the type of its values.
	Type SourceFieldType
	// Optional tells whether the field may be null (its schema a union with null).
	Optional bool
	// Value says where its value comes from, and Slot which slot for SourceSlotInt and
	// SourceSlotStr.
	Value SourceValue
	Slot  int
}

// SourceBlock describes one source kind's part of the envelope's source block. A kind defines
// it once; it is not modified after.
type SourceBlock struct {
	// Connector is source.connector, as Debezium names the connector ("postgresql",
	// "mysql"); it also names the block's schema (io.debezium.connector.<Connector>.Source).
	Connector string
	// DB says what source.db holds: SourceDatabase (the connector's database) or
	// SourceNamespace (the table's).
	DB SourceValue
	// Fields are the kind's fields after the common ones, in the envelope's order.
	Fields []SourceField
	// TransactionID returns the id of the transaction of a change with source information s,
	// for transaction metadata when the source's Begin gave none.
	TransactionID func(s *SourceInfo) string
}

// ErrSourceBlock is wrapped by the errors of SourceBlock.Check.
var ErrSourceBlock = errors.New("decoder: invalid source block")

// Check tells whether b is a valid description: nil, an unknown type or value, a slot out of
// range or of the wrong type, or a null field that is not optional are errors.
func (b *SourceBlock) Check() error {
	if b == nil {
		return fmt.Errorf("%w: none", ErrSourceBlock)
	}
	if b.Connector == "" || (b.DB != SourceDatabase && b.DB != SourceNamespace) || b.TransactionID == nil {
		return fmt.Errorf("%w: %q needs a connector name, a db of SourceDatabase or SourceNamespace and a TransactionID",
			ErrSourceBlock, b.Connector)
	}
	for _, f := range b.Fields {
		ok := f.Name != ""
		switch f.Value {
		case SourceNull:
			ok = ok && f.Optional
		case SourceNamespace, SourceTableName, SourceDatabase:
			ok = ok && f.Type == SourceFieldString
		case SourceSlotInt:
			ok = ok && (f.Type == SourceFieldLong || f.Type == SourceFieldInt) && f.Slot >= 0 && f.Slot < SourceIntSlots
		case SourceSlotStr:
			ok = ok && f.Type == SourceFieldString && f.Slot >= 0 && f.Slot < SourceStrSlots
		default:
			ok = false
		}
		if !ok || f.Type < SourceFieldLong || f.Type > SourceFieldString {
			return fmt.Errorf("%w: %s field %q", ErrSourceBlock, b.Connector, f.Name)
		}
	}
	return nil
}
