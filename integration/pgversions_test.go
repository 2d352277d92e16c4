package integration

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgSupportedVersions are the majors cdcd is tested on. The whole suite runs on the shared
// server's (the stack's CDCD_PG_VERSION, 18 by default, the newest); the core set runs on each
// of the others (pgMatrixVersions), on a private server of its own (15 Debian's, 16, 17 and 18
// fetched and cached by deploy/dev/pgversions.sh).
var pgSupportedVersions = []string{"15", "16", "17", "18"}

// pgMatrixVersions are the supported majors but shared, the stack server's: 15, 16 and 17
// when the stack runs 18 (make test); 16, 17 and 18 on a stack of Debian's 15.
func pgMatrixVersions(shared string) []string {
	var versions []string
	for _, v := range pgSupportedVersions {
		if v != shared {
			versions = append(versions, v)
		}
	}
	return versions
}

// TestPostgresVersionsCore runs the core set on a private server of each major version of
// pgMatrixVersions: a snapshot of rows of a handful of types, the same types streamed, the
// counters workload exactly once through a SIGKILL of cdcd, and heartbeats that move the slot
// while only uncaptured tables are written and arrive once each across the kill.
func TestPostgresVersionsCore(t *testing.T) {
	shared := sharedPostgresMajor(t)
	if !slices.Contains(pgSupportedVersions, shared) {
		t.Fatalf("the stack's PostgreSQL is %s, not one of the supported %v", shared, pgSupportedVersions)
	}
	versions := pgMatrixVersions(shared)
	t.Logf("the stack's PostgreSQL is %s (the whole suite); the core set runs on %v", shared, versions)
	for _, version := range versions {
		t.Run("pg"+version, func(t *testing.T) { runPostgresCore(t, version) })
	}
}

// sharedPostgresMajor is the major version of the stack's server, as the server says it: the
// stack may run another version than CDCD_PG_VERSION says in this process's environment.
func sharedPostgresMajor(t *testing.T) string {
	t.Helper()
	conn := connectPostgres(t, fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable&connect_timeout=10",
		StackFromEnv().PostgresAddr))
	var num int
	if err := conn.QueryRow(t.Context(), `SELECT current_setting('server_version_num')::int`).Scan(&num); err != nil {
		t.Fatalf("reading the stack's PostgreSQL version: %v", err)
	}
	return strconv.Itoa(num / 10000)
}

// coreTypesTable is the table of typed rows of the core set, and coreTypesValues the values of
// each of its rows but the id.
const (
	coreTypesTable = `CREATE TABLE typed (id int PRIMARY KEY, b bool, i8 int8, f8 float8,
		n numeric(10,2), t text, by bytea, d date, ts timestamp, tstz timestamptz, u uuid,
		jb jsonb, ai int4[], x xml)`
	coreTypesValues = `true, -9223372036854775808, 2.25, 12.34, 'text é', '\xdeadbeef', '2024-02-29',
		'2024-02-29 11:14:15.123456', '2024-02-29 13:14:15.1+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		'{"b": 2, "a": 1}', '{1,2,NULL}', '<a>b &amp; c</a>'`
)

func runPostgresCore(t *testing.T, version string) {
	pg := StartPrivatePostgresVersion(t, version)
	db := pg.NewDB(t)
	conn := db.Conn(t)
	checkServerMajor(t, conn, version)
	// The stack's 18 has no XML support: the core set's servers test the type.
	mustExec(t, conn, xmlOrText(t, conn, coreTypesTable, "x xml")+`;
		CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL);
		CREATE TABLE noise (id bigserial PRIMARY KEY, pad text)`)
	// Read by the initial snapshot.
	mustExec(t, conn, `INSERT INTO typed VALUES (1, `+coreTypesValues+`)`)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)

	c := NewPostgresConnector(t, db, "public.typed", "public.counters")
	c.Extra = []string{"heartbeat_interval: 1s"}
	cdcd := c.StartStreaming(t, conn)
	// Streamed.
	mustExec(t, conn, `INSERT INTO typed VALUES (2, `+coreTypesValues+`)`)
	typed := NewAvroConsumer(t, c.RegistryURL(), c.Topic("typed")).Collect(t, 2, 2*time.Minute)
	checkCoreTypes(t, typed)

	writer := startCounterWriter(t, pgIncrement(db.Conn(t)))
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	records := collectWhileRunning(t, cdcd, consumer, 200)
	cdcd.Kill()
	cdcd = cdcd.Restart()
	records = append(records, collectWhileRunning(t, cdcd, consumer, 200)...)
	writer.stop(t)
	checkCountersInTable(t, db, consumer, records, "a SIGKILL of cdcd on PostgreSQL "+version)

	// Heartbeats: with only an uncaptured table written, the slot still confirms past it.
	mustExec(t, conn, `INSERT INTO noise (pad) SELECT repeat('x', 1000) FROM generate_series(1, 1000)`)
	var written string
	if err := conn.QueryRow(t.Context(), `SELECT pg_current_wal_lsn()::text`).Scan(&written); err != nil {
		t.Fatalf("reading the WAL position: %v", err)
	}
	WaitFor(t, 2*time.Minute, "the slot confirming past the uncaptured writes", func() error {
		var past bool
		if err := conn.QueryRow(t.Context(), `SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots
			WHERE slot_name = $2`, written, c.Name).Scan(&past); err != nil {
			return err
		}
		if !past {
			return fmt.Errorf("confirmed_flush_lsn is before %s", written)
		}
		return nil
	})
	cdcd.Stop(time.Minute)
	beats := readHeartbeats(t, "__debezium-heartbeat."+c.Prefix)
	if len(beats) == 0 {
		t.Fatalf("no heartbeat record on PostgreSQL %s", version)
	}
	checkHeartbeatRecords(t, beats, c.Prefix)
}

// checkServerMajor fails the test unless the server conn talks to is of major version.
func checkServerMajor(t *testing.T, conn *pgx.Conn, version string) {
	t.Helper()
	var got string
	if err := conn.QueryRow(t.Context(), `SHOW server_version`).Scan(&got); err != nil {
		t.Fatalf("reading the server's version: %v", err)
	}
	if !strings.HasPrefix(got, version+".") {
		t.Fatalf("the private server is PostgreSQL %s, want %s", got, version)
	}
	t.Logf("PostgreSQL %s", got)
}

// checkCoreTypes checks the typed rows: the first read by the snapshot (op r), the second
// streamed (op c), with the same values, some checked one by one.
func checkCoreTypes(t *testing.T, got []ChangeRecord) {
	t.Helper()
	if len(got) != 2 || got[0].Op() != "r" || got[1].Op() != "c" {
		var ops []string
		for _, r := range got {
			ops = append(ops, r.Op())
		}
		t.Fatalf("typed ops = %v, want [r c]", ops)
	}
	snap, streamed := maps.Clone(got[0].After()), maps.Clone(got[1].After())
	if Unwrap(snap["id"]) != 1 || Unwrap(streamed["id"]) != 2 {
		t.Fatalf("typed ids %v and %v, want 1 and 2", snap["id"], streamed["id"])
	}
	delete(snap, "id")
	delete(streamed, "id")
	if !reflect.DeepEqual(snap, streamed) {
		t.Fatalf("the snapshot and the stream disagree:\nsnapshot %v\nstreamed %v", snap, streamed)
	}
	for col, want := range map[string]any{"b": true, "i8": int64(-9223372036854775808), "f8": 2.25,
		"t": "text é", "by": []byte{0xde, 0xad, 0xbe, 0xef}, "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"x": "<a>b &amp; c</a>"} {
		if v := Unwrap(streamed[col]); !reflect.DeepEqual(v, want) {
			t.Errorf("column %s = %#v, want %#v", col, v, want)
		}
	}
}
