package mysql

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/rs/zerolog"
)

// t0 is the start of the tests' clock.
var t0 = time.UnixMilli(1700000000000)

// heartbeatAssembler is an assembler of testConfig from (from, skip) with heartbeats every
// second (prefix "shop"), started at t0.
func heartbeatAssembler(t *testing.T, from Position, skip int64) *assembler {
	t.Helper()
	cfg := testConfig()
	cfg.HeartbeatInterval, cfg.TopicPrefix = time.Second, "shop"
	cfg = cfg.withDefaults()
	a, err := newAssembler(newScope(cfg), newSchemaTracker(cfg, testModel()), from, skip)
	if err != nil {
		t.Fatal(err)
	}
	a.hb = newHeartbeats(cfg, t0)
	return a
}

// transcript renders events as describe does, records as "R topic key value".
func transcript(t *testing.T, evs []connectors.Event) []string {
	t.Helper()
	var out []string
	for _, e := range evs {
		if e.Kind == connectors.EventRecord {
			out = append(out, fmt.Sprintf("R %s %s %s", e.Record.Topic, e.Record.Key, e.Record.Value))
			continue
		}
		out = append(out, describe(t, []connectors.Event{e})...)
	}
	return out
}

// appendTo returns an emit that appends to *out.
func appendTo(out *[]connectors.Event) func(connectors.Event) error {
	return func(e connectors.Event) error { *out = append(*out, e); return nil }
}

func TestHeartbeatDueOnceThePeriodHasPassed(t *testing.T) {
	a := heartbeatAssembler(t, startPos(t), 0)
	var evs []connectors.Event
	for _, at := range []time.Duration{0, 999 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second, 2999 * time.Millisecond} {
		if err := a.beat(t0.Add(at), appendTo(&evs)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"B 0-1-10 mysql-bin.000007:1000 tx= skip=0",
		`R __debezium-heartbeat.shop {"serverName":"shop"} {"ts_ms":1700000001000}`,
		"C 0-1-10 mysql-bin.000007:1000 tx= skip=0",
		"B 0-1-10 mysql-bin.000007:1000 tx= skip=0",
		`R __debezium-heartbeat.shop {"serverName":"shop"} {"ts_ms":1700000002000}`,
		"C 0-1-10 mysql-bin.000007:1000 tx= skip=0",
	}
	if got := transcript(t, evs); !slices.Equal(got, want) {
		t.Errorf("heartbeats at 0, 0.999, 1, 1.5, 2, 2.999 s:\n got %q\nwant %q", got, want)
	}
}

func TestHeartbeatNeverInsideATransactionAndCarriesTheStreamPosition(t *testing.T) {
	// A beat is asked for after every event, each two seconds after the last: one is due
	// every time, but only goes out between transactions.
	a := heartbeatAssembler(t, startPos(t), 0)
	var evs []connectors.Event
	now := t0
	for _, ev := range sample() {
		if err := a.handle(ev, appendTo(&evs)); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Second)
		if err := a.beat(now, appendTo(&evs)); err != nil {
			t.Fatal(err)
		}
	}
	hb := func(pos string, sec int) []string {
		return []string{"B " + pos + " tx= skip=0", fmt.Sprintf(`R __debezium-heartbeat.shop {"serverName":"shop"} {"ts_ms":%d}`, t0.UnixMilli()+int64(sec)*1000),
			"C " + pos + " tx= skip=0"}
	}
	var want []string
	// After the rotate: the start position.
	want = append(want, hb("0-1-10 mysql-bin.000007:1000", 2)...)
	want = append(want,
		"B 0-1-10 mysql-bin.000007:1000 tx=0-1-11 skip=0",
		"c row=0 gtid=0-1-11 pos=1100 after=1,5",
		"c row=1 gtid=0-1-11 pos=1100 after=2,6",
		"u row=0 gtid=0-1-11 pos=1300 before=1,5 after=1,7",
		"C 0-1-11 mysql-bin.000007:1431 tx= skip=0")
	want = append(want, hb("0-1-11 mysql-bin.000007:1431", 14)...)
	// 0-1-12 has no captured row: only the heartbeat tells its GTID, and the position after it.
	want = append(want, hb("0-1-12 mysql-bin.000007:1662", 22)...)
	want = append(want,
		"B 0-1-12 mysql-bin.000007:1662 tx=0-1-13 skip=0",
		"d row=0 gtid=0-1-13 pos=1762 before=2,6",
		"C 0-1-13 mysql-bin.000007:1893 tx= skip=0")
	want = append(want, hb("0-1-13 mysql-bin.000007:1893", 30)...)
	if got := transcript(t, evs); !slices.Equal(got, want) {
		t.Errorf("stream with a beat asked for after every event:\n got %q\nwant %q", got, want)
	}
}

func TestHeartbeatWaitsForTheTransactionToResume(t *testing.T) {
	// Resuming inside 0-1-11 after its first row: a heartbeat at the position before it would
	// store a point where that transaction is not begun, and its first row would come again.
	from := startPos(t)
	from.Tx = "0-1-11"
	a := heartbeatAssembler(t, from, 1)
	var evs []connectors.Event
	if err := a.beat(t0.Add(time.Hour), appendTo(&evs)); err != nil || len(evs) != 0 {
		t.Fatalf("beat before the resumed transaction: %v, %q; want nothing", err, transcript(t, evs))
	}
	events := sample()
	for _, ev := range events[:7] { // the rotate and 0-1-11, to its XID
		if err := a.handle(ev, appendTo(&evs)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.beat(t0.Add(time.Hour), appendTo(&evs)); err != nil {
		t.Fatal(err)
	}
	got := transcript(t, evs)
	want := []string{
		"B 0-1-10 mysql-bin.000007:1000 tx=0-1-11 skip=1",
		"c row=1 gtid=0-1-11 pos=1100 after=2,6",
		"u row=0 gtid=0-1-11 pos=1300 before=1,5 after=1,7",
		"C 0-1-11 mysql-bin.000007:1431 tx= skip=0",
		"B 0-1-11 mysql-bin.000007:1431 tx= skip=0",
		`R __debezium-heartbeat.shop {"serverName":"shop"} {"ts_ms":1700003600000}`,
		"C 0-1-11 mysql-bin.000007:1431 tx= skip=0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("resumed stream:\n got %q\nwant %q", got, want)
	}
}

func TestHeartbeatInsideATransactionIsPutOff(t *testing.T) {
	a := heartbeatAssembler(t, startPos(t), 0)
	var evs []connectors.Event
	events := sample()
	for _, ev := range events[:3] { // the rotate, 0-1-11's GTID and BEGIN
		if err := a.handle(ev, appendTo(&evs)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.beat(t0.Add(time.Hour), appendTo(&evs)); err != nil || len(evs) != 0 {
		t.Fatalf("beat inside a transaction: %v, %q; want nothing", err, transcript(t, evs))
	}
}

func TestHeartbeatsOff(t *testing.T) {
	cfg := testConfig()
	if newHeartbeats(cfg, t0) != nil {
		t.Fatal("heartbeats without an interval")
	}
	a, err := newAssembler(newScope(cfg), newSchemaTracker(cfg, testModel()), startPos(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	var evs []connectors.Event
	if err := a.beat(t0.Add(time.Hour), appendTo(&evs)); err != nil || len(evs) != 0 {
		t.Errorf("beat with heartbeats off: %v, %q; want nothing", err, transcript(t, evs))
	}
}

func TestHeartbeatCarriesTheIncrementalProgress(t *testing.T) {
	a := heartbeatAssembler(t, startPos(t), 0)
	prog := &IncrementalProgress{ID: "s1", Tables: []string{"shop.orders"}}
	a.inc = newIncremental(FlavorMariaDB, a.scope, zerolog.Nop(), prog)
	var evs []connectors.Event
	if err := a.beat(t0.Add(time.Second), appendTo(&evs)); err != nil || len(evs) != 3 {
		t.Fatalf("beat: %v, %d events; want 3", err, len(evs))
	}
	for _, i := range []int{0, 2} {
		p, _, err := decodePosition(evs[i].Position)
		if err != nil || p.Incremental == nil || p.Incremental.ID != "s1" {
			t.Errorf("heartbeat position %s: %v; want the incremental snapshot's progress", evs[i].Position, err)
		}
	}
}

func TestHeartbeatCutByThePipelineResumesAtItsPosition(t *testing.T) {
	// The pipeline may commit a Kafka transaction after the heartbeat's record and before its
	// Commit: it stores the Begin with Skip 1 (or more: resumed there, it counts on from the
	// stored Skip when the next heartbeat's Begin is the same position). That resumes at the
	// position, with nothing to skip, and Ack takes the Begin and then the Commit.
	a := heartbeatAssembler(t, startPos(t), 0)
	var evs []connectors.Event
	if err := a.beat(t0.Add(time.Second), appendTo(&evs)); err != nil || len(evs) != 3 {
		t.Fatalf("beat: %v, %d events; want 3", err, len(evs))
	}
	begin := evs[0].Position
	for _, skip := range []int64{1, 2} {
		begin.Skip = skip
		p, got, err := decodePosition(begin)
		if err != nil || got != 0 || p.String() != startPos(t).String() {
			t.Errorf("decodePosition(%s) = %s, %d, %v; want %s and no skip", begin, p, got, err, startPos(t))
		}
	}
	var s Source
	begin.Skip = 1
	if err := s.Ack(begin); err != nil {
		t.Fatalf("Ack of the cut heartbeat: %v", err)
	}
	if err := s.Ack(evs[2].Position); err != nil {
		t.Errorf("Ack of its Commit after it: %v", err)
	}
}

func TestServerHeartbeatPeriod(t *testing.T) {
	for _, tc := range []struct {
		period, interval, want time.Duration
	}{
		{10 * time.Second, 0, 10 * time.Second},
		{10 * time.Second, time.Second, 500 * time.Millisecond},
		{10 * time.Second, time.Minute, 10 * time.Second},
		{time.Second, 2 * time.Second, time.Second},
	} {
		cfg := Config{HeartbeatPeriod: tc.period, HeartbeatInterval: tc.interval}
		if got := serverHeartbeatPeriod(cfg); got != tc.want {
			t.Errorf("period %s, interval %s: server heartbeats every %s, want %s", tc.period, tc.interval, got, tc.want)
		}
	}
}

// A server heartbeat event (what wakes an idle stream) is handled between transactions and
// moves nothing: the heartbeat after it carries the position of the last transaction.
func TestHeartbeatAfterAServerHeartbeatEvent(t *testing.T) {
	a := heartbeatAssembler(t, startPos(t), 0)
	srv := &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.HEARTBEAT_EVENT, LogPos: 99999},
		Event: &replication.GenericEvent{}}
	var evs []connectors.Event
	if err := a.handle(srv, appendTo(&evs)); err != nil {
		t.Fatal(err)
	}
	if err := a.beat(t0.Add(time.Second), appendTo(&evs)); err != nil {
		t.Fatal(err)
	}
	if got := transcript(t, evs); len(got) != 3 || got[0] != "B 0-1-10 mysql-bin.000007:1000 tx= skip=0" {
		t.Errorf("after a server heartbeat: %q", got)
	}
}
