package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cdcd-dev/cdcd/internal/procmem"
)

// copyBackendCPU runs the ceiling's COPY on a connection of the bench's own and returns the CPU
// time its server process spent, from /proc/PID/stat: what PostgreSQL itself spends per row of
// the table, without psql. ok is false when the server's processes are not readable here (a
// server on another host, another PID namespace).
func (b *bench) copyBackendCPU(ctx context.Context, db *pgDatabase) (cpu time.Duration, ok bool, err error) {
	conn, err := b.connect(ctx, db.name)
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var pid int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return 0, false, fmt.Errorf("reading the backend's PID: %w", err)
	}
	before, err := procmem.CPU(pid)
	if err != nil {
		return 0, false, nil
	}
	if _, err := conn.PgConn().CopyTo(ctx, io.Discard, copyTableSQL); err != nil {
		return 0, false, fmt.Errorf("COPY of %s: %w", benchTable, err)
	}
	after, err := procmem.CPU(pid)
	if err != nil {
		return 0, false, nil
	}
	return after - before, true, nil
}
