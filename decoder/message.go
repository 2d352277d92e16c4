package decoder

// The columns of a message table's rows: a logical decoding message's prefix and content.
const (
	MessagePrefixColumn  = 0
	MessageContentColumn = 1
)

// NewMessageTable returns the table of a source's OpMessage changes, namespace.name: its row
// is the message's prefix (a string, the key) and its content (bytes). A source makes one and
// gives it to all its message changes.
func NewMessageTable(namespace, name string) *Table {
	return &Table{Namespace: namespace, Name: name, Version: 1, Columns: []Column{
		{Name: "prefix", Type: TypeString, SourceType: "text", Key: true},
		{Name: "content", Type: TypeBytes, SourceType: "bytea"},
	}}
}
