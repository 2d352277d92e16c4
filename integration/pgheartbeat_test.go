package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPostgresHeartbeatsKeepAnIdleSlotMoving runs two connectors side by side, each on its own
// database holding a captured table and an uncaptured one, and writes about 2 MB/s of rows to
// the uncaptured tables only. The connector with heartbeat_interval 1s keeps its slot's
// retained WAL (pg_current_wal_lsn() - confirmed_flush_lsn) under heartbeatBound; the one
// without heartbeats retains every byte written since it started, past the bound. The heartbeat
// connector is killed with SIGKILL halfway: its captured rows (a trickle written meanwhile) and
// its heartbeat records each arrive exactly once to a read_committed consumer.
//
// Writes go on for 60 s, as the issue states: without heartbeats the retained WAL grows with
// every byte written (past 8 MB within the first 5 s, some 250 MB at the end), while with
// heartbeats it stays bounded by about one interval's worth of the server's WAL.
//
// The databases are separate because every slot of a database decodes every slot's heartbeat
// messages: the second connector would confirm the first one's heartbeat transactions (empty to
// it) and advance too. WAL is cluster-wide, so the heartbeat slot's retained WAL counts the
// writes into both databases (and any other test's): about 4 MB/s over the interval plus the
// commit latency, half the bound.
func TestPostgresHeartbeatsKeepAnIdleSlotMoving(t *testing.T) {
	const (
		writeFor       = 60 * time.Second
		tick           = 100 * time.Millisecond
		rowsPerTick    = 200 // of about 1 kB each: 2 MB/s per database
		capturedEvery  = 5   // ticks between two captured rows: 40 rows in all
		heartbeatBound = 8 << 20
		// settleFor is how long, writes going on, the heartbeat slot gets at the end to come
		// under the bound: a few intervals, for a burst of WAL from another test.
		settleFor = 10 * time.Second
	)
	ctx := t.Context()
	hbDB, ctlDB := NewPostgresDB(t), NewPostgresDB(t)
	hbConn, ctlConn := hbDB.Conn(t), ctlDB.Conn(t)
	for _, conn := range []*pgx.Conn{hbConn, ctlConn} {
		mustExec(t, conn, `CREATE TABLE captured (id int PRIMARY KEY, n int);
			CREATE TABLE noise (id bigserial PRIMARY KEY, pad text)`)
	}
	hb := NewPostgresConnector(t, hbDB, "public.captured")
	hb.Extra = []string{"heartbeat_interval: 1s"}
	ctl := NewPostgresConnector(t, ctlDB, "public.captured")
	hbProc := StartCDCD(t, hb.Config())
	StartCDCD(t, ctl.Config())
	hb.WaitStreaming(t, hbConn)
	ctl.WaitStreaming(t, ctlConn)

	retained := func(conn *pgx.Conn, slot string) (int64, error) {
		var n int64
		err := conn.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint
			FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&n)
		return n, err
	}
	lsnNow := func() int64 {
		var n int64
		if err := hbConn.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint`).Scan(&n); err != nil {
			t.Fatalf("reading the WAL position: %v", err)
		}
		return n
	}
	noise := fmt.Sprintf(`INSERT INTO noise (pad) SELECT repeat(md5(random()::text), 32) FROM generate_series(1, %d)`, rowsPerTick)
	startLSN := lsnNow()

	// Writes paced by a ticker; the checks ride on them. The heartbeat connector is killed
	// and restarted halfway; after writeFor, writing goes on until the heartbeat slot is
	// under the bound, for at most settleFor.
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	start := time.Now()
	captured, killed := 0, false
	var hbRetained, ctlRetained, hbMax int64
	for n := 1; ; n++ {
		<-ticker.C
		for _, conn := range []*pgx.Conn{hbConn, ctlConn} {
			mustExec(t, conn, noise)
		}
		if n%capturedEvery == 0 && time.Since(start) < writeFor {
			captured++
			mustExec(t, hbConn, `INSERT INTO captured VALUES ($1, $1)`, captured)
		}
		if !killed && time.Since(start) >= writeFor/2 {
			hbProc.Kill()
			hbProc = hbProc.Restart()
			killed = true
		}
		if n%10 != 0 {
			continue
		}
		var err error
		if hbRetained, err = retained(hbConn, hb.Name); err != nil {
			t.Fatalf("reading slot %s: %v", hb.Name, err)
		}
		if ctlRetained, err = retained(ctlConn, ctl.Name); err != nil {
			t.Fatalf("reading slot %s: %v", ctl.Name, err)
		}
		elapsed := time.Since(start)
		t.Logf("%5.1fs: retained WAL with heartbeats %.1f MB, without %.1f MB", elapsed.Seconds(), float64(hbRetained)/(1<<20), float64(ctlRetained)/(1<<20))
		if elapsed >= writeFor/2+5*time.Second {
			hbMax = max(hbMax, hbRetained)
		}
		if elapsed >= writeFor && hbRetained < heartbeatBound {
			break
		}
		if elapsed >= writeFor+settleFor {
			t.Fatalf("with heartbeats every 1s the slot still retains %d bytes of WAL after %s of writes to an uncaptured table, want under %d",
				hbRetained, elapsed.Round(time.Second), heartbeatBound)
		}
	}
	endLSN := lsnNow()
	t.Logf("%.1f MB of WAL written in %s; highest retained with heartbeats after the restart settled: %.1f MB",
		float64(endLSN-startLSN)/(1<<20), time.Since(start).Round(time.Second), float64(hbMax)/(1<<20))
	if ctlRetained <= heartbeatBound {
		t.Fatalf("without heartbeats the slot retains only %d bytes of WAL, want over %d: the writes did not show the problem", ctlRetained, heartbeatBound)
	}

	// Captured changes, around the heartbeats and the SIGKILL: each row once.
	consumer := NewAvroConsumer(t, hb.RegistryURL(), hb.Topic("captured"))
	records := consumer.Collect(t, captured, time.Minute)
	records = append(records, consumer.Drain(t, 3*time.Second)...)
	seen := map[int]int{}
	for _, r := range records {
		if r.Op() != "c" {
			t.Errorf("captured record with op %s, want c", r.Op())
			continue
		}
		seen[int(toInt64(r.After()["id"]))]++
	}
	for id := 1; id <= captured; id++ {
		if seen[id] != 1 {
			t.Errorf("captured row %d arrived %d times, want once", id, seen[id])
		}
	}
	if len(seen) != captured {
		t.Errorf("%d distinct captured rows arrived, want %d", len(seen), captured)
	}

	// The heartbeat topic: Debezium's key and value, and no heartbeat twice across the kill.
	// Stopped first, so that the topic stops growing and can be read to its end.
	hbProc.Stop(30 * time.Second)
	beats := readHeartbeats(t, "__debezium-heartbeat."+hb.Prefix)
	if want := int(writeFor/time.Second) / 2; len(beats) < want {
		t.Fatalf("%d heartbeat records in %s, want at least %d", len(beats), writeFor, want)
	}
	checkHeartbeatRecords(t, beats, hb.Prefix)
}

// checkHeartbeatRecords checks Debezium's heartbeat shape: the key names the topic prefix, and
// ts_ms grows from one record to the next and ends near now.
func checkHeartbeatRecords(t *testing.T, beats []heartbeatRecord, prefix string) {
	t.Helper()
	var last int64
	for i, b := range beats {
		if b.key.ServerName != prefix {
			t.Errorf("heartbeat %d: key serverName %q, want the topic prefix %q", i, b.key.ServerName, prefix)
		}
		if b.value.TsMs <= last {
			t.Errorf("heartbeat %d: ts_ms %d after %d: a heartbeat repeated or out of order", i, b.value.TsMs, last)
		}
		last = b.value.TsMs
	}
	if age := time.Since(time.UnixMilli(last)); age > time.Minute || age < -time.Minute {
		t.Errorf("last heartbeat's ts_ms %d is %s away from now", last, age)
	}
}

type heartbeatRecord struct {
	key struct {
		ServerName string `json:"serverName"`
	}
	value struct {
		TsMs int64 `json:"ts_ms"`
	}
}

// readHeartbeats reads topic's committed records from the start until none comes for 3 s
// (for asserting what arrived, not to wait for anything), each decoded as a heartbeat.
func readHeartbeats(t *testing.T, topic string) []heartbeatRecord {
	t.Helper()
	client := NewKafkaClient(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []heartbeatRecord
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		fetches := client.PollFetches(ctx)
		cancel()
		for _, e := range fetches.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				t.Fatalf("consuming %s: %v", topic, e.Err)
			}
		}
		recs := fetches.Records()
		if len(recs) == 0 {
			return out
		}
		for _, r := range recs {
			var b heartbeatRecord
			if err := json.Unmarshal(r.Key, &b.key); err != nil {
				t.Fatalf("heartbeat key %q: %v", r.Key, err)
			}
			if err := json.Unmarshal(r.Value, &b.value); err != nil {
				t.Fatalf("heartbeat value %q: %v", r.Value, err)
			}
			out = append(out, b)
		}
	}
}
