package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/jackc/pgx/v5"
)

// pgSourceConfig returns a source configuration for db, as the superuser postgres.
func pgSourceConfig(t *testing.T, db *PostgresDB, tables ...string) postgres.Config {
	t.Helper()
	host, port, err := net.SplitHostPort(StackFromEnv().PostgresAddr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return postgres.Config{
		Host: host, Port: uint16(p), User: "postgres", Database: db.Name, SSLMode: "disable",
		Slot: Name(t, "slot"), Publication: Name(t, "pub"), Tables: tables,
		StatusInterval: 200 * time.Millisecond,
		// These tests are about streaming; integration/pgsnapshot_test.go covers snapshots.
		SnapshotMode: postgres.SnapshotNoData,
	}
}

func openPGSource(t *testing.T, cfg postgres.Config) *postgres.Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	src, err := postgres.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg, err)
	}
	return src
}

func TestPGSourceOpenCreatesPublicationAndSlot(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, "CREATE TABLE items (id int PRIMARY KEY); CREATE TABLE other (id int PRIMARY KEY)")
	ctx := t.Context()

	cfg := pgSourceConfig(t, db, "public.items")
	openPGSource(t, cfg)
	var tables string
	if err := conn.QueryRow(ctx, `SELECT string_agg(schemaname || '.' || tablename, ',')
		FROM pg_publication_tables WHERE pubname = $1`, cfg.Publication).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != "public.items" {
		t.Errorf("publication %s covers %q, want public.items", cfg.Publication, tables)
	}
	var plugin, kind string
	var temporary bool
	if err := conn.QueryRow(ctx, `SELECT plugin, slot_type, temporary FROM pg_replication_slots
		WHERE slot_name = $1`, cfg.Slot).Scan(&plugin, &kind, &temporary); err != nil {
		t.Fatalf("reading slot %s: %v", cfg.Slot, err)
	}
	if plugin != "pgoutput" || kind != "logical" || temporary {
		t.Errorf("slot %s: plugin %s, type %s, temporary %t", cfg.Slot, plugin, kind, temporary)
	}
	// Opening again finds both and accepts them.
	openPGSource(t, cfg)

	all := pgSourceConfig(t, db)
	openPGSource(t, all)
	var allTables bool
	if err := conn.QueryRow(ctx, `SELECT puballtables FROM pg_publication WHERE pubname = $1`,
		all.Publication).Scan(&allTables); err != nil || !allTables {
		t.Errorf("publication %s without configured tables: puballtables %t, %v", all.Publication, allTables, err)
	}
}

func TestPGSourceOpenFailsFastWithWhatToFix(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, "CREATE TABLE items (id int PRIMARY KEY); CREATE TABLE other (id int PRIMARY KEY)")
	narrow := Name(t, "narrow")
	mustExec(t, conn, "CREATE PUBLICATION "+narrow+" FOR TABLE items")
	role := Name(t, "role")
	mustExec(t, conn, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
	})

	tests := []struct {
		name   string
		change func(*postgres.Config)
		field  string
		says   []string
	}{
		{"missing database", func(c *postgres.Config) { c.Database = "no_such_db_" + db.Name[:8] },
			"database", []string{"does not exist", "no_such_db_"}},
		{"missing role", func(c *postgres.Config) { c.User = "no_such_role_x" },
			"user", []string{`"no_such_role_x"`, "127.0.0.1"}},
		{"role without REPLICATION", func(c *postgres.Config) { c.User = role },
			"user", []string{"REPLICATION", role}},
		{"missing table", func(c *postgres.Config) { c.Tables = []string{"public.items", "public.ghost"} },
			"tables", []string{"public.ghost"}},
		{"publication missing a table", func(c *postgres.Config) {
			c.Publication = narrow
			c.Tables = []string{"public.items", "public.other"}
			// Under the default, resnapshot, the stream adds it back and re-reads it.
			c.PublicationGap = postgres.PublicationGapFail
		}, "publication", []string{"public.other", "ALTER PUBLICATION"}},
		{"publication must exist", func(c *postgres.Config) { c.PublicationPolicy = postgres.PublicationMustExist },
			"publication", []string{"does not exist", "CREATE PUBLICATION"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := pgSourceConfig(t, db, "public.items")
			cfg.Password = "never-shown-pw"
			tt.change(&cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			_, err := postgres.Open(ctx, cfg)
			var ce *postgres.ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("Open = %v, want a ConfigError on %s", err, tt.field)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "never-shown-pw") {
				t.Errorf("error shows the password: %v", err)
			}
			var slots int
			if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1",
				cfg.Slot).Scan(&slots); err != nil || slots != 0 {
				t.Errorf("a failed Open left slot %s behind (%d, %v)", cfg.Slot, slots, err)
			}
		})
	}
}

// pgStream runs a Source's Stream in the background.
type pgStream struct {
	events <-chan connectors.Event
	done   chan error
	cancel context.CancelFunc
}

func startPGStream(t *testing.T, src *postgres.Source, from offsets.Position) *pgStream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	events, q := EventChan(ctx, 4)
	s := &pgStream{events: events, done: make(chan error, 1), cancel: cancel}
	go func() { s.done <- src.Stream(ctx, from, q) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// next returns the next event, failing the test if none comes within 30 s or the stream ends.
func (s *pgStream) next(t *testing.T) connectors.Event {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case err := <-s.done:
		s.done <- err
		t.Fatalf("the stream ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30s")
	}
	return connectors.Event{}
}

// stop cancels the stream and returns what Stream returned.
func (s *pgStream) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Stream did not return within 30s of its context's end")
	}
	return nil
}

// describe renders an event for comparison: "begin", "commit", or op, table and row id.
func describe(t *testing.T, ev connectors.Event) string {
	t.Helper()
	switch ev.Kind {
	case connectors.EventBegin:
		return "begin"
	case connectors.EventCommit:
		return "commit"
	}
	c := ev.Change
	if c.Op == decoder.OpTruncate {
		return "t " + c.Table.Name
	}
	row := c.After
	if c.Op == decoder.OpDelete {
		row = c.Before
	}
	return fmt.Sprintf("%s %s %d", c.Op, c.Table.Name, row[0].Int)
}

// readTx reads one transaction's events and checks their shape.
func readTx(t *testing.T, s *pgStream) (begin, commit connectors.Event, changes []string) {
	t.Helper()
	begin = s.next(t)
	if begin.Kind != connectors.EventBegin {
		t.Fatalf("event %s, want a Begin", describe(t, begin))
	}
	var xid int64
	for {
		ev := s.next(t)
		if ev.Kind == connectors.EventCommit {
			return begin, ev, changes
		}
		if ev.Kind != connectors.EventChange {
			t.Fatalf("event %s inside a transaction", describe(t, ev))
		}
		src := ev.Change.Source
		if xid == 0 {
			xid = postgres.SourceTxID(&src)
		}
		if postgres.SourceTxID(&src) != xid || xid == 0 || postgres.SourceLSN(&src) == 0 || src.CommitTime.IsZero() {
			t.Errorf("change %s has source %+v (transaction's xid %d)", describe(t, ev), src, xid)
		}
		changes = append(changes, describe(t, ev))
	}
}

func slotConfirmed(t *testing.T, conn *pgx.Conn, slot string) string {
	t.Helper()
	var lsn string
	if err := conn.QueryRow(t.Context(), `SELECT coalesce(confirmed_flush_lsn::text, '') FROM pg_replication_slots
		WHERE slot_name = $1`, slot).Scan(&lsn); err != nil {
		t.Fatalf("reading slot %s: %v", slot, err)
	}
	return lsn
}

func waitSlotInactive(t *testing.T, conn *pgx.Conn, slot string) {
	t.Helper()
	WaitFor(t, 30*time.Second, "slot "+slot+" to be released", func() error {
		var active bool
		if err := conn.QueryRow(t.Context(), "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
			slot).Scan(&active); err != nil {
			return err
		}
		if active {
			return errors.New("still active")
		}
		return nil
	})
}

func lsnOf(t *testing.T, pos offsets.Position) string {
	t.Helper()
	var p struct {
		LSN string `json:"lsn"`
	}
	s := string(pos.Source)
	if _, err := fmt.Sscanf(s, `{"lsn":%q`, &p.LSN); err != nil {
		t.Fatalf("position %s: %v", pos, err)
	}
	return p.LSN
}

// TestPGSourceStreamsAcksAndResumes covers the source's contract on one database: commit order
// across interleaved transactions, each operation, acknowledgement up to exactly the acked LSN,
// resume after a commit and resume inside a transaction with Skip.
func TestPGSourceStreamsAcksAndResumes(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	other := db.Conn(t)
	mustExec(t, conn, "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
	cfg := pgSourceConfig(t, db, "public.items")
	src := openPGSource(t, cfg)
	confirmedAtStart := slotConfirmed(t, conn, cfg.Slot)

	// A and B interleave; B commits first, so it comes first.
	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "INSERT INTO items VALUES (1, 'a')")
	mustExec(t, other, "BEGIN")
	mustExec(t, other, "INSERT INTO items VALUES (2, 'b')")
	mustExec(t, conn, "INSERT INTO items VALUES (3, 'a')")
	mustExec(t, other, "UPDATE items SET name = 'bb' WHERE id = 2")
	mustExec(t, other, "COMMIT")
	mustExec(t, conn, "DELETE FROM items WHERE id = 1")
	mustExec(t, conn, "COMMIT")
	mustExec(t, conn, "TRUNCATE items")

	stream := startPGStream(t, src, offsets.Position{})
	beginB, commitB, changesB := readTx(t, stream)
	beginA, commitA, changesA := readTx(t, stream)
	_, commitT, changesT := readTx(t, stream)
	got := strings.Join(changesB, ",") + " | " + strings.Join(changesA, ",") + " | " + strings.Join(changesT, ",")
	if want := "c items 2,u items 2 | c items 1,c items 3,d items 1 | t items"; got != want {
		t.Fatalf("transactions:\n%s\nwant:\n%s", got, want)
	}
	if lsnOf(t, beginB.Position) != confirmedAtStart || lsnOf(t, beginA.Position) != lsnOf(t, commitB.Position) {
		t.Errorf("Begin positions %s, %s: want lsn %s, then B's end %s", beginB.Position, beginA.Position,
			confirmedAtStart, commitB.Position)
	}

	// Ack B only: the slot confirms exactly B's end, and stays there while status updates go on.
	if err := src.Ack(commitB.Position); err != nil {
		t.Fatalf("Ack(%s): %v", commitB.Position, err)
	}
	WaitFor(t, 20*time.Second, "the slot to confirm B's end", func() error {
		if got := slotConfirmed(t, conn, cfg.Slot); got != lsnOf(t, commitB.Position) {
			return fmt.Errorf("confirmed_flush_lsn %s, want %s", got, lsnOf(t, commitB.Position))
		}
		return nil
	})
	var since time.Time
	if err := conn.QueryRow(t.Context(), "SELECT now()").Scan(&since); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 20*time.Second, "two more standby status updates", func() error {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_replication
			WHERE application_name = 'cdcd' AND reply_time > $1::timestamptz + interval '300 milliseconds'`, since).Scan(&n)
		if err == nil && n == 0 {
			err = errors.New("no reply yet")
		}
		return err
	})
	if got := slotConfirmed(t, conn, cfg.Slot); got != lsnOf(t, commitB.Position) {
		t.Errorf("confirmed_flush_lsn moved to %s past the acked %s", got, lsnOf(t, commitB.Position))
	}
	// A Begin position with Skip acknowledges only its lsn, which is B's end: nothing moves.
	skipA := beginA.Position
	skipA.Skip = 2
	if err := src.Ack(skipA); err != nil {
		t.Fatal(err)
	}
	if src.Acked().String() != lsnOf(t, commitB.Position) {
		t.Errorf("acked %s after a Skip position, want %s", src.Acked(), lsnOf(t, commitB.Position))
	}
	if err := stream.stop(t); !errors.Is(err, context.Canceled) {
		t.Errorf("Stream after cancel = %v, want context.Canceled", err)
	}
	waitSlotInactive(t, conn, cfg.Slot)

	// Resume after B: A and the truncate again, nothing of B.
	stream = startPGStream(t, src, commitB.Position)
	_, commitA2, changes := readTx(t, stream)
	if strings.Join(changes, ",") != strings.Join(changesA, ",") || string(commitA2.Position.Source) != string(commitA.Position.Source) {
		t.Errorf("resumed after B: %v ending %s, want A's %v ending %s", changes, commitA2.Position, changesA, commitA.Position)
	}
	if _, c, _ := readTx(t, stream); string(c.Position.Source) != string(commitT.Position.Source) {
		t.Errorf("second resumed transaction ends at %s, want the truncate's %s", c.Position, commitT.Position)
	}
	_ = stream.stop(t)
	waitSlotInactive(t, conn, cfg.Slot)

	// Resume inside A with Skip=2: only A's third change, then the truncate.
	stream = startPGStream(t, src, skipA)
	begin, _, changes := readTx(t, stream)
	if strings.Join(changes, ",") != "d items 1" || begin.Position.Skip != 2 {
		t.Errorf("resumed inside A with skip 2: begin %s, changes %v; want skip 2 and d items 1", begin.Position, changes)
	}
	if _, c, _ := readTx(t, stream); string(c.Position.Source) != string(commitT.Position.Source) {
		t.Errorf("after A comes %s, want the truncate's %s", c.Position, commitT.Position)
	}

	// A stream that loses its connection fails, and Acks are refused from then on.
	mustExec(t, conn, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '"+cfg.Slot+"'")
	select {
	case err := <-stream.done:
		stream.done <- err
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("Stream after its connection was killed = %v, want an error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Stream did not fail within 30s of its connection being killed")
	}
	if err := src.Ack(commitT.Position); !errors.Is(err, postgres.ErrStreamFailed) {
		t.Errorf("Ack after the stream failed = %v, want ErrStreamFailed", err)
	}
	if got := slotConfirmed(t, conn, cfg.Slot); got != lsnOf(t, commitB.Position) {
		t.Errorf("confirmed_flush_lsn %s after a refused Ack, want %s", got, lsnOf(t, commitB.Position))
	}
}

// TestPGSourceAckAndStopInterruptTheReceive: with standby statuses due only hourly, an Ack
// still reaches the slot at once and the end of the stream's context still ends it, both by
// interrupting the receive under way (its read deadline moved into the past).
func TestPGSourceAckAndStopInterruptTheReceive(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, "CREATE TABLE items (id int PRIMARY KEY)")
	cfg := pgSourceConfig(t, db, "public.items")
	cfg.StatusInterval = time.Hour
	src := openPGSource(t, cfg)
	stream := startPGStream(t, src, offsets.Position{})

	for i := 1; i <= 2; i++ {
		mustExec(t, conn, fmt.Sprintf("INSERT INTO items VALUES (%d)", i))
		_, commit, changes := readTx(t, stream)
		if want := fmt.Sprintf("c items %d", i); strings.Join(changes, ",") != want {
			t.Fatalf("transaction %d: %v, want %s", i, changes, want)
		}
		// The stream waits in a receive now: nothing more is written.
		if err := src.Ack(commit.Position); err != nil {
			t.Fatalf("Ack(%s): %v", commit.Position, err)
		}
		WaitFor(t, 15*time.Second, "the slot to confirm the acknowledged commit", func() error {
			if got := slotConfirmed(t, conn, cfg.Slot); got != lsnOf(t, commit.Position) {
				return fmt.Errorf("confirmed_flush_lsn %s, want %s", got, lsnOf(t, commit.Position))
			}
			return nil
		})
	}
	if err := stream.stop(t); !errors.Is(err, context.Canceled) {
		t.Errorf("Stream after cancel = %v, want context.Canceled", err)
	}
	waitSlotInactive(t, conn, cfg.Slot)
}

func TestPGSourceCatalogReadsKeysAndTypes(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TYPE mood AS ENUM ('sad', 'happy');
		ALTER TYPE mood ADD VALUE 'ok' BEFORE 'happy';
		CREATE DOMAIN posint AS int CHECK (VALUE > 0);
		CREATE TABLE pairs (a int, b text NOT NULL, c int NOT NULL, note text, PRIMARY KEY (c, a))`)
	cat := postgres.NewCatalog(db.Conn(t))
	ctx := t.Context()

	var relID, moodOID, moodArrayOID, domainOID uint32
	if err := conn.QueryRow(ctx, `SELECT 'pairs'::regclass::oid, 'mood'::regtype::oid, '_mood'::regtype::oid,
		'posint'::regtype::oid`).Scan(&relID, &moodOID, &moodArrayOID, &domainOID); err != nil {
		t.Fatal(err)
	}
	rel, err := cat.Relation(ctx, relID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rel.PrimaryKey, ",") != "c,a" || strings.Join(rel.NotNull, ",") != "a,b,c" {
		t.Errorf("relation = %+v, want key c,a (key order) and NOT NULL a,b,c", rel)
	}
	mood, err := cat.Type(ctx, moodOID)
	if err != nil || mood.Kind != decoder.PGTypeEnum || mood.Name != "mood" || mood.Namespace != "public" ||
		strings.Join(mood.EnumLabels, ",") != "sad,ok,happy" {
		t.Errorf("Type(mood) = %+v, %v; want enum public.mood sad,ok,happy", mood, err)
	}
	arr, err := cat.Type(ctx, moodArrayOID)
	if err != nil || arr.Kind != decoder.PGTypeArray || arr.ElemOID != moodOID {
		t.Errorf("Type(_mood) = %+v, %v; want an array of %d", arr, err, moodOID)
	}
	dom, err := cat.Type(ctx, domainOID)
	if err != nil || dom.Kind != decoder.PGTypeDomain || dom.BaseOID != 23 {
		t.Errorf("Type(posint) = %+v, %v; want a domain over int4 (23)", dom, err)
	}
	if point, err := cat.Type(ctx, 600); err != nil || point.Kind != decoder.PGTypeBase {
		t.Errorf("Type(point) = %+v, %v; want a base type although it has a typelem", point, err)
	}
	if _, err := cat.Type(ctx, 4000000000); !errors.Is(err, postgres.ErrTypeNotFound) {
		t.Errorf("Type(missing) = %v, want ErrTypeNotFound", err)
	}
}
