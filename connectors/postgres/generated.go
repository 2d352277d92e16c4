package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// minGeneratedColumnsVersion is the first server_version_num whose pgoutput publishes
// generated columns (PostgreSQL 18's publish_generated_columns).
const minGeneratedColumnsVersion = 180000

// publicationOptions is the WITH clause of a publication cdcd creates: the partition routing
// (see PartitionRouting.publicationOption) and, with Config.PublishGeneratedColumns,
// publish_generated_columns = stored.
func publicationOptions(cfg Config) string {
	var opts []string
	if cfg.PartitionRouting != PartitionsViaLeaves {
		opts = append(opts, "publish_via_partition_root = true")
	}
	if cfg.PublishGeneratedColumns {
		opts = append(opts, "publish_generated_columns = stored")
	}
	if len(opts) == 0 {
		return ""
	}
	return " WITH (" + strings.Join(opts, ", ") + ")"
}

// readGeneratedQuery reads the server's version and whether the publication publishes stored
// generated columns (pubgencols, PostgreSQL 18; absent before, hence the jsonb).
const readGeneratedQuery = `SELECT current_setting('server_version_num')::int,
	coalesce((SELECT to_jsonb(p) ->> 'pubgencols' = 's' FROM pg_publication p WHERE pubname = $1), false)`

// ensureGeneratedColumns makes an existing publication publish stored generated columns when
// Config.PublishGeneratedColumns asks for it: ALTER PUBLICATION ... SET under
// PublicationCreateMissing, an error naming the statement under PublicationMustExist. A server
// before PostgreSQL 18 cannot publish them: the option is then an error, not silently ignored.
// Without the option an existing publication is left as it is: the snapshot reads the
// generated columns exactly when the publication publishes them (snapColumnsQuery).
func ensureGeneratedColumns(ctx context.Context, conn *pgx.Conn, cfg Config) error {
	if !cfg.PublishGeneratedColumns {
		return nil
	}
	var version int
	var published bool
	if err := conn.QueryRow(ctx, readGeneratedQuery, cfg.Publication).Scan(&version, &published); err != nil {
		return fmt.Errorf("postgres source: reading publish_generated_columns of publication %s: %w", cfg.Publication, err)
	}
	if version < minGeneratedColumnsVersion {
		return &ConfigError{Source: "postgres", Field: "publish_generated_columns",
			Problem: fmt.Sprintf("the server (server_version_num %d) cannot publish generated columns: PostgreSQL 18 can", version),
			Fix:     "remove postgres.publish_generated_columns, or upgrade the server to PostgreSQL 18"}
	}
	if published {
		return nil
	}
	stmt := fmt.Sprintf("ALTER PUBLICATION %s SET (publish_generated_columns = stored)", pgx.Identifier{cfg.Publication}.Sanitize())
	if cfg.PublicationPolicy == PublicationMustExist {
		return &ConfigError{Source: "postgres", Field: "publish_generated_columns",
			Problem: fmt.Sprintf("publication %s does not publish generated columns", cfg.Publication),
			Fix:     stmt + ", or remove postgres.publish_generated_columns"}
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return &ConfigError{Source: "postgres", Field: "publish_generated_columns",
			Problem: fmt.Sprintf("cannot make publication %s publish generated columns", cfg.Publication),
			Fix:     "run " + stmt + " as the publication's owner", Err: err}
	}
	return nil
}
