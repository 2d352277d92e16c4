package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	// Registers the "mysql" database/sql driver.
	_ "github.com/go-sql-driver/mysql"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
)

// The MariaDB workload's table and its writing. The rows are those of PostgreSQL's, from the
// SEQUENCE engine's seq_<from>_to_<to> table (MariaDB only). updated_at is the statement's
// start in UTC, with microseconds: the latency's clock, since MariaDB's binlog timestamps (and so
// source.ts_ms) are whole seconds.
const (
	mysqlCreateTableSQL = `CREATE TABLE bench_items (id bigint PRIMARY KEY, qty int, price decimal(10,2),
		name varchar(64), updated_at datetime(6))`
	mysqlInsertRangeSQL = `INSERT INTO bench_items (id, qty, price, name, updated_at)
		SELECT seq, seq %% 1000, (seq %% 100000) / 100, CONCAT('item ', seq), UTC_TIMESTAMP(6)
		FROM seq_%d_to_%d`
)

// mariadbDatabase is the MariaDB side of the bench, its measurements named mysql-*.
func (b *bench) mariadbDatabase() database {
	return database{
		rowPrefix: "mysql ", phasePrefix: "my_",
		raw: measureMySQLRaw, throughput: measureMySQLThroughput, latency: measureMySQLLatency, bigTx: measureMySQLBigTx,
		throughputJSON:      measureMySQLThroughputJSON,
		rawLabel:            "raw read rate (mariadb-binlog)",
		rawNote:             "binlog events decoded to /dev/null, from the position before the workload to the one after",
		latencyClock:        "statement time (after.updated_at) to visible",
		rowTime:             true,
		startBeforeWorkload: true,
		newTarget:           func(ctx context.Context, phase string) (target, error) { return b.newMySQLTarget(ctx, phase) },
		prepareWorkload:     b.prepareMySQLWorkload,
	}
}

// binlogPos is a point of the binlog: its coordinates and the MariaDB GTID position there.
type binlogPos struct {
	file string
	pos  uint64
	gtid string
}

// mysqlTarget is a bench database on MariaDB and the binlog position taken when it was created,
// from which the raw reader starts. cdcd, without a stored offset, starts at the binlog's end.
type mysqlTarget struct {
	b     *bench
	name  string
	start binlogPos
	// db writes the rows, through one connection; closed at cleanup.
	db *sql.DB
}

func (b *bench) mysqlDSN(database string) string {
	return fmt.Sprintf("root@tcp(%s:%d)/%s?timeout=10s", b.s.mysqlHost, b.s.mysqlPort, database)
}

func (b *bench) openMySQL(ctx context.Context, database string) (*sql.DB, error) {
	db, err := sql.Open("mysql", b.mysqlDSN(database))
	if err != nil {
		return nil, fmt.Errorf("opening MariaDB %s:%d: %w", b.s.mysqlHost, b.s.mysqlPort, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connecting to MariaDB %s:%d as root (is the stack up? make stack-up): %w",
			b.s.mysqlHost, b.s.mysqlPort, err)
	}
	return db, nil
}

// mysqlVersion is SELECT VERSION(), or empty with the reason when the server cannot be asked.
func (b *bench) mysqlVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	db, err := b.openMySQL(ctx, "")
	if err != nil {
		return "", err
	}
	defer func() { _ = db.Close() }()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return "", fmt.Errorf("reading the MariaDB version: %w", err)
	}
	return v, nil
}

// ErrNotMariaDB says the MySQL phases met a server other than MariaDB: they need its SEQUENCE
// engine, its GTID positions and mariadb-binlog.
var ErrNotMariaDB = errors.New("the mysql measurements need MariaDB")

// newMySQLTarget creates the database of phase with the empty bench table, then takes the
// binlog position.
func (b *bench) newMySQLTarget(ctx context.Context, phase string) (*mysqlTarget, error) {
	t := &mysqlTarget{b: b, name: b.name(phase)}
	admin, err := b.openMySQL(ctx, "")
	if err != nil {
		return nil, err
	}
	defer func() { _ = admin.Close() }()
	var version string
	if err := admin.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return nil, fmt.Errorf("reading the MariaDB version: %w", err)
	}
	if !strings.Contains(version, "MariaDB") {
		return nil, fmt.Errorf("%w, not %s", ErrNotMariaDB, version)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+t.name); err != nil {
		return nil, fmt.Errorf("creating MariaDB database %s: %w", t.name, err)
	}
	b.onCleanup("dropping MariaDB database "+t.name, func(ctx context.Context) error {
		db, err := b.openMySQL(ctx, "")
		if err != nil {
			return err
		}
		defer func() { _ = db.Close() }()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+t.name); err != nil {
			return fmt.Errorf("dropping MariaDB database %s: %w", t.name, err)
		}
		return nil
	})
	if t.db, err = b.openMySQL(ctx, t.name); err != nil {
		return nil, err
	}
	b.onCleanup("closing the connection to "+t.name, func(context.Context) error { return t.db.Close() })
	if _, err := t.db.ExecContext(ctx, mysqlCreateTableSQL); err != nil {
		return nil, fmt.Errorf("creating table %s in MariaDB database %s: %w", benchTable, t.name, err)
	}
	if t.start, err = binlogNow(ctx, t.db); err != nil {
		return nil, err
	}
	return t, nil
}

// binlogNow returns the binlog's current end and the GTID position of exactly that point
// (BINLOG_GTID_POS), which other sessions' commits cannot skew as @@gtid_binlog_pos read apart
// could.
func binlogNow(ctx context.Context, db *sql.DB) (binlogPos, error) {
	var p binlogPos
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return p, fmt.Errorf("reading the binlog position: %w", err)
	}
	cols, err := rows.Columns()
	if err == nil && rows.Next() {
		// File, Position, then filters whose number varies between versions.
		vals := make([]any, len(cols))
		vals[0], vals[1] = &p.file, &p.pos
		for i := 2; i < len(vals); i++ {
			vals[i] = new(sql.RawBytes)
		}
		err = rows.Scan(vals...)
	}
	if err == nil {
		err = rows.Err()
	}
	_ = rows.Close()
	if err != nil {
		return p, fmt.Errorf("reading the binlog position: %w", err)
	}
	if p.file == "" {
		return p, fmt.Errorf("reading the binlog position: SHOW MASTER STATUS is empty (log_bin off?)")
	}
	if err := db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", p.file, p.pos).Scan(&p.gtid); err != nil {
		return p, fmt.Errorf("reading the GTID position at %s:%d: %w", p.file, p.pos, err)
	}
	return p, nil
}

func (t *mysqlTarget) source() connectorSource {
	return mysqlSource{host: t.b.s.mysqlHost, port: t.b.s.mysqlPort, user: t.b.s.mysqlUser,
		password: t.b.s.mysqlPassword, database: t.name}
}

// streaming tells whether cdcd's replica, known by the server id cdcd derives from the
// connector's name, is registered with the server: it registers just before asking for the
// binlog, from the position it has already read.
func (t *mysqlTarget) streaming(ctx context.Context, cfg cdcdConfig) (bool, error) {
	rows, err := t.db.QueryContext(ctx, "SHOW SLAVE HOSTS")
	if err != nil {
		return false, fmt.Errorf("listing the replicas: %w", err)
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return false, fmt.Errorf("listing the replicas: %w", err)
	}
	want := strconv.FormatUint(uint64(mysql.DefaultServerID(cfg.name)), 10)
	vals := make([]any, len(cols))
	for i := range vals {
		vals[i] = new(sql.RawBytes)
	}
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			return false, fmt.Errorf("listing the replicas: %w", err)
		}
		// Server_id is the first column.
		if string(*vals[0].(*sql.RawBytes)) == want {
			return true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("listing the replicas: %w", err)
	}
	return false, nil
}

func (t *mysqlTarget) insert(ctx context.Context, from, to int64) error {
	if _, err := t.db.ExecContext(ctx, fmt.Sprintf(mysqlInsertRangeSQL, from, to)); err != nil {
		return fmt.Errorf("inserting rows %d..%d into %s.%s: %w", from, to, t.name, benchTable, err)
	}
	return nil
}

// prepareMySQLWorkload creates the database, writes the workload, and takes the binlog position
// after it: mariadb-binlog reads from the target's start position to that one.
func (b *bench) prepareMySQLWorkload(ctx context.Context, beforeWrite func(context.Context, target) error) (*workload, error) {
	return b.prepareMySQLWorkloadNamed(ctx, "my_tput", beforeWrite)
}

// prepareMySQLWorkloadNamed is prepareMySQLWorkload on the database of phase.
func (b *bench) prepareMySQLWorkloadNamed(ctx context.Context, phase string, beforeWrite func(context.Context, target) error) (*workload, error) {
	t, err := b.newMySQLTarget(ctx, phase)
	if err != nil {
		return nil, err
	}
	if err := beforeWrite(ctx, t); err != nil {
		return nil, err
	}
	w := &workload{target: t}
	if w.elapsed, err = b.writeWorkload(ctx, t); err != nil {
		return nil, err
	}
	end, err := binlogNow(ctx, t.db)
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	b.progress("workload written in %s, binlog from %s:%d (GTID %s) to %s:%d (GTID %s)", w.elapsed.Round(time.Millisecond),
		t.start.file, t.start.pos, t.start.gtid, end.file, end.pos, end.gtid)
	// mariadb-binlog reads by position: each read reads the same events anew.
	w.readRaw = func(ctx context.Context) (rawRead, error) { return b.readMariadbBinlog(ctx, t, t.start, end) }
	return w, nil
}

// binlogFiles returns the binlog files from first to last, in the order of SHOW BINARY LOGS:
// one when no rotation happened between two positions.
func binlogFiles(logs []string, first, last string) ([]string, error) {
	i, j := slices.Index(logs, first), slices.Index(logs, last)
	switch {
	case i < 0:
		return nil, fmt.Errorf("binlog %s is not in SHOW BINARY LOGS (purged?)", first)
	case j < 0:
		return nil, fmt.Errorf("binlog %s is not in SHOW BINARY LOGS", last)
	case j < i:
		return nil, fmt.Errorf("binlog %s comes before %s", last, first)
	}
	return logs[i : j+1], nil
}

// mariadbBinlogArgs are mariadb-binlog's arguments to read files from the server, from start in
// the first to stop in the last, decoding every event (the default output: the statements, rows
// as base64 BINLOG statements).
func mariadbBinlogArgs(host string, port int, user string, start, stop uint64, files []string) []string {
	// --no-defaults first: an option file of the machine must not change what is measured.
	args := []string{"--no-defaults", "--read-from-remote-server", "--host=" + host, "--port=" + strconv.Itoa(port),
		"--user=" + user, "--start-position=" + strconv.FormatUint(start, 10),
		"--stop-position=" + strconv.FormatUint(stop, 10)}
	return append(args, files...)
}

// readMariadbBinlog times mariadb-binlog reading the binlog from start to stop, its output
// thrown away.
func (b *bench) readMariadbBinlog(ctx context.Context, t *mysqlTarget, start, stop binlogPos) (rawRead, error) {
	logs, err := binaryLogs(ctx, t.db)
	if err != nil {
		return rawRead{}, err
	}
	files, err := binlogFiles(logs, start.file, stop.file)
	if err != nil {
		return rawRead{}, err
	}
	b.progress("raw read rate: mariadb-binlog of %v from %d to %d", files, start.pos, stop.pos)
	limit := b.rawLimit()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mariadb-binlog",
		mariadbBinlogArgs(b.s.mysqlHost, b.s.mysqlPort, "root", start.pos, stop.pos, files)...)
	// Its output is the work (decoding every event); where it goes is not.
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr
	begin := time.Now()
	err = cmd.Run()
	elapsed := time.Since(begin)
	if ctx.Err() != nil {
		return rawRead{}, fmt.Errorf("mariadb-binlog did not reach %s:%d within %s: %s", stop.file, stop.pos, limit, stderr.Bytes())
	}
	if err != nil {
		return rawRead{}, fmt.Errorf("mariadb-binlog: %w: %s", err, stderr.Bytes())
	}
	return rawRead{elapsed: elapsed, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}

// binaryLogs lists the server's binlog files, oldest first.
func binaryLogs(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("listing the binlogs: %w", err)
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("listing the binlogs: %w", err)
	}
	var logs []string
	vals := make([]any, len(cols))
	for rows.Next() {
		var name string
		vals[0] = &name
		for i := 1; i < len(vals); i++ {
			vals[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, fmt.Errorf("listing the binlogs: %w", err)
		}
		logs = append(logs, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the binlogs: %w", err)
	}
	return logs, nil
}
