package main

import (
	"context"
	"fmt"
)

// formatRun is what the throughput of a format other than avro reads: the throughput's
// workload, through a stream position of its own taken before the workload is written (a
// second slot and publication on PostgreSQL, a second frozen cdcd on MariaDB), so that every format is measured
// on the same changes.
type formatRun struct {
	format string
	// target is the PostgreSQL target with the format's own slot; nil on MariaDB.
	target target
	// frozen is the MariaDB cdcd started and frozen before the workload; nil on PostgreSQL.
	frozen *cdcdRun
}

// prepareFormatRun takes, before the workload is written to tg, the position the format's
// throughput reads from.
func (b *bench) prepareFormatRun(ctx context.Context, d database, tg target, format string) (formatRun, error) {
	fr := formatRun{format: format}
	if d.startBeforeWorkload {
		b.format = format
		defer func() { b.format = "" }()
		var err error
		fr.frozen, err = b.startFrozen(ctx, tg, d.phasePrefix+"tput")
		return fr, err
	}
	own, err := b.ownSlot(ctx, tg, format)
	if err != nil {
		return fr, fmt.Errorf("throughput %s: %w", format, err)
	}
	fr.target = own
	return fr, nil
}

// ownSlot returns tg, a PostgreSQL target, with a slot and a publication of its own named after
// suffix, created now: another reader of the changes written from now on.
func (b *bench) ownSlot(ctx context.Context, tg target, suffix string) (target, error) {
	pg, ok := tg.(*pgTarget)
	if !ok {
		return nil, fmt.Errorf("a target of type %T", tg)
	}
	// A publication of its own too: cdcd claims the publication it reads for its connector.
	db := *pg.db
	db.publication = pg.db.publication + "_" + suffix
	conn, err := b.connect(ctx, db.name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+db.publication+" FOR TABLE "+benchTable); err != nil {
		return nil, fmt.Errorf("creating publication %s: %w", db.publication, err)
	}
	own := *pg
	own.db, own.slot = &db, db.name+"_"+suffix
	if err := b.createSlot(ctx, own.db, own.slot); err != nil {
		return nil, err
	}
	return &own, nil
}

// measureFormatThroughput is measureThroughput of fr's format on the workload w.
func (b *bench) measureFormatThroughput(ctx context.Context, d database, w *workload, fr formatRun) (throughputResult, error) {
	b.progress("throughput in format %s", fr.format)
	b.format = fr.format
	defer func() { b.format = "" }()
	own := *w
	if fr.target != nil {
		own.target = fr.target
	}
	r, err := b.measureThroughput(ctx, d, &own, fr.frozen)
	if err != nil {
		return r, fmt.Errorf("format %s: %w", fr.format, err)
	}
	return r, nil
}
