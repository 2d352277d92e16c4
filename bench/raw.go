package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresDatabase is the PostgreSQL side of the bench: its measurements keep the names and
// table rows they had before MySQL joined.
func (b *bench) postgresDatabase() database {
	return database{
		raw: measureRaw, throughput: measureThroughput, latency: measureLatency, bigTx: measureBigTx,
		throughputScraped: measureThroughputScraped, throughputJSON: measureThroughputJSON,
		snapshot:        measureSnapshot,
		rawLabel:        "raw read rate (pg_recvlogical)",
		rawNote:         "pgoutput v2 to /dev/null, to the LSN after the workload",
		latencyClock:    "commit (source.ts_ms) to visible",
		newTarget:       func(ctx context.Context, phase string) (target, error) { return b.newPGTarget(ctx, phase) },
		prepareWorkload: b.preparePGWorkload,
	}
}

// pgTarget is a bench database with the replication slot cdcd reads: changes committed after
// its creation are kept for cdcd.
type pgTarget struct {
	b    *bench
	db   *pgDatabase
	slot string
	// snapshotMode is the snapshot_mode of cdcd's connector.
	snapshotMode string
	// chunkRows is the snapshot_chunk_rows of cdcd's connector; 0: cdcd's default.
	chunkRows int
	// conn writes the rows; closed at cleanup.
	conn *pgx.Conn
}

// newPGTarget creates the database of phase, its cdcd slot, and the connection that writes. The
// slot exists before any row, so cdcd streams every change and snapshots nothing (no_data).
func (b *bench) newPGTarget(ctx context.Context, phase string) (*pgTarget, error) {
	t, err := b.openPGTarget(ctx, phase, "no_data")
	if err != nil {
		return nil, err
	}
	if err := b.createSlot(ctx, t.db, t.slot); err != nil {
		return nil, err
	}
	return t, nil
}

// openPGTarget creates the database of phase and the connection that writes, but not the slot:
// a cdcd started on it creates the slot itself.
func (b *bench) openPGTarget(ctx context.Context, phase, snapshotMode string) (*pgTarget, error) {
	db, err := b.newDatabase(ctx, phase)
	if err != nil {
		return nil, err
	}
	t := &pgTarget{b: b, db: db, slot: db.name + "_cdcd", snapshotMode: snapshotMode}
	if t.conn, err = b.connect(ctx, db.name); err != nil {
		return nil, err
	}
	b.onCleanup("closing the connection to "+db.name, func(ctx context.Context) error { return t.conn.Close(ctx) })
	return t, nil
}

func (t *pgTarget) source() connectorSource {
	return pgSource{host: t.b.s.pgHost, port: t.b.s.pgPort, database: t.db.name, slot: t.slot,
		publication: t.db.publication, snapshotMode: t.snapshotMode, snapshotThreads: t.b.s.snapshotThreads, chunkRows: t.chunkRows}
}

func (t *pgTarget) streaming(ctx context.Context, _ cdcdConfig) (bool, error) {
	return t.b.slotActive(ctx, t.db, t.slot)
}

func (t *pgTarget) insert(ctx context.Context, from, to int64) error {
	return insertRange(ctx, t.conn, from, to)
}

// preparePGWorkload creates the database and the slots, cdcd's and two each for pg_recvlogical
// and the minimal reader (each reads the workload twice, before and after cdcd), then writes the
// workload: each slot holds exactly its changes.
func (b *bench) preparePGWorkload(ctx context.Context, beforeWrite func(context.Context, target) error) (*workload, error) {
	t, err := b.newPGTarget(ctx, "tput")
	if err != nil {
		return nil, err
	}
	var rawSlots, minimalSlots []string
	for round := range 2 {
		raw, minimal := fmt.Sprintf("%s_raw%d", t.db.name, round+1), fmt.Sprintf("%s_min%d", t.db.name, round+1)
		for _, slot := range []string{raw, minimal} {
			if err := b.createSlot(ctx, t.db, slot); err != nil {
				return nil, err
			}
		}
		rawSlots, minimalSlots = append(rawSlots, raw), append(minimalSlots, minimal)
	}
	if err := beforeWrite(ctx, t); err != nil {
		return nil, err
	}
	w := &workload{target: t}
	if w.elapsed, err = b.writeWorkload(ctx, t); err != nil {
		return nil, err
	}
	var endLSN string
	if err := t.conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&endLSN); err != nil {
		return nil, fmt.Errorf("workload: reading pg_current_wal_lsn(): %w", err)
	}
	b.progress("workload written in %s, WAL at %s", w.elapsed.Round(time.Millisecond), endLSN)
	// Each read consumes its slot: the next read takes the next one.
	w.readRaw = func(ctx context.Context) (rawRead, error) {
		if len(rawSlots) == 0 {
			return rawRead{}, fmt.Errorf("no pg_recvlogical slot left")
		}
		slot := rawSlots[0]
		rawSlots = rawSlots[1:]
		return b.readRecvlogical(ctx, t.db, slot, endLSN)
	}
	w.readMinimal = func(ctx context.Context) (rawRead, error) {
		if len(minimalSlots) == 0 {
			return rawRead{}, fmt.Errorf("no minimal reader slot left")
		}
		slot := minimalSlots[0]
		minimalSlots = minimalSlots[1:]
		return b.readMinimal(ctx, t.db, slot, b.s.rows)
	}
	return w, nil
}

// recvlogicalArgs are pg_recvlogical's arguments to stream slot from its start to endLSN and
// throw the pgoutput messages away. The messages are in pgoutput's binary format, as cdcd asks
// for them on PostgreSQL 14 and later (the bench's servers): the server's text output functions
// cost it more than the binary send functions, so a text ceiling would not be cdcd's.
func recvlogicalArgs(host string, port int, database, slot, publication, endLSN string) []string {
	return []string{
		"-h", host, "-p", strconv.Itoa(port), "-U", "postgres", "-d", database, "--no-password",
		"--slot", slot, "--start", "-P", "pgoutput",
		"-o", "proto_version=2", "-o", "publication_names=" + publication, "-o", "binary=true",
		"--endpos", endLSN, "--no-loop", "-f", "/dev/null",
	}
}

// readRecvlogical times pg_recvlogical reading slot up to endLSN: PostgreSQL decoding and
// sending the workload.
func (b *bench) readRecvlogical(ctx context.Context, db *pgDatabase, slot, endLSN string) (rawRead, error) {
	b.progress("raw read rate: pg_recvlogical on slot %s up to %s", slot, endLSN)
	limit := b.rawLimit()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pg_recvlogical",
		recvlogicalArgs(b.s.pgHost, b.s.pgPort, db.name, slot, db.publication, endLSN)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return rawRead{}, fmt.Errorf("pg_recvlogical did not reach %s within %s: %s", endLSN, limit, out.Bytes())
	}
	if err != nil {
		return rawRead{}, fmt.Errorf("pg_recvlogical: %w: %s", err, out.Bytes())
	}
	// pg_recvlogical confirms what it wrote before it exits at endpos: a slot short of the end
	// means the rate counted events that were never read.
	if err := b.checkConfirmed(ctx, db, slot, endLSN); err != nil {
		return rawRead{}, err
	}
	return rawRead{elapsed: elapsed, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}

// checkConfirmed fails unless slot's confirmed position has reached lsn.
func (b *bench) checkConfirmed(ctx context.Context, db *pgDatabase, slot, lsn string) error {
	conn, err := b.connect(ctx, db.name)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var confirmed string
	var reached bool
	err = conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text, confirmed_flush_lsn >= $2::pg_lsn
		FROM pg_replication_slots WHERE slot_name = $1`, slot, lsn).Scan(&confirmed, &reached)
	if err != nil {
		return fmt.Errorf("reading the position of slot %s: %w", slot, err)
	}
	if !reached {
		return fmt.Errorf("slot %s confirmed %s, short of %s", slot, confirmed, lsn)
	}
	return nil
}
