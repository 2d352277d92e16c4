package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/jackc/pgx/v5"
)

// ErrTypeNotFound is returned by Catalog.Type for an OID that pg_type does not hold.
var ErrTypeNotFound = errors.New("postgres catalog: type not found")

// Catalog answers the decoder's questions about relations and types with queries on a normal
// (non-replication) connection. It reads the catalog as it is now, not as of the stream's
// position: only the key and NOT NULL flags, the column defaults and non-built-in types come
// from here (columns and their types come from the stream's Relation messages), so a table
// altered since a change was written can only make those differ.
//
// A Catalog is safe for concurrent use; its queries run one at a time on its connection.
type Catalog struct {
	mu   sync.Mutex
	conn *pgx.Conn
	// lazy, when set, opens the connection for each burst of queries and closes it once idle
	// (the streaming catalog's: see lazyConn).
	lazy *lazyConn
}

var _ decoder.PGCatalog = (*Catalog)(nil)

// NewCatalog returns a Catalog that queries conn. The caller keeps owning conn and closes it
// after the Catalog's last use.
func NewCatalog(conn *pgx.Conn) *Catalog { return &Catalog{conn: conn} }

// newLazyCatalog returns a Catalog whose queries run on a connection opened when they come and
// closed once idle for catalogIdle; close closes it for good.
func newLazyCatalog(cfg Config) *Catalog {
	return &Catalog{lazy: newLazyConn(cfg, catalogIdle)}
}

// close closes a lazy Catalog's connection, if open.
func (c *Catalog) close() {
	if c.lazy != nil {
		c.lazy.close()
	}
}

// with runs f on the Catalog's connection, one call at a time.
func (c *Catalog) with(ctx context.Context, f func(context.Context, *pgx.Conn) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lazy != nil {
		return c.lazy.do(ctx, f)
	}
	return f(ctx, c.conn)
}

const (
	// primaryKeyQuery lists the columns of the record key in the key's order: the primary
	// key's or, for a table without one, those of its replica identity index (REPLICA IDENTITY
	// USING INDEX: unique, not partial, on NOT NULL columns), as Debezium keys such a table.
	// A table with neither (REPLICA IDENTITY FULL included) has no key.
	primaryKeyQuery = `SELECT a.attname
		FROM (SELECT indrelid, indkey FROM pg_index WHERE indrelid = $1 AND (indisprimary OR indisreplident)
			ORDER BY indisprimary DESC LIMIT 1) i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		ORDER BY array_position(i.indkey::int2[], a.attnum)`
	// notNullQuery lists the live columns declared NOT NULL, in column order.
	notNullQuery = `SELECT attname FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attnotnull
		ORDER BY attnum`
	// defaultQuery lists the live columns' defaults as SQL text, in column order. Generated
	// columns' expressions (attgenerated) are no defaults.
	defaultQuery = `SELECT a.attname, pg_get_expr(d.adbin, d.adrelid)
		FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`
	// generatedQuery lists the live stored generated columns, in column order.
	generatedQuery = `SELECT attname FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = 's'
		ORDER BY attnum`
	typeQuery = `SELECT n.nspname, t.typname, t.typtype::text, t.typcategory::text, t.typelem, t.typbasetype
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE t.oid = $1`
	enumQuery = `SELECT enumlabel FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder`
)

// Relation returns the key (see primaryKeyQuery), NOT NULL columns and column defaults of the
// relation relID. A relation
// dropped since (its changes are still in the WAL) has neither: the stream goes on with no key
// and every column optional rather than stopping for good.
func (c *Catalog) Relation(ctx context.Context, relID uint32) (decoder.PGRelationInfo, error) {
	var info decoder.PGRelationInfo
	err := c.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		var err error
		if info.PrimaryKey, err = names(ctx, conn, primaryKeyQuery, relID); err != nil {
			return fmt.Errorf("reading the primary key of relation %d: %w", relID, err)
		}
		if info.NotNull, err = names(ctx, conn, notNullQuery, relID); err != nil {
			return fmt.Errorf("reading the NOT NULL columns of relation %d: %w", relID, err)
		}
		if info.Defaults, err = defaults(ctx, conn, relID); err != nil {
			return fmt.Errorf("reading the column defaults of relation %d: %w", relID, err)
		}
		if info.Generated, err = names(ctx, conn, generatedQuery, relID); err != nil {
			return fmt.Errorf("reading the generated columns of relation %d: %w", relID, err)
		}
		return nil
	})
	if err != nil {
		return decoder.PGRelationInfo{}, err
	}
	return info, nil
}

// Type describes the type oid: an enum with its labels in their sort order, a domain with its
// base type, an array with its element type, or another type as PGTypeBase.
func (c *Catalog) Type(ctx context.Context, oid uint32) (decoder.PGTypeInfo, error) {
	info := decoder.PGTypeInfo{OID: oid}
	err := c.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		var typtype, typcategory string
		var elem, base uint32
		err := conn.QueryRow(ctx, typeQuery, oid).Scan(&info.Namespace, &info.Name, &typtype, &typcategory, &elem, &base)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: oid %d", ErrTypeNotFound, oid)
		}
		if err != nil {
			return fmt.Errorf("reading type %d: %w", oid, err)
		}
		switch {
		case typtype == "e":
			info.Kind = decoder.PGTypeEnum
			if info.EnumLabels, err = names(ctx, conn, enumQuery, oid); err != nil {
				return fmt.Errorf("reading the labels of enum %s.%s: %w", info.Namespace, info.Name, err)
			}
		case typtype == "d":
			info.Kind = decoder.PGTypeDomain
			info.BaseOID = base
		case typcategory == "A" && elem != 0:
			// typelem alone is not enough: fixed-length types such as point and name have one too.
			info.Kind = decoder.PGTypeArray
			info.ElemOID = elem
		default:
			info.Kind = decoder.PGTypeBase
		}
		return nil
	})
	if err != nil {
		return decoder.PGTypeInfo{}, err
	}
	return info, nil
}

// defaults reads the column defaults of relation relID (see defaultQuery) on conn.
func defaults(ctx context.Context, conn *pgx.Conn, relID uint32) (map[string]string, error) {
	rows, err := conn.Query(ctx, defaultQuery, relID)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var name, expr string
	if _, err := pgx.ForEachRow(rows, []any{&name, &expr}, func() error {
		out[name] = expr
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// names runs a query on conn that returns one text column and collects it.
func names(ctx context.Context, conn *pgx.Conn, query string, arg uint32) ([]string, error) {
	rows, err := conn.Query(ctx, query, arg)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	return out, nil
}
