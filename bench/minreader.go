package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cdcd-dev/cdcd/internal/procmem"
)

// minimalStatusInterval is how often the minimal reader reports its position, as pg_recvlogical
// does by default (--status-interval 10 s): the server drops a silent client after
// wal_sender_timeout.
const minimalStatusInterval = 10 * time.Second

// pgoutputInsert is the first byte of a pgoutput Insert message.
const pgoutputInsert = 'I'

// rawRead is one timed read of the workload by a raw reader.
type rawRead struct {
	// elapsed is the whole read, connection included.
	elapsed time.Duration
	// span, when the reader can tell (the minimal one), runs from the first event received to
	// the last: the span cdcd's throughput is measured over.
	span time.Duration
	// cpu is the reader's CPU time, user and system.
	cpu time.Duration
}

// readMinimal times the second ceiling: a reader of slot on the same replication protocol as
// cdcd (pglogrepl, pgoutput v2 with the same publication) that throws every message away
// without decoding it. It looks at one byte per message, to count the inserts and stop after
// the workload's rows. Its CPU time is the bench process's over the read, during which the
// bench does nothing else.
func (b *bench) readMinimal(ctx context.Context, db *pgDatabase, slot string, rows int) (rawRead, error) {
	b.progress("minimal reader: pglogrepl on slot %s, %d inserts, messages discarded", slot, rows)
	limit := b.rawLimit()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cpuBefore, err := procmem.CPU(os.Getpid())
	if err != nil {
		return rawRead{}, err
	}
	start := time.Now()
	conn, err := pgconn.Connect(ctx, b.dsn(db.name)+"&replication=database")
	if err != nil {
		return rawRead{}, fmt.Errorf("minimal reader: connecting for replication: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	err = pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{
		// Binary, as cdcd's stream and the raw ceiling (recvlogicalArgs).
		PluginArgs: []string{"proto_version '2'", "publication_names '" + db.publication + "'", "binary 'true'"},
	})
	if err != nil {
		return rawRead{}, fmt.Errorf("minimal reader: starting replication on slot %s: %w", slot, err)
	}
	inserts, span, err := discardMessages(ctx, conn, rows)
	if err != nil {
		if ctx.Err() != nil {
			return rawRead{}, fmt.Errorf("minimal reader: %d of %d inserts within %s: %w", inserts, rows, limit, err)
		}
		return rawRead{}, fmt.Errorf("minimal reader: after %d of %d inserts: %w", inserts, rows, err)
	}
	elapsed := time.Since(start)
	cpuAfter, err := procmem.CPU(os.Getpid())
	if err != nil {
		return rawRead{}, err
	}
	return rawRead{elapsed: elapsed, span: span, cpu: cpuAfter - cpuBefore}, nil
}

// discardMessages receives the replication stream until rows inserts have arrived, answering
// the server's keepalives and reporting its position every minimalStatusInterval. span runs from
// the first insert's arrival to the last's. It receives as cdcd's stream does
// (connectors/postgres, streamer.run): under a read deadline, the next status's time or ctx's
// end, rather than with a context pgconn would watch per message, so that the ceiling pays no
// cost per message cdcd does not.
func discardMessages(ctx context.Context, conn *pgconn.PgConn, rows int) (inserts int, span time.Duration, err error) {
	var received pglogrepl.LSN
	var first time.Time
	netConn := conn.Conn()
	defer func() { _ = netConn.SetReadDeadline(time.Time{}) }()
	end, hasEnd := ctx.Deadline()
	setDeadline := func() error {
		next := time.Now().Add(minimalStatusInterval)
		if hasEnd && end.Before(next) {
			next = end
		}
		return netConn.SetReadDeadline(next)
	}
	if err := setDeadline(); err != nil {
		return 0, 0, fmt.Errorf("setting a read deadline: %w", err)
	}
	for inserts < rows {
		msg, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			if !pgconn.Timeout(err) || conn.IsClosed() {
				return inserts, 0, fmt.Errorf("receiving: %w", err)
			}
			if ctx.Err() != nil {
				return inserts, 0, ctx.Err()
			}
			if err := sendStatus(ctx, conn, received); err != nil {
				return inserts, 0, err
			}
			if err := setDeadline(); err != nil {
				return inserts, 0, fmt.Errorf("setting a read deadline: %w", err)
			}
			continue
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.XLogDataByteID:
				// 'w', WAL start, WAL end, send time (8 bytes each), then the pgoutput message.
				const header = 1 + 3*8
				if len(m.Data) > header && m.Data[header] == pgoutputInsert {
					inserts++
					if inserts == 1 {
						first = time.Now()
					}
					if inserts == rows {
						span = time.Since(first)
					}
				}
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				k, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return inserts, 0, fmt.Errorf("parsing a keepalive: %w", err)
				}
				received = max(received, k.ServerWALEnd)
				if k.ReplyRequested {
					if err := sendStatus(ctx, conn, received); err != nil {
						return inserts, 0, err
					}
				}
			}
		case *pgproto3.ErrorResponse:
			return inserts, 0, fmt.Errorf("server error: %s", m.Message)
		}
	}
	return inserts, span, nil
}

// sendStatus reports lsn as received, flushed and applied: the server's own figure, so nothing is
// confirmed that was not sent.
func sendStatus(ctx context.Context, conn *pgconn.PgConn, lsn pglogrepl.LSN) error {
	err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: lsn, WALFlushPosition: lsn, WALApplyPosition: lsn,
	})
	if err != nil {
		return fmt.Errorf("sending the position: %w", err)
	}
	return nil
}
