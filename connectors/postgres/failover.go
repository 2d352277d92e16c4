package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// minFailoverMajor is the first PostgreSQL major version that synchronises logical slots to
// physical standbys (a slot created with failover = true, sync_replication_slots on the
// standby), so that a promoted standby has the slot.
const minFailoverMajor = 17

// failoverSlot tells whether a slot cdcd creates on the server of conn is a failover slot:
// on PostgreSQL 17+, for a permanent slot (a temporary one cannot be), on a primary (a
// standby refuses to create one: only a primary's slots are synchronised).
func failoverSlot(conn *pgconn.PgConn, temporary bool) bool {
	return !temporary && serverMajor(conn.ParameterStatus("server_version")) >= minFailoverMajor && !inHotStandby(conn)
}

// createExportingSlot creates the connector's pgoutput slot on the replication connection
// repl, exporting its snapshot; on PostgreSQL 17+ a permanent slot is created with
// FAILOVER, in the options syntax of PostgreSQL 15+ (pglogrepl writes the older one, which
// has no FAILOVER).
func createExportingSlot(ctx context.Context, repl *pgconn.PgConn, slot string, temporary bool) (pglogrepl.CreateReplicationSlotResult, error) {
	if !failoverSlot(repl, temporary) {
		return pglogrepl.CreateReplicationSlot(ctx, repl, slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
			Temporary: temporary, SnapshotAction: "EXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication})
	}
	// Slot names are checked by Config.Validate: lower-case letters, digits and _ only.
	sql := fmt.Sprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT 'export', FAILOVER true)", slot)
	return pglogrepl.ParseCreateReplicationSlot(repl.Exec(ctx, sql))
}

// createSlotSQL is the statement ensureSlot creates a slot without a snapshot with, on a
// normal connection: with failover => true on PostgreSQL 17+.
func createSlotSQL(conn *pgconn.PgConn) string {
	if failoverSlot(conn, false) {
		return "SELECT pg_create_logical_replication_slot($1, 'pgoutput', failover => true)"
	}
	return "SELECT pg_create_logical_replication_slot($1, 'pgoutput')"
}

// hostList is the host and port keywords of the connection string: the one server of
// Config.Host and Config.Port, or, with Config.Hosts, that server then each of Hosts, which
// libpq-style connecting tries in order, keeping the first that accepts writes
// (target_session_attrs=read-write): after a promotion, the new primary.
func (c Config) hostList() string {
	if len(c.Hosts) == 0 {
		return fmt.Sprintf("host=%s port=%d", quoteConnValue(c.Host), c.Port)
	}
	hosts, ports := []string{c.Host}, []string{strconv.Itoa(int(c.Port))}
	for _, hp := range c.Hosts {
		h, p := splitHostPort(hp, c.Port)
		hosts, ports = append(hosts, h), append(ports, strconv.Itoa(int(p)))
	}
	return fmt.Sprintf("host=%s port=%s target_session_attrs=read-write",
		quoteConnValue(strings.Join(hosts, ",")), quoteConnValue(strings.Join(ports, ",")))
}

// splitHostPort splits "host:port" ("[v6]:port"), or a host alone, which gets port def.
func splitHostPort(hp string, def uint16) (string, uint16) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return hp, def
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return hp, def
	}
	return h, uint16(n)
}

// slotFailoverQuery reads whether a slot is a failover slot (pg_replication_slots.failover,
// PostgreSQL 17; absent before, hence the jsonb).
const slotFailoverQuery = `SELECT coalesce((to_jsonb(s) ->> 'failover')::bool, false)
	FROM pg_replication_slots s WHERE slot_name = $1`

// warnNotFailover says, on PostgreSQL 17+, that an existing slot (created by an older cdcd, or
// by hand) is not a failover slot: a promoted standby will not have it, and the connector will
// then follow snapshot_mode. cdcd does not change it: ALTER_REPLICATION_SLOT needs the slot
// idle, on a replication connection, and is the operator's call.
func warnNotFailover(ctx context.Context, conn *pgx.Conn, cfg Config) error {
	if !failoverSlot(conn.PgConn(), false) {
		return nil
	}
	var failover bool
	if err := conn.QueryRow(ctx, slotFailoverQuery, cfg.Slot).Scan(&failover); err != nil {
		return fmt.Errorf("postgres source: reading whether slot %s is a failover slot: %w", cfg.Slot, err)
	}
	if !failover {
		cfg.Logger.Warn().Str("slot", cfg.Slot).
			Str("fix", fmt.Sprintf("ALTER_REPLICATION_SLOT %s (FAILOVER true) on a replication connection while cdcd is stopped", cfg.Slot)).
			Msg("the slot is not a failover slot: a promoted standby will not have it, and the connector would then follow snapshot_mode")
	}
	return nil
}
