package integration

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresRestartIsSurvivedExactlyOnce restarts PostgreSQL while cdcd streams: in pg_ctl's
// fast mode after the workload paused on a write to a table not captured (the walsender then
// waits, before it ends the stream, for cdcd to confirm WAL that no captured transaction
// carries), in fast mode under the workload (the walsender ends the replication stream:
// CopyDone, CommandComplete), and in immediate mode (the connection drops). The server must
// shut down, the connector must come back by itself each time, and a read_committed consumer
// must see every change exactly once and in per-key order. (Smart mode:
// TestPostgresSmartShutdownCompletes.)
func TestPostgresRestartIsSurvivedExactlyOnce(t *testing.T) {
	pg := StartPrivatePostgres(t)
	db := pg.NewDB(t)
	mustExec(t, db.Conn(t), `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL); CREATE TABLE other (id int)`)
	c := NewPostgresConnector(t, db, "public.counters")
	cdcd := StartCDCD(t, c.Config())
	waitSlotActive(t, cdcd, db, c.Name)
	mustExec(t, db.Conn(t), `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)

	writer := startReconnectingWriter(t, db)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	var records []ChangeRecord
	for _, phase := range []struct {
		mode  string
		quiet bool
	}{{"fast", true}, {"fast", false}, {"immediate", false}} {
		records = append(records, collectWhileRunning(t, cdcd, consumer, 200)...)
		if phase.quiet {
			writer.stop(t)
			mustExec(t, db.Conn(t), `INSERT INTO other VALUES (1)`)
		}
		pg.Restart(t, phase.mode)
		t.Logf("PostgreSQL restarted in %s mode (workload paused: %t)", phase.mode, phase.quiet)
		if phase.quiet {
			writer = startReconnectingWriter(t, db)
		}
		// Recovered: streaming again, and changes written after the restart arrive.
		waitSlotActive(t, cdcd, db, c.Name)
		records = append(records, collectWhileRunning(t, cdcd, consumer, 200)...)
	}
	writer.stop(t)
	checkCountersInTable(t, db, consumer, records, "three restarts")
	if !strings.Contains(cdcd.Logs(), "PostgreSQL ended the replication stream (server shutting down?)") {
		t.Errorf("the log does not say that PostgreSQL ended the replication stream:\n%s", cdcd.Logs())
	}
	cdcd.Stop(time.Minute)
}

// TestPostgresSmartShutdownCompletes stops PostgreSQL in pg_ctl's smart mode while cdcd
// streams, once the workload has left: a smart shutdown waits for every normal session to end
// before it ends the walsenders, so cdcd must hold none open while it only streams. The server
// must stop within a deadline, and once it is started again the connector must come back by
// itself, every change exactly once. It failed before: cdcd's catalog session (and the
// publication check's) stayed open while streaming, and the shutdown waited forever.
func TestPostgresSmartShutdownCompletes(t *testing.T) {
	pg := StartPrivatePostgres(t)
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.counters")
	cdcd := StartCDCD(t, c.Config())
	waitSlotActive(t, cdcd, db, c.Name)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)
	// Every session of the test's own must be gone before the smart shutdown.
	_ = conn.Close(context.Background())

	writer := startReconnectingWriter(t, db)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	records := collectWhileRunning(t, cdcd, consumer, 200)
	writer.stop(t)

	pg.Stop(t, "smart", false)
	if err := Eventually(90*time.Second, func() error {
		if !pg.Stopped() {
			return errors.New("the server still runs")
		}
		return nil
	}); err != nil {
		t.Fatalf("a smart shutdown did not complete within 90 s while cdcd streamed: %v; cdcd log:\n%s", err, cdcd.Logs())
	}
	t.Logf("the smart shutdown completed")
	pg.Start(t)

	writer = startReconnectingWriter(t, db)
	waitSlotActive(t, cdcd, db, c.Name)
	records = append(records, collectWhileRunning(t, cdcd, consumer, 200)...)
	writer.stop(t)
	checkCountersInTable(t, db, consumer, records, "a smart shutdown")
	cdcd.Stop(time.Minute)
}

// checkCountersInTable reads the rest of the counters' changes and checks that every one
// arrived exactly once, in per-key order. Every committed increment added one to a counter:
// the table itself says how many changes there were, whatever server restarts did to the
// writer's transactions in flight.
func checkCountersInTable(t *testing.T, db *PostgresDB, consumer *AvroConsumer, records []ChangeRecord, across string) {
	t.Helper()
	conn := db.Conn(t)
	defer func() { _ = conn.Close(context.Background()) }()
	var increments int
	if err := conn.QueryRow(t.Context(), `SELECT coalesce(sum(v), 0) FROM counters`).Scan(&increments); err != nil {
		t.Fatalf("summing the counters: %v", err)
	}
	expected := counterKeys + increments
	records = collectCounters(t, consumer, records, expected)
	t.Logf("%d changes written across %s, %d records read", expected, across, len(records))
	checkCounters(t, records, expected)
}

// waitSlotActive waits until a walsender streams from slot, failing at once if cdcd exited.
func waitSlotActive(t *testing.T, cdcd *CDCD, db *PostgresDB, slot string) {
	t.Helper()
	WaitFor(t, 2*time.Minute, "cdcd streaming from slot "+slot, func() error {
		if cdcd.Exited() {
			t.Fatalf("cdcd exited; log:\n%s", cdcd.Logs())
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, db.DSN())
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(context.Background()) }()
		var active bool
		if err := conn.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&active); err != nil {
			return err
		}
		if !active {
			return errors.New("the slot is not active")
		}
		return nil
	})
}

// collectWhileRunning reads at least n records within two minutes, failing at once if cdcd
// exits meanwhile.
func collectWhileRunning(t *testing.T, cdcd *CDCD, consumer *AvroConsumer, n int) []ChangeRecord {
	t.Helper()
	var out []ChangeRecord
	deadline := time.Now().Add(2 * time.Minute)
	for len(out) < n {
		if cdcd.Exited() {
			t.Fatalf("cdcd exited after %d of %d records; log:\n%s", len(out), n, cdcd.Logs())
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d records within 2m; log:\n%s", len(out), n, cdcd.Logs())
		}
		out = append(out, consumer.Poll(t, time.Second)...)
	}
	return out
}

// reconnectingWriter runs the counters workload through server restarts: a failed transaction
// (its outcome perhaps unknown) is not counted, the connection is opened again, and the writing
// goes on. The table's sum of counters is then the number of increments committed.
type reconnectingWriter struct {
	done chan struct{}
	wg   sync.WaitGroup
}

func startReconnectingWriter(t *testing.T, db *PostgresDB) *reconnectingWriter {
	t.Helper()
	w := &reconnectingWriter{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.done:
				return
			case <-t.Context().Done():
				return
			default:
			}
			conn, err := pgx.Connect(t.Context(), db.DSN())
			if err != nil {
				// The server is restarting: try again shortly.
				select {
				case <-w.done:
					return
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			var written atomic.Int64 // not the count: see reconnectingWriter
			_ = writeCounters(t.Context(), pgIncrement(conn), w.done, &written)
			_ = conn.Close(context.Background())
		}
	}()
	return w
}

// stop ends the workload.
func (w *reconnectingWriter) stop(t *testing.T) {
	t.Helper()
	close(w.done)
	w.wg.Wait()
}
