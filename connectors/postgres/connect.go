package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cdcd-dev/cdcd/connectors"
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

// connString returns a keyword/value connection string without the password nor the key's
// passphrase, which are set on the parsed configuration instead so that no parse error can ever
// quote them.
func (c Config) connString() string {
	s := fmt.Sprintf("%s user=%s dbname=%s sslmode=%s",
		c.hostList(), quoteConnValue(c.User), quoteConnValue(c.Database), c.SSLMode)
	for _, kv := range []struct{ key, value string }{
		{"sslrootcert", c.SSLRootCert}, {"sslcert", c.SSLCert}, {"sslkey", c.SSLKey},
	} {
		if kv.value != "" {
			s += " " + kv.key + "=" + quoteConnValue(kv.value)
		}
	}
	return s
}

func quoteConnValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// connConfig builds the settings of every connection the source opens, replication, catalog,
// snapshot and side connections alike, so that the address, the credentials and TLS (sslmode
// and its files, read here) are set in this one place; params are the connection's runtime
// parameters. A replication connection takes the embedded pgconn.Config.
func (c Config) connConfig(params map[string]string) (*pgx.ConnConfig, error) {
	opts := pgx.ParseConfigOptions{}
	if c.SSLPassword != "" {
		pw := c.SSLPassword
		opts.GetSSLPassword = func(context.Context) string { return pw }
	}
	pcfg, err := pgx.ParseConfigWithOptions(c.connString(), opts)
	if err != nil {
		field := "connection"
		if strings.Contains(err.Error(), "TLS") || strings.Contains(err.Error(), "ssl") {
			field = "sslmode"
		}
		return nil, &ConfigError{Source: "postgres", Field: field, Problem: "cannot build the connection settings", Err: err}
	}
	pcfg.Password = c.Password
	pcfg.ConnectTimeout = c.ConnectTimeout
	for k, v := range params {
		pcfg.RuntimeParams[k] = v
	}
	return pcfg, nil
}

// catalogParams are the settings of a normal connection, for setup and the catalog. The
// catalog reads column defaults as text (pg_get_expr), which the decoder parses with the plans
// of the stream: they must be in the stream's formats.
var catalogParams = map[string]string{
	"application_name":            "cdcd",
	"DateStyle":                   replicationParams["DateStyle"],
	"IntervalStyle":               replicationParams["IntervalStyle"],
	"TimeZone":                    replicationParams["TimeZone"],
	"extra_float_digits":          replicationParams["extra_float_digits"],
	"bytea_output":                replicationParams["bytea_output"],
	"standard_conforming_strings": "on",
}

// connect opens a normal connection, for setup and the catalog.
func connect(ctx context.Context, cfg Config) (*pgx.Conn, error) {
	return connectWith(ctx, cfg, catalogParams)
}

// connectWith opens a normal connection with the runtime parameters params.
func connectWith(ctx context.Context, cfg Config, params map[string]string) (*pgx.Conn, error) {
	pcfg, err := cfg.connConfig(params)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, pcfg)
	if err != nil {
		return nil, classifyConnectError(cfg, err)
	}
	return conn, nil
}

// connectReplication opens a logical replication connection with replicationParams.
func connectReplication(ctx context.Context, cfg Config) (*pgconn.PgConn, error) {
	params := replicationParams
	if cfg.DecodingWorkMemKB != 0 {
		params = maps.Clone(replicationParams)
		// A user-settable setting, which the walsender takes from the startup packet.
		params["logical_decoding_work_mem"] = strconv.Itoa(cfg.DecodingWorkMemKB) + "kB"
	}
	pcfg, err := cfg.connConfig(params)
	if err != nil {
		return nil, err
	}
	conn, err := pgconn.ConnectConfig(ctx, &pcfg.Config)
	if err != nil {
		return nil, classifyConnectError(cfg, err)
	}
	return conn, nil
}

// classifyConnectError turns a failed connection into what the user should fix. pgconn's
// errors name the user and database, never the password.
func classifyConnectError(cfg Config, err error) error {
	where := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	if len(cfg.Hosts) > 0 {
		where += " (or " + strings.Join(cfg.Hosts, ", ") + ")"
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			return &ConfigError{Source: "postgres", Field: "password", Problem: fmt.Sprintf("authentication failed for user %q at %s", cfg.User, where),
				Fix: "check the user's password", Err: err}
		case "28000":
			if refusedPlain(pgErr.Message) {
				return &ConfigError{Source: "postgres", Field: "sslmode",
					Problem: fmt.Sprintf("%s refuses user %q without TLS (sslmode %s): %s", where, cfg.User, cfg.SSLMode, pgErr.Message),
					Fix:     "set sslmode to verify-full (or require) with sslrootcert the server's CA file", Err: err}
			}
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
	// With several hosts the error joins every host's attempts (a dead primary's, a standby
	// that refused TLS then turned out read-only during a promotion): no single one is the
	// cause to fail for good on, so it is retried as unreachable.
	if cause, ok := connectors.TLSCause(err); ok && len(cfg.Hosts) == 0 {
		// Not unreachable: the server answered, and the same settings meet the same
		// certificate again.
		return &ConfigError{Source: "postgres", Field: "sslrootcert",
			Problem: fmt.Sprintf("TLS with %s (sslmode %s) failed: %s", where, cfg.SSLMode, cause),
			Fix:     "set sslrootcert to the CA that signed the server's certificate, and host to a name the certificate holds"}
	}
	// Under prefer (and allow) a server refusing TLS is answered by a plain attempt: the
	// refusal is in the joined error beside that attempt's own failure, which is the cause (a
	// server shutting down or starting, during a restart), not the sslmode.
	if strings.Contains(err.Error(), "server refused TLS connection") && len(cfg.Hosts) == 0 && tlsRequired(cfg.SSLMode) {
		return &ConfigError{Source: "postgres", Field: "sslmode",
			Problem: fmt.Sprintf("%s does not accept TLS, which sslmode %s requires", where, cfg.SSLMode),
			Fix:     "turn ssl on in the server (postgresql.conf: ssl = on, ssl_cert_file, ssl_key_file), or lower sslmode"}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("postgres source: connecting as %q to %s: %w", cfg.User, where, err)
	}
	// ErrUnreachable's text names the source: it comes first, so the prefix is said once.
	return fmt.Errorf("%w: cannot connect to %s (check host, port and that PostgreSQL is running and reachable): %w",
		ErrUnreachable, where, err)
}

// tlsRequired tells whether sslmode makes every connection attempt use TLS.
func tlsRequired(sslmode string) bool {
	return sslmode == "require" || sslmode == "verify-ca" || sslmode == "verify-full"
}

// refusedPlain tells whether a server's "no pg_hba.conf entry" message says the connection was
// refused because it was not encrypted: PostgreSQL names the encryption it saw ("no
// encryption"; "SSL off" before version 14), and a hostssl rule for the user matches only
// encrypted connections.
func refusedPlain(msg string) bool {
	return strings.Contains(msg, "no encryption") || strings.Contains(msg, "SSL off")
}
