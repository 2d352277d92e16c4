package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/snapshot"
)

// PublicationGapPolicy says what a Stream does when a table it captures leaves the
// publication. PostgreSQL does not decode the changes of a table outside the publication, and
// adding it back does not bring them back: every change in between is lost to the slot.
type PublicationGapPolicy uint8

// The publication gap policies.
const (
	// PublicationGapResnapshot logs an error naming the table and the window, adds the table
	// back to the publication and re-reads it with an incremental snapshot, so that the topic
	// holds every row as it now is. The default.
	PublicationGapResnapshot PublicationGapPolicy = iota
	// PublicationGapFail logs the same error and ends the Stream with a *ConfigError (the
	// connector is FAILED), leaving the publication and the re-read to the operator.
	PublicationGapFail
)

// String names the policy as configuration files spell it.
func (p PublicationGapPolicy) String() string {
	switch p {
	case PublicationGapResnapshot:
		return "resnapshot"
	case PublicationGapFail:
		return "fail"
	default:
		return "PublicationGapPolicy(" + strconv.Itoa(int(p)) + ")"
	}
}

// The bounds of Config.PublicationCheckInterval.
const (
	// DefaultPublicationCheckInterval is how often a Stream checks that the publication still
	// covers the captured tables, besides at each Relation message.
	DefaultPublicationCheckInterval = 5 * time.Second
	// MinPublicationCheckInterval and MaxPublicationCheckInterval bound it: each check is
	// two small catalog queries.
	MinPublicationCheckInterval = 100 * time.Millisecond
	MaxPublicationCheckInterval = time.Hour
)

// checkPublicationWatch rejects a publication gap policy or check interval out of range; nil
// when both are fine.
func (c Config) checkPublicationWatch() error {
	switch {
	case c.PublicationGap > PublicationGapFail:
		return &ConfigError{Source: "postgres", Field: "publication gap", Problem: c.PublicationGap.String() + " is not a policy",
			Fix: "use resnapshot or fail"}
	case c.PublicationCheckInterval < MinPublicationCheckInterval || c.PublicationCheckInterval > MaxPublicationCheckInterval:
		return &ConfigError{Source: "postgres", Field: "publication check interval",
			Problem: c.PublicationCheckInterval.String() + " is out of range",
			Fix:     fmt.Sprintf("use %s to %s", MinPublicationCheckInterval, MaxPublicationCheckInterval)}
	}
	return nil
}

// resnapshotPrefix is the prefix of the transactional logical decoding messages that ask the
// Stream to re-read tables whose changes the publication lost. Their content is
// "<slot>:<id>:<schema.table>,<schema.table>...": every slot of the database decodes them, and
// each source acts only on its own. Written in the same transaction as the ALTER PUBLICATION
// that restores the tables, the request is as durable as the restore: a crash before its
// transaction is committed to Kafka decodes it again.
const resnapshotPrefix = "cdcd-resnapshot"

// parseResnapshot reads the content of a resnapshot message; ok is false when it is another
// slot's or malformed.
func parseResnapshot(slot string, content []byte) (id string, tables []string, ok bool) {
	rest, ok := strings.CutPrefix(string(content), slot+":")
	if !ok {
		return "", nil, false
	}
	id, list, ok := strings.Cut(rest, ":")
	if !ok || id == "" || len(id) > snapshot.MaxSignalID || list == "" {
		return "", nil, false
	}
	tables = connectors.SplitTableList(list)
	for _, t := range tables {
		if !validTableName(t) {
			return "", nil, false
		}
	}
	return id, tables, true
}

// resnapshotMessage is the content of the message asking slot to re-read tables.
func resnapshotMessage(slot, id string, tables []string) string {
	return slot + ":" + id + ":" + strings.Join(tables, ",")
}

// resnapshotRequested takes a resnapshot message of the open transaction: applied, as a
// signal is, when the transaction commits.
func (a *assembler) resnapshotRequested(content []byte) error {
	if err := a.needTx("resnapshot message"); err != nil || a.drop || a.inc == nil {
		return err
	}
	id, tables, ok := parseResnapshot(a.inc.slot, content)
	if !ok {
		return nil // another slot's
	}
	a.inc.regaps = append(a.inc.regaps, signal{ID: id, Kind: snapshot.SignalExecute, Tables: tables})
	return nil
}

// applyResnapshots starts the incremental snapshots the committed transaction asked for. A
// table the running snapshot is reading starts again from its first key: the rows read so far
// were read before the gap. A table still waiting in the running snapshot is read later
// anyway, after the gap.
func (inc *incremental) applyResnapshots() {
	for _, sig := range inc.regaps {
		if inc.prog != nil && slices.Contains(sig.Tables, inc.prog.Tables[0]) {
			inc.log.Info().Str("table", inc.prog.Tables[0]).Str("snapshot", inc.prog.ID).
				Msg("incremental snapshot: the table being read lost changes from the publication; reading it again from its start")
			// The open window's watermark, when it comes, no longer matches: ignored.
			inc.prog = &incrementalProgress{ID: inc.prog.ID, Tables: inc.prog.Tables}
			inc.window, inc.windowNext, inc.cur = nil, nil, nil
		}
		inc.execute(sig)
	}
	inc.regaps = inc.regaps[:0]
}

// pubState is what one check read of the publication.
type pubState struct {
	exists bool
	oid    uint32
	all    bool
	// members are the published tables among those watched, each with the oid of its
	// pg_publication_rel row: a table removed and added back has a new one. 0 when the table
	// is published otherwise (FOR TABLES IN SCHEMA).
	members map[string]uint32
	// lsn is the server's WAL position at the check; at its time.
	lsn string
	at  time.Time
}

// covers tells whether the publication publishes t.
func (s *pubState) covers(t string) bool {
	if !s.exists {
		return false
	}
	if s.all {
		return true
	}
	_, ok := s.members[t]
	return ok
}

// pubGap is a table whose changes the publication lost: from since (the last check that saw
// it published, nil when none did in this Stream) to until.
type pubGap struct {
	table string
	// readded is true when the table is published again, under a new membership: removed and
	// added back between two checks.
	readded bool
	since   *pubState
	until   *pubState
}

// window describes the gap for logs and errors.
func (g pubGap) window() string {
	from := "before this stream started"
	if g.since != nil {
		from = fmt.Sprintf("%s (LSN %s)", g.since.at.UTC().Format(time.RFC3339), g.since.lsn)
	}
	return fmt.Sprintf("between %s and %s (LSN %s)", from, g.until.at.UTC().Format(time.RFC3339), g.until.lsn)
}

// findGaps compares the publication now (cur) with the last check (prev, nil at the first)
// for each watched table: a table not published now, or published under another membership
// (or publication) than at the last check, lost changes in between.
func findGaps(prev *pubState, cur *pubState, watched []string) []pubGap {
	var gaps []pubGap
	for _, t := range watched {
		switch {
		case !cur.covers(t):
			gaps = append(gaps, pubGap{table: t, since: prev, until: cur})
		case prev == nil || !prev.covers(t):
			// Already reported while it was out (or the first look): nothing new.
		case prev.oid != cur.oid:
			// The publication itself was dropped and created again.
			gaps = append(gaps, pubGap{table: t, readded: true, since: prev, until: cur})
		case prev.members[t] != 0 && cur.members[t] != 0 && prev.members[t] != cur.members[t]:
			gaps = append(gaps, pubGap{table: t, readded: true, since: prev, until: cur})
		}
	}
	return gaps
}

// pubWatch checks, while a Stream runs, that the publication covers the captured tables and
// the signal table: every PublicationCheckInterval and at each Relation message (which follows
// a change of the publication's membership). It runs in a goroutine of its own on a
// connection of its own, so that the stream loop, which answers the server's keepalives, never
// waits on it.
type pubWatch struct {
	cfg     Config
	watched []string
	poke    chan struct{}
	// fail ends the Stream with a cause, under PublicationGapFail.
	fail context.CancelCauseFunc

	prev *pubState
	// owed are the tables whose changes were lost and that are not yet restored and re-read;
	// absent are those of them known not to exist as tables now.
	owed   map[string]pubGap
	absent map[string]bool

	mu     sync.Mutex
	failed error
	stop   func()
}

// watchPublication starts the check of the publication for a Stream whose loop runs under
// ctx, which fail cancels. It returns nil when there is nothing to check (no table named, or a
// FOR ALL TABLES publication, which every new table joins); the result's close stops it.
func (s *Source) watchPublication(ctx context.Context, fail context.CancelCauseFunc) *pubWatch {
	watched := publishedTables(s.cfg)
	if len(watched) == 0 {
		return nil
	}
	w := &pubWatch{cfg: s.cfg, watched: watched, poke: make(chan struct{}, 1), fail: fail,
		owed: map[string]pubGap{}, absent: map[string]bool{}}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(wctx)
	}()
	w.stop = func() {
		cancel()
		<-done
	}
	return w
}

// close stops the watch and waits for its goroutine; nil-safe.
func (w *pubWatch) close() {
	if w != nil {
		w.stop()
	}
}

// relation asks for a check soon, without waiting: a Relation message arrived. Nil-safe.
func (w *pubWatch) relation() {
	if w == nil {
		return
	}
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// err returns the error the watch ended the Stream with; nil when none. Nil-safe.
func (w *pubWatch) err() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

func (w *pubWatch) run(ctx context.Context) {
	every := w.cfg.PublicationCheckInterval
	if every <= 0 {
		every = DefaultPublicationCheckInterval
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	// Opened for each check and closed after it: see lazyConn.
	conn := newLazyConn(w.cfg, 0)
	defer conn.close()
	for {
		err := w.check(ctx, conn)
		if err != nil && ctx.Err() == nil {
			var fatal *pubFatalError
			if errors.As(err, &fatal) {
				w.mu.Lock()
				w.failed = fatal.err
				w.mu.Unlock()
				w.fail(fatal.err)
				return
			}
			// A server that is gone fails the stream itself; the next check tries again.
			w.cfg.Logger.Warn().Err(err).Str("publication", w.cfg.Publication).
				Msg("publication not checked; trying again at the next interval")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-w.poke:
		}
	}
}

// check reads the publication on conn, reports the tables that lost changes since the last
// check, and applies the policy to every table still owed a re-read.
func (w *pubWatch) check(ctx context.Context, conn *lazyConn) error {
	return onSideConn(ctx, w.cfg, conn, w.cfg.PublicationCheckInterval, w.checkOn)
}

// onSideConn runs do on conn, the connection of a periodic task beside the stream (heartbeats,
// the publication check), bounding do by the larger of interval and the connect timeout: a
// call stuck on a lock or a server in trouble is given up and tried again at the next
// interval, on a new connection.
func onSideConn(ctx context.Context, cfg Config, conn *lazyConn, interval time.Duration,
	do func(context.Context, *pgx.Conn) error) error {
	dctx, cancel := context.WithTimeout(ctx, max(interval, cfg.ConnectTimeout))
	defer cancel()
	return conn.do(dctx, do)
}

// pubFatalError carries the error a check ends the Stream with: a gap under
// PublicationGapFail, or a publication cdcd may not repair. Other errors of a check (a
// connection lost or refused) are logged and the check is tried again: the Stream meets them
// itself if they last.
type pubFatalError struct{ err error }

func (e *pubFatalError) Error() string { return e.err.Error() }

func (e *pubFatalError) Unwrap() error { return e.err }

func (w *pubWatch) checkOn(ctx context.Context, conn *pgx.Conn) error {
	cur, err := readPublication(ctx, conn, w.cfg.Publication, w.watched)
	if err != nil {
		return err
	}
	for _, g := range findGaps(w.prev, cur, w.watched) {
		if _, ok := w.owed[g.table]; ok {
			continue
		}
		w.owed[g.table] = g
		what := "captured table left the publication: PostgreSQL does not decode its changes while it is out"
		if g.readded {
			what = "captured table was removed from the publication and added back: its changes in between were not decoded"
		}
		if g.table == w.cfg.SignalTable {
			what = "the signal table left the publication: signals written while it is out are not seen"
		}
		w.cfg.Logger.Error().Str("table", g.table).Str("publication", w.cfg.Publication).
			Str("window", g.window()).Str("policy", w.cfg.PublicationGap.String()).Msg(what)
	}
	w.prev = cur
	if len(w.owed) == 0 {
		return nil
	}
	if w.cfg.PublicationGap == PublicationGapFail {
		return &pubFatalError{err: w.failure(cur)}
	}
	return w.restore(ctx, conn, cur)
}

// failure is the error that ends the Stream under PublicationGapFail, naming the first table
// owed and its window.
func (w *pubWatch) failure(cur *pubState) error {
	tables := make([]string, 0, len(w.owed))
	for t := range w.owed {
		tables = append(tables, t)
	}
	slices.Sort(tables)
	g := w.owed[tables[0]]
	var missing []string
	for _, t := range tables {
		if !cur.covers(t) {
			missing = append(missing, t)
		}
	}
	pub := pgx.Identifier{w.cfg.Publication}.Sanitize()
	fix := ""
	if len(missing) > 0 {
		fix = fmt.Sprintf("ALTER PUBLICATION %s ADD TABLE %s, then ", pub, quoteTables(missing))
	}
	fix += "re-read the tables with an execute-snapshot signal (rows deleted meanwhile stay in the topics), " +
		"or set postgres.publication_gap: resnapshot to have cdcd do both"
	return &ConfigError{Source: "postgres", Field: "publication",
		Problem: fmt.Sprintf("table %s lost its changes %s: it was not in publication %s (tables owed: %s)",
			g.table, g.window(), w.cfg.Publication, strings.Join(tables, ", ")),
		Fix: fix}
}

// restore adds the owed tables back to the publication (creating it when it is gone) and, in
// the same transaction, writes the message that has the Stream re-read the captured ones. A
// table that does not exist now stays owed: restored and read when it is created again.
func (w *pubWatch) restore(ctx context.Context, conn *pgx.Conn, cur *pubState) error {
	owed := make([]string, 0, len(w.owed))
	for t := range w.owed {
		owed = append(owed, t)
	}
	slices.Sort(owed)
	schemas, names := splitTables(owed)
	rows, err := conn.Query(ctx, `SELECT ns.nspname, c.relname FROM pg_class c
		JOIN pg_namespace ns ON ns.oid = c.relnamespace
		JOIN unnest($1::text[], $2::text[]) AS w(s, n) ON ns.nspname = w.s AND c.relname = w.n
		WHERE c.relkind IN ('r', 'p')`, schemas, names)
	if err != nil {
		return fmt.Errorf("postgres source: looking up the tables to restore to publication %s: %w", w.cfg.Publication, err)
	}
	existing, err := pgx.CollectRows(rows, scanTableName)
	if err != nil {
		return fmt.Errorf("postgres source: looking up the tables to restore to publication %s: %w", w.cfg.Publication, err)
	}
	var add, reread []string
	for _, t := range owed {
		if !slices.Contains(existing, t) {
			if !w.absent[t] {
				w.absent[t] = true
				w.cfg.Logger.Error().Str("table", t).Str("publication", w.cfg.Publication).
					Msg("captured table does not exist: restored to the publication and re-read once it is created again")
			}
			continue
		}
		if !cur.covers(t) {
			add = append(add, t)
		}
		if t != w.cfg.SignalTable {
			reread = append(reread, t)
		}
	}
	if len(add) == 0 && len(reread) == 0 {
		return nil
	}
	pub := pgx.Identifier{w.cfg.Publication}.Sanitize()
	var stmts []string
	switch {
	case !cur.exists:
		var all []string
		for _, t := range w.watched {
			if slices.Contains(existing, t) || cur.covers(t) {
				all = append(all, t)
			}
		}
		stmts = append(stmts, "CREATE PUBLICATION "+pub+" FOR TABLE "+quoteTables(all)+publicationOptions(w.cfg))
	case len(add) > 0:
		stmts = append(stmts, "ALTER PUBLICATION "+pub+" ADD TABLE "+quoteTables(add))
	}
	id := "publication-gap-" + strconv.FormatInt(cur.at.UnixMilli(), 10)
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		if len(reread) > 0 {
			if _, err := tx.Exec(ctx, "SELECT pg_logical_emit_message(true, $1::text, $2::text)",
				resnapshotPrefix, resnapshotMessage(w.cfg.Slot, id, reread)); err != nil {
				return fmt.Errorf("writing the resnapshot message: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil && !IsRetryable(err) && !isDuplicateObject(err) {
			return &pubFatalError{err: &ConfigError{Source: "postgres", Field: "publication",
				Problem: fmt.Sprintf("cannot restore %s to publication %s after a gap", strings.Join(owed, ", "), w.cfg.Publication),
				Fix: "give the connector's user ownership of the tables and the publication, or run " +
					strings.Join(append(stmts, "an execute-snapshot signal of the tables"), ", then "), Err: err}}
		}
		// Added back meanwhile by someone else, or a connection lost: the next check sees.
		return fmt.Errorf("postgres source: restoring publication %s: %w", w.cfg.Publication, err)
	}
	for _, t := range add {
		delete(w.owed, t)
	}
	for _, t := range reread {
		delete(w.owed, t)
	}
	ev := w.cfg.Logger.Warn().Str("publication", w.cfg.Publication).Strs("restored", add)
	if len(reread) > 0 {
		ev = ev.Strs("reread", reread).Str("snapshot", id)
	}
	ev.Msg("publication restored; the tables that lost changes are re-read by an incremental snapshot (rows deleted meanwhile stay in their topics)")
	return nil
}

// splitTables splits "schema.table" names into their parts, for unnest($1::text[], $2::text[])
// in SQL; a name that does not parse (there are none once the configuration is checked) is
// left out.
func splitTables(tables []string) (schemas, names []string) {
	for _, t := range tables {
		if s, n, ok := splitTable(t); ok {
			schemas, names = append(schemas, s), append(names, n)
		}
	}
	return schemas, names
}

// isDuplicateObject tells whether err is PostgreSQL's duplicate_object: a table already in the
// publication, or a publication already there.
func isDuplicateObject(err error) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == "42710"
}

// readPublication reads the publication's state for the watched tables.
func readPublication(ctx context.Context, conn *pgx.Conn, name string, watched []string) (*pubState, error) {
	st := &pubState{members: map[string]uint32{}}
	err := conn.QueryRow(ctx, `SELECT coalesce((SELECT oid FROM pg_publication WHERE pubname = $1), 0),
		coalesce((SELECT puballtables FROM pg_publication WHERE pubname = $1), false),
		(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
		clock_timestamp()`, name).Scan(&st.oid, &st.all, &st.lsn, &st.at)
	if err != nil {
		return nil, fmt.Errorf("postgres source: reading publication %s: %w", name, err)
	}
	st.exists = st.oid != 0
	if !st.exists || st.all {
		return st, nil
	}
	// A table is published through its own pg_publication_rel row (a partitioned table's too,
	// which pg_publication_tables lists as its partitions unless publish_via_partition_root),
	// or through its schema (FOR TABLES IN SCHEMA), which pg_publication_tables shows.
	schemas, names := splitTables(watched)
	rows, err := conn.Query(ctx, `SELECT ns.nspname, c.relname, coalesce(r.oid, 0)
		FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
		JOIN unnest($3::text[], $4::text[]) AS w(s, n) ON ns.nspname = w.s AND c.relname = w.n
		LEFT JOIN pg_publication_rel r ON r.prpubid = $2 AND r.prrelid = c.oid
		WHERE r.oid IS NOT NULL OR EXISTS (
			SELECT 1 FROM pg_publication_tables t
			WHERE t.pubname = $1 AND t.schemaname = ns.nspname AND t.tablename = c.relname)`, name, st.oid, schemas, names)
	if err != nil {
		return nil, fmt.Errorf("postgres source: reading the tables of publication %s: %w", name, err)
	}
	var schema, table string
	var oid uint32
	_, err = pgx.ForEachRow(rows, []any{&schema, &table, &oid}, func() error {
		st.members[connectors.JoinTable(schema, table)] = oid
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres source: reading the tables of publication %s: %w", name, err)
	}
	return st, nil
}
