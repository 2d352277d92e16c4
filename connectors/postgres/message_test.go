package postgres

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
)

// messageTx returns a transaction with xid of an insert, a message of prefix with content,
// another insert, and a non-transactional message inside it.
func messageTx(xid uint32, commit, end pglogrepl.LSN, prefix, content string) []wal {
	tx := fakeTx(xid, commit, end, 2)
	msg := wal{at: commit - 0x90, msg: decoder.PGMessage{Kind: decoder.PGLogicalMessage, Transactional: decoder.PGMessageTransactional,
		CommitLSN: uint64(commit - 0x90), Prefix: prefix, Content: []byte(content)}}
	nontx := wal{at: commit - 0x88, msg: decoder.PGMessage{Kind: decoder.PGLogicalMessage, Transactional: decoder.PGMessageNonTransactional,
		Prefix: prefix, Content: []byte("lost")}}
	// Begin, Relation, insert, message, non-transactional message, insert, Commit.
	return append(append(append([]wal{}, tx[:3]...), msg, nontx), tx[3:]...)
}

func TestMessagesAsChanges(t *testing.T) {
	msgs := messageTx(9, 0x2000, 0x2010, "outbox", `{"aggregatetype":"Order"}`)
	// Off by default: no message is a change.
	lines, _, err := run(t, position{lsn: 0x800}, msgs)
	if err != nil || strings.Join(lines[1:len(lines)-1], "|") != "c a xid=9|c a xid=9" {
		t.Fatalf("default: %q %v", lines, err)
	}

	a := newAssembler(position{lsn: 0x800})
	a.msgs = newMessages([]string{"outbox"})
	lines, events, err := runAssembler(t, a, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines[1:len(lines)-1], "|"); got != "c a xid=9|m message xid=9|c a xid=9" {
		t.Fatalf("lines %q", lines)
	}
	c := events[2].Change
	if c.Op != decoder.OpMessage || c.Table.Namespace != MessageNamespace || c.Table.Name != MessageTable ||
		string(c.After[decoder.MessagePrefixColumn].Bytes) != "outbox" || string(c.After[decoder.MessageContentColumn].Bytes) != `{"aggregatetype":"Order"}` {
		t.Errorf("change %+v", c)
	}
	if SourceLSN(&c.Source) != 0x2000-0x90 || SourceTxID(&c.Source) != 9 || c.Source.CommitTime.IsZero() {
		t.Errorf("source %+v", c.Source)
	}

	// Another prefix is not a change.
	a = newAssembler(position{lsn: 0x800})
	a.msgs = newMessages([]string{"audit"})
	if lines, _, _ := runAssembler(t, a, msgs); len(lines) != 4 {
		t.Errorf("other prefix: %q", lines)
	}

	// A resume inside the transaction after the message skips it as one change.
	a = newAssembler(position{lsn: 0x800, tx: 0x2000, skip: 2})
	a.msgs = newMessages([]string{"outbox"})
	lines, _, err = runAssembler(t, a, msgs)
	if err != nil || strings.Join(lines[1:len(lines)-1], "|") != "c a xid=9" {
		t.Errorf("resume after the message: %q %v", lines, err)
	}
	a = newAssembler(position{lsn: 0x800, tx: 0x2000, skip: 1})
	a.msgs = newMessages([]string{"outbox"})
	lines, _, err = runAssembler(t, a, msgs)
	if err != nil || strings.Join(lines[1:len(lines)-1], "|") != "m message xid=9|c a xid=9" {
		t.Errorf("resume before the message: %q %v", lines, err)
	}
	// A transaction committed before the resume point is dropped, its message too.
	a = newAssembler(position{lsn: 0x3000})
	a.msgs = newMessages([]string{"outbox"})
	if lines, _, err := runAssembler(t, a, msgs); err != nil || len(lines) != 0 {
		t.Errorf("dropped: %q %v", lines, err)
	}
	// A listed message outside a transaction is a protocol error.
	a = newAssembler(position{lsn: 0x800})
	a.msgs = newMessages([]string{"outbox"})
	if _, _, err := runAssembler(t, a, msgs[3:4]); !errors.Is(err, ErrProtocol) {
		t.Errorf("outside a transaction: %v", err)
	}
}

func TestMessagePrefixesValidate(t *testing.T) {
	for _, tc := range []struct {
		prefixes []string
		errs     int
	}{
		{nil, 0}, {[]string{"outbox", "audit"}, 0}, {[]string{""}, 1}, {[]string{"a", "a"}, 1},
		{[]string{heartbeatPrefix, watermarkPrefix, resnapshotPrefix}, 3},
	} {
		var errs []connectors.FieldError
		checkMessagePrefixes(tc.prefixes, connectors.Collector(&errs))
		if len(errs) != tc.errs {
			t.Errorf("%q: %v", tc.prefixes, errs)
		}
		for _, e := range errs {
			if e.Key != "postgres.message_prefixes" {
				t.Errorf("key %s", e.Key)
			}
		}
	}
	if newMessages(nil) != nil || newMessages(nil).wanted("outbox") {
		t.Error("no prefixes: messages wanted")
	}
}
