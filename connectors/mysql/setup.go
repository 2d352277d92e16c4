package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	driver "github.com/go-sql-driver/mysql"

	"github.com/cdcd-dev/cdcd/connectors"
)

// Source reads one MySQL or MariaDB server's binlog; it implements connectors.Source. Build it
// with Open. It holds no connection between Streams.
type Source struct {
	cfg    Config
	flavor Flavor
	scope  scope
	// plainText is set under SSLPreferred when the server offered no TLS at Open: the binlog
	// connection, whose client cannot fall back by itself, then goes without it too.
	plainText bool

	// running guards against two Streams at once; failed is set when a Stream fails.
	running atomic.Bool
	failed  atomic.Bool
	// snappedAt is, under SnapshotAlways, the point of the snapshot this Source started or
	// resumed (the zero Position: none yet); only Stream uses it, and running orders Streams.
	snappedAt Position

	ackMu sync.Mutex
	acked frontier

	// BacklogGauge is the binlog bytes the server has written past the last acknowledged
	// position (the rest of its file and every later file, from SHOW BINARY LOGS), as a Stream
	// last measured them (every backlogInterval while one runs, once a position was
	// acknowledged: backlog.go).
	connectors.BacklogGauge
}

// Open checks the configuration and the server, checks that the captured tables' schemas are
// supported, and returns a Source ready to Stream; the engine creates the topics it declares
// (Source.Topics: the schema history's, the heartbeats') before Stream. Every problem a user can fix comes back as a *ConfigError saying what to
// do.
func Open(ctx context.Context, cfg Config) (_ *Source, err error) {
	defer func() { err = connectors.PrefixOnce("mysql source: ", err) }()
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	db, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()

	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return nil, fmt.Errorf("mysql source: reading the server version: %w", err)
	}
	flavor := FlavorMySQL
	if strings.Contains(version, "MariaDB") {
		flavor = FlavorMariaDB
	}
	plainText := false
	if cfg.SSLMode == SSLPreferred {
		if plainText, err = sessionPlainText(ctx, db); err != nil {
			return nil, err
		}
	}
	var s settings
	err = db.QueryRowContext(ctx, "SELECT @@global.log_bin, @@global.binlog_format, @@global.binlog_row_image, @@global.server_id").
		Scan(&s.logBin, &s.binlogFormat, &s.rowImage, &s.serverID)
	if err != nil {
		return nil, fmt.Errorf("mysql source: reading the binlog settings: %w", err)
	}
	if flavor == FlavorMySQL {
		if err := db.QueryRowContext(ctx, "SELECT @@global.gtid_mode").Scan(&s.gtidMode); err != nil {
			return nil, fmt.Errorf("mysql source: reading gtid_mode: %w", err)
		}
	}
	if err := judgeSettings(flavor, s, cfg.ServerID); err != nil {
		return nil, err
	}
	grants, err := showGrants(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := judgeGrants(cfg.User, flavor, grants); err != nil {
		// The server, so that an operator of several knows where to grant.
		if ce, ok := errors.AsType[*ConfigError](err); ok {
			ce.Problem = fmt.Sprintf("%s:%d: %s", cfg.Host, cfg.Port, ce.Problem)
		}
		return nil, err
	}
	model, err := readSchema(ctx, db, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := newSchemaTracker(cfg, model).capturedTables(); err != nil {
		return nil, err
	}
	if err := checkSignalTable(cfg, model); err != nil {
		return nil, err
	}
	return &Source{cfg: cfg, flavor: flavor, scope: newScope(cfg), plainText: plainText}, nil
}

// sessionPlainText tells whether db's connection runs without TLS (its Ssl_cipher is empty).
func sessionPlainText(ctx context.Context, db *sql.DB) (bool, error) {
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		return false, fmt.Errorf("mysql source: reading the session's Ssl_cipher: %w", err)
	}
	return cipher == "", nil
}

// String describes the source for logs, without the password.
func (s *Source) String() string { return s.cfg.String() }

// Flavor returns the server's flavor, detected by Open.
func (s *Source) Flavor() Flavor { return s.flavor }

// connect opens a pool of one connection and checks that it works, turning a refused login
// into a *ConfigError naming the user and host.
func connect(ctx context.Context, cfg Config) (*sql.DB, error) {
	dc := driver.NewConfig()
	dc.User, dc.Passwd, dc.Net = cfg.User, cfg.Password, "tcp"
	dc.Addr = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	dc.Timeout = cfg.ConnectTimeout
	// Arguments interpolated client-side keep every query on the text protocol, whose values
	// (text for every column) are what the snapshot decodes.
	dc.InterpolateParams = true
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	dc.TLS = tc
	// preferred: plain text when the server offers no TLS, as MySQL's clients do.
	dc.AllowFallbackToPlaintext = cfg.SSLMode == SSLPreferred
	conn, err := driver.NewConnector(dc)
	if err != nil {
		return nil, &ConfigError{Source: "mysql", Field: "connection", Problem: "invalid connection settings", Err: err}
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		var myErr *driver.MySQLError
		if errors.As(err, &myErr) && (myErr.Number == 1045 || myErr.Number == 1044 || myErr.Number == 1698) {
			fix := "check the user and password, and that the user may connect from this host"
			if cfg.SSLMode == SSLDisabled || cfg.SSLMode == SSLPreferred {
				// The server says the same of an account that REQUIRE SSL met without TLS.
				fix += fmt.Sprintf("; if the account requires TLS (REQUIRE SSL), set ssl_mode to verify_identity (ssl_mode %s may connect without TLS)", cfg.SSLMode)
			}
			return nil, &ConfigError{Source: "mysql", Field: "user",
				Problem: fmt.Sprintf("%s:%d refused user %q: %s", cfg.Host, cfg.Port, cfg.User, myErr.Message),
				Fix:     fix}
		}
		if tlsErr := cfg.tlsError(err); tlsErr != nil {
			return nil, tlsErr
		}
		if errors.Is(err, driver.ErrNoTLS) {
			return nil, &ConfigError{Source: "mysql", Field: "ssl_mode",
				Problem: fmt.Sprintf("%s:%d does not offer TLS, which ssl_mode %s requires", cfg.Host, cfg.Port, cfg.SSLMode),
				Fix:     "give the server ssl_cert, ssl_key (and ssl_ca) and restart it, or lower ssl_mode"}
		}
		if ctx.Err() == nil {
			return nil, fmt.Errorf("%w: connecting to %s:%d as %q: %w", ErrUnreachable, cfg.Host, cfg.Port, cfg.User, err)
		}
		return nil, fmt.Errorf("mysql source: connecting to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	return db, nil
}

// settings are the server variables Open checks.
type settings struct {
	logBin                 bool
	binlogFormat, rowImage string
	gtidMode               string
	serverID               uint32
}

// judgeSettings tells whether the server writes a binlog this source can read.
func judgeSettings(f Flavor, s settings, replicaID uint32) error {
	switch {
	case !s.logBin:
		return &ConfigError{Source: "mysql", Field: "log_bin", Problem: "the binary log is off",
			Fix: "start the server with log_bin (log-bin=mysql-bin in the [mysqld] section) and restart it"}
	case !strings.EqualFold(s.binlogFormat, "ROW"):
		return &ConfigError{Source: "mysql", Field: "binlog_format", Problem: fmt.Sprintf("is %s; change data capture needs ROW", s.binlogFormat),
			Fix: "SET GLOBAL binlog_format=ROW and set it in the server's configuration file"}
	case !strings.EqualFold(s.rowImage, "FULL"):
		return &ConfigError{Source: "mysql", Field: "binlog_row_image", Problem: fmt.Sprintf("is %s; before and after images need FULL", s.rowImage),
			Fix: "SET GLOBAL binlog_row_image=FULL and set it in the server's configuration file"}
	case f == FlavorMySQL && !strings.EqualFold(s.gtidMode, "ON"):
		return &ConfigError{Source: "mysql", Field: "gtid_mode", Problem: fmt.Sprintf("is %s; positions need GTIDs", s.gtidMode),
			Fix: "enable GTIDs: gtid_mode=ON and enforce_gtid_consistency=ON (step through OFF_PERMISSIVE, ON_PERMISSIVE on a live server)"}
	case s.serverID == replicaID:
		return &ConfigError{Source: "mysql", Field: "server id", Problem: fmt.Sprintf("%d is the server's own server_id", replicaID),
			Fix: "set another server id for the connector"}
	}
	return nil
}

func showGrants(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return nil, fmt.Errorf("mysql source: SHOW GRANTS: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("mysql source: SHOW GRANTS: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql source: SHOW GRANTS: %w", err)
	}
	return out, nil
}

// judgeGrants checks that the global grants among lines (SHOW GRANTS output) hold RELOAD,
// REPLICATION SLAVE and REPLICATION CLIENT. MariaDB 10.5 renamed REPLICATION CLIENT to BINLOG
// MONITOR and shows it so. SELECT is checked by reading each table (it may be granted per
// database or table). Privileges that reach the user only through a role not active by
// default are not seen.
func judgeGrants(user string, f Flavor, lines []string) error {
	have := map[string]bool{}
	for _, l := range lines {
		up := strings.ToUpper(l)
		if !strings.HasPrefix(up, "GRANT ") {
			continue
		}
		on := strings.Index(up, " ON *.* TO ")
		if on < 0 {
			continue
		}
		for p := range strings.SplitSeq(up[len("GRANT "):on], ",") {
			have[strings.TrimSpace(p)] = true
		}
	}
	if have["ALL PRIVILEGES"] || have["ALL"] {
		return nil
	}
	if have["BINLOG MONITOR"] {
		have["REPLICATION CLIENT"] = true
	}
	if have["REPLICATION REPLICA"] {
		have["REPLICATION SLAVE"] = true
	}
	var missing []string
	for _, p := range []string{"RELOAD", "REPLICATION SLAVE", "REPLICATION CLIENT"} {
		if !have[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	client := "REPLICATION CLIENT"
	if f == FlavorMariaDB {
		client = "BINLOG MONITOR"
	}
	grant := strings.ReplaceAll(strings.Join(missing, ", "), "REPLICATION CLIENT", client)
	return &ConfigError{Source: "mysql", Field: "grants", Problem: fmt.Sprintf("user %q lacks %s on *.*", user, strings.Join(missing, ", ")),
		Fix: fmt.Sprintf("GRANT %s ON *.* TO '%s'@'<host>'", grant, user)}
}

// readSchema checks that each configured database and table exists and can be read, and reads
// the schema of every captured table from information_schema, with the default character sets
// of their databases and of the server.
func readSchema(ctx context.Context, db *sql.DB, cfg Config) (*schemaModel, error) {
	for _, t := range cfg.Tables {
		dbName, name, _ := splitTable(t)
		_, err := db.ExecContext(ctx, "SELECT * FROM "+quoteIdent(dbName)+"."+quoteIdent(name)+" LIMIT 0")
		var myErr *driver.MySQLError
		switch {
		case err == nil:
		case errors.As(err, &myErr) && (myErr.Number == 1146 || myErr.Number == 1049):
			return nil, &ConfigError{Source: "mysql", Field: "tables", Problem: fmt.Sprintf("table %s does not exist", t),
				Fix: "create it or remove it from the tables (names are case-sensitive)"}
		case errors.As(err, &myErr) && (myErr.Number == 1142 || myErr.Number == 1044):
			return nil, &ConfigError{Source: "mysql", Field: "grants", Problem: fmt.Sprintf("%s:%d: user %q lacks SELECT on %s", cfg.Host, cfg.Port, cfg.User, t),
				Fix: fmt.Sprintf("GRANT SELECT ON %s.%s TO '%s'@'<host>'", quoteIdent(dbName), quoteIdent(name), cfg.User)}
		default:
			return nil, fmt.Errorf("mysql source: reading table %s: %w", t, err)
		}
	}
	for _, d := range cfg.Databases {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", d).Scan(&n); err != nil {
			return nil, fmt.Errorf("mysql source: looking up database %s: %w", d, err)
		}
		if n == 0 {
			return nil, &ConfigError{Source: "mysql", Field: "databases", Problem: fmt.Sprintf("database %s does not exist or is not visible to user %q", d, cfg.User),
				Fix: fmt.Sprintf("create it, remove it from the databases, or GRANT SELECT ON %s.* TO '%s'@'<host>'", quoteIdent(d), cfg.User)}
		}
	}
	m := newSchemaModel()
	if err := db.QueryRowContext(ctx, "SELECT @@character_set_server").Scan(&m.ServerCharset); err != nil {
		return nil, fmt.Errorf("mysql source: reading character_set_server: %w", err)
	}
	sc := newScope(cfg)
	if err := readDatabaseCharsets(ctx, db, sc, m); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE,
		coalesce(c.CHARACTER_SET_NAME, ''), c.IS_NULLABLE, c.COLUMN_KEY, coalesce(t.TABLE_COLLATION, ''),
		c.COLUMN_DEFAULT, c.EXTRA LIKE '%DEFAULT_GENERATED%'
		FROM information_schema.COLUMNS c JOIN information_schema.TABLES t
		  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
		WHERE t.TABLE_TYPE = 'BASE TABLE'
		ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION`)
	if err != nil {
		return nil, fmt.Errorf("mysql source: reading information_schema.COLUMNS: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var order []string
	for rows.Next() {
		var dbName, table, col, colType, charset, nullable, key, collation string
		var dflt *string
		var generated bool
		if err := rows.Scan(&dbName, &table, &col, &colType, &charset, &nullable, &key, &collation, &dflt, &generated); err != nil {
			return nil, fmt.Errorf("mysql source: reading information_schema.COLUMNS: %w", err)
		}
		if !sc.captures(dbName, table) {
			continue
		}
		k := connectors.JoinTable(dbName, table)
		t := m.Tables[k]
		if t == nil {
			t = &tableDef{Database: dbName, Name: table, Charset: collationCharset(collation), Version: 1}
			m.Tables[k] = t
			order = append(order, k)
		}
		cd := columnDef{Name: col, Type: colType, Charset: charset, Nullable: nullable == "YES", Key: key == "PRI"}
		cd.Default, cd.HasDefault = infoSchemaDefault(dflt, generated)
		t.Columns = append(t.Columns, cd)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql source: reading information_schema.COLUMNS: %w", err)
	}
	for _, t := range cfg.Tables {
		if !slices.Contains(order, t) {
			return nil, &ConfigError{Source: "mysql", Field: "tables", Problem: fmt.Sprintf("table %s is not a base table", t),
				Fix: "capture tables, not views"}
		}
	}
	return m, nil
}

// readDatabaseCharsets reads the default character sets of the databases with captured tables.
func readDatabaseCharsets(ctx context.Context, db *sql.DB, sc scope, m *schemaModel) error {
	rows, err := db.QueryContext(ctx, "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA")
	if err != nil {
		return fmt.Errorf("mysql source: reading information_schema.SCHEMATA: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var name, charset string
		if err := rows.Scan(&name, &charset); err != nil {
			return fmt.Errorf("mysql source: reading information_schema.SCHEMATA: %w", err)
		}
		if sc.capturesAnyOf(name) {
			m.Databases[name] = charset
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mysql source: reading information_schema.SCHEMATA: %w", err)
	}
	return nil
}

// signalColumns are the columns a signal table needs, as Debezium's.
var signalColumns = []string{"id", "type", "data"}

// checkSignalTable fails when the signal table is configured but missing (or not readable by
// the user), or lacks a column.
func checkSignalTable(cfg Config, m *schemaModel) error {
	if cfg.SignalTable == "" {
		return nil
	}
	db, name, _ := splitTable(cfg.SignalTable)
	create := fmt.Sprintf("CREATE TABLE %s.%s (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))",
		quoteIdent(db), quoteIdent(name))
	t := m.Tables[cfg.SignalTable]
	if t == nil {
		return &ConfigError{Source: "mysql", Field: "signal table",
			Problem: fmt.Sprintf("table %s does not exist or user %q may not read it", cfg.SignalTable, cfg.User),
			Fix:     create + ", and GRANT SELECT on it"}
	}
	for _, c := range signalColumns {
		if t.column(c) < 0 {
			return &ConfigError{Source: "mysql", Field: "signal table", Problem: fmt.Sprintf("table %s has no column %s", cfg.SignalTable, c),
				Fix: "give it the columns id, type and data, as in " + create}
		}
	}
	return nil
}

// quoteIdent backquotes a MySQL identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
