package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// workload is the fixed workload of the raw and throughput measurements: rows committed after
// both slots were created, so each slot holds exactly these changes.
type workload struct {
	db *pgDatabase
	// rawSlot is read by pg_recvlogical, cdcdSlot by cdcd.
	rawSlot, cdcdSlot string
	// endLSN is pg_current_wal_lsn() after the last commit.
	endLSN  string
	elapsed time.Duration
}

// prepareWorkload creates the database, the two slots, then inserts the rows in transactions of
// txRows rows.
func (b *bench) prepareWorkload(ctx context.Context) (*workload, error) {
	b.progress("preparing the workload: %d rows in transactions of %d", b.s.rows, b.s.txRows)
	db, err := b.newDatabase(ctx, "tput")
	if err != nil {
		return nil, err
	}
	w := &workload{db: db, rawSlot: db.name + "_raw", cdcdSlot: db.name + "_cdcd"}
	for _, slot := range []string{w.rawSlot, w.cdcdSlot} {
		if err := b.createSlot(ctx, db, slot); err != nil {
			return nil, err
		}
	}
	conn, err := b.connect(ctx, db.name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	start := time.Now()
	for from := int64(1); from <= int64(b.s.rows); from += int64(b.s.txRows) {
		to := min(from+int64(b.s.txRows)-1, int64(b.s.rows))
		if err := insertRange(ctx, conn, from, to); err != nil {
			return nil, fmt.Errorf("workload: %w", err)
		}
	}
	w.elapsed = time.Since(start)
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&w.endLSN); err != nil {
		return nil, fmt.Errorf("workload: reading pg_current_wal_lsn(): %w", err)
	}
	b.progress("workload written in %s, WAL at %s", w.elapsed.Round(time.Millisecond), w.endLSN)
	return w, nil
}

// recvlogicalArgs are pg_recvlogical's arguments to stream slot from its start to endLSN and
// throw the pgoutput messages away.
func recvlogicalArgs(host string, port int, database, slot, publication, endLSN string) []string {
	return []string{
		"-h", host, "-p", strconv.Itoa(port), "-U", "postgres", "-d", database, "--no-password",
		"--slot", slot, "--start", "-P", "pgoutput",
		"-o", "proto_version=2", "-o", "publication_names=" + publication,
		"--endpos", endLSN, "--no-loop", "-f", "/dev/null",
	}
}

// measureRaw times pg_recvlogical reading the workload: the rate PostgreSQL decodes and sends
// it, with no client work beyond receiving. It returns events per second.
func (b *bench) measureRaw(ctx context.Context, w *workload) (float64, error) {
	b.progress("raw read rate: pg_recvlogical on slot %s up to %s", w.rawSlot, w.endLSN)
	// A stuck pg_recvlogical must not hang the bench: the whole read gets the stall budget on top
	// of a generous one second per 10 000 events.
	limit := b.s.stall + time.Duration(b.s.rows/10_000)*time.Second
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pg_recvlogical",
		recvlogicalArgs(b.s.pgHost, b.s.pgPort, w.db.name, w.rawSlot, w.db.publication, w.endLSN)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return 0, fmt.Errorf("raw read rate: pg_recvlogical did not reach %s within %s: %s", w.endLSN, limit, out.Bytes())
	}
	if err != nil {
		return 0, fmt.Errorf("raw read rate: pg_recvlogical: %w: %s", err, out.Bytes())
	}
	// pg_recvlogical confirms what it wrote before it exits at endpos: a slot short of the end
	// means the rate counted events that were never read.
	if err := b.checkConfirmed(ctx, w.db, w.rawSlot, w.endLSN); err != nil {
		return 0, fmt.Errorf("raw read rate: %w", err)
	}
	b.progress("pg_recvlogical read %d events in %s", b.s.rows, elapsed.Round(time.Millisecond))
	return float64(b.s.rows) / elapsed.Seconds(), nil
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
