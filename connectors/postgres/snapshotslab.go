package postgres

import "github.com/cdcd-dev/cdcd/decoder"

// rowSlabRows is the most rows a rowSlab allocates at once: a chunk of small rows costs a few
// allocations of their Value structs rather than one per row, and a slab never holds many
// more Values than the chunk's rows.
const rowSlabRows = 256

// rowSlab hands out rows of Values cut from shared slabs, for the rows of one chunk: they live
// and die together (the chunk's events), so sharing their memory keeps nothing alive longer
// than the chunk. Not safe for concurrent use; the zero rowSlab is ready.
type rowSlab struct {
	free []decoder.Value
}

// row returns a zeroed row of ncols values; a new slab holds min(rows, rowSlabRows) rows, rows
// being how many the chunk may still read (at least one).
func (s *rowSlab) row(ncols, rows int) []decoder.Value {
	if len(s.free) < ncols {
		s.free = make([]decoder.Value, ncols*max(1, min(rows, rowSlabRows)))
	}
	r := s.free[:ncols:ncols]
	s.free = s.free[ncols:]
	return r
}
