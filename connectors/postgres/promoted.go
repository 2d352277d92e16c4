package postgres

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
)

// A slot missing after a promotion. A promoted standby has cdcd's slot only if it was a
// failover slot, synchronised (and persisted) on the standby before the promotion; otherwise
// the connector finds no slot on the new primary, and its stored position cannot be resumed.
// That case gets a message of its own, naming the promotion and the settings that prevent it,
// rather than the generic "does not exist (dropped?)".

// promotion describes the last timeline switch of a server: a promotion (or a point-in-time
// recovery) starts a new timeline.
type promotion struct {
	timeline int32
	// at is where the new timeline began: the end of the WAL the server had replayed.
	at pglogrepl.LSN
}

// String says where, for a message.
func (p promotion) String() string {
	if p.at == 0 {
		return fmt.Sprintf("timeline %d", p.timeline)
	}
	return fmt.Sprintf("timeline %d, which began at %s", p.timeline, p.at)
}

// readPromotion asks the server, on a replication connection of its own, for its timeline
// (IDENTIFY_SYSTEM) and, past the first, where it began (TIMELINE_HISTORY). It returns false
// for a server on its first timeline, never promoted nor recovered to a point.
func readPromotion(ctx context.Context, cfg Config) (promotion, bool, error) {
	repl, err := connectReplication(ctx, cfg)
	if err != nil {
		return promotion{}, false, err
	}
	defer func() { _ = repl.Close(context.WithoutCancel(ctx)) }()
	sys, err := pglogrepl.IdentifySystem(ctx, repl)
	if err != nil {
		return promotion{}, false, fmt.Errorf("postgres source: IDENTIFY_SYSTEM: %w", err)
	}
	if sys.Timeline <= 1 {
		return promotion{}, false, nil
	}
	p := promotion{timeline: sys.Timeline}
	hist, err := pglogrepl.TimelineHistory(ctx, repl, sys.Timeline)
	if err == nil {
		p.at = lastSwitch(hist.Content)
	}
	return p, true, nil
}

// lastSwitch reads the switch point of a timeline history file's last entry ("<parent
// timeline>\t<switch LSN>\t<reason>" per line); 0 when there is none.
func lastSwitch(content []byte) pglogrepl.LSN {
	var at pglogrepl.LSN
	for line := range bytes.Lines(content) {
		fields := strings.Fields(string(line))
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if _, err := strconv.Atoi(fields[0]); err != nil {
			continue
		}
		if lsn, ok := parseLSN(fields[1]); ok {
			at = lsn
		}
	}
	return at
}

// slotLostToPromotion is what decideStart says of a stored position whose slot is missing on
// a server that was promoted.
func slotLostToPromotion(slotName string, p promotion, resume position) string {
	return fmt.Sprintf("replication slot %s does not exist on this server, which was promoted (%s): "+
		"the standby was promoted before the slot was synchronised to it, or slots are not synchronised, "+
		"so stored position %s cannot be resumed. So that the next promotion keeps the slot: a failover slot "+
		"(PostgreSQL 17+, which cdcd creates with failover = true), sync_replication_slots = on and "+
		"hot_standby_feedback = on on the standby, synchronized_standby_slots on the primary naming the standby's "+
		"physical slot, and a promotion only once the standby's copy is synced and persisted "+
		"(pg_replication_slots: synced and not temporary)",
		slotName, p, resume.lsn)
}
