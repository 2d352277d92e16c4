package snapshot

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/rs/zerolog"
)

// This file is the chunk loop of an initial snapshot that both sources share: the tables are
// read one after the other, each in chunks of rows (by key, or however the source pages a
// table without one) within a row limit and a byte budget, and each chunk is emitted as one
// source transaction whose Commit position records how far the snapshot got, so that a
// restart goes on after the last chunk committed. The source reads and emits; the loop
// decides the chunks, their sizes, the positions and the markers.

// ChunkSource is what the chunk loop needs of a source. T is its handle of a table being
// read, C a point in a table (a cursor: where the reading of the table goes on; the zero C is
// the table's start), R a row as read, P the source's position.
type ChunkSource[T, C, R, P any] interface {
	// Table returns table name's handle, the source's estimate of its rows (negative:
	// unknown), and where its reading starts: for the table a stored position is inside, the
	// point it records; else the table's start.
	Table(ctx context.Context, name string) (t T, start C, estimate float64, err error)
	// RowBytes estimates the size of t's rows, in Size's bytes, from a sample of them (0:
	// unknown). budget false means that t's chunks take no byte budget.
	RowBytes(ctx context.Context, t T) (avg float64, budget bool, err error)
	// Chunk reads the rows of t from cur on, in the table's reading order: about limit of them,
	// never none while more follow. next is the point after them; more tells whether rows
	// follow.
	Chunk(ctx context.Context, t T, cur C, limit int) (rows []R, next C, more bool, err error)
	// Size returns the bytes rows hold in memory.
	Size(rows []R) int64
	// HasRows tells whether table name holds a row.
	HasRows(ctx context.Context, name string) (bool, error)
	// Within is the position inside the reading of t, at next; done are the tables read
	// before it.
	Within(t T, next C, done []string) P
	// Before is the position at the start of table name; done are the tables read before it.
	Before(name string, done []string) P
	// End is the plain streaming position the snapshot ends at.
	End() P
	// Emit emits rows of t as one source transaction that begins at begin and commits at
	// commit; marks gives each row its source.snapshot marker. t is the zero T for the chunk
	// without rows that ends a snapshot whose last tables held none.
	Emit(t T, rows []R, begin, commit P, marks Marks) error
}

// ChunkLoop reads the tables of an initial snapshot in chunks and has its source emit each
// (see ChunkSource). The last chunk's Commit carries the plain streaming position (End); when
// nothing is left to read after a chunk, that chunk is the last, and when the last tables
// hold nothing a chunk without rows carries it, so that a restart does not snapshot again.
type ChunkLoop[T, C, R, P any] struct {
	Source ChunkSource[T, C, R, P]
	// Order are the tables to read, the one a stored position is inside first.
	Order []string
	// Done are the tables read before (a resumed snapshot's), for the positions.
	Done []string
	// Begin is the position the first chunk's transaction begins at.
	Begin P
	// First tells whether the first row read is the snapshot's first (source.snapshot
	// "first"): false when the snapshot resumes.
	First bool
	// Limit is the rows of a chunk at most; Budget caps its bytes (see ChunkSizer), 0 or
	// less: none.
	Limit  int
	Budget int64
	// Prefix starts the loop's errors ("mysql source: ").
	Prefix string
	// Log receives the progress, every Every; Now is the clock; Board receives the progress,
	// for the status.
	Log   zerolog.Logger
	Every time.Duration
	Now   func() time.Time
	Board *Board
}

// Run reads the tables from the start the source's Table gives and emits each chunk.
func (l *ChunkLoop[T, C, R, P]) Run(ctx context.Context) error {
	src, order := l.Source, l.Order
	done := slices.Clone(l.Done)
	prev := l.Begin
	first := l.First
	for ti, name := range order {
		t, cur, estimate, err := src.Table(ctx, name)
		if err != nil {
			return err
		}
		prog := NewProgress(l.Log, l.Every, l.Now, "snapshot", name, estimate)
		prog.ReportTo(l.Board, false)
		sizer, err := l.sizer(ctx, t, name)
		if err != nil {
			return err
		}
		for {
			rows, next, more, err := src.Chunk(ctx, t, cur, sizer.Limit())
			if err != nil {
				return fmt.Errorf("%ssnapshot of %s: %w", l.Prefix, name, err)
			}
			prog.Add(len(rows))
			if sizer.Observe(len(rows), src.Size(rows)) {
				l.Log.Info().Str("table", name).Int("chunk_rows", sizer.Limit()).Int64("chunk_bytes", l.Budget).
					Msg("snapshot: rows wider than estimated, smaller chunks")
			}
			final := false
			if !more {
				if final, err = l.nothingIn(ctx, order[ti+1:]); err != nil {
					return err
				}
			}
			var commit P
			switch {
			case final:
				commit = src.End()
			case more:
				commit = src.Within(t, next, slices.Clip(done))
			default:
				commit = src.Before(order[ti+1], append(slices.Clip(done), name))
			}
			if len(rows) > 0 || final {
				if err := src.Emit(t, rows, prev, commit, Marks{first: &first, final: final, n: len(rows)}); err != nil {
					return err
				}
				prev = commit
			}
			if final {
				prog.Done()
				return nil
			}
			if !more {
				prog.Done()
				done = append(done, name)
				break
			}
			cur = next
		}
	}
	// No tables at all, or the last ones emptied meanwhile: end the snapshot explicitly.
	var none T
	return src.Emit(none, nil, prev, src.End(), Marks{first: &first, final: true})
}

// sizer returns the chunk sizer of table t: the row limit, capped by the byte budget for the
// sampled size of t's rows.
func (l *ChunkLoop[T, C, R, P]) sizer(ctx context.Context, t T, name string) (*ChunkSizer, error) {
	if l.Budget <= 0 {
		return NewChunkSizer(l.Limit, 0, 0), nil
	}
	avg, budget, err := l.Source.RowBytes(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("%ssnapshot of %s: %w", l.Prefix, name, err)
	}
	if !budget {
		return NewChunkSizer(l.Limit, 0, 0), nil
	}
	sz := NewChunkSizer(l.Limit, l.Budget, avg)
	if sz.Limit() < l.Limit {
		l.Log.Info().Str("table", name).Float64("row_bytes", avg).Int("chunk_rows", sz.Limit()).Int64("chunk_bytes", l.Budget).
			Msg("snapshot: wide rows, chunks capped by snapshot_chunk_bytes")
	}
	return sz, nil
}

// nothingIn tells whether none of tables holds a row, so that the chunk just read ends the
// snapshot.
func (l *ChunkLoop[T, C, R, P]) nothingIn(ctx context.Context, tables []string) (bool, error) {
	for _, name := range tables {
		has, err := l.Source.HasRows(ctx, name)
		if err != nil {
			return false, fmt.Errorf("%ssnapshot: looking for rows in %s: %w", l.Prefix, name, err)
		}
		if has {
			return false, nil
		}
	}
	return true, nil
}

// Marks gives the rows of one chunk their source.snapshot markers: "first" for the snapshot's
// first row, "last" for the last row of its last chunk, "true" for the others.
type Marks struct {
	first *bool
	final bool
	n     int
}

// Of returns the marker of the chunk's row i; the rows are asked in order.
func (m Marks) Of(i int) decoder.Snapshot {
	mark := decoder.SnapshotTrue
	switch {
	case m.final && i == m.n-1:
		// On a one-row snapshot, "last" wins over "first": it tells that the stream that
		// follows is complete.
		mark = decoder.SnapshotLast
	case *m.first:
		mark = decoder.SnapshotFirst
	}
	*m.first = false
	return mark
}
