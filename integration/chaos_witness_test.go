package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// chaosWitnessDir, from CDCD_CHAOS_WITNESS, is where a PostgreSQL case that stalls writes what
// its witness slot decoded; empty: no witness slot. The witness is a second logical slot
// (test_decoding) created on the case's database before cdcd starts and never advanced, so
// that at a stall it still holds every transaction of the case, with its commit LSN: the
// missing changes' transactions, set against the connector's slot's confirmed LSN, say
// whether cdcd skipped them (committed before it) or the server never sent them.
var chaosWitnessDir = os.Getenv("CDCD_CHAOS_WITNESS")

// pgWitness is a case's witness slot.
type pgWitness struct {
	db   *PostgresDB
	slot string
	// of is the connector's slot.
	of string
}

// newPGWitness creates the witness slot on db, dropped when the test ends (before db).
func newPGWitness(t *testing.T, db *PostgresDB, of string) *pgWitness {
	t.Helper()
	// A slot's name has at most 63 bytes: the connector's ends with its unique suffix.
	w := &pgWitness{db: db, slot: "witness_" + of[max(0, len(of)-40):], of: of}
	conn := db.Conn(t)
	defer func() { _ = conn.Close(context.Background()) }()
	mustExec(t, conn, fmt.Sprintf(`SELECT pg_create_logical_replication_slot('%s', 'test_decoding')`, w.slot))
	t.Cleanup(func() {
		// t's context has ended by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		dc, err := pgx.Connect(ctx, db.DSN())
		if err != nil {
			t.Logf("witness: dropping slot %s: %v", w.slot, err)
			return
		}
		defer func() { _ = dc.Close(context.Background()) }()
		if _, err := dc.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, w.slot); err != nil {
			t.Logf("witness: dropping slot %s: %v", w.slot, err)
		}
	})
	return w
}

var witnessChange = regexp.MustCompile(`^table public\.counters: UPDATE: id\[integer\]:(\d+) v\[bigint\]:(\d+)`)

// report peeks the witness slot and writes to chaosWitnessDir every decoded row, then returns
// a summary: the transactions holding a counter value missing from records, with their commit
// LSNs, against the connector's slot's positions now.
func (w *pgWitness) report(t *testing.T, records []ChangeRecord, topic string) string {
	t.Helper()
	seen := map[[2]int64]bool{}
	for _, r := range records {
		if after := r.After(); r.Topic == topic && after != nil {
			seen[[2]int64{toInt64(after["id"]), toInt64(after["v"])}] = true
		}
	}
	conn := w.db.Conn(t)
	defer func() { _ = conn.Close(context.Background()) }()
	ctx := t.Context()
	var slotState string
	if err := conn.QueryRow(ctx, `SELECT format('confirmed %s restart %s WAL %s', confirmed_flush_lsn, restart_lsn, pg_current_wal_lsn())
		FROM pg_replication_slots WHERE slot_name = $1`, w.of).Scan(&slotState); err != nil {
		return "witness: reading the slot: " + err.Error()
	}
	rows, err := conn.Query(ctx, `SELECT lsn::text, xid::text, data FROM pg_logical_slot_peek_changes($1, NULL, NULL, 'include-xids', '1')`, w.slot)
	if err != nil {
		return "witness: peeking: " + err.Error()
	}
	defer rows.Close()
	var dump strings.Builder
	type txn struct {
		xid, begin, commit string
		changes, missing   int
	}
	var cur txn
	var missingTx []txn
	missing := 0
	for rows.Next() {
		var lsn, xid, data string
		if err := rows.Scan(&lsn, &xid, &data); err != nil {
			return "witness: reading: " + err.Error()
		}
		fmt.Fprintf(&dump, "%s %s %s\n", lsn, xid, data)
		switch {
		case strings.HasPrefix(data, "BEGIN"):
			cur = txn{xid: xid, begin: lsn}
		case strings.HasPrefix(data, "COMMIT"):
			cur.commit = lsn
			if cur.missing > 0 {
				missingTx = append(missingTx, cur)
			}
		default:
			if m := witnessChange.FindStringSubmatch(data); m != nil {
				cur.changes++
				id, _ := strconv.ParseInt(m[1], 10, 64)
				v, _ := strconv.ParseInt(m[2], 10, 64)
				if !seen[[2]int64{id, v}] {
					cur.missing++
					missing++
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return "witness: reading: " + err.Error()
	}
	var sum strings.Builder
	fmt.Fprintf(&sum, "witness: slot %s: %s; %d changes missing in %d transactions", w.of, slotState, missing, len(missingTx))
	for i, tx := range missingTx {
		if i == 20 {
			fmt.Fprintf(&sum, " ...")
			break
		}
		fmt.Fprintf(&sum, "; xid %s begin %s commit(end) %s: %d of %d missing", tx.xid, tx.begin, tx.commit, tx.missing, tx.changes)
	}
	file := filepath.Join(chaosWitnessDir, w.slot+".txt")
	if err := os.WriteFile(file, []byte(sum.String()+"\n"+dump.String()), 0o644); err != nil {
		t.Logf("witness: %v", err)
	} else {
		fmt.Fprintf(&sum, " (all in %s)", file)
	}
	return sum.String()
}
