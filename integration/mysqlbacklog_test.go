package integration

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMySQLBinlogBytesBehindMetric runs a MySQL connector with the API on and waits for
// cdcd_connector_source_backlog_bytes, the binlog bytes behind the acknowledged position: it
// must be there once a position was acknowledged, and between 0 and the server's binlogs'
// size (the shared server's other writers keep it moving, so the test checks bounds, not a
// value).
func TestMySQLBinlogBytesBehindMetric(t *testing.T) {
	db := NewMariaDB(t)
	mustExecMySQL(t, db.DB, `CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL)`)
	c := NewMySQLConnector(t, db, "items")
	apiAddr := FreeAddr(t)
	const apiOff = "api:\n  listen: \"off\"\n"
	config := c.Config()
	if strings.Count(config, apiOff) != 1 {
		t.Fatalf("the connector's config has no api section turned off:\n%s", config)
	}
	p := StartCDCD(t, strings.Replace(config, apiOff, fmt.Sprintf("api:\n  listen: %s\n", apiAddr), 1))
	c.WaitReading(t, p)
	for i := range 20 {
		mustExecMySQL(t, db.DB, `INSERT INTO items VALUES (?, REPEAT('x', 1000))`, i)
	}
	series := fmt.Sprintf(`cdcd_connector_source_backlog_bytes{connector=%q} `, c.Name)
	WaitFor(t, 2*time.Minute, "the binlog bytes behind on /metrics", func() error {
		resp, err := http.Get("http://" + apiAddr + "/metrics")
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		for line := range strings.Lines(string(body)) {
			rest, ok := strings.CutPrefix(line, series)
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return err
			}
			if total := binlogBytes(t, db.DB); v < 0 || v > float64(total) {
				t.Fatalf("%s= %v, want between 0 and the binlogs' %d bytes", series, v, total)
			}
			t.Logf("binlog bytes behind: %.0f", v)
			return nil
		}
		return fmt.Errorf("no %s on /metrics", series)
	})
}

// binlogBytes is the size of the server's binary logs.
func binlogBytes(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for rows.Next() {
		vals := make([]any, len(cols))
		var size int64
		vals[0], vals[1] = new(sql.RawBytes), &size
		for i := 2; i < len(vals); i++ {
			vals[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		total += size
	}
	return total
}
