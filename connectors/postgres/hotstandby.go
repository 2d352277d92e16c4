package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Decoding from a hot standby (PostgreSQL 16+). A connector whose host is a standby creates
// its slot there and streams from it; what a standby cannot do, it does on the primary named by
// Config.HeartbeatHost: the heartbeats (a standby writes no WAL) and the running-xacts records
// a slot's creation waits for. The publication is the primary's, replicated: it must exist.

// minStandbyMajor is the first PostgreSQL major version that decodes on a standby.
const minStandbyMajor = 16

// inHotStandby tells whether conn's server is a standby, from the in_hot_standby parameter
// every server since PostgreSQL 14 reports at connection (and again if it changes).
func inHotStandby(conn *pgconn.PgConn) bool { return conn.ParameterStatus("in_hot_standby") == "on" }

// standbySettings are what Open reads of a server in recovery.
type standbySettings struct {
	major           int
	hotStandbyFeed  string
	primarySlotName string
}

// judgeStandby tells whether a standby with these settings can be decoded from by cfg's
// connector: PostgreSQL 16+, hot_standby_feedback on (without it the primary's vacuum removes
// catalog rows the slot still needs, and the standby invalidates the slot, conflicting), and
// heartbeats written on the primary.
func judgeStandby(cfg Config, st standbySettings) error {
	switch {
	case st.major < minStandbyMajor:
		return &ConfigError{Source: "postgres", Field: "host",
			Problem: fmt.Sprintf("%s:%d is a standby of PostgreSQL %d: logical decoding on a standby needs PostgreSQL 16 or later", cfg.Host, cfg.Port, st.major),
			Fix:     "point host at the primary, or upgrade the servers to PostgreSQL 16+"}
	case st.hotStandbyFeed != "on":
		return &ConfigError{Source: "postgres", Field: "hot_standby_feedback",
			Problem: fmt.Sprintf("is %q on standby %s:%d; decoding on a standby needs it on, or the primary removes catalog rows the slot needs and the standby invalidates the slot", st.hotStandbyFeed, cfg.Host, cfg.Port),
			Fix:     "on the standby: ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf(); and give it a physical slot on the primary (primary_slot_name) so that the feedback holds across its reconnections"}
	case cfg.HeartbeatInterval > 0 && cfg.HeartbeatHost == "":
		return &ConfigError{Source: "postgres", Field: "heartbeat_host",
			Problem: fmt.Sprintf("is empty, and %s:%d is a standby, which cannot write heartbeats", cfg.Host, cfg.Port),
			Fix:     "set postgres.heartbeat_host to the primary's host:port (the same user, password, database and TLS settings), or remove postgres.heartbeat_interval"}
	}
	return nil
}

// checkStandby reads whether conn's server is in recovery and, when it is, judges it
// (judgeStandby) and warns about what is allowed but fragile. It returns whether it is one.
func checkStandby(ctx context.Context, conn *pgx.Conn, cfg Config) (bool, error) {
	var recovery bool
	var st standbySettings
	err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery(), current_setting('server_version_num')::int / 10000,
		current_setting('hot_standby_feedback'), current_setting('primary_slot_name')`).
		Scan(&recovery, &st.major, &st.hotStandbyFeed, &st.primarySlotName)
	if err != nil {
		return false, fmt.Errorf("postgres source: reading whether the server is a standby: %w", err)
	}
	if !recovery {
		return false, nil
	}
	if err := judgeStandby(cfg, st); err != nil {
		return true, err
	}
	ev := cfg.Logger.Info()
	if st.primarySlotName == "" {
		ev = cfg.Logger.Warn().Str("fix", "set primary_slot_name on the standby to a physical slot of the primary")
	}
	ev.Str("slot", cfg.Slot).Str("heartbeat_host", cfg.HeartbeatHost).Str("primary_slot_name", st.primarySlotName).
		Msg("the server is a hot standby: the slot is created and decoded on it; heartbeats and running-xacts records are written on heartbeat_host")
	return true, nil
}

// standbyFix adds to a publication's configuration error on a standby that its fix runs on
// the primary: a standby is read-only, and the publication it decodes with is the primary's,
// replicated. Other errors, and any on a primary, are returned as they are.
func standbyFix(standby bool, err error) error {
	var ce *ConfigError
	if standby && errors.As(err, &ce) {
		c := *ce
		c.Fix += " (on the primary: the standby is read-only and has the primary's publications)"
		return &c
	}
	return err
}

// primaryConfig is cfg aimed at the primary named by HeartbeatHost (with cfg's port when it
// names none), for the connections that write: heartbeats and running-xacts records. Without
// HeartbeatHost it is cfg: a primary writes on itself.
func (c Config) primaryConfig() Config {
	if c.HeartbeatHost == "" {
		return c
	}
	h, p := splitHostPort(c.HeartbeatHost, c.Port)
	c.Host, c.Port, c.Hosts = h, p, nil
	return c
}

// standbySnapshotEvery is how often a slot's creation on a standby asks the primary for a
// running-xacts record.
const standbySnapshotEvery = time.Second

// nudgePrimary runs create, a slot's creation, and on a standby (standby true) meanwhile asks
// the primary (HeartbeatHost) for a running-xacts record every standbySnapshotEvery
// (pg_log_standby_snapshot(), PostgreSQL 16+): a slot created on a standby waits for such
// records to reach a consistent point (one with no transaction running, or several while
// transactions run), and an idle primary writes one only every 15 s of activity, or never.
// A failed request (the function is a superuser's unless granted) is logged once: creation
// still ends at the primary's own next record.
func nudgePrimary[T any](ctx context.Context, cfg Config, standby bool, create func() (T, error)) (T, error) {
	if !standby || cfg.HeartbeatHost == "" {
		return create()
	}
	nctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pcfg := cfg.primaryConfig()
		conn := newLazyConn(pcfg, time.Minute)
		defer conn.close()
		tick := time.NewTicker(standbySnapshotEvery)
		defer tick.Stop()
		warned := false
		for {
			err := onSideConn(nctx, pcfg, conn, standbySnapshotEvery, func(ctx context.Context, c *pgx.Conn) error {
				_, err := c.Exec(ctx, "SELECT pg_log_standby_snapshot()")
				return err
			})
			if err != nil && nctx.Err() == nil && !warned {
				warned = true
				cfg.Logger.Warn().Err(err).Str("slot", cfg.Slot).Str("heartbeat_host", cfg.HeartbeatHost).
					Str("fix", "GRANT EXECUTE ON FUNCTION pg_log_standby_snapshot() TO "+pgx.Identifier{cfg.User}.Sanitize()+" on the primary").
					Msg("cannot ask the primary for a running-xacts record: the slot's creation on the standby waits for the primary's own")
			}
			select {
			case <-nctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	defer func() {
		stop()
		<-done
	}()
	return create()
}
