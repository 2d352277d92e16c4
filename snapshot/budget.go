package snapshot

// This file is the byte budget of snapshot chunks that the sources share. A chunk is held in
// memory whole (read, then emitted as one source transaction), so a row limit alone lets a
// table of wide rows hold gigabytes per chunk; the budget caps the rows of a table's chunks so
// that rows × their average size stays about within it. The average is an estimate before the
// first chunk, corrected from the rows each chunk actually held. The budget's setting (its
// default and bounds) is connectors.DefaultSnapshotChunkBytes's.

// shrinkBelowQuarters is the fraction, in quarters, of the current limit that an observed
// average must call for (less than) before the limit shrinks: changing it restarts a parallel reader's
// read-ahead, so small drifts are not worth it.
const shrinkBelowQuarters = 3

// ChunkLimit returns how many rows of avgRowBytes bytes each a chunk of at most rows rows and
// budget bytes holds: min(rows, max(1, budget/avgRowBytes)). A budget or average of 0 or less
// (none, unknown) leaves rows.
func ChunkLimit(rows int, budget int64, avgRowBytes float64) int {
	if budget <= 0 || avgRowBytes <= 0 {
		return rows
	}
	fit := float64(budget) / avgRowBytes
	if fit >= float64(rows) {
		return rows
	}
	return max(1, int(fit))
}

// ChunkSizer keeps the row limit of one table's snapshot chunks within a byte budget. The limit
// only ever shrinks: the chunk boundaries a reader has planned ahead (a parallel reader's key
// ranges) stay valid until it does, and it does only when the rows read call for a limit below
// 3/4 of the current one. Resume positions do not depend on the limit. The zero ChunkSizer is
// not usable: use NewChunkSizer.
type ChunkSizer struct {
	rows   int
	budget int64
	limit  int
}

// NewChunkSizer returns the sizer of a table's chunks of at most rows rows and budget bytes
// (0 or less: rows only), whose rows are estimated at avgRowBytes each (0 or less: unknown,
// the first chunk then has rows rows).
func NewChunkSizer(rows int, budget int64, avgRowBytes float64) *ChunkSizer {
	return &ChunkSizer{rows: rows, budget: budget, limit: ChunkLimit(rows, budget, avgRowBytes)}
}

// Limit returns the row limit of the next chunk.
func (s *ChunkSizer) Limit() int { return s.limit }

// Observe corrects the limit from a chunk just read: n rows holding size bytes in all. It
// returns whether the limit changed.
func (s *ChunkSizer) Observe(n int, size int64) bool {
	if n <= 0 || s.budget <= 0 {
		return false
	}
	want := ChunkLimit(s.rows, s.budget, float64(size)/float64(n))
	// want < limit*3/4, in integers without overflow for any int limit.
	if int64(want)*4 < int64(s.limit)*shrinkBelowQuarters {
		s.limit = want
		return true
	}
	return false
}

// RowSizes remembers, by table, the average size of the rows of its last incremental snapshot
// chunk, which sizes its next one. Each such chunk is read on its own, so, unlike a
// ChunkSizer's, the limit may grow as well as shrink.
type RowSizes map[string]float64

// Limit returns the row limit of table's next chunk of at most rows rows and budget bytes,
// from its last chunk's rows or, before its first, from sample.
func (r RowSizes) Limit(table string, rows int, budget int64, sample func() (float64, error)) (int, error) {
	avg, ok := r[table]
	if !ok && budget > 0 {
		var err error
		if avg, err = sample(); err != nil {
			return 0, err
		}
	}
	return ChunkLimit(rows, budget, avg), nil
}

// Observe notes the chunk of table just read: n rows holding size bytes in all.
func (r RowSizes) Observe(table string, n int, size int64) {
	if n > 0 {
		r[table] = float64(size) / float64(n)
	}
}
