package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// replicationParams are the startup parameters of the replication connection. pgoutput writes
// values with the session's output functions, and the decoder parses exactly these formats.
var replicationParams = map[string]string{
	"replication":        "database",
	"DateStyle":          "ISO",
	"IntervalStyle":      "iso_8601",
	"TimeZone":           "UTC",
	"extra_float_digits": "3",
	"bytea_output":       "hex",
	"application_name":   "cdcd",
}

// connString returns a keyword/value connection string without the password, which is set on
// the parsed configuration instead so that no parse error can ever quote it.
func (c Config) connString() string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=%s",
		quoteConnValue(c.Host), c.Port, quoteConnValue(c.User), quoteConnValue(c.Database), c.SSLMode)
}

func quoteConnValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// connect opens a normal connection, for setup and the catalog.
func connect(ctx context.Context, cfg Config) (*pgx.Conn, error) {
	pcfg, err := pgx.ParseConfig(cfg.connString())
	if err != nil {
		return nil, &ConfigError{Source: "postgres", Field: "connection", Problem: "cannot build the connection settings", Err: err}
	}
	pcfg.Password = cfg.Password
	pcfg.ConnectTimeout = cfg.ConnectTimeout
	pcfg.RuntimeParams["application_name"] = "cdcd"
	// The catalog reads column defaults as text (pg_get_expr), which the decoder parses with
	// the plans of the stream: they must be in the stream's formats.
	for _, k := range []string{"DateStyle", "IntervalStyle", "TimeZone", "extra_float_digits", "bytea_output"} {
		pcfg.RuntimeParams[k] = replicationParams[k]
	}
	pcfg.RuntimeParams["standard_conforming_strings"] = "on"
	conn, err := pgx.ConnectConfig(ctx, pcfg)
	if err != nil {
		return nil, classifyConnectError(cfg, err)
	}
	return conn, nil
}

// connectReplication opens a logical replication connection with replicationParams.
func connectReplication(ctx context.Context, cfg Config) (*pgconn.PgConn, error) {
	pcfg, err := pgconn.ParseConfig(cfg.connString())
	if err != nil {
		return nil, &ConfigError{Source: "postgres", Field: "connection", Problem: "cannot build the connection settings", Err: err}
	}
	pcfg.Password = cfg.Password
	pcfg.ConnectTimeout = cfg.ConnectTimeout
	for k, v := range replicationParams {
		pcfg.RuntimeParams[k] = v
	}
	if cfg.DecodingWorkMemKB != 0 {
		// A user-settable setting, which the walsender takes from the startup packet.
		pcfg.RuntimeParams["logical_decoding_work_mem"] = strconv.Itoa(cfg.DecodingWorkMemKB) + "kB"
	}
	conn, err := pgconn.ConnectConfig(ctx, pcfg)
	if err != nil {
		return nil, classifyConnectError(cfg, err)
	}
	return conn, nil
}

// classifyConnectError turns a failed connection into what the user should fix. pgconn's
// errors name the user and database, never the password.
func classifyConnectError(cfg Config, err error) error {
	where := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			return &ConfigError{Source: "postgres", Field: "password", Problem: fmt.Sprintf("authentication failed for user %q at %s", cfg.User, where),
				Fix: "check the user's password", Err: err}
		case "28000":
			return &ConfigError{Source: "postgres", Field: "user", Problem: fmt.Sprintf("user %q may not connect to database %q at %s", cfg.User, cfg.Database, where),
				Fix: "create the role, or allow it in pg_hba.conf", Err: err}
		case "3D000":
			return &ConfigError{Source: "postgres", Field: "database", Problem: fmt.Sprintf("database %q does not exist at %s", cfg.Database, where),
				Fix: "create it or fix the name", Err: err}
		case "42501":
			return &ConfigError{Source: "postgres", Field: "user", Problem: fmt.Sprintf("user %q lacks the privilege to connect to database %q at %s", cfg.User, cfg.Database, where),
				Fix: fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s", pgx.Identifier{cfg.Database}.Sanitize(), pgx.Identifier{cfg.User}.Sanitize()),
				Err: err}
		case "53300":
			return fmt.Errorf("postgres source: connecting as %q to %s: too many connections: %w", cfg.User, where, err)
		}
		return fmt.Errorf("postgres source: connecting as %q to %s: %w", cfg.User, where, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("postgres source: connecting as %q to %s: %w", cfg.User, where, err)
	}
	// ErrUnreachable's text names the source: it comes first, so the prefix is said once.
	return fmt.Errorf("%w: cannot connect to %s (check host, port and that PostgreSQL is running and reachable): %w",
		ErrUnreachable, where, err)
}
