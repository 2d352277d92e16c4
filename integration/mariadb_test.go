package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// TestMariaDBBinlogDeliversARowEventWithItsGTID proves the stack's MariaDB serves what the MySQL
// connector stands on: a row-based binlog with full images, read by go-mysql as the capture
// user, with each row event preceded by the GTID of its transaction.
func TestMariaDBBinlogDeliversARowEventWithItsGTID(t *testing.T) {
	m := NewMariaDB(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	settings := map[string]string{}
	rows, err := m.DB.QueryContext(ctx, `SHOW GLOBAL VARIABLES
		WHERE Variable_name IN ('log_bin', 'binlog_format', 'binlog_row_image')`)
	if err != nil {
		t.Fatalf("reading binlog settings: %v", err)
	}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			t.Fatalf("reading binlog settings: %v", err)
		}
		settings[name] = value
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading binlog settings: %v", err)
	}
	want := map[string]string{"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL"}
	if !maps.Equal(settings, want) {
		t.Fatalf("binlog settings = %v, want %v", settings, want)
	}
	if _, err := m.DB.ExecContext(ctx, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL)"); err != nil {
		t.Fatalf("creating table: %v", err)
	}

	var file, doDB, ignoreDB string
	var pos uint32
	if err := m.DB.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		t.Fatalf("SHOW MASTER STATUS: %v", err)
	}

	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		// Each binlog reader needs a server id no other replica of this server uses.
		ServerID: 1000 + rand.Uint32N(1<<30),
		Flavor:   mysql.MariaDBFlavor,
		Host:     m.Host(),
		Port:     m.Port(),
		User:     MariaDBCaptureUser,
		Password: MariaDBCapturePassword,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(syncer.Close)
	streamer, err := syncer.StartSync(mysql.Position{Name: file, Pos: pos})
	if err != nil {
		t.Fatalf("starting binlog sync at %s:%d: %v", file, pos, err)
	}

	if _, err := m.DB.ExecContext(ctx, "INSERT INTO items VALUES (42, 'hello')"); err != nil {
		t.Fatalf("inserting: %v", err)
	}
	var gtidPos string
	if err := m.DB.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&gtidPos); err != nil {
		t.Fatalf("reading @@gtid_binlog_pos: %v", err)
	}

	var gtid string
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			t.Fatalf("reading the binlog: %v", err)
		}
		switch e := ev.Event.(type) {
		case *replication.MariadbGTIDEvent:
			gtid = e.GTID.String()
		case *replication.RowsEvent:
			if string(e.Table.Schema) != m.Name || string(e.Table.Table) != "items" {
				continue
			}
			if !isWriteRows(ev.Header.EventType) {
				t.Fatalf("first row event of %s.items is %s, want a write-rows event", m.Name, ev.Header.EventType)
			}
			if len(e.Rows) != 1 || fmt.Sprint(e.Rows[0]) != "[42 hello]" {
				t.Errorf("rows = %v, want [[42 hello]]", e.Rows)
			}
			// The insert is the newest transaction, so its GTID is the domain's last in
			// @@gtid_binlog_pos, e.g. "0-1-7".
			if gtid == "" || !strings.Contains(","+gtidPos+",", ","+gtid+",") {
				t.Errorf("row event's GTID = %q, want the one in @@gtid_binlog_pos %q", gtid, gtidPos)
			}
			return
		}
	}
}

func isWriteRows(t replication.EventType) bool {
	switch t {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2:
		return true
	}
	return false
}
