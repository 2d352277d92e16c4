package postgres

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/jackc/pglogrepl"
)

// heartbeatCfg is the configuration of a source with heartbeats, slot "s1", prefix "shop".
func heartbeatCfg() Config {
	return Config{Slot: "s1", TopicPrefix: "shop", HeartbeatInterval: time.Second}.withDefaults()
}

// heartbeatTx returns the messages of a heartbeat transaction as pgoutput sends it: Begin, a
// transactional message of prefix cdcd-heartbeat whose content is slot, Commit.
func heartbeatTx(xid uint32, commit, end pglogrepl.LSN, slot string) []wal {
	ts := time.UnixMilli(1700000000123).Add(time.Duration(xid) * time.Second)
	return []wal{
		{at: commit - 0x40, msg: decoder.PGMessage{Kind: decoder.PGBegin, XID: xid, FinalLSN: uint64(commit), CommitTime: ts}},
		{at: commit - 0x40, msg: decoder.PGMessage{Kind: decoder.PGLogicalMessage, Transactional: decoder.PGMessageTransactional,
			Prefix: heartbeatPrefix, Content: []byte(slot)}},
		{at: commit, msg: decoder.PGMessage{Kind: decoder.PGCommit, CommitLSN: uint64(commit), EndLSN: uint64(end), CommitTime: ts}},
	}
}

// assemble runs msgs through an assembler resuming at resume, with heartbeats as cfg says.
func assemble(t *testing.T, cfg Config, resume position, msgs []wal) ([]string, []connectors.Event, error) {
	t.Helper()
	a := newAssembler(resume)
	if cfg.HeartbeatInterval > 0 {
		a.hb = newHeartbeats(cfg)
	}
	return runAssembler(t, a, msgs)
}

func TestHeartbeatTransactionGivesBeginRecordCommit(t *testing.T) {
	msgs := concat(fakeTx(7, 0x1000, 0x1010, 1), heartbeatTx(8, 0x9000, 0x9010, "s1"))
	lines, events, err := assemble(t, heartbeatCfg(), position{lsn: 0x800}, msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`begin {"lsn":"0/800","tx":"0/1000"}`, "c a xid=7", `commit {"lsn":"0/1010"}`,
		`begin {"lsn":"0/1010","tx":"0/9000"}`,
		`record __debezium-heartbeat.shop {"serverName":"shop"} {"ts_ms":1700000008123}`,
		`commit {"lsn":"0/9010"}`,
	}
	if got := strings.Join(lines, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	// Both halves are JSON a consumer can read, with Debezium's field names.
	rec := events[4].Record
	var key struct {
		ServerName string `json:"serverName"`
	}
	var value struct {
		TsMs int64 `json:"ts_ms"`
	}
	if err := json.Unmarshal(rec.Key, &key); err != nil || key.ServerName != "shop" {
		t.Errorf("key %s: %+v, %v", rec.Key, key, err)
	}
	if err := json.Unmarshal(rec.Value, &value); err != nil || value.TsMs != 1700000008123 {
		t.Errorf("value %s: %+v, %v", rec.Value, value, err)
	}
}

func TestHeartbeatOfAnotherSlotIsAnEmptyTransaction(t *testing.T) {
	// Every slot of the database decodes the heartbeats of every other: not records of ours,
	// but their transaction still moves the position (and so the slot) forward.
	lines, _, err := assemble(t, heartbeatCfg(), position{lsn: 0x800}, heartbeatTx(8, 0x9000, 0x9010, "s10"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(lines, "|"), `begin {"lsn":"0/800","tx":"0/9000"}|commit {"lsn":"0/9010"}`; got != want {
		t.Errorf("events %s, want %s", got, want)
	}
}

func TestHeartbeatsOffIgnoresHeartbeatMessages(t *testing.T) {
	cfg := heartbeatCfg()
	cfg.HeartbeatInterval = 0
	lines, _, err := assemble(t, cfg, position{lsn: 0x800}, heartbeatTx(8, 0x9000, 0x9010, "s1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(lines, "|"), `begin {"lsn":"0/800","tx":"0/9000"}|commit {"lsn":"0/9010"}`; got != want {
		t.Errorf("events %s, want %s", got, want)
	}
}

func TestHeartbeatCountsForSkip(t *testing.T) {
	cfg := heartbeatCfg()
	// A heartbeat transaction cut after its record by the pipeline (Skip 1): resumed, the
	// record is not written twice, and the commit position still comes.
	lines, _, err := assemble(t, cfg, position{lsn: 0x1010, tx: 0x9000, skip: 1}, heartbeatTx(8, 0x9000, 0x9010, "s1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(lines, "|"), `begin {"lsn":"0/1010","tx":"0/9000"}+1|commit {"lsn":"0/9010"}`; got != want {
		t.Errorf("skip 1: events %s, want %s", got, want)
	}
	if _, _, err := assemble(t, cfg, position{lsn: 0x1010, tx: 0x9000, skip: 2}, heartbeatTx(8, 0x9000, 0x9010, "s1")); !errors.Is(err, ErrBadPosition) {
		t.Errorf("skip 2 of a one-record transaction: %v, want ErrBadPosition", err)
	}

	// Inside a transaction with changes (a user's own call of pg_logical_emit_message), the
	// record counts as the pipeline counts it: one event in order. Another slot's does not.
	tx := fakeTx(9, 0x2000, 0x2010, 2)
	hb := heartbeatTx(9, 0x2000, 0x2010, "s1")[1]
	other := hb
	other.msg.Content = []byte("s2")
	mixed := []wal{tx[0], tx[1], tx[2], other, hb, tx[3], tx[4]}
	lines, _, err = assemble(t, cfg, position{lsn: 0x1010}, mixed)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(lines[1:4], "|"), `c a xid=9|record __debezium-heartbeat.shop {"serverName":"shop"} {"ts_ms":1700000009000}|c a xid=9`; got != want {
		t.Errorf("mixed transaction: %s, want %s", got, want)
	}
	lines, _, err = assemble(t, cfg, position{lsn: 0x1010, tx: 0x2000, skip: 2}, mixed)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(lines, "|"), `begin {"lsn":"0/1010","tx":"0/2000"}+2|c a xid=9|commit {"lsn":"0/2010"}`; got != want {
		t.Errorf("mixed transaction, skip 2: %s, want %s", got, want)
	}
}

func TestHeartbeatMessageRules(t *testing.T) {
	cfg := heartbeatCfg()
	// Outside a transaction a transactional message is a protocol error.
	lone := heartbeatTx(8, 0x9000, 0x9010, "s1")[1:2]
	if _, _, err := assemble(t, cfg, position{lsn: 0x800}, lone); !errors.Is(err, ErrProtocol) {
		t.Errorf("heartbeat outside a transaction: %v, want ErrProtocol", err)
	}
	// In a transaction committed before the resume point it is dropped with the rest.
	lines, _, err := assemble(t, cfg, position{lsn: 0xA000}, heartbeatTx(8, 0x9000, 0x9010, "s1"))
	if err != nil || len(lines) != 0 {
		t.Errorf("heartbeat before the resume point: %v, %v; want nothing", lines, err)
	}
	// Another transactional message, of any prefix, is not ours.
	other := heartbeatTx(8, 0x9000, 0x9010, "s1")
	other[1].msg.Prefix = "app-audit"
	lines, _, err = assemble(t, cfg, position{lsn: 0x800}, other)
	if err != nil || len(lines) != 2 {
		t.Errorf("another prefix: %v, %v; want Begin and Commit only", lines, err)
	}
}

func TestHeartbeatRecordsOwnTheirBytes(t *testing.T) {
	h := newHeartbeats(heartbeatCfg())
	a, b := h.record(time.UnixMilli(1)), h.record(time.UnixMilli(2))
	a.Key[0] = 'X'
	if c := h.record(time.UnixMilli(3)); b.Key[0] != '{' || c.Key[0] != '{' {
		t.Errorf("records share their key: %s, %s", b.Key, c.Key)
	}
	if string(a.Value) != `{"ts_ms":1}` || string(b.Value) != `{"ts_ms":2}` {
		t.Errorf("values %s, %s", a.Value, b.Value)
	}
}

func TestTopicsDeclareTheHeartbeatTopic(t *testing.T) {
	// With heartbeats the engine must create their topic (one partition, the broker's
	// defaults); without, the source writes to no topic of its own.
	on := &Source{cfg: heartbeatCfg()}
	want := []connectors.TopicSpec{{Name: "__debezium-heartbeat.shop", Purpose: "heartbeat", Partitions: 1}}
	if got := on.Topics(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("Topics() with heartbeats = %+v, want %+v", got, want)
	}
	off := heartbeatCfg()
	off.HeartbeatInterval = 0
	if got := (&Source{cfg: off}).Topics(); len(got) != 0 {
		t.Errorf("Topics() without heartbeats = %+v, want none", got)
	}
}
