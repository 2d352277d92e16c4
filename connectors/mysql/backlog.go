package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
)

// backlogInterval is how often a Stream measures the binlog bytes behind the server's position.
const backlogInterval = 5 * time.Second

var _ connectors.BacklogReporter = (*Source)(nil)

// binlogFile is one row of SHOW BINARY LOGS.
type binlogFile struct {
	name string
	size uint64
}

// bytesBehind returns the bytes of files past position pos of file; false when file is not
// among them (purged, or from another server).
func bytesBehind(files []binlogFile, file string, pos uint64) (int64, bool) {
	var n uint64
	found := false
	for _, f := range files {
		switch {
		case f.name == file:
			found = true
			if f.size > pos {
				n += f.size - pos
			}
		case found:
			n += f.size
		}
	}
	return int64(n), found
}

// measureBacklog measures the binlog bytes behind every backlogInterval until ctx ends, on a
// connection of its own. A failed measure (SHOW BINARY LOGS needs BINLOG MONITOR on MariaDB,
// REPLICATION CLIENT on MySQL) is logged at debug level and the last one kept.
func (s *Source) measureBacklog(ctx context.Context) {
	tick := time.NewTicker(backlogInterval)
	defer tick.Stop()
	var db *sql.DB
	defer func() {
		if db != nil {
			_ = db.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		acked, _ := s.Acked()
		if acked.File == "" {
			continue // nothing acknowledged yet in this process
		}
		err := func() error {
			if db == nil {
				c, err := connect(ctx, s.cfg)
				if err != nil {
					return err
				}
				db = c
			}
			files, err := showBinaryLogs(ctx, db)
			if err != nil {
				_ = db.Close()
				db = nil
				return err
			}
			if n, ok := bytesBehind(files, acked.File, acked.Pos); ok {
				s.Set(n)
			}
			return nil
		}()
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Debug().Err(err).Msg("binlog bytes behind not measured; trying again at the next interval")
		}
	}
}

// showBinaryLogs returns the server's binary log files and their sizes, in order.
func showBinaryLogs(ctx context.Context, db *sql.DB) ([]binlogFile, error) {
	qctx, cancel := context.WithTimeout(ctx, backlogInterval)
	defer cancel()
	rows, err := db.QueryContext(qctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("mysql source: SHOW BINARY LOGS: %w", err)
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("mysql source: SHOW BINARY LOGS: %w", err)
	}
	var files []binlogFile
	for rows.Next() {
		// Log_name, File_size, and on MySQL 8 Encrypted.
		vals := make([]any, len(cols))
		var f binlogFile
		vals[0], vals[1] = &f.name, &f.size
		for i := 2; i < len(vals); i++ {
			vals[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, fmt.Errorf("mysql source: SHOW BINARY LOGS: %w", err)
		}
		files = append(files, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql source: SHOW BINARY LOGS: %w", err)
	}
	return files, nil
}
