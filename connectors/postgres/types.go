package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/cdcd-dev/cdcd/decoder"
)

// typeWarnings are the unmapped columns a Source has warned about.
type typeWarnings struct {
	mu   sync.Mutex
	seen map[decoder.UnmappedColumn]bool
}

// first tells whether u is warned about for the first time.
func (w *typeWarnings) first(u decoder.UnmappedColumn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen[u] {
		return false
	}
	w.seen[u] = true
	return true
}

// decoderOptions are the options of every decoder the source makes (stream, snapshot,
// incremental snapshot): the unknown-type policy, and a warning once per column of a type no
// mapping knows, for the Source's life.
func (cfg Config) decoderOptions() []decoder.PGOption {
	warned := cfg.warned
	if warned == nil { // a Config that did not go through Open
		warned = &typeWarnings{seen: map[decoder.UnmappedColumn]bool{}}
	}
	log := cfg.Logger
	return []decoder.PGOption{
		decoder.WithPGUnknownTypes(cfg.UnknownTypes),
		decoder.WithPGHStoreMode(cfg.HStoreMode),
		decoder.WithPGUnmappedColumn(func(u decoder.UnmappedColumn) {
			if !warned.first(u) {
				return
			}
			log.Warn().Str("table", u.Namespace+"."+u.Table).Str("column", u.Column).Str("type", u.SourceType).
				Msg("postgres source: no mapping knows the column's type: its values are emitted as the type's text, " +
					"the type named in the schema (include_unknown_datatypes); set include_unknown_datatypes false to stop at such a column instead")
		}),
	}
}

// typeTextQuery gives a value's text output: the parameter, sent in binary with the value's
// type, goes through the type's receive function, and the cast to text through its output
// function (an I/O conversion, which every type has).
const typeTextQuery = "SELECT $1::text"

var _ decoder.PGTypeTexter = (*Catalog)(nil)

// TypeText returns the text output of a value of type oid that the stream sent in binary (the
// type's send function's output), for a column the decoder reads as text (an unmapped type, a
// range): one round trip per value on the catalog's connection.
func (c *Catalog) TypeText(ctx context.Context, oid uint32, binary []byte) ([]byte, error) {
	var out []byte
	err := c.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		res := conn.PgConn().ExecParams(ctx, typeTextQuery, [][]byte{binary}, []uint32{oid}, []int16{1}, []int16{0}).Read()
		if res.Err != nil {
			return res.Err
		}
		if len(res.Rows) != 1 || len(res.Rows[0]) != 1 || res.Rows[0][0] == nil {
			return fmt.Errorf("no text for a value of type %d", oid)
		}
		out = append([]byte(nil), res.Rows[0][0]...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres catalog: the text of a value of type %d: %w", oid, err)
	}
	return out, nil
}
