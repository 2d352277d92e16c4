package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/cdcd-dev/cdcd/connectors"
)

// PartitionRouting says on which topic the rows of a partitioned table go, the same for its
// snapshot and its stream: the publication's publish_via_partition_root decides the stream's
// (pgoutput names either the partitioned table or the partition a row is in), and the
// snapshot reads either the partitioned table or each of its partitions to match.
type PartitionRouting uint8

// The partition routings.
const (
	// PartitionsViaRoot publishes the changes of every partition as changes of the
	// partitioned table at the root of the tree (publish_via_partition_root = true), and
	// reads the root in snapshots: one topic per partitioned table,
	// <prefix>.<schema>.<root>, whatever partitions are attached or detached later. The
	// default: what a partitioned table's users want, one table. Needs PostgreSQL 13 or later.
	PartitionsViaRoot PartitionRouting = iota
	// PartitionsViaLeaves publishes each change as a change of the partition that holds the
	// row (publish_via_partition_root = false, PostgreSQL's own default), and reads each
	// partition in snapshots (a listed partitioned table stands for its leaf partitions): one
	// topic per partition.
	PartitionsViaLeaves
)

// String names the routing as publish_via_partition_root's value.
func (r PartitionRouting) String() string {
	switch r {
	case PartitionsViaRoot:
		return "true"
	case PartitionsViaLeaves:
		return "false"
	default:
		return "PartitionRouting(" + strconv.Itoa(int(r)) + ")"
	}
}

// viaRoot is the publication's publish_via_partition_root for r.
func (r PartitionRouting) viaRoot() bool { return r == PartitionsViaRoot }

// publicationOption is the WITH clause that gives a publication r's routing. PostgreSQL
// before 13 has no such option: its only behaviour is PartitionsViaLeaves, so that one
// is left unsaid.
func (r PartitionRouting) publicationOption() string {
	if r == PartitionsViaLeaves {
		return ""
	}
	return " WITH (publish_via_partition_root = true)"
}

// readViaRoot reads publish_via_partition_root of an existing publication; false on a server
// without the column (before PostgreSQL 13).
const readViaRootQuery = `SELECT coalesce((to_jsonb(p) ->> 'pubviaroot')::bool, false) FROM pg_publication p WHERE pubname = $1`

// publishesPartitionedQuery tells whether a publication covers a partitioned table: one of
// its tables, or any of the database's when it is FOR ALL TABLES.
const publishesPartitionedQuery = `SELECT EXISTS (SELECT 1 FROM pg_publication p
		JOIN pg_publication_rel r ON r.prpubid = p.oid JOIN pg_class c ON c.oid = r.prrelid
		WHERE p.pubname = $1 AND c.relkind = 'p')
	OR EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname = $1 AND p.puballtables AND EXISTS (
		SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema')))`

// ensurePartitionRouting gives the publication cfg's routing when it has the other one and
// covers a partitioned table (on other tables the option changes nothing, and a publication
// a DBA keeps need not carry it): ALTER PUBLICATION ... SET under PublicationCreateMissing, an
// error naming the statement under PublicationMustExist. It is checked at start: a
// partitioned table added to the publication later is published as the publication says.
func ensurePartitionRouting(ctx context.Context, conn *pgx.Conn, cfg Config, pub string) error {
	var viaRoot bool
	if err := conn.QueryRow(ctx, readViaRootQuery, cfg.Publication).Scan(&viaRoot); err != nil {
		return fmt.Errorf("postgres source: reading publish_via_partition_root of publication %s: %w", cfg.Publication, err)
	}
	if viaRoot == cfg.PartitionRouting.viaRoot() {
		return nil
	}
	var partitioned bool
	if err := conn.QueryRow(ctx, publishesPartitionedQuery, cfg.Publication).Scan(&partitioned); err != nil {
		return fmt.Errorf("postgres source: looking for partitioned tables in publication %s: %w", cfg.Publication, err)
	}
	if !partitioned {
		return nil
	}
	stmt := fmt.Sprintf("ALTER PUBLICATION %s SET (publish_via_partition_root = %s)", pub, cfg.PartitionRouting)
	if cfg.PublicationPolicy == PublicationMustExist {
		return &ConfigError{Source: "postgres", Field: "publish_via_partition_root",
			Problem: fmt.Sprintf("publication %s has publish_via_partition_root = %t, the connector %s", cfg.Publication, viaRoot, cfg.PartitionRouting),
			Fix:     stmt + ", or set postgres.publish_via_partition_root to match it"}
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return &ConfigError{Source: "postgres", Field: "publish_via_partition_root",
			Problem: fmt.Sprintf("cannot set publish_via_partition_root of publication %s", cfg.Publication),
			Fix:     "run " + stmt + " as the publication's owner (PostgreSQL 13 or later)", Err: err}
	}
	cfg.Logger.Warn().Str("publication", cfg.Publication).Str("publish_via_partition_root", cfg.PartitionRouting.String()).
		Msg("publication altered: the changes of partitioned tables now go to the topic the configuration says")
	return nil
}

// leafPartitionsQuery lists the leaf partitions of the partitioned tables among the given
// ones (schemas and names side by side), each with the partitioned table's index in the list.
const leafPartitionsQuery = `SELECT w.i, ns.nspname, c.relname
	FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(s, n, i)
	JOIN pg_namespace pns ON pns.nspname = w.s
	JOIN pg_class p ON p.relnamespace = pns.oid AND p.relname = w.n AND p.relkind = 'p'
	CROSS JOIN LATERAL pg_partition_tree(p.oid) t
	JOIN pg_class c ON c.oid = t.relid
	JOIN pg_namespace ns ON ns.oid = c.relnamespace
	WHERE t.isleaf
	ORDER BY w.i, ns.nspname, c.relname`

// snapshotLeaves returns tables with each partitioned table replaced by its leaf partitions,
// in order, for a snapshot under PartitionsViaLeaves: the stream names the partitions, so
// the snapshot must too.
func snapshotLeaves(ctx context.Context, conn *pgx.Conn, tables []string) ([]string, error) {
	schemas, names := splitTables(tables)
	rows, err := conn.Query(ctx, leafPartitionsQuery, schemas, names)
	if err != nil {
		return nil, fmt.Errorf("snapshot: listing the partitions of the partitioned tables: %w", err)
	}
	leaves := map[int][]string{}
	var i int
	var schema, name string
	if _, err := pgx.ForEachRow(rows, []any{&i, &schema, &name}, func() error {
		leaves[i-1] = append(leaves[i-1], connectors.JoinTable(schema, name))
		return nil
	}); err != nil {
		return nil, fmt.Errorf("snapshot: listing the partitions of the partitioned tables: %w", err)
	}
	if len(leaves) == 0 {
		return tables, nil
	}
	var out []string
	for i, t := range tables {
		ls, partitioned := leaves[i]
		if !partitioned {
			out = append(out, t)
			continue
		}
		for _, l := range ls {
			if !slices.Contains(out, l) && !slices.Contains(tables, l) {
				out = append(out, l)
			}
		}
	}
	return out, nil
}
