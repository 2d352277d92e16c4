package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	// snapshotFillRows bounds the rows of one filling statement, so that no single transaction
	// of the fill grows with -snapshot-rows.
	snapshotFillRows = 1_000_000
	// copyTableSQL is the raw reader's query: the whole table, in the server's text format,
	// which is what cdcd's snapshot reads too (in key order and in chunks).
	copyTableSQL = "COPY (SELECT * FROM " + benchTable + ") TO STDOUT"
)

// ErrSnapshotRecords says the records of the snapshot phase are not exactly the table's rows as
// snapshot reads.
var ErrSnapshotRecords = errors.New("unexpected snapshot records")

// measureSnapshot fills a fresh table with snapshotRows rows, times psql copying it out, then
// times cdcd's initial snapshot of it (cdcd creates its slot: none exists before), and adds the
// figures.
func (b *bench) measureSnapshot(ctx context.Context, add func(measurement string, value float64, unit, note string)) error {
	n := b.s.snapshotRows
	t, err := b.openPGTarget(ctx, "snap", "initial")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	t.chunkRows = b.s.snapshotChunkRows
	b.progress("snapshot: filling %s with %d rows", t.db.name, n)
	start := time.Now()
	for from := int64(1); from <= int64(n); from += snapshotFillRows {
		if err := insertRange(ctx, t.conn, from, min(from+snapshotFillRows-1, int64(n))); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
	}
	// VACUUM sets the hint bits and the visibility map, so that neither reader pays for the
	// first visit of freshly written pages; ANALYZE gives the planner the table's size.
	if _, err := t.conn.Exec(ctx, "VACUUM ANALYZE "+benchTable); err != nil {
		return fmt.Errorf("snapshot: VACUUM ANALYZE %s: %w", benchTable, err)
	}
	var size int64
	if err := t.conn.QueryRow(ctx, "SELECT pg_total_relation_size($1)", benchTable).Scan(&size); err != nil {
		return fmt.Errorf("snapshot: reading the size of %s: %w", benchTable, err)
	}
	b.progress("snapshot: table filled in %s, %d MiB with its index", time.Since(start).Round(time.Millisecond), size>>20)

	codecs := b.s.snapshotCodecs
	if len(codecs) == 0 {
		codecs = []string{""}
	}
	for _, codec := range codecs {
		if err := b.snapshotRun(ctx, t, size, codec, len(codecs) > 1, add); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
	}
	return nil
}

// snapshotRun times psql's COPY of the filled table, then cdcd's initial snapshot of it with
// kafka.compression codec (empty: cdcd's default), on a slot of its own, and adds the figures;
// named adds the codec to their names (several codecs in one run). The COPY is read again
// before each run, so that each ratio compares two figures of the same moment.
func (b *bench) snapshotRun(ctx context.Context, t *pgTarget, size int64, codec string, named bool,
	add func(measurement string, value float64, unit, note string)) error {
	n := b.s.snapshotRows
	label := func(m string) string {
		if !named {
			return m
		}
		return m + " [" + codec + "]"
	}
	copyTime, err := b.readCopy(ctx, t.db)
	if err != nil {
		return err
	}
	raw := float64(n) / copyTime.Seconds()
	add(label("raw COPY rate (psql)"), raw, "rows/s",
		fmt.Sprintf("psql COPY of all %d rows (%d MiB with index) to /dev/null", n, size>>20))

	if codec != "" {
		// A slot and a publication of its own: cdcd claims the publication it reads.
		own, db := *t, *t.db
		db.publication += "_" + codec
		if _, err := t.conn.Exec(ctx, "CREATE PUBLICATION "+db.publication+" FOR TABLE "+benchTable); err != nil {
			return fmt.Errorf("creating publication %s: %w", db.publication, err)
		}
		own.db, own.slot = &db, db.name+"_cdcd_"+codec
		t = &own
	}
	b.codec, b.batchRecords = codec, b.s.snapshotBatchRecords
	run, err := b.startRun(ctx, t, "snap", false)
	b.codec, b.batchRecords = "", 0
	if err != nil {
		return err
	}
	start := time.Now()
	check := newSnapshotCheck(newCommitTimes(run.cfg.registryURL(), false))
	got, err := run.cons.consume(ctx, fixed(n), run.proc.exitError,
		func(records []*kgo.Record, _ time.Time) error { return check.batch(ctx, records) })
	if err != nil {
		return err
	}
	if err := check.done(); err != nil {
		return err
	}
	var rate float64
	if span := got.last.Sub(got.first); span > 0 {
		rate = float64(got.records) / span.Seconds()
	}
	b.progress("snapshot: %d records in %s after cdcd started", got.records, got.last.Sub(start).Round(time.Millisecond))
	u, err := run.finishUsage(ctx, "snapshot", 0)
	if err != nil {
		return err
	}
	add(label("cdcd snapshot rate"), rate, "rows/s", "first to last op r record seen by a read_committed consumer")
	add(label("cdcd snapshot wall time"), got.last.Sub(start).Seconds(), "s",
		fmt.Sprintf("from cdcd start to the last of %d records (first after %.1fs)", got.records, got.first.Sub(start).Seconds()))
	add(label("cdcd snapshot / COPY"), rate/raw, "ratio", "snapshot rate over the raw COPY rate")
	add(label("cdcd CPU per row (snapshot)"), u.perEvent(got.records), "µs/row", "process CPU time (user+system) from cdcd start to the last record / records")
	add(label("cdcd peak RSS (snapshot)"), float64(u.peakRSS)/(1<<20), "MiB", "VmHWM")
	add(label("snapshot record size"), check.meanSize(), "bytes", "mean key + value bytes of the records the consumer saw")
	if run.proc.profile != "" {
		steps, err := b.cpuSteps(ctx, run.proc.profile)
		if err != nil {
			return err
		}
		perRow := u.perEvent(got.records)
		for _, st := range steps {
			add(label("cdcd CPU per row: "+st.name), perRow*st.share, "µs/row",
				fmt.Sprintf("%.1f%% of the profile's samples (%s)", 100*st.share, st.what))
		}
	}
	if b.s.snapshotCeiling {
		if err := b.snapshotCeiling(ctx, t.db, codec, int(check.meanSize()+0.5), raw, label, add); err != nil {
			return err
		}
	}
	return nil
}

// copyArgs are psql's arguments to copy the bench table of database to its stdout.
func copyArgs(host string, port int, database string) []string {
	return []string{"-X", "-q", "--no-password", "-h", host, "-p", strconv.Itoa(port), "-U", "postgres",
		"-d", database, "-v", "ON_ERROR_STOP=1", "-c", copyTableSQL}
}

// readCopy times psql copying the whole bench table to /dev/null: the rate at which the server
// reads and sends the rows, connection included.
func (b *bench) readCopy(ctx context.Context, db *pgDatabase) (time.Duration, error) {
	b.progress("raw COPY rate: psql copying %s to /dev/null", benchTable)
	limit := b.s.stall + time.Duration(b.s.snapshotRows/10_000)*time.Second
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", copyArgs(b.s.pgHost, b.s.pgPort, db.name)...)
	// A nil Stdout is /dev/null: the rows are not even copied into the bench.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return 0, fmt.Errorf("psql COPY did not end within %s: %s", limit, stderr.Bytes())
	}
	if err != nil {
		return 0, fmt.Errorf("psql COPY: %w: %s", err, stderr.Bytes())
	}
	b.progress("raw COPY of %d rows in %s", b.s.snapshotRows, elapsed.Round(time.Millisecond))
	return elapsed, nil
}

// envelopeSnapshot is the part of an envelope that says whether it is a snapshot read.
// source.snapshot is a union of string and null (Debezium's optional enum).
type envelopeSnapshot struct {
	Op     string `avro:"op"`
	Source struct {
		Snapshot *string `avro:"snapshot"`
	} `avro:"source"`
}

// snapshotCheck checks, without decoding every record (the consumer shares the CPU with what it
// measures), that the records are the snapshot's: the first and last of each fetch are op "r",
// the very first is marked source.snapshot "first" and the very last "last". The count itself
// is the consumer's.
type snapshotCheck struct {
	envelopes *commitTimes
	seen      int
	// firstMark is source.snapshot of the very first record.
	firstMark string
	// lastMark is source.snapshot of the last record of the latest fetch.
	lastMark string
	// bytes sums the keys and values of every record seen.
	bytes int64
}

// meanSize is the mean key + value size of the records seen, in bytes.
func (c *snapshotCheck) meanSize() float64 {
	if c.seen == 0 {
		return 0
	}
	return float64(c.bytes) / float64(c.seen)
}

func newSnapshotCheck(envelopes *commitTimes) *snapshotCheck {
	return &snapshotCheck{envelopes: envelopes}
}

// batch checks one fetch's records.
func (c *snapshotCheck) batch(ctx context.Context, records []*kgo.Record) error {
	if len(records) == 0 {
		return nil
	}
	first, err := c.decode(ctx, records[0])
	if err != nil {
		return err
	}
	if c.seen == 0 {
		c.firstMark = first
	}
	last, err := c.decode(ctx, records[len(records)-1])
	if err != nil {
		return err
	}
	c.seen += len(records)
	c.lastMark = last
	for _, r := range records {
		c.bytes += int64(len(r.Key) + len(r.Value))
	}
	return nil
}

// done checks that the first record seen began the snapshot and the last ended it. The one
// record of a one-row table has a single mark, either.
func (c *snapshotCheck) done() error {
	if c.seen == 1 && (c.firstMark == "first" || c.firstMark == "last") {
		return nil
	}
	if c.firstMark != "first" {
		return fmt.Errorf("%w: the first record has source.snapshot %q, want first", ErrSnapshotRecords, c.firstMark)
	}
	if c.lastMark != "last" {
		return fmt.Errorf("%w: the last of %d records has source.snapshot %q, want last", ErrSnapshotRecords, c.seen, c.lastMark)
	}
	return nil
}

// decode returns the record's source.snapshot after checking that it is a read (op "r").
func (c *snapshotCheck) decode(ctx context.Context, r *kgo.Record) (string, error) {
	schema, id, err := c.envelopes.schema(ctx, r.Value)
	if err != nil {
		return "", fmt.Errorf("record %d of %s: %w", r.Offset, r.Topic, err)
	}
	var env envelopeSnapshot
	if err := avro.Unmarshal(schema, r.Value[5:], &env); err != nil {
		return "", fmt.Errorf("record %d of %s: decoding an envelope with schema %d: %w", r.Offset, r.Topic, id, err)
	}
	if env.Op != "r" {
		return "", fmt.Errorf("%w: record %d of %s has op %q, want r", ErrSnapshotRecords, r.Offset, r.Topic, env.Op)
	}
	if env.Source.Snapshot == nil {
		return "", nil
	}
	return *env.Source.Snapshot, nil
}
