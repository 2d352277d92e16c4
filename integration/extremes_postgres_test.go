package integration

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// TestPostgresExtremeTemporalValues streams PostgreSQL's extreme timestamps and intervals
// (±infinity, the latest and earliest timestamps, intervals past Debezium's range) and checks
// the values a consumer decodes through the registry: Debezium's for each (see
// docs/postgres.md, "Values past Debezium's range"), and the connector goes on.
func TestPostgresExtremeTemporalValues(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE extremes (id int PRIMARY KEY, ts timestamp, ts3 timestamp(3),
		tstz timestamptz, iv interval)`)
	c := NewPostgresConnector(t, db, "public.extremes")
	cdcd := c.StartStreaming(t, conn)

	rows := []struct {
		sql  string
		want map[string]any
	}{
		{`(1, 'infinity', 'infinity', 'infinity', '178000000 years')`, map[string]any{
			"ts": int64(9223372036825200000), "ts3": int64(9223372036825200), "tstz": "infinity", "iv": int64(math.MaxInt64)}},
		{`(2, '-infinity', '-infinity', '-infinity', '-178000000 years')`, map[string]any{
			"ts": int64(-9223372036832400000), "ts3": int64(-9223372036832400), "tstz": "-infinity", "iv": int64(math.MinInt64)}},
		{`(3, '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999', '294276-12-31 23:59:59.999999+00',
			'178000000 years 2147483647 days 2562047788:00:54.775807')`, map[string]any{
			"ts": int64(math.MaxInt64), "ts3": int64(9224318015999999), "tstz": "+294276-12-31T23:59:59.999999Z",
			"iv": int64(math.MaxInt64)}},
		{`(4, '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC', '292000 years')`, map[string]any{
			"ts": int64(-210863520000000000), "ts3": int64(-210863520000000), "tstz": "-4712-01-01T00:00:00.000000Z",
			"iv": int64(9214819200000000000)}},
	}
	for _, r := range rows {
		mustExec(t, conn, `INSERT INTO extremes VALUES `+r.sql)
	}
	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("extremes")).Collect(t, len(rows), 2*time.Minute)
	for i, r := range rows {
		want := map[string]any{"id": i + 1}
		for k, v := range r.want {
			want[k] = v
		}
		expectRow(t, fmt.Sprintf("row %d", i+1), got[i].After(), want)
	}
	if cdcd.Exited() {
		t.Fatalf("cdcd exited; log:\n%s", cdcd.Logs())
	}
}
