package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/snapshot"
)

// ErrNotResumable wraps the reason a position cannot be resumed from (CheckResume).
var ErrNotResumable = errors.New("mysql source: position cannot be resumed")

// CheckResume tells whether a source configured as cfg can resume from pos (nil), or why not:
// an error wrapping ErrNotResumable when the server no longer has the binary logs it needs,
// or ErrBadPosition for a position this package does not read or of another flavor.
func CheckResume(ctx context.Context, cfg Config, pos offsets.Position) (err error) {
	defer func() { err = connectors.PrefixOnce("mysql source: ", err) }()
	p, _, err := decodePosition(pos)
	if err != nil || p.IsZero() {
		return err
	}
	cfg = cfg.withDefaults()
	db, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return fmt.Errorf("mysql source: reading the server version: %w", err)
	}
	flavor := FlavorMySQL
	if strings.Contains(version, "MariaDB") {
		flavor = FlavorMariaDB
	}
	if !p.GTIDs.IsEmpty() && p.GTIDs.Flavor() != flavor {
		return badPosition("%s is a %s position, the server is %s", p, p.GTIDs.Flavor(), flavor)
	}
	s := &Source{cfg: cfg, flavor: flavor}
	binlogs, err := s.readBinlogState(ctx)
	if err != nil {
		return err
	}
	if why := binlogs.lost(p); why != "" {
		return fmt.Errorf("%w: %s", ErrNotResumable, why)
	}
	return nil
}

// Signal starts an incremental snapshot of tables by inserting an execute-snapshot row into
// the signal table of a source configured as cfg, as a user would; id names the signal.
func Signal(ctx context.Context, cfg Config, id string, tables []string) (err error) {
	defer func() { err = connectors.PrefixOnce("mysql source: ", err) }()
	if cfg.SignalTable == "" {
		return &ConfigError{Source: "mysql", Field: "signal table", Problem: "is not set: incremental snapshots need one",
			Fix: "set mysql.signal_table (a table with columns id, type, data)"}
	}
	db, table, ok := strings.Cut(cfg.SignalTable, ".")
	if !ok {
		return &ConfigError{Source: "mysql", Field: "signal table", Problem: fmt.Sprintf("%q is not database.table", cfg.SignalTable)}
	}
	data, _ := json.Marshal(snapshot.SignalData{DataCollections: tables, Type: "incremental"})
	cfg = cfg.withDefaults()
	conn, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	_, err = conn.ExecContext(ctx, "INSERT INTO "+quoteIdent(db)+"."+quoteIdent(table)+" (id, type, data) VALUES (?, ?, ?)",
		id, snapshot.SignalExecute, string(data))
	if err != nil {
		return fmt.Errorf("mysql source: writing the signal into %s: %w", cfg.SignalTable, err)
	}
	return nil
}
