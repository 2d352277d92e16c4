package postgres

import (
	"slices"

	"github.com/jackc/pglogrepl"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
)

// Logical decoding messages as changes (Config.MessagePrefixes, postgres.message_prefixes).
// A transactional message (pg_logical_emit_message(true, prefix, content)) whose prefix is
// listed is emitted as a change of op m of the table MessageNamespace.MessageTable, in its
// transaction, between the transaction's row changes in WAL order: it is written to Kafka in
// the same Kafka transaction as they are, counts as one change for a resume inside the
// transaction (Position.Skip), and the slot's position passes it only once that commits,
// exactly as a row change. The transform chain makes it something (the outbox router turns a
// message of its prefix into an outbox event); a message no transform takes is written as an
// envelope of that table, its after row {prefix, content}, op "m".
//
// A non-transactional message is ignored: it is decoded at once, outside any transaction and
// whether or not the transaction that wrote it commits, so it has no place in the stream's
// positions and could be written twice or lost across a restart; Debezium emits it but makes
// no such promise. cdcd's own prefixes (heartbeat, watermark, resnapshot) are never listed.
//
// pgoutput sends messages only with its option messages 'true' (PostgreSQL 14 and later),
// which cdcd always gives for its own heartbeats and watermarks: listing prefixes changes no
// replication option, and without a list no message is emitted.

// The table of message changes: <topic prefix>.pg_logical.message by default.
const (
	MessageNamespace = "pg_logical"
	MessageTable     = "message"
)

// reservedPrefixes are the prefixes of cdcd's own messages.
var reservedPrefixes = []string{heartbeatPrefix, watermarkPrefix, resnapshotPrefix}

// messages is what the assembler needs to emit listed messages.
type messages struct {
	prefixes []string
	table    *decoder.Table
}

func newMessages(prefixes []string) *messages {
	if len(prefixes) == 0 {
		return nil
	}
	return &messages{prefixes: slices.Clone(prefixes), table: decoder.NewMessageTable(MessageNamespace, MessageTable)}
}

// wanted tells whether a message of prefix is emitted.
func (m *messages) wanted(prefix string) bool {
	return m != nil && slices.Contains(m.prefixes, prefix)
}

// message emits a listed transactional message of the open transaction as a change.
func (a *assembler) message(msg *decoder.PGMessage, walStart pglogrepl.LSN, emit func(connectors.Event) error) error {
	if err := a.needTx("message"); err != nil || a.drop {
		return err
	}
	ch := &decoder.Change{Op: decoder.OpMessage, Table: a.msgs.table, After: []decoder.Value{
		decoder.MessagePrefixColumn:  {State: decoder.ValueSet, Bytes: []byte(msg.Prefix)},
		decoder.MessageContentColumn: {State: decoder.ValueSet, Bytes: msg.Content},
	}}
	return a.change(ch, walStart, emit)
}

// checkMessagePrefixes refuses an empty prefix, one listed twice, and cdcd's own.
func checkMessagePrefixes(prefixes []string, add connectors.AddFunc) {
	seen := map[string]bool{}
	for _, p := range prefixes {
		switch {
		case p == "":
			add("postgres.message_prefixes", "an empty prefix")
		case slices.Contains(reservedPrefixes, p):
			add("postgres.message_prefixes", "%q is a prefix of cdcd's own messages", p)
		case seen[p]:
			add("postgres.message_prefixes", "%q is listed twice", p)
		}
		seen[p] = true
	}
}
