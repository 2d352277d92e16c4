package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcd-dev/cdcd/connectors"
)

// PublicationPurge says whether [Purge] drops the connector's publication too.
type PublicationPurge int

const (
	// PublicationKeep leaves the publication: one the user named may serve others.
	PublicationKeep PublicationPurge = iota
	// PublicationDrop drops it: cdcd named it after the connector and created it.
	PublicationDrop
)

// slotReleaseWait bounds how long Purge waits for the walsender of a stopped connector to end
// and release the slot.
const slotReleaseWait = 15 * time.Second

// Leftovers says what a deleted connector leaves on PostgreSQL and how to drop it: the slot
// keeps WAL on the server's disk until it is dropped.
func Leftovers(cfg Config, pub PublicationPurge) []string {
	cfg = cfg.withDefaults()
	out := []string{fmt.Sprintf("replication slot %s keeps WAL on %s until dropped: SELECT pg_drop_replication_slot('%s');",
		cfg.Slot, cfg.Database, cfg.Slot)}
	if pub == PublicationDrop {
		out = append(out, fmt.Sprintf("publication %s: DROP PUBLICATION %s;", cfg.Publication, pgx.Identifier{cfg.Publication}.Sanitize()))
	}
	return out
}

// Purge drops the replication slot of a connector that no longer runs, waiting (up to 15 s)
// for its walsender to end, and, with PublicationDrop, its publication. It returns what it
// dropped; what did not exist is not an error. Call it only once the connector's run has
// ended: a slot still in use after the wait is an error, not taken from its user.
func Purge(ctx context.Context, cfg Config, pub PublicationPurge) (_ []string, err error) {
	defer func() { err = connectors.PrefixOnce("postgres source: ", err) }()
	cfg = cfg.withDefaults()
	conn, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var dropped []string
	ok, err := dropSlot(ctx, conn, cfg.Slot)
	if err != nil {
		return dropped, err
	}
	if ok {
		dropped = append(dropped, "replication slot "+cfg.Slot)
	}
	if pub == PublicationDrop {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`,
			cfg.Publication).Scan(&exists); err != nil {
			return dropped, fmt.Errorf("postgres source: reading publication %s: %w", cfg.Publication, err)
		}
		if exists {
			if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{cfg.Publication}.Sanitize()); err != nil {
				return dropped, fmt.Errorf("postgres source: dropping publication %s: %w", cfg.Publication, err)
			}
			dropped = append(dropped, "publication "+cfg.Publication)
		}
	}
	return dropped, nil
}

// errSlotActive means the slot to drop is still in use after the wait.
var errSlotActive = errors.New("the replication slot is still in use")

// dropSlot drops slot once no walsender uses it; false when it did not exist.
func dropSlot(ctx context.Context, conn *pgx.Conn, slot string) (bool, error) {
	deadline := time.Now().Add(slotReleaseWait)
	pause := 50 * time.Millisecond
	for {
		var active bool
		var pid *int32
		err := conn.QueryRow(ctx, `SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&active, &pid)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("postgres source: reading replication slot %s: %w", slot, err)
		}
		if !active {
			if _, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)
				WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, slot); err != nil {
				return false, fmt.Errorf("postgres source: dropping replication slot %s: %w", slot, err)
			}
			return true, nil
		}
		// The walsender of the stopped run ends shortly after its connection closed.
		if time.Now().After(deadline) {
			who := "a process"
			if pid != nil {
				who = fmt.Sprintf("PID %d", *pid)
			}
			return false, fmt.Errorf("postgres source: dropping replication slot %s: %w by %s after %s", slot, errSlotActive, who, slotReleaseWait)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, time.Second)
	}
}
